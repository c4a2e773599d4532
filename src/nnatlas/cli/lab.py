"""``nnatlas lab``: the local web lab, a FastAPI app served by uvicorn (see :mod:`nnatlas.lab`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.root import app


@app.command()
def lab(
    port: int = typer.Option(8765, min=0, max=65535, help="the port to listen on (0: any free)"),
    host: Optional[str] = typer.Option(  # noqa: UP045
        None,
        help="listen on this address instead of 127.0.0.1 (e.g. 0.0.0.0); the lab then prints "
        "a token that every request must carry",
    ),
    runs_dir: Path = typer.Option(Path("runs"), help="run folders: trainings write here"),  # noqa: B008
    data_dir: Path = typer.Option(  # noqa: B008
        Path("data"), help="your own data the page may name (image folders, CSVs, texts)"
    ),
    reports_dir: Path = typer.Option(Path("reports"), help="lesson reports shown by the page"),  # noqa: B008
    cores: int = typer.Option(1, min=1, help="trainings that run at once (one core each)"),
    max_upload_mb: float = typer.Option(5.0, min=0.01, help="the largest upload, in MB"),
) -> None:
    """Open the lab: a local web page to train, watch and look inside models.

    Playground (an MLP on 2-D points with the NumPy engine, its boundary live; export as a
    Python file), zoo trainings from the catalog with live curves (queued; pause, stop), the
    run browser, a CNN explorer (filters, feature maps, Grad-CAM of an uploaded image) and a
    sequence explorer (LSTM/GRU gates and states over a typed sentence). Ctrl-C stops it.
    """
    import uvicorn

    from nnatlas.lab import LOOPBACK, LabSettings, create_app, new_token

    with exit_on_usage_error():
        if host is not None and not host.strip():
            raise UsageError("--host: give an address such as 0.0.0.0, or leave it out")
        local = host is None or host in LOOPBACK
        token = None if local else new_token()
        hosts = LOOPBACK if local else None  # beyond loopback the token is the lock
        settings = LabSettings(
            runs_dir=runs_dir,
            data_dir=data_dir,
            reports_dir=reports_dir,
            token=token,
            hosts=hosts,
            max_upload_bytes=int(max_upload_mb * 1024 * 1024),
            cores=cores,
        )
        address = host or "127.0.0.1"
        shown = "127.0.0.1" if address in ("0.0.0.0", "::") else address
        url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        print(
            f"nnatlas lab: {url}  (runs {settings.runs_dir}, data {settings.data_dir})", flush=True
        )
        if token:
            print(
                f"token: {token}  (every request needs it; the address above carries it)",
                flush=True,
            )
        uvicorn.run(create_app(settings), host=address, port=port, log_level="warning")
