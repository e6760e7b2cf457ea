"""The response checker itself must catch mismatches, or every API test proves nothing."""

from __future__ import annotations

import httpx
import pytest

from tests import contract, reference


def _response(method: str, path: str, status: int, body: bytes) -> httpx.Response:
    request = httpx.Request(method, f"http://testserver{path}")
    return httpx.Response(status, content=body, request=request)


@pytest.fixture(autouse=True)
def _needs_reference() -> None:
    reference.require_reference()


def test_accepts_a_matching_body() -> None:
    body = b'{"billing_management_url": "http://x"}'
    contract.check_response(_response("GET", "/users/urls", 200, body))


def test_rejects_a_missing_required_field() -> None:
    with pytest.raises(contract.ContractViolation, match="billing_management_url"):
        contract.check_response(_response("GET", "/users/urls", 200, b"{}"))


def test_rejects_a_wrong_type_deep_in_a_list() -> None:
    item = (
        b'{"id": "5", "name": "n", "type": "personal_access_token", "status": "active",'
        b' "user": null, "last_used_at": null, "expires_at": "x", "revoked_at": null,'
        b' "updated_at": "x", "created_at": "x"}'
    )
    contract.check_response(
        _response("GET", "/users/personal-access-tokens", 200, b"[" + item + b"]")
    )
    bad = item.replace(b'"status": "active"', b'"status": "paused"')
    with pytest.raises(contract.ContractViolation, match="paused"):
        contract.check_response(
            _response("GET", "/users/personal-access-tokens", 200, b"[" + bad + b"]")
        )


def test_rejects_an_error_body_without_message() -> None:
    with pytest.raises(contract.ContractViolation, match="message"):
        contract.check_response(_response("GET", "/users/me", 404, b'{"detail": "x"}'))


def test_rejects_undocumented_success_status_and_stray_bodies() -> None:
    with pytest.raises(contract.ContractViolation, match="not documented"):
        contract.check_response(_response("GET", "/users/me", 201, b"{}"))
    with pytest.raises(contract.ContractViolation, match="without a body"):
        contract.check_response(_response("POST", "/users", 202, b'{"ok": true}'))


def test_integer_path_parameters_pick_the_right_template() -> None:
    by_id = reference.match("GET", "/pipelines/12/actions")
    by_type = reference.match("GET", "/pipelines/application/12")
    assert by_id is not None and by_id.path == "/pipelines/{pipeline_id}/actions"
    assert by_type is not None and by_type.path == "/pipelines/{resource_type}/{resource_id}"
