"""``tasksweep ui``: a small web page to try registered models on your own images.

FastAPI served by uvicorn (both come with MLflow), one HTML page with plain JS (``ui_page.html``),
no build step. The page posts the image as the raw request body (no multipart parser needed);
the work is in ``sweeps.tryout``. Routes:

- ``GET /``: the page; ``GET /healthz``: "ok";
- ``GET /api/models``: registered models, versions, aliases, links into the MLflow UI;
- ``GET /api/defaults?model=&version=``: loads the version (cached) and returns its declaration
  and the degradation its scheme trained on;
- ``POST /api/try?model=&version=&degrade=&scale=&noise=&blur=&judge=``: body = PNG/JPEG bytes.

Bad input is a 4xx with ``{"detail": message}``; the server keeps running. Host rules are the
MLflow server's: loopback unless ``allowed_hosts`` and basic auth are both given.
"""

import base64
import secrets
from pathlib import Path

# At module level, not in create_app: FastAPI resolves the handlers' annotations (``Request``)
# in this module's namespace.
from fastapi import FastAPI, HTTPException, Request

PAGE = Path(__file__).with_name("ui_page.html")


def create_app(tracking_uri: str, ui_url: str | None = None, allowed_hosts: list[str] | None = None,
               password: str | None = None):
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
    from fastapi.concurrency import run_in_threadpool
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from sweeps.tryout import MAX_UPLOAD_BYTES, Catalog, Degradation, default_degradation, read_image, try_model
    from trainables.errors import UserInputError

    catalog = Catalog(tracking_uri, ui_url)
    app = FastAPI(title="tasksweep ui", docs_url=None, redoc_url=None, openapi_url=None)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    if password is not None:
        @app.middleware("http")
        async def basic_auth(request: Request, call_next):
            if not _authorized(request.headers.get("authorization", ""), password):
                return PlainTextResponse("authentication required", status_code=401,
                                         headers={"WWW-Authenticate": 'Basic realm="tasksweep ui"'})
            return await call_next(request)

    @app.exception_handler(UserInputError)
    async def user_error(request: Request, e: UserInputError):
        return JSONResponse({"detail": str(e)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, e: RequestValidationError):  # one line, not FastAPI's list
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "request"
        return JSONResponse({"detail": f"{where}: {first['msg']}"}, status_code=400)

    @app.get("/", response_class=HTMLResponse)
    def page():
        return PAGE.read_text().replace("{{MLFLOW_UI}}", catalog.ui_url or "")

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz():
        return "ok"

    @app.get("/api/models")
    def models():
        return {"models": catalog.models(), "mlflow_ui": catalog.ui_url}

    @app.get("/api/defaults")
    def defaults(model: str, version: str = "champion"):
        loaded = catalog.load(model, version)
        io = loaded.io
        scales = list(getattr(io, "scales", [1])) if io.returns == "images" else [getattr(io, "scale", 1)]
        degradation = default_degradation(loaded.scheme, loaded.config, scales[-1])
        return {"version": loaded.version, "scheme": loaded.scheme, "io": io.to_dict(), "scales": scales,
                "takes_images": io.takes == "images",
                "degradation": {"scale": degradation.scale, "blur": degradation.blur_sigma, "noise": degradation.noise_sigma},
                "links": catalog.links(loaded.name, loaded.version, loaded.source_run_id)}

    @app.post("/api/try")
    async def try_it(request: Request, model: str, version: str = "champion", degrade: bool = True, scale: int = 1,
                     noise: float = 0.0, blur: float = 0.0, judge: str = ""):
        body, size = bytearray(), 0
        async for chunk in request.stream():  # read it all (a client cut off mid-send sees no 413), keep ≤ the limit
            size += len(chunk)
            if size <= MAX_UPLOAD_BYTES:
                body += chunk
        if size > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"the upload is {size / 2**20:.1f} MiB; the limit is {MAX_UPLOAD_BYTES // 2**20} MiB")

        def work():
            image = read_image(bytes(body))
            loaded = catalog.load(model, version)
            judge_model = catalog.load(*_name_version(judge)) if judge else None
            return try_model(loaded, image, Degradation(scale=scale, blur_sigma=blur, noise_sigma=noise), degrade,
                             judge_model)

        return await run_in_threadpool(work)  # torch off the event loop: other requests keep answering

    app.state.catalog = catalog
    return app


def _name_version(text: str) -> tuple[str, str]:
    """``NAME@alias`` or ``NAME/3`` → (name, version or alias); a bare name means its champion."""
    for sep in ("@", "/"):
        if sep in text:
            name, version = text.rsplit(sep, 1)
            return name, version
    return text, "champion"


def _authorized(header: str, password: str) -> bool:
    from mlflow_server._server import ADMIN_USERNAME

    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, given = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return secrets.compare_digest(user, ADMIN_USERNAME) and secrets.compare_digest(given, password)


def check_bind(host: str, port: int, allowed_hosts: str | None, basic_auth: bool) -> None:
    """The MLflow server's host rules and a free port, before anything starts (``ServerError``)."""
    from mlflow_server._server import check_host, check_port_free

    check_host(host, allowed_hosts, basic_auth)
    check_port_free(host, port)


def serve(host: str, port: int, tracking_uri: str, ui_url: str | None, allowed_hosts: str | None,
          password: str | None) -> None:
    """Serve until Ctrl-C (after ``check_bind``); ``password`` set: basic auth as user admin."""
    import uvicorn

    hosts = [h.strip().split(":")[0] for h in allowed_hosts.split(",")] + ["localhost", "127.0.0.1"] if allowed_hosts else None
    uvicorn.run(create_app(tracking_uri, ui_url, hosts, password), host=host, port=port, log_level="warning",
                access_log=False)
