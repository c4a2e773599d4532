"""Helpers of the lab's tests: a real uvicorn server in a thread, a free port, test photos."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A lab served by uvicorn in a thread: its address, settings and the app's state."""

    def __init__(self, url: str, settings: Any, app: Any, server: Any, thread: threading.Thread):
        self.url, self.settings, self.app, self.server, self.thread = (
            url,
            settings,
            app,
            server,
            thread,
        )

    @property
    def lab(self) -> Any:
        return self.app.app.state.lab  # the guard wraps the FastAPI app

    def alive(self) -> bool:
        import httpx

        return (
            self.thread.is_alive()
            and httpx.get(f"{self.url}/api/info", timeout=30).status_code == 200
        )


@contextmanager
def serve(**options: Any) -> Iterator[Served]:
    """A real uvicorn server for ``LabSettings(**options)`` on a free port, in a thread."""
    import uvicorn

    from nnatlas.lab import LabSettings, create_app

    settings = LabSettings(**options)
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="lab-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the lab's test server did not start")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", settings, app, server, thread)
    finally:
        server.should_exit = True
        thread.join(15)


def square_photo(rng: np.random.Generator, channel: int) -> Image.Image:
    pixels = rng.integers(0, 80, (32, 32, 3), dtype=np.uint8)
    x, y = rng.integers(0, 16, 2)
    pixels[y : y + 14, x : x + 14, channel] = 230
    return Image.fromarray(pixels)


def read_events(url: str, job_id: int, timeout: float = 120) -> list[tuple[str, Any]]:
    """Follow a job's server-sent events until its ``end`` event: ``[(event, data), ...]``."""
    import json

    import httpx

    found: list[tuple[str, Any]] = []
    kind = None
    with httpx.stream("GET", f"{url}/api/jobs/{job_id}/events", timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                found.append((kind, json.loads(line[6:])))
                if kind == "end":
                    return found
    return found
