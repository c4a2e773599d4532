"""Zoo trainings, the run browser, the lesson reports and the files they show.

A training goes through :func:`nnatlas.tasks.train` like ``nnatlas train``, into the runs
folder; the lab's callback reports each epoch (and the loss every few steps) to the queue and
is where a training pauses or stops. The run browser reads run folders as ``eval`` does: the
config, the history, the test metrics, the checkpoints and the plots in the folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from nnatlas.lab.safety import LabHTTPError, check_name, confine
from nnatlas.train import Callback

# Catalog families whose argument is a path: the lab confines it to the data folder.
PATH_FAMILIES = ("imagefolder", "csv", "text", "pairs", "opencv-digits")
# What the run browser serves from a run or reports folder, and as what.
SERVED = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".html": "text/html",
    ".pt": "application/octet-stream",
    ".toml": "text/plain",
}
STEP_REPORT_S = 0.25  # at most four loss reports a second from a zoo training


def catalog_info(lab: Any) -> dict[str, Any]:
    """What the page's forms offer: datasets that train, the models each task takes, engines."""
    import nnatlas.data as data
    import nnatlas.models as zoo
    import nnatlas.tasks as tasks

    datasets, models_by_task = [], {}
    for task_name in tasks.list_tasks():
        for name in data.list_datasets(task=task_name):
            family = name.split(":")[0] if ":" in name else ""
            datasets.append({"name": name, "family": family, "task": task_name})
        task = tasks.get_task(task_name)
        models_by_task[task_name] = [
            m for m in zoo.list_models() if task.accepts(zoo.get_model_entry(m))
        ]
    models = [
        {
            "name": m,
            "kind": zoo.get_model_entry(m).kind,
            "numpy_twin": zoo.get_model_entry(m).scratch_twin is not None,
        }
        for m in zoo.list_models()
    ]
    s = lab.settings
    return {
        "datasets": datasets,
        "models": models,
        "models_by_task": models_by_task,
        "path_families": list(PATH_FAMILIES),
        "data_files": data_entries(s.data_dir),
        "token_required": s.token is not None,
        "max_upload_bytes": s.max_upload_bytes,
        "cores": s.cores,
        "runs_dir": str(s.runs_dir),
        "data_dir": str(s.data_dir),
    }


