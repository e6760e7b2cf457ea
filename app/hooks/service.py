"""Hooks of a pipeline: incoming ones start its action, outgoing ones report on it."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import Principal
from app.access.catalogue import operation_permission
from app.access.permissions import Authorizer
from app.actions.start import TriggeredFrom, deploy_action_data, start_resource_action
from app.core import outbound
from app.core.errors import AppError, Forbidden, NotFound, ValidationFailed, validation_errors
from app.core.pagination import PageParams
from app.core.security import SecretBox
from app.core.settings import Settings
from app.events.audit import record_event
from app.hooks import payload, verification
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
from app.projects.models import Project

MASK = "********"
ALWAYS_MASKED_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-gitlab-token"}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


@dataclass
class TriggerOutcome:
    status_code: int
    message: str
    errors: dict[str, list[str]] | None = None
    action_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, Any]:
        # Success answers carry `errors: null` (HookTriggerResponse); error answers are the
        # usual error body, with `errors` only when there are field details.
        if self.status_code >= 400 and self.errors is None:
            return {"message": self.message}
        return {"message": self.message, "errors": self.errors}


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
        hook = await self.hooks.get(hook_id) if _is_uuid(hook_id) else None
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
        request = await self.hooks.get_request(request_id) if _is_uuid(request_id) else None
        if request is None:
            raise NotFound("Hook request not found.")
        await self.authorizer.environment(
            principal, request.hook.environment_id, "hook:read",
            not_found="Hook request not found.",
        )
        return request

    # ------------------------------------------------------------------ trigger

    def _stored_headers(self, hook: Hook, headers: Mapping[str, str]) -> dict[str, str]:
        secret_header = (hook.secret_header_name or "").lower()
        return {
            name: MASK if name in ALWAYS_MASKED_HEADERS or (
                name == secret_header and hook.secret_algorithm == "token"
            ) else value
            for name, value in ((k.lower(), v) for k, v in headers.items())
        }

    async def trigger(
        self, hook_id: str, *, ip: str, url: str, headers: Mapping[str, str], raw_body: bytes,
    ) -> TriggerOutcome:
        """Run an incoming hook; the request and its answer are recorded whatever happens."""
        hook = await self.hooks.get(hook_id) if _is_uuid(hook_id) else None
        if hook is None or hook.type != HookType.INCOMING:
            raise NotFound("Hook not found.")
        headers = {k.lower(): v for k, v in headers.items()}
        body = payload.parse_body(raw_body, headers.get("content-type", ""))
        record = HookRequest(
            id=str(uuid.uuid4()),
            hook_id=hook.id,
            ip_address=ip[:64],
            url=url[:2048],
            request_headers=outbound.mask_secrets(
                self._stored_headers(hook, headers), [self.secret(hook)]
            ),
            request_body=outbound.mask_secrets(body, [self.secret(hook)]),
            response_status_code=0,
            response_headers={},
        )
        # Written first: the transaction is a writer before the savepoint below reads.
        # SQLite refuses at once (no busy wait) to turn a reading transaction into a
        # writing one when another connection committed meanwhile: a 500 under bursts.
        await self.hooks.add(record)
        outcome = await self._evaluate(hook, record, headers, raw_body, body, ip)
        record.response_status_code = outcome.status_code
        record.response_body = outcome.body
        record.response_headers = {"content-type": "application/json", **outcome.headers}
        record.action_id = outcome.action_id
        await self.session.flush()
        return outcome

    async def _creator_may_run(self, hook: Hook) -> bool:
        project = await self.session.get(Project, hook.project_id)
        if project is None:
            return False
        held = await self.authorizer.creator_environment_permissions(
            hook.created_by, project, hook.environment_id
        )
        return operation_permission(hook.resource_type, hook.action_type) in held

    async def _evaluate(
        self, hook: Hook, record: HookRequest, headers: Mapping[str, str], raw_body: bytes,
        body: Any, ip: str,
    ) -> TriggerOutcome:
        if not hook.active:
            return TriggerOutcome(403, "The hook is not active.")
        if not await self._creator_may_run(hook):
            return TriggerOutcome(
                403, "The hook's creator may no longer run this operation; the hook is refused."
            )
        if hook.requires_secret:
            algorithm = hook.secret_algorithm or "sha256"
            name = verification.header_name(algorithm, hook.secret_header_name)
            presented = headers.get(name.lower())
            if not verification.verify(algorithm, self.secret(hook), raw_body, presented):
                return TriggerOutcome(403, "The request signature is missing or invalid.")
        conditions = list(hook.trigger_when.get("conditions") or [])
        unmet = payload.unmet_condition(conditions, body)
        if unmet is not None:
            return TriggerOutcome(
                200, f"Nothing was triggered: the condition '{unmet}' is not met."
            )
        variables, errors = payload.extract_variables(
            list(hook.settings.get("variables") or []), body
        )
        if errors:
            return TriggerOutcome(422, "The request does not provide the hook's variables.",
                                  errors)
        try:
            # A savepoint: an action refused half-way leaves nothing behind but the record
            # of this request and the reason.
            async with self.session.begin_nested():
                action_data = None
                if hook.action_type == "deploy":
                    action_data = await deploy_action_data(
                        self.session, hook.resource_type, hook.resource_id, hook.pipeline_id,
                        variables,
                    )
                action_id = await start_resource_action(
                    self.session,
                    resource_type=hook.resource_type,
                    resource_id=hook.resource_id,
                    action_type=hook.action_type,
                    pipeline_id=hook.pipeline_id,
                    variables=variables,
                    action_data=action_data,
                    triggered_from=TriggeredFrom(
                        ip, hook_id=hook.id, hook_request_id=record.id,
                        origin=headers.get("origin"),
                    ),
                )
        except AppError as exc:
            return TriggerOutcome(exc.status_code, exc.message, exc.errors)
        return TriggerOutcome(
            200, "The hook's action was started.", action_id=action_id,
            headers={"X-Devopness-Action-Id": str(action_id)},
        )
