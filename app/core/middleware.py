"""ASGI middleware shared by every route."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import UnsupportedMediaType, error_response

BODY_METHODS = {b"POST", b"PUT", b"PATCH"}


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequireJSONBody:
    """415 for a request body that is not JSON, before any route parses it.

    Bodiless requests pass whatever their Content-Type says: current clients send
    `Content-Type: application/json` on every call, with or without a body.
    """

    def __init__(self, app: ASGIApp, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].encode() not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        has_body = (length is not None and length.strip() not in (b"", b"0")) or (
            b"chunked" in headers.get(b"transfer-encoding", b"")
        )
        path: str = scope["path"]
        if (
            has_body
            and not _is_json(headers.get(b"content-type", b"").decode("latin-1"))
            and not path.startswith(self.exempt_prefixes)
        ):
            response = error_response(415, UnsupportedMediaType.default_message)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
