"""Local stand-ins that speak the providers' HTTP APIs, served on loopback by uvicorn.

They check the auth header exactly as the real services do and answer with the real
services' JSON shapes, so the adapters' real client code is what gets tested.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

GITHUB_TOKEN = "ghp_standin_valid_token"
GITLAB_TOKEN = "glpat-standin-valid"
BITBUCKET_TOKEN = "bb-access-token"
BITBUCKET_APP_PASSWORD = ("bbuser", "app-password-123")
DIGITALOCEAN_TOKEN = "dop_v1_standin"
HETZNER_TOKEN = "hcloud-standin-token"
AZURE = {"tenant_id": "tenant-1", "client_id": "client-1", "client_secret": "azure-secret",
         "subscription_id": "sub-1"}
OAUTH_CODES = {"github": "gh-code", "gitlab": "gl-code", "bitbucket": "bb-code"}

class _Checking(Protocol):
    failures: list[str]

    def reset(self) -> None: ...


_S = TypeVar("_S", bound=_Checking)


def checked(standin: _S) -> Iterator[_S]:
    """A test's view of a served stand-in (`yield from` it in a fixture): emptied first,
    and no request from us that it found wrong."""
    standin.reset()
    yield standin
    assert standin.failures == [], standin.failures


REPOS = [("octo", f"repo-{i}") for i in range(1, 6)]
SHA = "5f1e7d2a9c3b4e6f8a0b1c2d3e4f5a6b7c8d9e0f"


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, as OAuth token endpoints receive it."""
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def _bearer(request: Request, token: str) -> bool:
    return request.headers.get("authorization") == f"Bearer {token}"


def _unauthorized(message: str = "Bad credentials") -> JSONResponse:
    return JSONResponse({"message": message}, status_code=401)


def _page(request: Request, size_name: str = "per_page") -> tuple[int, int]:
    return int(request.query_params.get("page", 1)), int(request.query_params.get(size_name, 30))


# ---------------------------------------------------------------- GitHub


async def gh_user(request: Request) -> Response:
    if not _bearer(request, GITHUB_TOKEN):
        return _unauthorized()
    return JSONResponse({"login": "octo", "id": 42})


def _gh_repo(owner: str, name: str) -> dict[str, Any]:
    return {"name": name, "full_name": f"{owner}/{name}", "owner": {"login": owner},
            "html_url": f"https://github.example/{owner}/{name}"}


