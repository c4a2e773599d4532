"""The lab's FastAPI application: settings, the queue, the guard and the routers by area.

``create_app(LabSettings(...))`` returns an ASGI app; ``nnatlas lab`` serves it with uvicorn,
the tests with uvicorn in a thread. The page (``static/``) is plain HTML, CSS and JavaScript
committed as files, served from the package: it works offline, with no CDN.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from nnatlas.errors import NnatlasError
from nnatlas.lab.jobs import JobQueue
from nnatlas.lab.safety import LOOPBACK, TOKEN_COOKIE, Guard, LabHTTPError

STATIC = Path(__file__).parent / "static"


@dataclass
class LabSettings:
    """Where the lab reads and writes, and its limits.

    Attributes:
        runs_dir: run folders (trainings write here; the run browser and explorers read here).
        data_dir: the user's own data (image folders, CSVs, texts) the page may name.
        reports_dir: lesson reports (HTML and plots), shown when the folder exists.
        token: required on every request when set (``--host`` beyond 127.0.0.1).
        hosts: the ``Host`` names accepted; ``None`` accepts any (with a token).
        max_upload_bytes: the largest upload (image or CSV).
        cores: trainings that may run at once (each on one thread); the rest wait in order.
    """

    runs_dir: Path = Path("runs")
    data_dir: Path = Path("data")
    reports_dir: Path = Path("reports")
    token: str | None = None
    hosts: tuple[str, ...] | None = LOOPBACK
    max_upload_bytes: int = 5 * 1024 * 1024
    cores: int = 1

    def __post_init__(self) -> None:
        self.runs_dir = Path(self.runs_dir).expanduser().absolute()
        self.data_dir = Path(self.data_dir).expanduser().absolute()
        self.reports_dir = Path(self.reports_dir).expanduser().absolute()


class Lab:
    """What every route shares: the settings, the queue, loaded runs and uploads."""

    def __init__(self, settings: LabSettings) -> None:
        import threading

        self.settings = settings
        self.queue = JobQueue(slots=settings.cores)
        self.uploads: dict[str, str] = {}  # CSV uploads by id, newest last (a few kept)
        self.explore_lock = threading.Lock()  # one probe at a time: hooks sit on a shared model
        self.runs_cache: dict[tuple[str, float], Any] = {}


def create_app(settings: LabSettings | None = None) -> Any:
    """The lab as an ASGI app (FastAPI), guarded by :class:`~nnatlas.lab.safety.Guard`."""
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    from nnatlas.lab.routers import explorer, jobs, playground, runs

    settings = settings or LabSettings()
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    lab = Lab(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        lab.queue.close()  # the server is stopping: stop the trainings with it

    app = FastAPI(
        title="nnatlas lab", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.lab = lab

    @app.exception_handler(NnatlasError)
    async def _refused(request: Request, err: NnatlasError) -> JSONResponse:
        status = err.status if isinstance(err, LabHTTPError) else 400
        return JSONResponse({"detail": str(err)}, status_code=status)

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Any:
        response = FileResponse(STATIC / "index.html", headers=_page_headers())
        token = request.query_params.get("token")
        if settings.token is not None and token == settings.token:
            # The guard checked it; the cookie carries it to every later request, the
            # EventSource and <img> ones included (which cannot set headers).
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return runs.catalog_info(lab)

    app.include_router(jobs.router(lab))
    app.include_router(playground.router(lab))
    app.include_router(runs.router(lab))
    app.include_router(explorer.router(lab))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    return Guard(app, settings.token, settings.hosts)


def _page_headers() -> dict[str, str]:
    # Nothing but the lab itself: scripts, styles, images and connections to 'self' only.
    return {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
        "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
