"""The API docs page: Swagger UI served offline, with no inline script, so a strict CSP holds.

Litestar's own Swagger page inlines the whole spec and the start-up code in a <script>, which a
`script-src 'self'` policy forbids; this page loads everything, the start-up code included, from
the app's own paths, and the UI fetches the spec from `/docs/openapi.json`.
"""

from typing import Any

from litestar import Request, Response, get
from litestar.openapi.plugins import SwaggerRenderPlugin

DOCS = "/docs"
DOCS_ASSETS = f"{DOCS}/assets"
INIT_JS = f"{DOCS}/swagger-init.js"
SPEC = f"{DOCS}/openapi.json"

# Everything the page needs comes from this origin; Swagger UI's icons are data: URIs in its CSS.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Folio API</title>
<link rel="icon" type="image/png" href="{DOCS_ASSETS}/favicon-32x32.png">
<link rel="stylesheet" href="{DOCS_ASSETS}/swagger-ui.css">
<link rel="stylesheet" href="{DOCS_ASSETS}/index.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_ASSETS}/swagger-ui-bundle.js"></script>
<script src="{DOCS_ASSETS}/swagger-ui-standalone-preset.js"></script>
<script src="{INIT_JS}"></script>
</body>
</html>
""".encode()

_INIT = f"""window.addEventListener("load", function () {{
  window.ui = SwaggerUIBundle({{
    url: "{SPEC}",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  }});
}});
""".encode()


class OfflineSwaggerPlugin(SwaggerRenderPlugin):
    """Swagger UI at `/docs`, every byte from the app itself."""

    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return _PAGE


@get(INIT_JS, include_in_schema=False, media_type="text/javascript", sync_to_thread=False)
def swagger_init() -> Response[bytes]:
    return Response(_INIT, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})
