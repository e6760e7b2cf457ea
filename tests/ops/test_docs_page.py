"""The interactive docs page: served on the API's own origin, where a user pastes a token
into "Authorize", so every script it runs is ours or a pinned file the browser checks."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

PINNED = re.compile(r"^https://cdn\.jsdelivr\.net/npm/[a-z-]+@\d+\.\d+\.\d+/[\w.-]+$")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


async def test_the_docs_page_runs_only_our_script_and_pinned_checked_files(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = _Tags()
    page.feed(r.text)
    assert page.inline_scripts == [], "inline code would need 'unsafe-inline'"
    loaded = [(tag, a) for tag, a in page.tags
              if (tag == "script" and a.get("src")) or (tag == "link" and a.get("href"))]
    assert {tag for tag, _ in loaded} == {"script", "link"}, loaded
    own = []
    for _, attrs in loaded:
        url = str(attrs.get("src") or attrs.get("href"))
        if url.startswith(("https://", "http://", "//")):
            # A third party's file: an exact version, and the browser refuses it if it
            # is not byte for byte the file we reviewed.
            assert PINNED.match(url), url
            assert str(attrs.get("integrity", "")).startswith("sha384-"), attrs
            assert attrs.get("crossorigin") == "anonymous", attrs
        elif not url.startswith("data:"):
            own.append(url)
    assert own, "the page's own start-up script"

    policy = _directives(r.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert sorted(policy["script-src"]) == ["'self'", "https://cdn.jsdelivr.net"]
    assert policy["connect-src"] == ["'self'"], "Try it out talks to this server only"
    assert policy["frame-ancestors"] == ["'none'"]
    assert r.headers["x-content-type-options"] == "nosniff"

    for url in own:
        script = await client.get(httpx.URL("http://t/docs").join(url).path)
        assert script.status_code == 200, url
        assert script.headers["content-type"].startswith("text/javascript"), script.headers
        # The document is this server's, found relative to the page (a reverse proxy's
        # prefix included), and never sent to a public validator.
        assert '"openapi.json"' in script.text and "validatorUrl: null" in script.text


async def test_only_the_docs_page_is_served_beside_the_api(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404
    document = (await client.get("/openapi.json")).json()
    assert not [p for p in document["paths"] if p.startswith("/docs")]