def data_entries(folder: Path) -> list[dict[str, str]]:
    """The data folder's top level: folders (image folders) and files (CSV, text)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        kind = "folder" if path.is_dir() else path.suffix.lower().lstrip(".") or "file"
        found.append({"name": path.name, "kind": kind})
    return found


def resolve_data(lab: Any, name: str) -> str:
    """A dataset name from the page, with a path argument confined to the data folder
    (``imagefolder:photos`` -> ``imagefolder:/abs/data/photos``)."""
    prefix, sep, argument = name.partition(":")
    if sep and prefix in PATH_FAMILIES:
        path = confine(lab.settings.data_dir, argument, f"data {name!r}")
        if not path.exists():
            raise LabHTTPError(404, f"data {name!r}: no such file or folder in the data folder")
        return f"{prefix}:{path}"
    return name


class LabCallback(Callback):
    """Reports a zoo training to its job and lets the job pause or stop it between steps."""

    def __init__(self, job: Any) -> None:
        self.job, self.last = job, 0.0

    def on_step_end(self, trainer: Any, loss: float) -> None:
        self.job.checkpoint()
        now = time.perf_counter()
        if now - self.last >= STEP_REPORT_S:
            self.last = now
            self.job.publish("step", {"step": trainer.step, "loss": float(loss)})

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        self.job.publish("epoch", {k: v for k, v in row.items() if isinstance(v, int | float)})


TRAIN_OPTIONS = {
    "epochs": int,
    "lr": float,
    "batch_size": int,
    "limit": int,
    "image_size": int,
    "seed": int,
}


def router(lab: Any) -> Any:
    from fastapi import APIRouter
    from fastapi.responses import FileResponse

    api = APIRouter(prefix="/api")

    @api.post("/train")
    def train(values: dict[str, Any]) -> dict[str, Any]:
        import nnatlas.tasks as tasks

        data = resolve_data(lab, str(values.get("data") or "digits"))
        model = values.get("model") or None
        engine = values.get("engine") or "torch"
        if engine not in ("torch", "scratch"):
            raise LabHTTPError(400, f"engine {engine!r}: choose torch or scratch")
        options: dict[str, Any] = {}
        for key, kind in TRAIN_OPTIONS.items():
            value = values.get(key)
            if value not in (None, ""):
                try:
                    options[key] = kind(value)
                except (TypeError, ValueError):
                    raise LabHTTPError(
                        400, f"{key} {value!r}: expected a {kind.__name__}"
                    ) from None
        run_name = values.get("run_name") or None
        if run_name is not None:
            check_name(run_name, "run_name")
        tasks.task_for(data)  # an unknown or untrainable dataset is refused before it queues
        if lab.settings.cores > 1:
            options["threads"] = 1  # one core per training: the budget holds
        spec = {"model": model, "data": str(values.get("data")), "engine": engine, **options}

        def work(job: Any) -> dict[str, Any]:
            run = tasks.train(
                model,
                data,
                engine=engine,
                runs_dir=lab.settings.runs_dir,
                run_name=run_name,
                callbacks=[LabCallback(job)],
                quiet=True,
                tensorboard=False,
                **options,
            )
            metrics = {k: v for k, v in (run.test_metrics or {}).items() if isinstance(v, float)}
            return {"run": run.dir.name, "test_metrics": metrics}

        title = f"{model or 'default model'} on {values.get('data')} ({engine})"
        return lab.queue.submit("train", title, spec, work).summary()

    @api.get("/runs")
    def runs() -> list[dict[str, Any]]:
        folder = lab.settings.runs_dir
        found = [run_summary(p) for p in sorted(folder.iterdir()) if _is_run(p)]
        return sorted(found, key=lambda r: -r["modified"])

    @api.get("/runs/{name}")
    def run(name: str) -> dict[str, Any]:
        folder = confine(lab.settings.runs_dir, check_name(name, "run"), "run")
        if not _is_run(folder):
            raise LabHTTPError(404, f"run {name!r}: no such run folder in {lab.settings.runs_dir}")
        return run_details(folder)

    @api.get("/reports")
    def reports() -> list[dict[str, Any]]:
        root = lab.settings.reports_dir
        if not root.is_dir():
            return []
        pages = sorted(p for p in root.rglob("*.html") if p.is_file())
        return [{"path": str(p.relative_to(root)), "title": _title(p)} for p in pages[:500]]

    @api.get("/files/{area}/{path:path}")
    def file(area: str, path: str) -> Any:
        roots = {"runs": lab.settings.runs_dir, "reports": lab.settings.reports_dir}
        if area not in roots:
            raise LabHTTPError(404, f"no file area {area!r}; the lab serves runs and reports")
        target = confine(roots[area], path, "file")
        if not target.is_file():
            raise LabHTTPError(404, f"{area}/{path}: no such file")
        kind = SERVED.get(target.suffix.lower())
        if kind is None:
            raise LabHTTPError(415, f"{path}: the lab serves {', '.join(SERVED)} files only")
        headers = {"X-Content-Type-Options": "nosniff"}
        if kind == "text/html":
            # A report runs no script and reaches nothing: it is shown, not trusted.
            headers["Content-Security-Policy"] = "sandbox; default-src 'self'; script-src 'none'"
        if kind == "application/octet-stream":
            headers["Content-Disposition"] = f'attachment; filename="{target.name}"'
        return FileResponse(target, media_type=kind, headers=headers)

    return api


def _is_run(path: Path) -> bool:
    return (
        path.is_dir()
        and not path.name.startswith(".")
        and ((path / "config.json").is_file() or (path / "best.pt").is_file())
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_summary(folder: Path) -> dict[str, Any]:
    """Name, model, data, engine, test metrics and when it last changed."""
    config = _read_json(folder / "config.json") or {}
    data = _read_json(folder / "data.json") or {}
    info = _model_info(folder)
    return {
        "name": folder.name,
        "model": info.get("name"),
        "kind": _kind(info.get("name")),
        "data": (data.get("data") or {}).get("name"),
        "engine": config.get("engine"),
        "epochs": config.get("epochs"),
        "test_metrics": _read_json(folder / "test_metrics.json"),
        "modified": max((p.stat().st_mtime for p in folder.iterdir()), default=0.0),
    }


_INFO_CACHE: dict[tuple[str, float], dict[str, Any]] = {}


def _model_info(folder: Path) -> dict[str, Any]:
    """The checkpoint's ``model_info`` (registry name and arguments), cached per file version:
    the run folder's JSON files do not name the model."""
    from nnatlas.train import load_checkpoint

    for name in ("best.pt", "last.pt"):
        file = folder / name
        if file.is_file():
            key = (str(file), file.stat().st_mtime)
            if key not in _INFO_CACHE:
                try:
                    _INFO_CACHE[key] = dict(load_checkpoint(file).get("model_info") or {})
                except Exception:  # a damaged checkpoint: the browser still lists the run
                    _INFO_CACHE[key] = {}
            return _INFO_CACHE[key]
    return {}


def _kind(model: str | None) -> str | None:
    import nnatlas.models as zoo

    try:
        return zoo.get_model_entry(model).kind if model else None
    except Exception:
        return None


def run_details(folder: Path) -> dict[str, Any]:
    """Everything the run browser shows of one run folder."""
    history = _read_json(folder / "history.json")
    data = _read_json(folder / "data.json") or {}
    record = data.get("record") or {}
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in SERVED:
            files.append({"path": str(path.relative_to(folder)), "bytes": path.stat().st_size})
    return {
        **run_summary(folder),
        "config": _read_json(folder / "config.json"),
        "classes": record.get("classes"),
        "sizes": data.get("sizes"),
        "notes": data.get("notes"),
        "history": history if isinstance(history, list) else [],
        "files": files[:400],
        "checkpoints": [f for f in files if f["path"].endswith(".pt")],
    }


def _title(page: Path) -> str:
    import re

    head = page.read_text(encoding="utf-8", errors="replace")[:4000]
    found = re.search(r"<title>(.*?)</title>", head, re.S | re.I)
    return found.group(1).strip() if found else page.stem
