"""`/docs` (Swagger UI) and `/redoc`, with their assets served by the API itself.

The assets come from the `fastapi-offline` package (no CDN), and the pages carry no inline
script: nginx's Content-Security-Policy (`script-src 'self'`) would block FastAPI's default
pages, which load from a CDN and start Swagger UI from an inline `<script>`. Every URL is
relative, so the pages work under any prefix a proxy adds (`/api/docs`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS_PATH = "/docs-assets"
ASSETS = Path(str(files("fastapi_offline") / "static"))
#: The same policy nginx sends, for a client that reaches the API directly. ReDoc's
#: styled-components injects <style> elements, so that page alone may apply inline styles.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; {style_src}; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="icon" type="image/png" href="docs-assets/favicon.png">
<link rel="stylesheet" href="docs-assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs-assets/swagger-ui-bundle.js"></script>
<script src="docs-assets/swagger-init.js"></script>
</body>
</html>
"""
SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true
});
"""
REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - ReDoc</title>
<link rel="icon" type="image/png" href="docs-assets/favicon.png">
</head>
<body>
<div id="redoc"></div>
<script src="docs-assets/redoc.standalone.js"></script>
<script src="docs-assets/redoc-init.js"></script>
</body>
</html>
"""
# No search: it runs in a worker made from a blob: URL, which `script-src 'self'` forbids.
REDOC_INIT = """Redoc.init("openapi.json", {disableSearch: true}, document.getElementById("redoc"));
"""
SCRIPTS = {"swagger-init.js": SWAGGER_INIT, "redoc-init.js": REDOC_INIT}


class _Assets(StaticFiles):
    """The packaged files, revalidated by ETag (a cheap 304) instead of `no-store`."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path in SCRIPTS:
            response = Response(SCRIPTS[path], media_type="text/javascript")
        else:
            response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs and ReDoc at /redoc from packaged assets."""
    strict = {"Content-Security-Policy": DOCS_CSP.format(style_src="style-src 'self'")}
    inline_styles = {
        "Content-Security-Policy": DOCS_CSP.format(style_src="style-src 'self' 'unsafe-inline'")
    }

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(SWAGGER_PAGE.format(title=app.title), headers=strict)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC_PAGE.format(title=app.title), headers=inline_styles)

    app.mount(ASSETS_PATH, _Assets(directory=ASSETS), name="docs-assets")
