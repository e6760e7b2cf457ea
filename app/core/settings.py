"""Runtime configuration, read once from environment variables (and an optional .env file)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A recognisable placeholder: development works out of the box, production refuses it.
DEFAULT_SECRET_KEY = "insecure-development-secret-change-me"

DEFAULT_DATA_DIR = Path("./data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production", "test"] = Field(
        default="development",
        description="`production` enforces a real SECRET_KEY and an https PUBLIC_URL warning.",
    )
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'devopness.db'}",
        description="SQLAlchemy async URL: postgresql+psycopg://… or sqlite+aiosqlite:///path.",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_echo: bool = False
    redis_url: str | None = Field(
        default=None,
        description="When set, actions run on Celery workers and counters live in Redis.",
    )
    secret_key: str = Field(
        default=DEFAULT_SECRET_KEY,
        min_length=16,
        description="Signs access tokens and derives the key that encrypts stored secrets.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Absolute base URL of this API as clients reach it (links in mails, Link).",
    )
    app_url: str | None = Field(
        default=None,
        description="Base URL of a web front end for links in mails; defaults to PUBLIC_URL.",
    )

    access_token_ttl_seconds: int = Field(default=3600, ge=60)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    email_verification_ttl_seconds: int = Field(default=48 * 3600, ge=300)
    password_reset_ttl_seconds: int = Field(default=3600, ge=300)
    token_max_lifetime_days: int = Field(default=366, ge=1)
    # Safe with any number of API processes and writers: every request reads the database's
    # access generation first, and every change to who may do what moves it at commit
    # (app/core/changes.py), so a change is seen by the next request on every process.
    access_cache_seconds: float = Field(
        default=300.0, ge=0,
        description="Longest a resolved token or permission set is reused (0: off).",
    )
    # Per API process; a kept answer is checked against its rows on every read
    # (app/actions/answers.py).
    finished_actions_cache_mb: int = Field(
        default=32, ge=0, le=4096,
        description="Memory each API process may keep finished actions' targets in (0: off).",
    )

    registration_open: bool = Field(default=True, description="Allow POST /users sign-ups.")
    email_verification_required: bool = Field(
        default=True,
        description="Send a verification mail on sign-up; false completes sign-up at once.",
    )

    login_max_attempts: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Devopness Server <no-reply@localhost>"

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json", description="`json`: one JSON object per line; `text` for humans."
    )

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (JSON list or comma-separated).",
    )

    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = Field(
        default=1200, ge=1, description="Requests per minute per bearer token."
    )
    rate_limit_ip_per_minute: int = Field(
        default=600, ge=1, description="Requests per minute per client IP without a token."
    )
    rate_limit_auth_per_minute: int = Field(
        default=30,
        ge=1,
        description="Per IP, for login, sign-up, password and token-creation endpoints.",
    )

    metrics_token: str | None = Field(
        default=None, description="When set, /metrics requires `Authorization: Bearer <it>`."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    previous_secret_key: str | None = Field(
        default=None,
        description="The SECRET_KEY before a rotation: stored secrets sealed with it stay "
        "readable until `devopness-server reencrypt-secrets` re-seals them with SECRET_KEY.",
    )

    outbound_allow_private_networks: bool = Field(
        default=False,
        description="Let connections the control plane opens on a user's behalf (outgoing "
        "hooks, repository URLs, a Google key's token_uri, servers' SSH addresses) reach "
        "loopback, link-local and private addresses. Off: only public addresses are "
        "reached. Turn on only when servers or hook receivers live on a private network "
        "the control plane may reach (the cloud metadata endpoint becomes reachable too).",
    )

    # Provider APIs. Base URLs are settings so that a test (or an on-premises GitLab or
    # GitHub Enterprise) points the same client code elsewhere.
    provider_timeout_seconds: float = Field(default=15.0, gt=0)
    aws_endpoint_url: str | None = Field(
        default=None, description="Override for every AWS service endpoint (e.g. a moto server)."
    )
    aws_default_region: str = "us-east-1"
    github_api_url: str = "https://api.github.com"
    github_web_url: str = "https://github.com"
    github_client_id: str | None = None
    github_client_secret: str | None = None
    gitlab_url: str = Field(default="https://gitlab.com", description="GitLab web and API root.")
    gitlab_client_id: str | None = None
    gitlab_client_secret: str | None = None
    bitbucket_api_url: str = "https://api.bitbucket.org/2.0"
    bitbucket_web_url: str = "https://bitbucket.org"
    bitbucket_client_id: str | None = None
    bitbucket_client_secret: str | None = None
    digitalocean_api_url: str = "https://api.digitalocean.com/v2"
    hetzner_api_url: str = "https://api.hetzner.cloud/v1"
    azure_login_url: str = "https://login.microsoftonline.com"
    azure_management_url: str = "https://management.azure.com"
    gcp_token_url: str | None = Field(
        default=None, description="Overrides the token_uri of Google service account keys."
    )
    gcp_compute_url: str = "https://compute.googleapis.com/compute/v1"
    # Price lists the catalogue refresh reads (`devopness-server catalogue-refresh`).
    aws_pricing_endpoint_url: str | None = Field(
        default=None,
        description="Override for the AWS Price List API endpoint (default: AWS's own, "
        "in us-east-1; not aws_endpoint_url, which moto serves without prices).",
    )
    azure_prices_url: str = "https://prices.azure.com/api/retail/prices"
    gcp_billing_url: str = "https://cloudbilling.googleapis.com/v1"
    catalogue_dir: Path | None = Field(
        default=None,
        description="Folder of cloud catalogue files (<cloud_service_code>.json) that "
        "`catalogue-refresh` writes and the API prefers to the catalogue it ships with.",
    )

    # Where servers download applications' engine versions (workers/scripts/lib/runtime.sh);
    # a mirror keeps the upstream layout.
    runtime_nodejs_mirror: str = Field(
        default="https://nodejs.org/dist",
        description="Node.js releases: latest-v<major>.x/SHASUMS256.txt and its tarballs.",
    )
    runtime_python_mirror: str = Field(
        default="https://github.com/astral-sh/python-build-standalone/releases/latest/download",
        description="python-build-standalone release: SHA256SUMS and its install_only builds.",
    )
    runtime_go_mirror: str = Field(
        default="https://go.dev/dl",
        description="Go downloads: ?mode=json&include=all listing and go<ver>.linux-<arch>.tar.gz.",
    )
    runtime_java_mirror: str = Field(
        default="https://api.adoptium.net/v3",
        description="Adoptium API (Eclipse Temurin JDKs; each tarball with its .sha256.txt).",
    )
    runtime_ruby_mirror: str = Field(
        default="https://cache.ruby-lang.org/pub/ruby",
        description="Ruby source releases: index.txt (with sha256) and <x.y>/ruby-<ver>.tar.gz.",
    )
    runtime_php_mirror: str = Field(
        default="https://dl.static-php.dev/static-php-cli/common",
        description="static-php-cli builds: a listing of php-<ver>-cli-linux-<arch>.tar.gz "
                    "(and SHA256SUMS when the mirror has one).",
    )
    outgoing_hook_attempts: int = Field(default=3, ge=1, le=10)
    outgoing_hook_backoff_seconds: float = Field(default=2.0, ge=0)
    outgoing_hook_timeout_seconds: float = Field(default=10.0, gt=0)

    # Action engine
    action_heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="How often a running action proves its worker is alive."
    )
    action_stale_seconds: float = Field(
        default=60.0, gt=0, description="Silence after which the reaper fails a running action."
    )
    action_queue_timeout_seconds: float = Field(
        default=3600.0, gt=0, description="A pending action no worker picked up fails after this."
    )
    action_time_limit_seconds: int = Field(
        default=6 * 3600, ge=1, description="Default limit for a whole action (extension)."
    )
    action_reaper_interval_seconds: float = Field(default=15.0, gt=0)
    cloud_ready_timeout_seconds: float = Field(
        default=600.0, gt=0, description="How long a new cloud instance may take to run."
    )
    cloud_network_wait_seconds: float = Field(
        default=600.0, ge=0,
        description="How long a subnet's creation waits for its network's creation, "
        "started just before it, to give the network its provider id.",
    )
    cloud_ssh_timeout_seconds: float = Field(
        default=300.0, gt=0, description="How long a running instance may take to answer SSH."
    )
    server_activation_ttl_seconds: int = Field(
        default=3600, ge=60, description="How long a server's connect command stays valid."
    )
    worker_max_parallel_targets: int = Field(
        default=30, ge=1,
        description="SSH sessions one worker process runs at once (more targets queue; "
        "bounds each target's run time, see the deploy and fan-out benchmarks).",
    )
    worker_connections_ahead: int = Field(
        default=15, ge=0,
        description="Targets queued for one of a worker's SSH sessions that may connect "
        "while they wait, so a session freed starts its steps at once (0: connect only "
        "once a session is free).",
    )
    ssh_connect_timeout_seconds: float = Field(default=15.0, gt=0)
    ssh_encryption_algs: str = Field(
        default=(
            "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,"
            "aes128-ctr,aes192-ctr,aes256-ctr"
        ),
        description="Ciphers the engine offers, most preferred first (the server picks the "
        "first it also supports). AES-GCM first: an AEAD cipher like ChaCha20-Poly1305, and "
        "about a third less controller CPU per session with AES-NI (see the fan-out "
        "benchmark).",
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        # People write the URL other tools taught them (sqlite:///x, postgres://...); the
        # engine needs the async drivers this server ships, and nothing else would open.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        supported = (
            "expected postgresql+psycopg://user:password@host:5432/database "
            "or sqlite+aiosqlite:///path/to/file.db"
        )
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL; {supported}") from None
        drivers = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
                   "postgresql+psycopg": "postgresql+psycopg",
                   "sqlite": "sqlite+aiosqlite", "sqlite+aiosqlite": "sqlite+aiosqlite"}
        driver = drivers.get(url.drivername)
        if driver is None:
            raise ValueError(f"{url.drivername} is not supported; {supported}")
        if driver == url.drivername:
            return value
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @field_validator("ssh_encryption_algs")
    @classmethod
    def _known_ciphers(cls, value: str) -> str:
        # Only asyncssh's default (current, secure) ciphers: no CBC, RC4 or 3DES.
        from asyncssh.encryption import get_default_encryption_algs

        known = {alg.decode() for alg in get_default_encryption_algs()}
        wanted = [alg.strip() for alg in value.split(",") if alg.strip()]
        unknown = [alg for alg in wanted if alg not in known]
        if not wanted or unknown:
            raise ValueError(
                f"unsupported cipher(s) {', '.join(unknown) or '(none given)'}; "
                f"supported: {', '.join(sorted(known))}"
            )
        return ",".join(wanted)

    engine_write_interval_seconds: float = Field(
        default=0.05, gt=0, le=1,
        description="How often a running action's state and log chunks are committed "
        "(one transaction per interval, see workers/engine/writer.py): longer means fewer, "
        "larger transactions and later live updates.",
    )
    engine_plugins: str = Field(
        default="",
        description=(
            "Comma-separated modules imported by the API and every worker at start, so "
            "they can register target resolvers and the server access provider."
        ),
    )

    # Reliability under faults: dispatch, the workers' sweep, graceful shutdown.
    action_dispatch_attempts: int = Field(
        default=3, ge=1, le=10,
        description="Tries to hand a new action to the broker before the request answers; "
        "an action still not sent is re-sent by the workers' sweep.",
    )
    action_redispatch_after_seconds: float = Field(
        default=10.0, gt=0,
        description="A pending action the broker has no record of is re-sent by the "
        "workers' sweep once it is this old (lost on dispatch, or with Redis' data).",
    )
    action_broker_timeout_seconds: float = Field(
        default=300.0, gt=0,
        description="A pending action that could not be handed to the broker for this long "
        "fails, with a reason naming the broker.",
    )
    shutdown_grace_seconds: float = Field(
        default=8.0, gt=0, le=300,
        description="On SIGTERM the API tells followers (`?wait=`, SSE) to reconnect and "
        "exits within this many seconds.",
    )

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError(
                "SECRET_KEY is the built-in development default; set a long random "
                "SECRET_KEY before running with ENVIRONMENT=production"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def frontend_url(self) -> str:
        return (self.app_url or self.public_url).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
