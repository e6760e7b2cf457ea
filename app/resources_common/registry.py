"""Resource type -> model, for routes addressed by `{resource_type}/{resource_id}` and for
`linked_resources`. Filled once at start-up by `app.wiring` (the explicit list of
environment resource models lives there): this package sits below the families that
build on it and imports none of them."""

from __future__ import annotations

from app.resources_common.models import EnvironmentResource

_MODELS: dict[str, type[EnvironmentResource]] = {}


def register_resource_model(model: type[EnvironmentResource]) -> None:
    _MODELS[str(model.RESOURCE_TYPE)] = model


def resource_models() -> dict[str, type[EnvironmentResource]]:
    return dict(_MODELS)
