"""The credential providers this server knows: what each asks for and how it is shown.

One definition per provider drives request validation, the settings endpoints and
`/static/credential-options`, so they cannot disagree.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field


class ProviderType(enum.StrEnum):
    CLOUD = "cloud_provider"
    SOURCE = "source_provider"

    @property
    def human_readable(self) -> str:
        return "Cloud Provider" if self is ProviderType.CLOUD else "Source Provider"


class AuthType(enum.StrEnum):
    OAUTH = "oauth"
    APPLICATION = "application"
    API_CREDENTIALS = "api_credentials"

    @property
    def human_readable(self) -> str:
        return {
            AuthType.OAUTH: "OAuth",
            AuthType.APPLICATION: "Application",
            AuthType.API_CREDENTIALS: "API Credentials",
        }[self]


@dataclass(frozen=True)
class InputField:
    name: str
    human: str
    sensitive: bool
    required: bool = True
    kind: str = "string"  # string | text
    min: int = 1
    max: int = 255
    pattern: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class Provider:
    code: str
    name: str
    type: ProviderType
    hint: str
    fields: tuple[InputField, ...] = ()  # cloud providers: what the credential holds
    cloud_service: str | None = None
    token_fields: tuple[InputField, ...] = field(default=())  # source: api_credentials


_TOKEN = InputField("access_token", "Access token", sensitive=True, max=512)
_API_TOKEN = InputField("api_token", "API token", sensitive=True, max=255)

PROVIDERS: dict[str, Provider] = {
    p.code: p
    for p in (
        Provider(
            "aws", "Amazon Web Services", ProviderType.CLOUD,
            "An IAM user's access key with EC2 and STS permissions.",
            (
                InputField("access_key_id", "Access key ID", sensitive=False, min=16, max=128,
                           pattern=r"^[A-Z0-9]+$"),
                InputField("secret_access_key", "Secret access key", sensitive=True, min=16,
                           max=128),
            ),
            cloud_service="aws-ec2",
        ),
        Provider(
            "azure", "Microsoft Azure", ProviderType.CLOUD,
            "A service principal (app registration) with access to a subscription.",
            (
                InputField("tenant_id", "Tenant ID", sensitive=False, max=64),
                InputField("subscription_id", "Subscription ID", sensitive=False, max=64),
                InputField("client_id", "Client ID", sensitive=False, max=64),
                InputField("client_secret", "Client secret", sensitive=True, max=255),
            ),
            cloud_service="azure-rm",
        ),
        Provider(
            "digitalocean", "DigitalOcean", ProviderType.CLOUD,
            "A personal access token with read and write scopes.",
            (_API_TOKEN,),
            cloud_service="digitalocean-droplet",
        ),
        Provider(
            "gcp", "Google Cloud Platform", ProviderType.CLOUD,
            "The JSON key of a service account with the Compute Admin role.",
            (InputField("service_account_key", "Service account key (JSON)", sensitive=True,
                        kind="text", max=20000),),
            cloud_service="gcp-gce",
        ),
        Provider(
            "hetzner", "Hetzner Cloud", ProviderType.CLOUD,
            "A Hetzner Cloud project API token with read and write permissions.",
            (_API_TOKEN,),
            cloud_service="hetzner-hcloud",
        ),
        Provider(
            "github", "GitHub", ProviderType.SOURCE,
            "A personal access token with the `repo` scope, or OAuth.",
            token_fields=(_TOKEN,),
        ),
        Provider(
            "gitlab", "GitLab", ProviderType.SOURCE,
            "A personal access token with the `read_api` and `read_repository` scopes, or OAuth.",
            token_fields=(_TOKEN,),
        ),
        Provider(
            "bitbucket", "Bitbucket", ProviderType.SOURCE,
            "An access token (or an app password with your username), or OAuth.",
            token_fields=(
                _TOKEN,
                InputField("username", "Username (only with an app password)",
                           sensitive=False, required=False, max=255),
            ),
        ),
    )
}

SOURCE_PROVIDER_NAMES = {"github": "GitHub", "gitlab": "GitLab", "bitbucket": "Bitbucket"}


def provider(code: str) -> Provider | None:
    return PROVIDERS.get(code)


def validate_fields(fields: tuple[InputField, ...], values: dict[str, object]) -> dict[str, str]:
    """Field errors (name -> message) for the given values; empty when they are valid."""
    errors: dict[str, str] = {}
    for f in fields:
        value = values.get(f.name)
        key = f"settings.credential.{f.name}"
        if value is None or value == "":
            if f.required:
                errors[key] = f"The {f.human.lower()} field is required."
            continue
        if not isinstance(value, str):
            errors[key] = f"The {f.human.lower()} must be a string."
        elif not f.min <= len(value.strip()) <= f.max:
            errors[key] = f"The {f.human.lower()} must be between {f.min} and {f.max} characters."
        elif f.pattern and not re.fullmatch(f.pattern, value.strip()):
            errors[key] = f"The {f.human.lower()} format is invalid."
    return errors
