"""The interactive API docs (`/docs`), on the API's own origin.

Users paste tokens into the page's "Authorize", so whatever script it runs could read
them. FastAPI's default page loads Swagger UI by major version (`@5`) from a CDN with no
integrity check, a favicon from a third site, and runs inline code, and Swagger UI sends
the document's address to a public validator. Here the CDN files are one exact version
whose SHA-384 the browser checks (taken from the package on the npm registry, which the
CDN serves byte for byte), the start-up code is served by this server, and a Content
Security Policy lets the page run nothing else and talk to nothing but this server.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.36.0"
SWAGGER_UI_JS_SRI = "sha384-fUpRgC19yPykTqzdrUbdAg8NTiu16NEKf9U12J+IJWCg8/1mEI8f2+PEIz60Wyd+"
SWAGGER_UI_CSS_SRI = "sha384-z/AtSaOHGn5MJ5auAHXUypohywlIWLBZo1jeGmhdpVIbCnFhxAH92cwdV41oyINc"

# Relative addresses: behind a reverse proxy's path prefix they still resolve.
_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} - Swagger UI</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css"
      integrity="{SWAGGER_UI_CSS_SRI}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"
        integrity="{SWAGGER_UI_JS_SRI}" crossorigin="anonymous"></script>
<script src="docs/start.js"></script>
</body>
</html>
"""

_START = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""

_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self' https://cdn.jsdelivr.net",
    # Swagger UI sets style attributes as it renders; styles cannot read a token.
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
_HEADERS = {"Content-Security-Policy": _POLICY, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


def docs_routes(app: FastAPI) -> None:
    """Serve `/docs` and its start-up script; the app is built with FastAPI's own docs
    pages turned off (`docs_url=None, redoc_url=None`)."""
    page = _PAGE.replace("{title}", app.title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=_HEADERS)

    @app.get("/docs/start.js", include_in_schema=False)
    async def docs_start() -> Response:
        return Response(_START, media_type="text/javascript", headers=_HEADERS)
