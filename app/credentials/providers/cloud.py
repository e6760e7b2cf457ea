"""Cloud provider adapters: AWS through boto3, the others through their HTTP APIs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

import boto3
import httpx
import jwt
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.core import outbound
from app.credentials.providers.base import (
    CheckResult,
    CloudAdapter,
    CredentialRejected,
    HttpAdapter,
    ProviderError,
)

_AWS_REJECTIONS = {
    "InvalidClientTokenId", "SignatureDoesNotMatch", "AuthFailure", "UnrecognizedClientException",
    "InvalidAccessKeyId", "AccessDenied", "UnauthorizedOperation", "ExpiredToken",
}


async def _guarded(check: Any) -> CheckResult:
    try:
        message: str = await check
    except CredentialRejected as exc:
        return CheckResult(False, str(exc))
    except ProviderError as exc:
        return CheckResult(False, f"The provider could not be reached: {exc}")
    return CheckResult(True, message)


class AwsAdapter(HttpAdapter, CloudAdapter):
    def _session_client(self, service: str, credential: Mapping[str, str]) -> Any:
        return boto3.session.Session().client(
            service,
            aws_access_key_id=credential["access_key_id"],
            aws_secret_access_key=credential["secret_access_key"],
            region_name=self.settings.aws_default_region,
            endpoint_url=self.settings.aws_endpoint_url,
            config=Config(
                connect_timeout=self.settings.provider_timeout_seconds,
                read_timeout=self.settings.provider_timeout_seconds,
                retries={"max_attempts": 2},
            ),
        )

    def _check_sync(self, credential: Mapping[str, str]) -> str:
        try:
            identity = self._session_client("sts", credential).get_caller_identity()
            regions = self._session_client("ec2", credential).describe_regions()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _AWS_REJECTIONS or exc.response.get("ResponseMetadata", {}).get(
                "HTTPStatusCode"
            ) in (401, 403):
                raise CredentialRejected(f"AWS rejected the credential ({code}).") from exc
            raise ProviderError(f"AWS answered {code or 'an error'}.") from exc
        except BotoCoreError as exc:
            raise ProviderError(type(exc).__name__) from exc
        count = len(regions.get("Regions", []))
        return f"Authenticated as {identity.get('Arn', 'unknown')}; {count} EC2 regions reachable."

    async def check(self, credential: Mapping[str, str]) -> CheckResult:
        # boto3 is synchronous: keep the event loop free while it waits on the network.
        return await _guarded(asyncio.to_thread(self._check_sync, credential))


class DigitalOceanAdapter(HttpAdapter, CloudAdapter):
    async def _check(self, credential: Mapping[str, str]) -> str:
        token = credential["api_token"]
        try:
            async with self.client(headers={"Authorization": f"Bearer {token}"}) as http:
                response = await http.get(f"{self.settings.digitalocean_api_url}/account")
        except Exception as exc:
            raise ProviderError(type(exc).__name__) from exc
        self.raise_for(response, "DigitalOcean")
        account = self.json(response, "DigitalOcean").get("account", {})
        return f"Account {account.get('email', 'unknown')} is {account.get('status', 'unknown')}."

    async def check(self, credential: Mapping[str, str]) -> CheckResult:
        return await _guarded(self._check(credential))


class HetznerAdapter(HttpAdapter, CloudAdapter):
    async def _check(self, credential: Mapping[str, str]) -> str:
        token = credential["api_token"]
        try:
            async with self.client(headers={"Authorization": f"Bearer {token}"}) as http:
                response = await http.get(
                    f"{self.settings.hetzner_api_url}/servers", params={"per_page": 1}
                )
        except Exception as exc:
            raise ProviderError(type(exc).__name__) from exc
        self.raise_for(response, "Hetzner Cloud")
        total = (
            self.json(response, "Hetzner Cloud")
            .get("meta", {}).get("pagination", {}).get("total_entries", 0)
        )
        return f"Project token accepted; {total} servers in the project."

    async def check(self, credential: Mapping[str, str]) -> CheckResult:
        return await _guarded(self._check(credential))


class AzureAdapter(HttpAdapter, CloudAdapter):
    SCOPE = "https://management.azure.com/.default"

    async def _check(self, credential: Mapping[str, str]) -> str:
        login = self.settings.azure_login_url.rstrip("/")
        try:
            async with self.client() as http:
                token_response = await http.post(
                    f"{login}/{credential['tenant_id']}/oauth2/v2.0/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": credential["client_id"],
                        "client_secret": credential["client_secret"],
                        "scope": self.SCOPE,
                    },
                )
                if token_response.status_code in (400, 401):
                    raise CredentialRejected("Azure rejected the client id or secret.")
                self.raise_for(token_response, "Azure")
                token = self.json(token_response, "Azure").get("access_token")
                if not token:
                    raise ProviderError("Azure issued no access token.")
                response = await http.get(
                    f"{self.settings.azure_management_url.rstrip('/')}/subscriptions/"
                    f"{credential['subscription_id']}",
                    params={"api-version": "2022-12-01"},
                    headers={"Authorization": f"Bearer {token}"},
                )
        except (CredentialRejected, ProviderError):
            raise
        except Exception as exc:
            raise ProviderError(type(exc).__name__) from exc
        if response.status_code == 404:
            raise CredentialRejected("The subscription was not found for this principal.")
        self.raise_for(response, "Azure")
        state = self.json(response, "Azure").get("state", "unknown")
        return f"Subscription {credential['subscription_id']} is {state}."

    async def check(self, credential: Mapping[str, str]) -> CheckResult:
        return await _guarded(self._check(credential))


class GoogleCloudAdapter(HttpAdapter, CloudAdapter):
    SCOPE = "https://www.googleapis.com/auth/compute"

    def _token_client(self) -> httpx.AsyncClient:
        if self.settings.gcp_token_url:
            return self.client()
        return outbound.async_client(
            self.settings, timeout=self.settings.provider_timeout_seconds,
            headers={"User-Agent": "devopness-server"},
        )

    async def _check(self, credential: Mapping[str, str]) -> str:
        try:
            key = json.loads(credential["service_account_key"])
            email, private_key, project = (
                key["client_email"], key["private_key"], key["project_id"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CredentialRejected("The service account key is not a valid JSON key.") from exc
        # The operator's token endpoint is trusted; a key's own token_uri is the user's
        # choice and goes through the outbound policy.
        token_url = self.settings.gcp_token_url or str(
            key.get("token_uri") or "https://oauth2.googleapis.com/token"
        )
        now = int(time.time())
        try:
            assertion = jwt.encode(
                {"iss": email, "scope": self.SCOPE, "aud": token_url, "iat": now,
                 "exp": now + 600},
                private_key,
                algorithm="RS256",
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise CredentialRejected("The service account private key is unusable.") from exc
        try:
            async with self._token_client() as http:
                token_response = await http.post(
                    token_url,
                    data={
                        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                        "assertion": assertion,
                    },
                )
            if token_response.status_code in (400, 401):
                raise CredentialRejected("Google rejected the service account key.")
            self.raise_for(token_response, "Google Cloud")
            token = self.json(token_response, "Google Cloud").get("access_token")
            if not token:
                raise ProviderError("Google issued no access token.")
            async with self.client() as http:
                response = await http.get(
                    f"{self.settings.gcp_compute_url.rstrip('/')}/projects/{project}",
                    headers={"Authorization": f"Bearer {token}"},
                )
        except (CredentialRejected, ProviderError):
            raise
        except outbound.OutboundRefused as exc:
            raise CredentialRejected(f"The key's token_uri is refused: {exc}") from exc
        except Exception as exc:
            raise ProviderError(type(exc).__name__) from exc
        self.raise_for(response, "Google Cloud")
        return f"Service account {email} reaches project {project}."

    async def check(self, credential: Mapping[str, str]) -> CheckResult:
        return await _guarded(self._check(credential))
