"""The operator's console: server-rendered pages (Jinja2) at ``/``, their JavaScript and CSS, Plotly from the
installed ``plotly`` package, and ``/docs`` / ``/redoc`` with Swagger UI and ReDoc served from the pinned
``fastapi-offline`` package, so that nothing a page loads comes from another host.

The pages hold no data: their script signs in with an API key kept in the browser's sessionStorage and calls the
REST API with it as the Bearer header (never in a URL), and shows what the key's role may see and do.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC = "/console/static"
VENDOR = "/console/vendor"
templates = Jinja2Templates(directory=HERE / "templates")

# Every console page may load only what the service itself serves: the browser refuses anything else.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")

REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"

# The API docs' pages: Swagger UI starts from an inline script and ReDoc from a worker; ReDoc's "by Redocly" badge,
# an image on its makers' CDN, is rewritten to an empty one (below) and would be refused by the browser anyway.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:")


def vendor_files() -> dict[str, Path]:
    """The third-party assets the pages load, from installed packages (pinned in pyproject.toml)."""
    offline = Path(str(resources.files("fastapi_offline"))) / "static"
    return {"plotly.min.js": Path(str(resources.files("plotly"))) / "package_data" / "plotly.min.js",
            "swagger-ui-bundle.js": offline / "swagger-ui-bundle.js", "swagger-ui.css": offline / "swagger-ui.css",
            "redoc.standalone.js": offline / "redoc.standalone.js", "favicon.png": offline / "favicon.png"}


# page path → (template, title, page id for the script)
PAGES = {"/": ("campaigns.html", "Campaigns", "campaigns"),
         "/campaigns/new": ("campaign_new.html", "New campaign", "campaign-new"),
         "/lab": ("lab.html", "The lab", "lab"),
         "/results": ("results.html", "Results", "results"),
         "/admin": ("admin.html", "API keys", "admin"),
         "/signin": ("signin.html", "Sign in", "signin")}


def _page(template: str, title: str, page: str) -> Callable[[Request], Response]:
    def render(request: Request) -> Response:
        r: Response = templates.TemplateResponse(request, template, {"title": title, "page": page, "static": STATIC,
                                                           "vendor": VENDOR})
        r.headers["Content-Security-Policy"] = CSP
        return r

    return render


def router() -> APIRouter:
    """The pages, the vendored assets and the offline API docs."""
    r = APIRouter(include_in_schema=False)
    for path, (template, title, page) in PAGES.items():
        r.add_api_route(path, _page(template, title, page), methods=["GET"], response_class=HTMLResponse)

    campaign_page = _page("campaign.html", "Campaign", "campaign")

    @r.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
    def campaign(request: Request, campaign_id: int) -> Response:
        return campaign_page(request)  # the script reads the id from the path

    @r.get("/console")
    def console_root() -> RedirectResponse:
        return RedirectResponse("/")

    files = vendor_files()
    # ReDoc's side menu shows its makers' logo from their CDN; pointed at an empty image instead, it fails to load
    # and ReDoc leaves it out (its own onError), so the docs page asks no other host
    redoc_js = files["redoc.standalone.js"].read_bytes().replace(REDOC_LOGO, b"data:,")
    cache = {"Cache-Control": "public, max-age=604800"}

    @r.get(VENDOR + "/{name}")
    def vendor(name: str) -> Response:
        if name == "redoc.standalone.js":
            return Response(redoc_js, media_type="text/javascript", headers=cache)
        if name not in files:
            raise HTTPException(404, f"no vendored asset {name!r}")
        return FileResponse(files[name], headers=cache)

    @r.get("/docs", response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="DiffMix Lab — API",
                                   swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{VENDOR}/swagger-ui.css", swagger_favicon_url=f"{VENDOR}/favicon.png")
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @r.get("/redoc", response_class=HTMLResponse)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url="/openapi.json", title="DiffMix Lab — API",
                              redoc_js_url=f"{VENDOR}/redoc.standalone.js", redoc_favicon_url=f"{VENDOR}/favicon.png",
                              with_google_fonts=False)
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    return r


def install(app: FastAPI) -> None:
    """Serve the console on the app (its own docs replace FastAPI's CDN-backed ones)."""
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router())
