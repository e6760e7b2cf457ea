"""An AWS Price List Query API stand-in (the `pricing` service boto3 talks to): GetProducts
over the JSON 1.1 protocol (`POST /`, `X-Amz-Target: AWSPriceListService.GetProducts`).

It checks the SigV4 Authorization header as AWS does (a known access key, the `pricing`
scope, a signature made with that key's secret), applies the request's TERM_MATCH filters
to its products and answers pages of at most `page_size` entries with a NextToken. Each
PriceList entry is a JSON document in the shape AWS publishes (product attributes, OnDemand
and Reserved terms). `error` makes every GetProducts answer that AWS error instead.
"""

from __future__ import annotations

import hmac
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TARGET = "AWSPriceListService.GetProducts"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<headers>[^,]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_SKU = itertools.count(1)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"__type": code, "message": message}, status_code=status,
                        media_type="application/x-amz-json-1.1")


def product(
    instance_type: str, region: str, hourly: str, *, location: str = "",
    operating_system: str = "Linux", tenancy: str = "Shared", pre_installed_sw: str = "NA",
    capacity_status: str = "Used", license_model: str = "No License required",
    market_option: str = "OnDemand",
) -> dict[str, Any]:
    """One EC2 product as the Price List publishes it, priced `hourly` USD on demand (and
    cheaper reserved, which must not be read as the on-demand price)."""
    sku = f"SKU{next(_SKU):08d}"
    on_demand, reserved = f"{sku}.JRTCKXETXF", f"{sku}.4NA7Y494T4"
    return {
        "product": {
            "productFamily": "Compute Instance",
            "attributes": {
                "servicecode": "AmazonEC2", "instanceType": instance_type,
                "instanceFamily": "General purpose", "regionCode": region,
                "location": location or region, "locationType": "AWS Region",
                "operatingSystem": operating_system, "tenancy": tenancy,
                "preInstalledSw": pre_installed_sw, "capacitystatus": capacity_status,
                "licenseModel": license_model, "marketoption": market_option,
                "operation": "RunInstances", "usagetype": f"BoxUsage:{instance_type}",
                "currentGeneration": "Yes", "processorArchitecture": "64-bit",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {on_demand: {
                "offerTermCode": "JRTCKXETXF", "sku": sku,
                "effectiveDate": "2026-01-01T00:00:00Z", "termAttributes": {},
                "priceDimensions": {f"{on_demand}.6YS6EN2CT7": {
                    "rateCode": f"{on_demand}.6YS6EN2CT7", "unit": "Hrs",
                    "description": f"${hourly} per On Demand {operating_system} "
                                   f"{instance_type} Instance Hour",
                    "beginRange": "0", "endRange": "Inf", "appliesTo": [],
                    "pricePerUnit": {"USD": f"{float(hourly):.10f}"},
                }},
            }},
            "Reserved": {reserved: {
                "offerTermCode": "4NA7Y494T4", "sku": sku,
                "effectiveDate": "2026-01-01T00:00:00Z",
                "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                                   "PurchaseOption": "No Upfront"},
                "priceDimensions": {f"{reserved}.6YS6EN2CT7": {
                    "rateCode": f"{reserved}.6YS6EN2CT7", "unit": "Hrs",
                    "description": "Reserved hour", "beginRange": "0", "endRange": "Inf",
                    "appliesTo": [], "pricePerUnit": {"USD": f"{float(hourly) / 2:.10f}"},
                }},
            }},
        },
        "version": "20260101000000",
        "publicationDate": "2026-01-01T00:00:00Z",
    }


@dataclass
class PricingStandIn:
    credentials: dict[str, str]  # access key id -> secret access key
    products: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 100
    requests: list[dict[str, Any]] = field(default_factory=list)  # GetProducts bodies
    error: tuple[int, str, str] | None = None  # (HTTP status, AWS code, message)

    def reset(self) -> None:
        self.products.clear()
        self.requests.clear()
        self.page_size = 100
        self.error = None

    def _authorised(self, request: Request, body: bytes) -> JSONResponse | None:
        match = _AUTH.match(request.headers.get("authorization", ""))
        if not match:
            return _error(400, "MissingAuthenticationTokenException",
                          "Missing Authentication Token")
        secret = self.credentials.get(match["key"])
        if secret is None:
            return _error(400, "UnrecognizedClientException",
                          "The security token included in the request is invalid.")
        if match["service"] != "pricing":
            return _error(403, "InvalidSignatureException",
                          "Credential should be scoped to correct service: 'pricing'.")
        signed = {name: request.headers.get(name, "") for name in match["headers"].split(";")}
        copy = AWSRequest(method=request.method, url=str(request.url), data=body, headers=signed)
        copy.context["timestamp"] = request.headers.get("x-amz-date", "")
        signer = SigV4Auth(Credentials(match["key"], secret), "pricing", match["region"])
        expected = signer.signature(signer.string_to_sign(copy, signer.canonical_request(copy)),
                                    copy)
        if not hmac.compare_digest(expected, match["signature"]):
            return _error(403, "InvalidSignatureException",
                          "The request signature we calculated does not match the signature "
                          "you provided. Check your AWS Secret Access Key and signing method.")
        return None

    @staticmethod
    def _matches(item: dict[str, Any], filters: list[dict[str, str]]) -> bool:
        attributes = item["product"]["attributes"]
        return all(attributes.get(f["Field"]) == f["Value"] for f in filters)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        refused = self._authorised(request, body)
        if refused is not None:
            return refused
        if request.headers.get("x-amz-target") != TARGET:
            return _error(400, "UnknownOperationException", "Unknown operation")
        payload = json.loads(body or b"{}")
        self.requests.append(payload)
        if self.error is not None:
            return _error(*self.error)
        filters = payload.get("Filters", [])
        if any(f.get("Type") != "TERM_MATCH" for f in filters):
            return _error(400, "InvalidParameterException", "Only TERM_MATCH is served here.")
        if payload.get("ServiceCode") != "AmazonEC2":
            return _error(400, "NotFoundException", "The requested resource doesn't exist.")
        matching = [p for p in self.products if self._matches(p, filters)]
        token = payload.get("NextToken")
        if token is not None and not str(token).isdigit():
            return _error(400, "InvalidNextTokenException", "The next token is invalid.")
        start = int(token or 0)
        size = min(int(payload.get("MaxResults") or self.page_size), self.page_size)
        answer: dict[str, Any] = {
            "FormatVersion": payload.get("FormatVersion", "aws_v1"),
            "PriceList": [json.dumps(p) for p in matching[start:start + size]],
        }
        if start + size < len(matching):
            answer["NextToken"] = str(start + size)
        return JSONResponse(answer, media_type="application/x-amz-json-1.1")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self.endpoint, methods=["POST"])])