async def gh_repos(request: Request) -> Response:
    if not _bearer(request, GITHUB_TOKEN):
        return _unauthorized()
    page, per_page = _page(request)
    items = REPOS[(page - 1) * per_page: page * per_page]
    last = max(1, -(-len(REPOS) // per_page))
    link = f'<http://x/user/repos?page={last}&per_page={per_page}>; rel="last"'
    return JSONResponse([_gh_repo(o, n) for o, n in items], headers={"Link": link})


async def gh_repo(request: Request) -> Response:
    if not _bearer(request, GITHUB_TOKEN):
        return _unauthorized()
    owner, name = request.path_params["owner"], request.path_params["name"]
    if (owner, name) not in REPOS:
        return JSONResponse({"message": "Not Found"}, status_code=404)
    rest = request.path_params.get("rest", "")
    if rest == "branches":
        return JSONResponse([{"name": "main", "commit": {"sha": SHA}}])
    if rest == "tags":
        return JSONResponse([{"name": "v1.0.0", "commit": {"sha": SHA}}])
    if rest.startswith("commits/"):
        return JSONResponse({
            "sha": SHA, "html_url": f"https://github.example/{owner}/{name}/commit/{SHA}",
            "commit": {"message": "Initial commit",
                       "author": {"name": "Octo Cat", "email": "octo@example.com",
                                  "date": "2026-01-02T03:04:05Z"}},
        })
    return JSONResponse(_gh_repo(owner, name))


async def gh_oauth(request: Request) -> Response:
    form = await _form(request)
    if form.get("code") == OAUTH_CODES["github"] and form.get("client_secret") == "gh-secret":
        return JSONResponse({"access_token": GITHUB_TOKEN, "token_type": "bearer"})
    # GitHub answers a bad code with 200 and an error field.
    return JSONResponse({"error": "bad_verification_code"})


# ---------------------------------------------------------------- GitLab


async def gl_user(request: Request) -> Response:
    if not _bearer(request, GITLAB_TOKEN):
        return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
    return JSONResponse({"id": 7, "username": "tanuki"})


def _gl_project(owner: str, name: str) -> dict[str, Any]:
    return {"id": 100, "path": name, "path_with_namespace": f"{owner}/{name}",
            "namespace": {"full_path": owner}, "web_url": f"https://gitlab.example/{owner}/{name}"}


async def gl_projects(request: Request) -> Response:
    if not _bearer(request, GITLAB_TOKEN):
        return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
    # The project id arrives URL-encoded ("group%2Frepo"): read the raw path.
    raw = request.scope["raw_path"].decode().split("/api/v4/projects", 1)[1].strip("/")
    if not raw:
        page, per_page = _page(request)
        items = REPOS[(page - 1) * per_page: page * per_page]
        return JSONResponse([_gl_project(o, n) for o, n in items],
                            headers={"X-Total": str(len(REPOS))})
    project, _, rest = raw.partition("/")
    owner, _, name = unquote(project).partition("/")
    if (owner, name) not in REPOS:
        return JSONResponse({"message": "404 Project Not Found"}, status_code=404)
    commit = {"id": SHA, "message": "Initial commit", "committed_date": "2026-01-02T03:04:05Z",
              "author_name": "Tanuki", "author_email": "tanuki@example.com",
              "web_url": f"https://gitlab.example/{owner}/{name}/-/commit/{SHA}"}
    if rest == "repository/branches":
        return JSONResponse([{"name": "main", "commit": commit}])
    if rest == "repository/tags":
        return JSONResponse([{"name": "v2", "commit": commit}])
    return JSONResponse(_gl_project(owner, name))


async def gl_oauth(request: Request) -> Response:
    form = await _form(request)
    if form.get("code") == OAUTH_CODES["gitlab"] and form.get("grant_type") == (
        "authorization_code"
    ):
        return JSONResponse({"access_token": GITLAB_TOKEN, "refresh_token": "gl-refresh",
                             "expires_in": 7200, "token_type": "Bearer"})
    return JSONResponse({"error": "invalid_grant"}, status_code=400)


# ---------------------------------------------------------------- Bitbucket


def _bb_ok(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if header == f"Bearer {BITBUCKET_TOKEN}":
        return True
    if header.startswith("Basic "):
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password) == BITBUCKET_APP_PASSWORD
    return False


def _bb_repo(owner: str, name: str) -> dict[str, Any]:
    return {"slug": name, "full_name": f"{owner}/{name}", "workspace": {"slug": owner},
            "links": {"html": {"href": f"https://bitbucket.example/{owner}/{name}"}}}


async def bb_user(request: Request) -> Response:
    if not _bb_ok(request):
        return JSONResponse({"type": "error"}, status_code=401)
    return JSONResponse({"uuid": "{u-1}", "username": "bbuser", "account_id": "a1"})


async def bb_repos(request: Request) -> Response:
    if not _bb_ok(request):
        return JSONResponse({"type": "error"}, status_code=401)
    page, per_page = _page(request, "pagelen")
    items = REPOS[(page - 1) * per_page: page * per_page]
    return JSONResponse({"size": len(REPOS), "page": page, "pagelen": per_page,
                         "values": [_bb_repo(o, n) for o, n in items]})


async def bb_repo(request: Request) -> Response:
    if not _bb_ok(request):
        return JSONResponse({"type": "error"}, status_code=401)
    owner, name = request.path_params["owner"], request.path_params["name"]
    if (owner, name) not in REPOS:
        return JSONResponse({"type": "error"}, status_code=404)
    rest = request.path_params.get("rest", "")
    target = {"hash": SHA, "message": "Initial commit\n", "date": "2026-01-02T03:04:05+00:00",
              "author": {"raw": "Bit Bucket <bb@example.com>"},
              "links": {"html": {"href": f"https://bitbucket.example/{owner}/{name}/commits/{SHA}"}}}
    if rest in ("refs/branches", "refs/tags"):
        return JSONResponse({"values": [{"name": "main" if "branches" in rest else "v3",
                                         "target": target}]})
    return JSONResponse(_bb_repo(owner, name))


async def bb_oauth(request: Request) -> Response:
    form = await _form(request)
    header = request.headers.get("authorization", "")
    expected = "Basic " + base64.b64encode(b"bb-client:bb-secret").decode()
    if header == expected and form.get("code") == OAUTH_CODES["bitbucket"]:
        return JSONResponse({"access_token": BITBUCKET_TOKEN, "expires_in": 3600})
    return JSONResponse({"error": "invalid_grant"}, status_code=400)


# ---------------------------------------------------------------- clouds


async def do_account(request: Request) -> Response:
    if not _bearer(request, DIGITALOCEAN_TOKEN):
        return JSONResponse({"id": "Unauthorized", "message": "Unable to authenticate you"},
                            status_code=401)
    return JSONResponse({"account": {"email": "ops@example.com", "status": "active",
                                     "droplet_limit": 25}})


async def hetzner_servers(request: Request) -> Response:
    if not _bearer(request, HETZNER_TOKEN):
        error = {"code": "unauthorized", "message": "unable to authenticate"}
        return JSONResponse({"error": error}, status_code=401)
    return JSONResponse({"servers": [], "meta": {"pagination": {"total_entries": 0}}})


async def azure_token(request: Request) -> Response:
    form = await _form(request)
    ok = (request.path_params["tenant"] == AZURE["tenant_id"]
          and form.get("client_id") == AZURE["client_id"]
          and form.get("client_secret") == AZURE["client_secret"]
          and form.get("grant_type") == "client_credentials")
    if not ok:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    return JSONResponse({"access_token": "azure-access", "token_type": "Bearer",
                         "expires_in": 3599})


async def azure_subscription(request: Request) -> Response:
    if not _bearer(request, "azure-access"):
        return JSONResponse({"error": {"code": "InvalidAuthenticationToken"}}, status_code=401)
    if request.path_params["sub"] != AZURE["subscription_id"]:
        return JSONResponse({"error": {"code": "SubscriptionNotFound"}}, status_code=404)
    return JSONResponse({"subscriptionId": AZURE["subscription_id"], "state": "Enabled"})


class GoogleStandIn:
    """Verifies the service account's signed assertion with the key pair's public half."""

    def __init__(self) -> None:
        self.public_keys: dict[str, Any] = {}

    async def token(self, request: Request) -> Response:
        form = await _form(request)
        assertion = str(form.get("assertion", ""))
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
            key = self.public_keys[claims["iss"]]
            jwt.decode(assertion, key, algorithms=["RS256"], audience=claims["aud"])
        except (jwt.PyJWTError, KeyError):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse({"access_token": "gcp-access", "expires_in": 3599})

    async def project(self, request: Request) -> Response:
        if not _bearer(request, "gcp-access"):
            return JSONResponse({"error": {"code": 401}}, status_code=401)
        return JSONResponse({"name": request.path_params["project"]})


def build_app(google: GoogleStandIn) -> Starlette:
    routes = [
        Route("/github/user", gh_user),
        Route("/github/user/repos", gh_repos),
        Route("/github/repos/{owner}/{name}", gh_repo),
        Route("/github/repos/{owner}/{name}/{rest:path}", gh_repo),
        Route("/github-web/login/oauth/access_token", gh_oauth, methods=["POST"]),
        Route("/gitlab/api/v4/user", gl_user),
        Route("/gitlab/api/v4/projects", gl_projects),
        Route("/gitlab/api/v4/projects/{rest:path}", gl_projects),
        Route("/gitlab/oauth/token", gl_oauth, methods=["POST"]),
        Route("/bitbucket/2.0/user", bb_user),
        Route("/bitbucket/2.0/repositories", bb_repos),
        Route("/bitbucket/2.0/repositories/{owner}/{name}", bb_repo),
        Route("/bitbucket/2.0/repositories/{owner}/{name}/{rest:path}", bb_repo),
        Route("/bitbucket-web/site/oauth2/access_token", bb_oauth, methods=["POST"]),
        Route("/digitalocean/v2/account", do_account),
        Route("/hetzner/v1/servers", hetzner_servers),
        Route("/azure-login/{tenant}/oauth2/v2.0/token", azure_token, methods=["POST"]),
        Route("/azure/subscriptions/{sub}", azure_subscription),
        Route("/gcp/token", google.token, methods=["POST"]),
        Route("/gcp/compute/v1/projects/{project}", google.project),
    ]
    return Starlette(routes=routes)


@contextmanager
def serve(app: Any, port: int) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on 127.0.0.1:port until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("stand-in server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def json_body(raw: bytes) -> Any:
    return json.loads(raw) if raw else None
