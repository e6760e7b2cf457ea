"""HTTP pieces shared by resource routers."""

from __future__ import annotations

from fastapi import Response

from app.resources_common.operations import ACTION_ID_HEADER


def action_response(action_id: int, status_code: int = 204) -> Response:
    """An operation's answer: the documented status and the id of the action it started."""
    return Response(status_code=status_code, headers={ACTION_ID_HEADER: str(action_id)})


def no_content() -> Response:
    return Response(status_code=204)
