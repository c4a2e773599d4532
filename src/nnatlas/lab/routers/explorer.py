"""The explorers: a trained CNN's filters, feature maps and Grad-CAM on an uploaded image; a
trained LSTM/GRU's gates and hidden states over a typed sentence.

Both load the run folder with :func:`nnatlas.tasks.load_run` (kept loaded while its checkpoint
is unchanged), prepare the input exactly as ``nnatlas predict`` does (the run's size, channels,
normalization, vocabulary) and draw with :mod:`nnatlas.inspect`, which writes PNG + JSON into
``RUN/inspect/`` (names starting ``lab-``); the page shows the PNGs and a few numbers.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from fastapi import Request

from nnatlas.lab.safety import LabHTTPError, check_name, confine, decode_image, read_body

MAX_TEXT = 2000  # characters of a typed sentence
KEEP_LOADED = 4


def router(lab: Any) -> Any:
    from fastapi import APIRouter
    from starlette.concurrency import run_in_threadpool

    api = APIRouter(prefix="/api/explore")

    @api.post("/image")
    async def image(request: Request, run: str) -> dict[str, Any]:
        """The uploaded image (the request body) through the CNN of run ``run``."""
        body = await read_body(request, lab.settings.max_upload_bytes)
        picture = decode_image(body, request.headers.get("x-file-name", "the upload")[:80])
        return await run_in_threadpool(_explore_image, lab, run, picture, body)

    @api.post("/text")
    def text(values: dict[str, Any]) -> dict[str, Any]:
        sentence = values.get("text")
        if not isinstance(sentence, str) or not sentence.strip():
            raise LabHTTPError(400, "text: type a sentence")
        if len(sentence) > MAX_TEXT:
            raise LabHTTPError(
                413, f"text: {len(sentence):,} characters; the limit is {MAX_TEXT:,}"
            )
        return _explore_text(lab, str(values.get("run", "")), sentence)

    return api


def _loaded(lab: Any, name: str) -> tuple[Any, Path]:
    """The run ``name`` loaded on the CPU (cached while its checkpoint file is unchanged)."""
    import nnatlas.tasks as tasks

    folder = confine(lab.settings.runs_dir, check_name(name, "run"), "run")
    checkpoint = next((folder / f for f in ("best.pt", "last.pt") if (folder / f).is_file()), None)
    if checkpoint is None:
        raise LabHTTPError(404, f"run {name!r}: no best.pt or last.pt in {folder}")
    key = (str(checkpoint), checkpoint.stat().st_mtime)
    if key not in lab.runs_cache:
        lab.runs_cache[key] = tasks.load_run(folder, device="cpu")
        while len(lab.runs_cache) > KEEP_LOADED:
            lab.runs_cache.pop(next(iter(lab.runs_cache)))
    return lab.runs_cache[key], folder


def _kind(run: Any) -> str:
    import nnatlas.models as zoo

    return zoo.get_model_entry(run.model_name).kind


def _url(lab: Any, png: Path) -> str:
    relative = png.relative_to(lab.settings.runs_dir.resolve())
    return f"/api/files/runs/{relative.as_posix()}?v={int(png.stat().st_mtime_ns)}"


def _explore_image(lab: Any, name: str, picture: Any, body: bytes) -> dict[str, Any]:
    import nnatlas.inspect as inspect
    import nnatlas.tasks as tasks

    with lab.explore_lock:
        run, folder = _loaded(lab, name)
        record = run.record
        if _kind(run) != "image" or "mean" not in record:
            raise LabHTTPError(
                400, f"run {name!r} is a {run.model_name} ({_kind(run)}); pick an image run"
            )
        slug = hashlib.sha1(body).hexdigest()[:10]
        out = folder.resolve() / "inspect"
        norm = {"mean": record["mean"], "std": record["std"]}
        classes = [str(c) for c in record.get("classes", [])]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.png"
            picture.convert("RGBA" if picture.mode in ("RGBA", "LA", "P") else "RGB").save(path)
            x = tasks.normalizer(record["mean"], record["std"])(
                tasks.read_image(path, record["input_shape"])
            )  # (1, C, H, W), as `nnatlas predict` prepares it
            prediction = tasks.predict(run, str(path), top=3)
        try:
            filters = inspect.plot_filters(run.model, out / "lab-filters.png")
        except inspect.InspectError:
            filters = None  # a model without a convolution (an MLP) has no filters to show
        maps = inspect.plot_feature_maps(run.model, x, out / f"lab-featuremaps-{slug}.png", **norm)
        cam = inspect.plot_gradcam(
            run.model, x, out / f"lab-gradcam-{slug}.png", classes=classes, **norm
        )
    figures = {"featuremaps": _url(lab, maps.png), "gradcam": _url(lab, cam.png)}
    if filters is not None:
        figures["filters"] = _url(lab, filters.png)
    return {
        "run": name,
        "model": run.model_name,
        "prediction": [[c, round(p, 4)] for c, p in prediction.top],
        "input_shape": record["input_shape"],
        "feature_maps": {"layer": maps.data["layer"], "shape": maps.data["shape"]},
        "gradcam": {k: v for k, v in cam.data.items() if isinstance(v, str | int | float)},
        "figures": figures,
    }


def _token_inputs(run: Any, kind: str, sentence: str) -> tuple[tuple[Any, ...], list[str], Any]:
    """``(inputs, tokens, valid)`` for one sentence, fed as ``nnatlas predict`` feeds it."""
    import torch

    import nnatlas.data as data
    import nnatlas.tasks as tasks

    record = run.record
    vocab = data.Vocab.from_dict(record["vocab"])
    tokenizer = data.tokenizer_from_dict(record["tokenizer"])
    if kind == "tokens":
        ids = data.encode_text(
            sentence, vocab, tokenizer, record["max_len"], record["truncate_side"]
        )
        if not len(ids):
            raise LabHTTPError(400, "text: no token of it is in the run's vocabulary; type words")
        if record.get("padding", "pre") == "pre":  # a run from before lengths were kept
            x = tasks.front_padded(ids, record["max_len"], record["pad_id"])
            valid = (x != record["pad_id"]).numpy()
            return (x,), vocab.decode(x[0].tolist()), valid
        x = ids.unsqueeze(0)  # (1, L)
        inputs: tuple[Any, ...] = (x, torch.tensor([len(ids)]))
    else:  # a language model reads the prompt as it is
        encoded = vocab.encode(tokenizer(sentence))
        if not encoded:
            raise LabHTTPError(400, "text: the prompt holds no token; type some text")
        x = torch.tensor([encoded], dtype=torch.int64)  # (1, L)
        inputs = (x,)
    return inputs, vocab.decode(x[0].tolist()), torch.ones_like(x, dtype=torch.bool).numpy()


def _explore_text(lab: Any, name: str, sentence: str) -> dict[str, Any]:
    import nnatlas.inspect as inspect
    import nnatlas.tasks as tasks

    with lab.explore_lock:
        run, folder = _loaded(lab, name)
        kind = _kind(run)
        if kind not in ("tokens", "lm"):
            raise LabHTTPError(
                400,
                f"run {name!r} is a {run.model_name} ({kind}); pick a text classifier or a "
                "language model with an LSTM or GRU",
            )
        inputs, tokens, valid = _token_inputs(run, kind, sentence)
        slug = hashlib.sha1(sentence.encode()).hexdigest()[:10]
        out = folder.resolve() / "inspect"
        gates = inspect.plot_gates(
            run.model, inputs, tokens, out / f"lab-gates-{slug}.png", valid=valid
        )
        states = inspect.plot_state_trajectories(
            run.model, inputs, out / f"lab-states-{slug}.png", tokens=[tokens], valid=valid
        )
        if kind == "tokens":
            found = tasks.predict(run, sentence, top=3)
            prediction: Any = [[c, round(p, 4)] for c, p in found.top]
        else:
            generated = tasks.predict(run, sentence, length=40, seed=0)
            prediction = f"{sentence} ... {generated.text}"  # a language model continues it
    heat = {
        gate: [[round(v, 3) for v in row] for row in values]
        for gate, values in gates.data["gates"].items()
    }
    return {
        "run": name,
        "model": run.model_name,
        "cell": gates.data["cell"],
        "layer": gates.data["layer"],
        "tokens": gates.data["tokens"],
        "gates": heat,  # gate -> (T, H), drawn by the page as heatmaps too
        "prediction": prediction,
        "figures": {"gates": _url(lab, gates.png), "states": _url(lab, states.png)},
    }
