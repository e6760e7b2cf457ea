"""Hooks of a pipeline: creating, reading, updating and deleting them, their stored requests,
and what a caller may see of their secrets (the trigger endpoint is `app.hooks.incoming`)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import operation_permission
from app.access.permissions import Authorizer
from app.core import outbound
from app.core.errors import Forbidden, NotFound, ValidationFailed, validation_errors
from app.core.pagination import PageParams
from app.core.security import SecretBox
from app.core.settings import Settings
from app.events.audit import record_event
from app.hooks import verification
from app.hooks.models import Hook, HookRequest, HookType
from app.hooks.pipelines import PipelineRef, find_pipeline
from app.hooks.repository import HookRepository
from app.hooks.schemas import (
    HookCreate,
    HookIncomingSettingsIn,
    HookOutgoingSettingsIn,
    HookTypeParam,
    HookUpdate,
)

MASK = "********"


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


class HookService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.hooks = HookRepository(session)
        self.authorizer = Authorizer(session)

    @property
    def box(self) -> SecretBox:
        return SecretBox(self.settings)

    def trigger_url(self, hook: Hook) -> str | None:
        if hook.type != HookType.INCOMING:
            return None
        return f"{self.settings.public_url.rstrip('/')}/hooks/{hook.id}/trigger"

    def secret(self, hook: Hook) -> str:
        """For the sending side's configuration; for triggers' signature checks."""
        return self.box.decrypt(hook.secret_encrypted)

    def visible_secret(self, hook: Hook) -> str:
        # Whoever holds the secret can sign triggers: only those who may change the hook
        # see it; readers see a mask (the reference makes the field a required string).
        if "hook:update" in hook.current_user_permissions:
            return self.secret(hook)
        return MASK

    def visible_settings(self, hook: Hook, shown: dict[str, Any]) -> dict[str, Any]:
        """The settings as the hook's detail shows them: the response shape masks configured
        header values; those who may change the hook see what they configured."""
        if "hook:update" in hook.current_user_permissions and hook.type == HookType.OUTGOING:
            return {**shown, "request_headers": list(hook.settings.get("request_headers") or [])}
        return shown

    # ------------------------------------------------------------------ access

    async def _pipeline(
        self, principal: Principal, pipeline_id: int, permission: str
    ) -> tuple[PipelineRef, frozenset[str]]:
        pipeline = await find_pipeline(self.session, pipeline_id)
        if pipeline is None:
            raise NotFound("Pipeline not found.")
        environment = await self.authorizer.environment(
            principal, pipeline.environment_id, permission, not_found="Pipeline not found."
        )
        return pipeline, frozenset(environment.current_user_permissions)

    async def _hook(
        self, principal: Principal, type_param: HookTypeParam, hook_id: str, permission: str
    ) -> Hook:
        hook = await self.hooks.get(hook_id) if is_uuid(hook_id) else None
        if hook is None or hook.type != HookType.from_param(type_param):
            raise NotFound("Hook not found.")
        environment = await self.authorizer.environment(
            principal, hook.environment_id, permission, not_found="Hook not found."
        )
        hook.remember_permissions(environment.current_user_permissions)
        return hook

    # ------------------------------------------------------------------ input rules

    @staticmethod
    def _settings(kind: HookType, raw: Mapping[str, Any] | None) -> dict[str, Any]:
        model: type[BaseModel] = (
            HookIncomingSettingsIn if kind is HookType.INCOMING else HookOutgoingSettingsIn
        )
        try:
            parsed = model.model_validate(raw or {})
        except ValidationError as exc:
            errors = {
                f"settings.{k}": v for k, v in validation_errors(exc.errors()).items()
            }
            raise ValidationFailed(next(iter(errors.values()))[0], errors) from None
        return parsed.model_dump(mode="json", exclude_none=True)

    def _target_url(self, url: str) -> str:
        # Names are resolved and checked again each time the hook fires.
        try:
            outbound.check_url(url, self.settings)
        except outbound.OutboundRefused as exc:
            raise ValidationFailed.field("target_url", str(exc)) from None
        return url

    @staticmethod
    def _secret_rules(kind: HookType, requires_secret: bool, algorithm: str | None) -> None:
        if kind is HookType.INCOMING and requires_secret and algorithm is None:
            raise ValidationFailed.field(
                "secret_algorithm",
                "The secret algorithm field is required when requires secret is true.",
            )

    # ------------------------------------------------------------------ CRUD

    async def list_for_pipeline(
        self, principal: Principal, pipeline_id: int, page: PageParams
    ) -> Sequence[Hook]:
        await self._pipeline(principal, pipeline_id, "hook:read")
        return await self.hooks.page_for_pipeline(pipeline_id, page)

    async def list_for_application(
        self, principal: Principal, application_id: int, page: PageParams
    ) -> Sequence[Hook]:
        """Every hook of every pipeline of one application (incoming and outgoing)."""
        environment_id = await self.hooks.application_environment(application_id)
        if environment_id is None:
            raise NotFound("Application not found.")
        await self.authorizer.environment(
            principal, environment_id, "hook:read", not_found="Application not found."
        )
        return await self.hooks.page_for_resource("application", application_id, page)

    async def create(
        self, principal: Principal, ip: str, pipeline_id: int, type_param: HookTypeParam,
        data: HookCreate,
    ) -> Hook:
        pipeline, permissions = await self._pipeline(principal, pipeline_id, "hook:create")
        kind = HookType.from_param(type_param)
        if kind is HookType.INCOMING:
            # Whoever holds the URL runs the pipeline: the hook may carry only what its
            # creator could run herself.
            needed = operation_permission(pipeline.resource_type, pipeline.action_type)
            if needed not in permissions:
                raise Forbidden(
                    f"A hook that runs this pipeline needs the '{needed}' permission, "
                    "which you do not hold."
                )
        self._secret_rules(kind, data.requires_secret, data.secret_algorithm)
        if kind is HookType.OUTGOING and not data.target_url:
            raise ValidationFailed.field(
                "target_url", "The target url field is required for outgoing hooks."
            )
        algorithm = data.secret_algorithm or ("sha256" if data.requires_secret else None)
        hook = Hook(
            id=str(uuid.uuid4()),
            type=kind.value,
            name=data.name,
            action_type=pipeline.action_type,
            pipeline_id=pipeline.id,
            environment_id=pipeline.environment_id,
            project_id=pipeline.project_id,
            resource_type=pipeline.resource_type,
            resource_id=pipeline.resource_id,
            active=data.active,
            requires_secret=data.requires_secret,
            secret_encrypted=self.box.encrypt(secrets.token_hex(24)),
            secret_algorithm=algorithm,
            secret_header_name=data.secret_header_name
            or (verification.header_name(algorithm, None) if algorithm else None),
            verify_ssl=data.verify_ssl,
            target_url=self._target_url(data.target_url)
            if kind is HookType.OUTGOING and data.target_url else None,
            settings=self._settings(kind, data.settings),
            trigger_when=data.trigger_when.model_dump(mode="json") if data.trigger_when else {},
            created_by=principal.user_id,
        )
        await self.hooks.add(hook)
        self._record(principal, ip, hook, "hook-created")
        loaded = await self.hooks.get(hook.id)
        assert loaded is not None
        loaded.remember_permissions(permissions)
        return loaded

    async def get(self, principal: Principal, type_param: HookTypeParam, hook_id: str) -> Hook:
        return await self._hook(principal, type_param, hook_id, "hook:read")

    async def update(
        self, principal: Principal, ip: str, type_param: HookTypeParam, hook_id: str,
        data: HookUpdate,
    ) -> None:
        hook = await self._hook(principal, type_param, hook_id, "hook:update")
        if data.id != hook.id:
            raise ValidationFailed.field("id", "The id must match the hook in the URL.")
        kind = HookType(hook.type)
        fields = data.model_fields_set
        hook.name = data.name
        for name in ("active", "requires_secret", "verify_ssl"):
            value = getattr(data, name)
            if name in fields and value is not None:
                setattr(hook, name, value)
        if "secret_algorithm" in fields and data.secret_algorithm:
            hook.secret_algorithm = data.secret_algorithm
            hook.secret_header_name = verification.header_name(data.secret_algorithm, None)
        if "secret_header_name" in fields and data.secret_header_name:
            hook.secret_header_name = data.secret_header_name
        if hook.requires_secret and hook.secret_algorithm is None:
            hook.secret_algorithm = "sha256"
            hook.secret_header_name = hook.secret_header_name or verification.header_name(
                "sha256", None
            )
        if "trigger_when" in fields:
            hook.trigger_when = (
                data.trigger_when.model_dump(mode="json") if data.trigger_when else {}
            )
        if "settings" in fields:
            hook.settings = self._settings(kind, data.settings)
        if "target_url" in fields and kind is HookType.OUTGOING:
            if not data.target_url:
                raise ValidationFailed.field("target_url", "The target url field is required.")
            hook.target_url = self._target_url(data.target_url)
        await self.session.flush()
        self._record(principal, ip, hook, "hook-updated")

    async def delete(
        self, principal: Principal, ip: str, type_param: HookTypeParam, hook_id: str
    ) -> None:
        hook = await self._hook(principal, type_param, hook_id, "hook:delete")
        self._record(principal, ip, hook, "hook-deleted")
        await self.hooks.delete(hook)

    def _record(self, principal: Principal, ip: str, hook: Hook, action: str) -> None:
        # Hook ids are UUIDs; the history lives on the pipeline the hook belongs to.
        if hook.pipeline_id is not None:
            record_event(
                self.session, principal, ip, "pipeline", hook.pipeline_id, action,
                message=f"{hook.type} hook {hook.id} ({hook.name})",
                environment_id=hook.environment_id,
            )

    # ------------------------------------------------------------------ requests

    async def list_requests(
        self, principal: Principal, type_param: HookTypeParam, hook_id: str, page: PageParams
    ) -> Sequence[HookRequest]:
        hook = await self._hook(principal, type_param, hook_id, "hook:read")
        return await self.hooks.page_requests(hook.id, page)

    async def get_request(self, principal: Principal, request_id: str) -> HookRequest:
        request = await self.hooks.get_request(request_id) if is_uuid(request_id) else None
        if request is None:
            raise NotFound("Hook request not found.")
        await self.authorizer.environment(
            principal, request.hook.environment_id, "hook:read",
            not_found="Hook request not found.",
        )
        return request
