"""Incoming hooks: a provider's request arrives at a hook's URL, is checked (active,
creator's permission, signature, conditions, variables), recorded with its answer, and
starts the hook's action."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.access.catalogue import operation_permission
from app.actions.start import TriggeredFrom, deploy_action_data, start_resource_action
from app.core import outbound
from app.core.errors import AppError, NotFound
from app.hooks import payload, verification
from app.hooks.models import Hook, HookRequest, HookType
from app.hooks.service import MASK, HookService, is_uuid
from app.projects.models import Project

ALWAYS_MASKED_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-gitlab-token"}


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



class IncomingHooks(HookService):
    """The hook service with the trigger endpoint's side."""

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
        hook = await self.hooks.get(hook_id) if is_uuid(hook_id) else None
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
