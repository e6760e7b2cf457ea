"""What moto does not do by itself, for tests that drive AWS code against moto's server.

- `add_ubuntu_image`: moto ships no current Ubuntu AMI from Canonical's account, so put one
  in the region's backend (moto's server runs in this process: same backends).
- `answer_error`: make one EC2 operation of a boto3 client get an AWS error answer (the XML
  EC2 sends, HTTP 400), parsed by botocore as any real one. For what moto does not
  emulate, such as account limits.
- `page_ec2`: make an EC2 Describe operation answer in pages (moto answers everything
  at once), so paginated reading is exercised.
- `reset`: forget every resource, so a test sees only its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from botocore.awsrequest import AWSResponse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.responses.instances import InstanceResponse
from moto.ec2.utils import random_ami_id

from app.cloud.aws import CANONICAL_OWNER


def add_ubuntu_image(
    region: str,
    codename: str,
    version: str,
    *,
    architecture: str = "x86_64",
    build: str = "20250115",
    volume_type: str = "hvm-ssd-gp3",
    owner: str = CANONICAL_OWNER,
) -> str:
    """An AMI named and owned as Canonical publishes them; returns its id."""
    arch = "amd64" if architecture == "x86_64" else architecture
    name = f"ubuntu/images/{volume_type}/ubuntu-{codename}-{version}-{arch}-server-{build}"
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    ami_id = random_ami_id()
    backend.amis[ami_id] = Ami(
        backend,
        ami_id,
        name=name,
        description=f"Canonical, Ubuntu, {version}, {arch} image",
        owner_id=owner,
        public=True,
        virtualization_type="hvm",
        architecture=architecture,
        root_device_type="ebs",
        root_device_name="/dev/sda1",
        creation_date=datetime.strptime(build, "%Y%m%d"),
        hypervisor="xen",
    )
    return ami_id


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def answer_error(
    client: Any, operation: str, code: str, message: str, *, status: int = 400,
    times: int | None = None,
) -> list[dict[str, Any]]:
    """From now on `operation` (e.g. "RunInstances") answers this EC2 error (the first
    `times` calls only, when given); returns the requests that got it (url, body)."""
    seen: list[dict[str, Any]] = []
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors>"
        "<RequestID>7e0c3c3a-test</RequestID></Response>"
    ).encode()

    def before_send(request: Any, **_: Any) -> AWSResponse | None:
        if times is not None and len(seen) >= times:
            return None  # botocore sends it for real
        seen.append({"url": request.url, "body": request.body})
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))

    client.meta.events.register(f"before-send.ec2.{operation}", before_send)
    return seen


def page_ec2(
    monkeypatch: pytest.MonkeyPatch, method: str, result_key: str, size: int
) -> list[dict[str, Any]]:
    """From now on moto's `method` (e.g. "describe_instance_types") answers at most `size`
    items of `result_key` at a time, with a NextToken as EC2 does (MaxResults is honoured
    when smaller). Returns, per request, the token it came with and what it got."""
    seen: list[dict[str, Any]] = []
    original = getattr(InstanceResponse, method)

    def paged(self: Any) -> ActionResult:
        answer = original(self).result
        items = answer[result_key]
        token = self._get_param("NextToken")
        start = int(token or 0)
        limit = min(int(self._get_param("MaxResults") or size), size)
        page = {result_key: items[start:start + limit]}
        if start + limit < len(items):
            page["NextToken"] = str(start + limit)
        seen.append({"token": token, "items": len(page[result_key])})
        return ActionResult(page)

    monkeypatch.setattr(InstanceResponse, method, paged)
    return seen


def reset(moto_url: str) -> None:
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
