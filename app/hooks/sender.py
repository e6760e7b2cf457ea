"""Outgoing hooks: HTTP calls made when a pipeline's actions change state.

The actions' listeners (`app.hooks.notices`) call, after the transaction that changed the
action has committed:

    await send_outgoing_hooks(database, settings, pipeline_id=..., event="action.completed",
                              variables={"action": {...}, "resource": {...}}, action_id=...)

Each attempt is recorded as a hook request in its own short transaction (never holding a
transaction open across a network call); failed attempts are retried with exponential
backoff, each retry pointing at the first attempt through `retry_of`.

Hooks go only where the outbound policy (app.core.outbound) lets the control plane
connect; a refused target is recorded once, with the reason, and not retried. What is
stored of an attempt masks the hook's secret wherever it appears and keeps only a bounded
summary of the answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from app.core import outbound
from app.core.database import Database
from app.core.security import SecretBox
from app.core.settings import Settings
from app.hooks import payload, verification
from app.hooks.models import Hook, HookRequest
from app.hooks.repository import HookRepository

SIGNATURE_HEADER = "X-Devopness-Signature-256"
_TEMPLATE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
_MASKED = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
MAX_STORED_HEADERS = 50
# Shorter configured header values ("1", "json") are masked by name only: masking them
# wherever they appear would blank out unrelated text.
MIN_SECRET_LENGTH = 6

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class OutgoingRequest:
    hook_id: str
    url: str
    headers: dict[str, str]
    body: bytes
    verify_ssl: bool
    # Values masked wherever they appear in what is stored of the attempt.
    secrets: tuple[str, ...] = ()
    # Header names (lower case) the user configured: their values are never stored.
    configured_headers: frozenset[str] = frozenset()


def render(
    value: Any, variables: Mapping[str, Any], encode: Callable[[str], str] = str
) -> Any:
    """Replaces `{{ action.status }}` placeholders in strings, recursively; `encode` is
    applied to each substituted value (a URL's path takes them percent-encoded)."""
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            found = payload.lookup(variables, match.group(1))
            if not payload.found(found):
                return ""
            return encode(found if isinstance(found, str) else json.dumps(found))

        return _TEMPLATE.sub(substitute, value)
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if isinstance(value, Mapping):
        return {k: render(v, variables) for k, v in value.items()}
    return value


def render_url(url: str, variables: Mapping[str, Any]) -> str:
    """A target URL with placeholders in its path or query: each value is percent-encoded,
    so a variable can never change the scheme, the host or the path's structure (the host
    is checked by the outbound policy as written)."""
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    host, tail = re.match(r"([^/?#]*)(.*)", rest, re.S).groups()  # type: ignore[union-attr]
    rendered = render(tail, variables, lambda v: quote(v, safe=""))
    return f"{scheme}://{host}{rendered}" if scheme else f"{host}{rendered}"


def matches(hook: Hook, event: str, variables: Mapping[str, Any]) -> bool:
    events = list(hook.trigger_when.get("events") or [])
    if events and event not in events:
        return False
    for condition in hook.trigger_when.get("conditions") or []:
        value = payload.lookup(variables, str(condition.get("path", "")))
        accepted = [str(v) for v in condition.get("accepted_values") or []]
        if not payload.found(value) or str(value) not in accepted:
            return False
    return True


def build_request(
    hook: Hook, box: SecretBox, event: str, variables: Mapping[str, Any]
) -> OutgoingRequest:
    template = hook.settings.get("request_body")
    context = {"event": event, **variables}
    if template is None:
        content: Any = context
    else:
        content = render(template, context)
    if isinstance(content, str):
        body, content_type = content.encode(), "text/plain; charset=utf-8"
    else:
        body, content_type = json.dumps(content).encode(), "application/json"
    headers = {
        "User-Agent": "devopness-server",
        "Content-Type": content_type,
        "X-Devopness-Event": event,
        "X-Devopness-Hook-Id": hook.id,
    }
    configured: list[str] = []
    for header in hook.settings.get("request_headers") or []:
        value = str(render(header["value"], context))
        headers[str(header["name"])] = value
        configured.append(value)
    secret = box.decrypt(hook.secret_encrypted)
    if hook.requires_secret:
        algorithm = hook.secret_algorithm or "sha256"
        name = hook.secret_header_name or SIGNATURE_HEADER
        headers[name] = verification.sign(algorithm, secret, body)
    return OutgoingRequest(
        hook.id, render_url(hook.target_url or "", context), headers, body, hook.verify_ssl,
        # Configured header values are the receiver's credentials: as secret as the hook's.
        secrets=(secret, *(value for value in configured if len(value) >= MIN_SECRET_LENGTH)),
        configured_headers=frozenset(
            str(header["name"]).lower() for header in hook.settings.get("request_headers") or []
        ),
    )


def _summary_headers(headers: httpx.Headers) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if len(kept) >= MAX_STORED_HEADERS:
            break
        kept[name] = outbound.MASK if name.lower() in _MASKED else value[:1024]
    return kept


async def _record(
    database: Database, request: OutgoingRequest, action_id: int | None, retry_of: str | None,
    status: int, response_headers: dict[str, str], response_body: Any,
) -> str:
    try:
        sent: Any = json.loads(request.body)
    except ValueError:
        sent = {"content": request.body.decode("utf-8", errors="replace")}
    def masked(value: Any) -> Any:
        return outbound.mask_secrets(value, request.secrets)

    row = HookRequest(
        id=str(uuid.uuid4()),
        hook_id=request.hook_id,
        action_id=action_id,
        retry_of=retry_of,
        ip_address=(urlsplit(request.url).hostname or "")[:64],
        url=masked(request.url)[:2048],
        request_headers=masked({
            k: outbound.MASK if k.lower() in _MASKED | request.configured_headers else v
            for k, v in request.headers.items()
        }),
        request_body=masked(sent),
        response_status_code=status,
        response_headers=masked(response_headers),
        response_body=masked(response_body),
    )
    async with database.transaction() as session:
        session.add(row)
    return row.id


async def deliver(
    database: Database, settings: Settings, request: OutgoingRequest, *,
    action_id: int | None = None, sleep: Sleep = asyncio.sleep,
) -> list[str]:
    """Send one outgoing request with retries; returns the ids of the recorded attempts."""
    ids: list[str] = []
    for attempt in range(settings.outgoing_hook_attempts):
        refused = False
        try:
            async with outbound.async_client(
                settings, verify=request.verify_ssl,
                timeout=settings.outgoing_hook_timeout_seconds,
            ) as http, http.stream(
                "POST", request.url, content=request.body, headers=request.headers
            ) as response:
                status = response.status_code
                headers = _summary_headers(response.headers)
                body = await outbound.read_summary(response)
        except outbound.OutboundRefused as exc:
            refused = True
            status, headers, body = 0, {}, {"error": "OutboundRefused", "message": str(exc)}
        except httpx.HTTPError as exc:
            status, headers, body = 0, {}, {"error": type(exc).__name__}
        ids.append(
            await _record(database, request, action_id, ids[0] if ids else None, status,
                          headers, body)
        )
        if refused or 200 <= status < 300:
            break
        if attempt + 1 < settings.outgoing_hook_attempts:
            await sleep(settings.outgoing_hook_backoff_seconds * 2**attempt)
    return ids


async def pipeline_listens(database: Database, pipeline_id: int, events: list[str]) -> bool:
    """Whether an active outgoing hook of the pipeline may fire on one of `events` (its
    conditions aside): lets a caller skip waiting for what no hook would send."""
    async with database.transaction() as session:
        hooks = await HookRepository(session).outgoing_for_pipeline(pipeline_id)
    for hook in hooks:
        wanted = list(hook.trigger_when.get("events") or [])
        if hook.target_url and (not wanted or any(event in wanted for event in events)):
            return True
    return False


async def send_outgoing_hooks(
    database: Database, settings: Settings, *, pipeline_id: int, event: str,
    variables: Mapping[str, Any], action_id: int | None = None, sleep: Sleep = asyncio.sleep,
) -> list[str]:
    """Every active outgoing hook of the pipeline whose trigger matches `event`."""
    box = SecretBox(settings)
    async with database.transaction() as session:
        hooks = await HookRepository(session).outgoing_for_pipeline(pipeline_id)
        requests = [
            build_request(hook, box, event, variables)
            for hook in hooks
            if hook.target_url and matches(hook, event, variables)
        ]
    ids: list[str] = []
    for request in requests:
        ids.extend(
            await deliver(database, settings, request, action_id=action_id, sleep=sleep)
        )
    return ids
