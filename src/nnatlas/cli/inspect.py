"""``nnatlas inspect RUN --what WHAT``: a plot of what a trained run computes inside.

The run folder is loaded with :func:`nnatlas.tasks.load_run`; its model, its record (classes,
normalization, vocabularies) and its data (a split, or the ``--input`` prepared as ``predict``
prepares it) are handed to :mod:`nnatlas.inspect`, which writes a PNG and its numbers as JSON
into ``RUN/inspect/`` and the command prints the paths. The same command on the same input
writes the same files again (they are derived from the run, nothing else is replaced).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

import typer

from nnatlas.cli.errors import UsageError, exit_on_usage_error
from nnatlas.cli.root import app

WHATS = {
    "curves": "every metric per epoch, train and validation",
    "boundary": "2-D data: the decision boundary over the plane",
    "filters": "CNNs: the first convolution's filters",
    "featuremaps": "CNNs: the first convolution's outputs for --input",
    "saliency": "CNNs: d score / d pixel for --input",
    "gradcam": "CNNs: Grad-CAM and saliency for --input",
    "gates": "LSTM/GRU: gate activations per token of --input (a sentence)",
    "states": "RNNs: hidden-state paths (PCA) of --input or of test sequences",
    "attention": "seq2seq: the attention matrix of translating --input",
    "confusion": "classifiers: confusion matrix and the most-confused examples",
    "histograms": "weights, activations and gradients per layer on a training batch",
    "gradflow": "||dL/dW|| per layer, ||dL/dh_t|| per step: at initialization and trained",
}
BATCH_WHATS = ("histograms", "gradflow")  # measured on a training batch by default


@app.command(name="inspect")
def inspect_run(
    run: Path = typer.Argument(..., help="a run folder (uses best.pt) or a checkpoint file"),  # noqa: B008
    what: str = typer.Option(  # noqa: B008
        ..., "--what", "-w", help="; ".join(f"{k}: {v}" for k, v in WHATS.items())
    ),
    input: Optional[str] = typer.Option(  # noqa: B008, UP045
        None,
        "--input",
        "-i",
        help="an image FILE, a TEXT, or SPLIT:INDEX (default test:0; states: the first "
        "--examples test sequences)",
    ),
    split: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="the split to read (default test; train for histograms and gradflow)"
    ),
    layer: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="the layer to show (a module name, e.g. layer3, or rnn.l1 for states/gates)"
    ),
    target: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="saliency/gradcam: the class to explain (name or index; default predicted)"
    ),
    examples: Optional[int] = typer.Option(  # noqa: B008, UP045
        None, min=1, help="batch size of histograms/gradflow (64), sequences of states (8)"
    ),
    out: Optional[Path] = typer.Option(None, help="folder for the plots (default RUN/inspect)"),  # noqa: B008, UP045
    data_root: Optional[str] = typer.Option(  # noqa: B008, UP045
        None, help="where the run's dataset is, when not where the run recorded it"
    ),
) -> None:
    """Plot what a trained run computes inside; writes PNG + JSON and prints their paths."""
    import nnatlas.tasks as tasks

    with exit_on_usage_error():
        if what not in WHATS:
            raise UsageError(f"--what {what!r}: choose one of {', '.join(WHATS)}")
        loaded = tasks.load_run(run, device="cpu", root=data_root)
        folder = out if out is not None else (loaded.dir or Path(run).parent) / "inspect"
        ask = _Ask(what, loaded, input, split, layer, target, examples, folder)
        figure = DRAW[what](ask)
    print(figure.png)
    print(figure.json)


class _Ask:
    """One inspect request: the run and the options, with the inputs they name."""

    def __init__(
        self,
        what: str,
        run: Any,
        input: str | None,
        split: str | None,
        layer: str | None,
        target: str | None,
        examples: int | None,
        folder: Path,
    ) -> None:
        import nnatlas.models as zoo

        self.what, self.run, self.input, self.layer, self.target = what, run, input, layer, target
        self.split, self.examples, self.folder = split, examples, folder
        self.kind = zoo.get_model_entry(run.model_name).kind
        self.record = run.record

    def path(self, what: str, with_input: bool = False) -> Path:
        """``FOLDER/WHAT.png``, or ``FOLDER/WHAT-<the input>.png`` for a given input."""
        if not with_input or self.input is None:
            return self.folder / f"{what}.png"
        text = Path(self.input).stem if Path(self.input).is_file() else self.input
        slug = re.sub(r"[^A-Za-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "input"
        return self.folder / f"{what}-{slug}.png"

    def tensors(self, default: str = "test") -> tuple[Any, ...]:
        split = self.split or default
        if split not in ("train", "val", "test"):
            raise UsageError(f"--split {split!r}: choose train, val or test")
        return self.run.task.load_split(self.run.options, self.record, split)

    def example(self) -> tuple[tuple[Any, ...], Any] | None:
        """``(inputs, label)`` of ``SPLIT:INDEX`` (default test:0), or None for another input."""
        from nnatlas.tasks.base import pick_example, split_index

        found = split_index(self.input or "test:0")
        if found is None:
            return None
        split, index = found
        *inputs, labels = self.run.task.load_split(self.run.options, self.record, split)
        index = pick_example(tuple(inputs), self.input or "test:0", split, index)
        return tuple(x[index : index + 1] for x in inputs), labels[index]

    def need(self, *kinds: str) -> None:
        if self.kind not in kinds:
            raise UsageError(
                f"--what {self.what} is for {' or '.join(kinds)} models; {self.run.model_name} "
                f"is a{'n' * (self.kind[0] in 'aeiou')} {self.kind} model"
            )

    def batch(self) -> tuple[Any, ...]:
        tensors = self.tensors(default="train")
        return tuple(t[: self.examples or 64] for t in tensors)


# -- inputs ------------------------------------------------------------------------------------
def _image(ask: _Ask) -> Any:
    """(1, C, H, W), prepared as ``predict`` prepares an image."""
    ask.need("image")
    if "mean" not in ask.record:
        raise UsageError(f"{ask.run.model_name} was trained on rows of numbers, not on images")
    found = ask.example()
    if found is not None:
        return found[0][0]
    from nnatlas.tasks.image import normalizer, read_image

    x = read_image(Path(ask.input), ask.record["input_shape"])
    return normalizer(ask.record["mean"], ask.record["std"])(x)


def _tokens(ask: _Ask) -> tuple[tuple[Any, ...], list[str], Any]:
    """``(inputs, tokens, valid)`` of one text for a classifier or a language model, fed as
    ``predict`` feeds it: a run that keeps lengths gets ``(ids (1, L), lengths (1,))``."""
    import torch

    from nnatlas.data import Vocab, encode_text, tokenizer_from_dict

    record = ask.record
    vocab = Vocab.from_dict(record["vocab"])
    found = ask.example()
    if found is not None:
        inputs = tuple(found[0])
    elif ask.kind == "tokens":
        from nnatlas.tasks.text import front_padded

        tokenizer = tokenizer_from_dict(record["tokenizer"])
        ids = encode_text(ask.input, vocab, tokenizer, record["max_len"], record["truncate_side"])
        if not len(ids):
            raise UsageError("--input: the text holds no token; give some words")
        if record.get("padding", "pre") == "pre":  # a run from before lengths were kept
            inputs = (front_padded(ids, record["max_len"], record["pad_id"]),)
        else:
            inputs = (ids.unsqueeze(0), torch.tensor([len(ids)]))  # (1, L), (1,)
    else:  # a language model reads the prompt as it is
        ids = vocab.encode(tokenizer_from_dict(record["tokenizer"])(ask.input))
        if not ids:
            raise UsageError("--input: the prompt holds no token; give some text")
        inputs = (torch.tensor([ids], dtype=torch.int64),)
    inputs, valid = _cut(inputs, record.get("pad_id"))
    return inputs, vocab.decode(inputs[0][0].tolist()), valid


def _cut(inputs: tuple[Any, ...], pad: int | None) -> tuple[tuple[Any, ...], Any]:
    """Token inputs ``(x (N, T)[, lengths (N,)])`` cut to the batch's longest row when lengths
    are given (a packed run's recurrent layers run that many steps), and ``valid`` (N, T):
    True on the real tokens."""
    import torch

    x = inputs[0] if inputs[0].ndim == 2 else inputs[0][None]
    if len(inputs) > 1:  # (x, lengths): padded at the end
        lengths = torch.as_tensor(inputs[1]).reshape(-1)
        x = x[:, : int(lengths.max())]
        valid = torch.arange(x.shape[1])[None, :] < lengths[:, None]
        return (x, lengths, *inputs[2:]), valid.numpy()
    valid = (x != pad) if pad is not None else torch.ones_like(x, dtype=torch.bool)
    return (x,), valid.numpy()


def _classes(ask: _Ask) -> list[str]:
    return [str(c) for c in ask.record.get("classes", [])]


def _target(ask: _Ask) -> int | None:
    if ask.target is None:
        return None
    classes = _classes(ask)
    if ask.target in classes:
        return classes.index(ask.target)
    if ask.target.isdigit() and int(ask.target) < len(classes):
        return int(ask.target)
    raise UsageError(f"--target {ask.target!r}: give a class name ({', '.join(classes)}) or index")


def _normalization(ask: _Ask) -> dict[str, Any]:
    return {"mean": ask.record.get("mean"), "std": ask.record.get("std")}


# -- one function per --what -------------------------------------------------------------------
def _curves(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_curves

    if not ask.run.history:
        raise UsageError(f"{ask.run.checkpoint} holds no history: nothing to plot")
    return plot_curves(ask.run.history, ask.path("curves"), title=ask.run.model_name)


def _boundary(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_decision_boundary

    x, y = ask.tensors()
    if x.ndim != 2 or x.shape[1] != 2:
        raise UsageError(f"--what boundary is for 2-D points; this run's inputs are {x.shape[1:]}")
    split = ask.split or "test"
    return plot_decision_boundary(
        ask.run.model, x, y, ask.path(f"boundary-{split}"), classes=_classes(ask)
    )


def _filters(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_filters

    return plot_filters(ask.run.model, ask.path("filters"), layer=ask.layer)


def _featuremaps(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_feature_maps

    x = _image(ask)
    return plot_feature_maps(
        ask.run.model, x, ask.path("featuremaps", True), layer=ask.layer, **_normalization(ask)
    )


def _saliency(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_saliency

    x = _image(ask)
    return plot_saliency(
        ask.run.model,
        x,
        ask.path("saliency", True),
        target=_target(ask),
        classes=_classes(ask),
        **_normalization(ask),
    )


def _gradcam(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_gradcam

    x = _image(ask)
    return plot_gradcam(
        ask.run.model,
        x,
        ask.path("gradcam", True),
        target=_target(ask),
        layer=ask.layer,
        classes=_classes(ask),
        **_normalization(ask),
    )


def _gates(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_gates

    ask.need("tokens", "lm")
    inputs, tokens, valid = _tokens(ask)
    return plot_gates(
        ask.run.model, inputs, tokens, ask.path("gates", True), layer=ask.layer, valid=valid
    )


def _states(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_state_trajectories

    ask.need("tokens", "lm")
    if ask.input is not None:
        inputs, tokens, valid = _tokens(ask)
        return plot_state_trajectories(
            ask.run.model,
            inputs,
            ask.path("states", True),
            tokens=[tokens],
            layer=ask.layer,
            valid=valid,
        )
    tensors = [t[: ask.examples or 8] for t in ask.tensors()]
    labels = None
    if ask.kind == "tokens":  # (x, [lengths,] y)
        *inputs, y = tensors
        classes = _classes(ask)
        labels = [f"{ask.split or 'test'}:{i} ({classes[int(c)]})" for i, c in enumerate(y)]
    else:  # a language model's (x, y): the inputs are x
        inputs = tensors[:1]
    inputs, valid = _cut(tuple(inputs), ask.record.get("pad_id"))
    return plot_state_trajectories(
        ask.run.model,
        inputs,
        ask.path(f"states-{ask.split or 'test'}"),
        labels=labels,
        layer=ask.layer,
        valid=valid,
    )


def _attention(ask: _Ask) -> Any:
    from nnatlas.data import Vocab, encode_text, tokenizer_from_dict
    from nnatlas.inspect import plot_attention
    from nnatlas.tasks.base import split_index

    ask.need("seq2seq")
    record = ask.record
    src_vocab, tgt_vocab = (Vocab.from_dict(record[k]) for k in ("src_vocab", "tgt_vocab"))
    found = split_index(ask.input or "test:0")
    if found is not None:
        src, lengths = ask.example()[0][:2]
        src = src[:, : int(lengths[0])]  # the sentence without its padding
    else:
        tokenizer = tokenizer_from_dict(record["tokenizer"])
        src = encode_text(ask.input, src_vocab, tokenizer, record["max_len"]).unsqueeze(0)
    tokens = src_vocab.decode(src[0].tolist())
    max_len = int(record.get("target_len", 50)) + 10
    return plot_attention(
        ask.run.model, src, tokens, tgt_vocab.itos, ask.path("attention", True), max_len=max_len
    )


def _confusion(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_confusion

    ask.need("image", "tokens")
    *inputs, targets = ask.tensors()
    record, task = ask.record, ask.run.task
    describe = None
    if task.describe(record, inputs[0][0]) is not None:  # a text classifier: its tokens

        def describe(row: int) -> str:
            return task.describe(record, inputs[0][row]) or ""

    split = ask.split or "test"
    return plot_confusion(
        ask.run.model,
        inputs,
        targets,
        _classes(ask),
        ask.path(f"confusion-{split}"),
        describe=describe,
        split=split,
        **_normalization(ask),
    )


def _histograms(ask: _Ask) -> Any:
    from nnatlas.inspect import plot_histograms

    step = ask.run.task.step(ask.run.config)
    return plot_histograms(
        ask.run.model,
        ask.batch(),
        ask.path("histograms"),
        step=step,
        title=f"{ask.run.model_name}, {len(ask.batch()[0])} examples",
    )


def _gradflow(ask: _Ask) -> Any:
    from nnatlas.inspect import measure_gradients, plot_gradient_flow
    from nnatlas.tasks.models import build_model

    run = ask.run
    step, batch = run.task.step(run.config), ask.batch()
    info = run.trainer.model_info
    # The run's seed rebuilds its initial weights exactly (build_model seeds before building).
    start = build_model(info["name"], run.config.engine, dict(info["kwargs"]), seed=run.config.seed)
    records = {
        "at initialization": measure_gradients(start, batch, step),
        f"after training ({run.checkpoint.name})": measure_gradients(run.model, batch, step),
    }
    title = f"{run.model_name}: gradient norms on {len(batch[0])} training examples"
    return plot_gradient_flow(records, ask.path("gradflow"), title=title)


DRAW = {
    "curves": _curves,
    "boundary": _boundary,
    "filters": _filters,
    "featuremaps": _featuremaps,
    "saliency": _saliency,
    "gradcam": _gradcam,
    "gates": _gates,
    "states": _states,
    "attention": _attention,
    "confusion": _confusion,
    "histograms": _histograms,
    "gradflow": _gradflow,
}
