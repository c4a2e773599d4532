"""The public way through: train a zoo model on a catalog dataset, evaluate it, predict with it.

These functions read like the command and are what the command, the lessons and the lab call::

    import nnatlas.tasks as tasks
    run = tasks.train("lenet5", data="fashion-mnist", epochs=3)
    print(run.test_metrics["accuracy"])
    tasks.evaluate(run.dir, split="test")          # from the run folder alone
    print(tasks.predict(run.dir, "shirt.png"))     # a ClassPrediction

A run folder is self-contained: ``config.json`` (the training options), ``data.json`` (the
dataset's options and the record that redoes its preprocessing: classes, normalization,
vocabularies), ``last.pt`` / ``best.pt`` (which carry both too), the history, curves and
``test_metrics.json``.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nnatlas.files import FolderLock
from nnatlas.tasks.base import DataOptions, Prepared, Task, TaskError, get_task
from nnatlas.tasks.checks import model_data_checks
from nnatlas.tasks.folders import choose_folder, clear_run, fingerprint
from nnatlas.tasks.models import build_model, model_entry, model_kwargs
from nnatlas.tasks.presets import preset_for, resolve_config


class Evaluation(dict):
    """Metrics by name (a ``dict``), with the dataset, split and number of examples evaluated."""

    def __init__(self, metrics: dict[str, float], dataset: str, split: str, examples: int) -> None:
        super().__init__(metrics)
        self.dataset, self.split, self.examples = dataset, split, examples
        self.details: dict[str, Any] = {}  # e.g. a BLEU score's signature and sample outputs


@dataclass
class Run:
    """A trained run, or one loaded from its folder.

    Attributes:
        dir: the run folder (``None`` for a run kept in memory).
        task: the :class:`~nnatlas.tasks.base.Task` that trained it.
        options: how its dataset is loaded (:class:`~nnatlas.tasks.base.DataOptions`).
        record: what redoes the preprocessing (classes, normalization, vocabularies ...).
        model_name: the zoo name; ``trainer.model`` is the model itself.
        trainer: the Trainer holding the model (its ``config``, ``history``, ``best_epoch``).
        test_metrics: the test split's metrics after training (``None`` for a loaded run).
        seconds: wall time of training and testing, data loading included.
        checkpoint: the file a loaded run came from.
    """

    dir: Path | None
    task: Task
    options: DataOptions
    record: dict[str, Any]
    model_name: str
    trainer: Any
    test_metrics: dict[str, float] | None = None
    seconds: float = 0.0
    checkpoint: Path | None = None

    @property
    def model(self) -> Any:
        return self.trainer.model

    @property
    def config(self) -> Any:
        return self.trainer.config

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.trainer.history

    def evaluate(self, split: str = "test", **options: Any) -> dict[str, float]:
        """:func:`evaluate` this run."""
        return evaluate(self, split, **options)

    def predict(self, input: str, **options: Any) -> Any:
        """:func:`predict` with this run."""
        return predict(self, input, **options)


def task_for(data: str) -> Task:
    """The task that trains on the catalog dataset ``data`` (its entry names it)."""
    from nnatlas.data import get_spec, list_datasets

    spec = get_spec(data)  # DatasetError for unknown names, with close matches
    if not spec.task:
        trainable = sorted(set(list_datasets()) - set(list_datasets(task="")))
        raise TaskError(
            f"dataset {data!r} is a {spec.kind} dataset that no task trains on yet; "
            f"trainable datasets: {', '.join(trainable)}"
        )
    return get_task(spec.task)


def default_run_name(model: str, data: str, engine: str, seed: int) -> str:
    """``MODEL-DATA-ENGINE-sSEED``; a file or folder dataset is named by its prefix and the
    file's stem (``csv:/data/reviews.csv`` -> ``csv-reviews``)."""
    prefix, sep, argument = data.partition(":")
    if sep and ("/" in argument or "." in argument):
        data = f"{prefix}-{Path(argument).stem or Path(argument).name}"
    safe_data = data.replace(":", "-").replace("/", "_").replace(" ", "_")
    return f"{model}-{safe_data}-{engine}-s{seed}"


def _run_extra(
    task: Task, options: DataOptions, record: dict[str, Any], prepared: Prepared | None = None
) -> dict[str, Any]:
    """What every checkpoint of the run carries to rebuild its data (plain values only), and
    what the run's header reports (split sizes, what was changed to fit the model)."""
    extra = {"task": task.name, "data": options.to_dict(), "record": record}
    if prepared is not None:
        extra.update(sizes=dict(prepared.sizes), notes=list(prepared.notes))
        extra["fingerprint"] = fingerprint(prepared)  # resume checks the data is the same
    return extra


def data_options(
    data: str,
    *,
    root: str | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    augment: str = "none",
    **options: Any,
) -> DataOptions:
    """:class:`DataOptions` with paths made absolute, so the run reads the same files from
    any working directory (``csv:reviews.csv`` -> ``csv:/home/me/reviews.csv``)."""
    from nnatlas.data import absolute_name

    if root is not None:
        root = str(Path(root).expanduser().absolute())
    return DataOptions(absolute_name(data), root, val_fraction, seed, augment, **options)


def train(
    model: str | None = None,
    data: str = "digits",
    *,
    engine: str = "torch",
    run_dir: str | Path | None = None,
    runs_dir: str | Path = "runs",
    run_name: str | None = None,
    augment: str | None = None,
    val_fraction: float = 0.1,
    root: str | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    encoding: str | None = None,
    limit: int | None = None,
    limit_per_class: int | None = None,
    folds: int | None = None,
    fold: int | None = None,
    normalize: list[list[float]] | None = None,
    word_vectors: str | None = None,
    vectors_vocab: int | None = None,
    punctuation: str | None = None,
    val_split: str | None = None,
    tokenizer: str | None = None,
    bptt: int | None = None,
    seq_len: int | None = None,
    min_freq: int | None = None,
    max_size: int | None = None,
    max_len: int | None = None,
    truncate_side: str | None = None,
    reverse_pairs: bool = False,
    model_options: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
    overwrite: bool = False,
    **options: Any,
) -> Run:
    """Train the zoo model ``model`` on the catalog dataset ``data``, then test it.

    Args:
        model: a registry name (``nnatlas models list``); default: the dataset's preset, else
            the task's default model.
        data: a catalog name (``nnatlas data list``).
        engine: ``"torch"`` or ``"scratch"`` (the model's NumPy twin).
        run_dir: the run folder; default ``runs_dir / run_name``.
        runs_dir, run_name: where runs go and this one's name (default
            ``MODEL-DATA-ENGINE-sSEED``).
        augment: image augmentation preset (default: the dataset preset's).
        val_fraction: share of the training data held out for validation.
        root: a local copy of the dataset.
        image_size, channels, text_column, label_column, encoding, limit, limit_per_class,
        folds, fold, normalize, word_vectors, vectors_vocab, punctuation, val_split, tokenizer,
        bptt, seq_len, min_freq, max_size, max_len, truncate_side, reverse_pairs: how the
            data is read (see :class:`~nnatlas.tasks.base.DataOptions`); each applies to the
            tasks that list it in ``data_options`` and is refused by the others.
        model_options: constructor arguments of the model beyond those fitted to the data
            (``{"hidden_sizes": [64], "dropout": 0.2}``).
        callbacks: extra :class:`~nnatlas.train.Callback` objects.
        overwrite: replace a run already in the folder. Without it a named folder that holds
            a run is refused, and a default name moves on to ``NAME-2``, ``NAME-3`` ...
        **options: any :class:`~nnatlas.train.TrainConfig` field (``epochs=3``, ``lr=1e-3``);
            left out, it takes the dataset's preset, then the field's default.

    Returns:
        The :class:`Run`, with ``test_metrics`` of the restored (best) weights.
    """
    start = time.perf_counter()
    task = task_for(data)
    preset = preset_for(data)
    config = resolve_config(data, engine, options)
    name = model or preset.model or task.default_model
    entry = model_entry(name, task)
    reading = dict(image_size=image_size, channels=channels, text_column=text_column)
    reading.update(label_column=label_column, encoding=encoding, limit=limit)
    reading.update(limit_per_class=limit_per_class, folds=folds, fold=fold, normalize=normalize)
    reading.update(word_vectors=word_vectors, vectors_vocab=vectors_vocab, punctuation=punctuation)
    reading.update(val_split=val_split, tokenizer=tokenizer, bptt=bptt)
    reading.update(seq_len=seq_len, min_freq=min_freq, max_size=max_size, max_len=max_len)
    reading.update(truncate_side=truncate_side, reverse_pairs=reverse_pairs)
    notes = _fit_inputs_to_weights(entry, model_options or {}, reading)
    dataset = data_options(
        data,
        root=root,
        val_fraction=val_fraction,
        seed=config.seed,
        augment=augment or preset.augment,
        **reading,
    )
    task.check_options(dataset)
    ctx = _distributed(config)
    named = run_dir is not None or run_name is not None
    folder = Path(run_dir) if run_dir is not None else None
    if folder is None:
        folder = Path(runs_dir) / (run_name or default_run_name(name, data, engine, config.seed))
    moved = ""
    if ctx.is_main:  # under torchrun rank 0 picks the folder and tells the others
        folder, moved = choose_folder(folder, named, overwrite)
    folder, moved = _broadcast(ctx, (folder, moved))
    with _folder_lock(folder, ctx):  # one training per folder; a second one is refused
        if ctx.is_main:
            choose_folder(folder, True, overwrite)  # nobody filled it while we waited
        prepared = task.load(dataset, entry)
        _check_trainable(prepared, data)
        prepared.notes[:0] = [moved] * bool(moved) + notes
        if overwrite and ctx.is_main:
            clear_run(folder)
        if prepared.facts.get("num_classes") == 2 and options.get("metrics") is None:
            # Two classes: add the threshold-free metrics people report for them.
            config.metrics = ",".join(dict.fromkeys([*config.metric_names, "auc", "pr_auc"]))
        kwargs = model_kwargs(entry, prepared.facts, model_options)
        net = build_model(name, config.engine, kwargs, seed=config.seed)
        _copy_initial_weights(net, prepared.initial_weights)
        # The entry's input spec names a source exactly when the weights start pretrained.
        spec = entry.inputs(model_options or {}) if entry.inputs is not None else {}
        pretrained = bool(spec.get("source"))
        prepared.notes += model_data_checks(prepared, _trainable(net), pretrained)
        if dataset.vectors_vocab and config.weight_decay > 0:
            prepared.notes.append(
                f"warning: --weight-decay {config.weight_decay:g} pulls every embedding row "
                "towards zero, the --vectors-vocab rows too, which no training text reaches: "
                "they drift from GloVe's vectors that they are there to keep (train without "
                "--weight-decay, or without --vectors-vocab)"
            )
        run = _new_run(task, dataset, prepared, name, kwargs, net, config, folder, callbacks)
        return _fit_and_test(run, prepared, start, resume=None)


def _distributed(config: Any) -> Any:
    """This process's place under torchrun (joining its process group), or a lone process."""
    from nnatlas.train import distributed

    if config.engine != "torch" and distributed.launched():
        raise TaskError(
            "the scratch (NumPy) engine trains in one process: run it without --nproc or "
            "torchrun, or use --engine torch for distributed training"
        )
    return distributed.context(config.device)


def _broadcast(ctx: Any, value: Any) -> Any:
    from nnatlas.train import distributed

    return distributed.broadcast(ctx, value)


def _folder_lock(folder: Path, ctx: Any) -> contextlib.AbstractContextManager:
    """The run folder's lock, held by rank 0 for all the processes of one training."""
    return FolderLock(folder) if ctx.is_main else contextlib.nullcontext()


def _fit_inputs_to_weights(
    entry: Any, model_options: dict[str, Any], reading: dict[str, Any]
) -> list[str]:
    """Read the images as the model's pretrained weights expect them (size, RGB, their
    normalization), where the user did not say otherwise; returns what was changed."""
    spec = entry.inputs(model_options) if entry.inputs is not None else {}
    notes = []
    if spec.get("image_size") and reading.get("image_size") is None:
        reading["image_size"] = spec["image_size"]
        notes.append(f"images resized to {spec['image_size']} px, the {spec['source']}' size")
    elif spec.get("image_size") and reading["image_size"] * 4 <= spec["image_size"]:
        notes.append(
            f"warning: {reading['image_size']} px images are small for a backbone trained at "
            f"{spec['image_size']} (its last feature maps are a pixel or two wide); accuracy "
            f"usually improves at {spec['image_size'] // 2} px or more (--image-size)"
        )
    if spec.get("channels") and reading.get("channels") is None:
        reading["channels"] = spec["channels"]  # grayscale repeated to RGB for an RGB stem
    if spec.get("mean") and reading.get("normalize") is None:
        reading["normalize"] = [spec["mean"], spec["std"]]
        notes.append(f"normalized with the {spec['source']}' mean and std, not the data's own")
    return notes


def _copy_initial_weights(model: Any, weights: dict[str, Any]) -> None:
    """Start ``model``'s named parameters from ``weights`` (either engine)."""
    import numpy as np
    import torch

    if not weights:
        return
    params = dict(model.named_parameters())
    for name, value in weights.items():
        if name not in params:
            raise TaskError(f"the model has no parameter {name!r} to start from pretrained values")
        target = params[name]
        if tuple(target.shape) != tuple(value.shape):
            raise TaskError(
                f"{name}: the model's is {tuple(target.shape)}, the pretrained values "
                f"{tuple(value.shape)}"
            )
        if isinstance(target, torch.Tensor):
            with torch.no_grad():
                target.copy_(value)
        else:  # a NumPy twin's Parameter
            target.data[...] = np.asarray(value, dtype=target.data.dtype)


def _trainable(model: Any) -> int:
    """How many numbers the model learns (frozen ones left out)."""
    import torch

    if isinstance(model, torch.nn.Module):
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    return model.num_parameters()  # a NumPy twin: every parameter learns


def _check_trainable(prepared: Prepared, data: str) -> None:
    """Refuse data a model cannot learn anything meaningful from (and would score 0 or 1 on)."""
    classes = prepared.facts.get("num_classes")
    if classes is not None and classes < 2:
        names = ", ".join(map(str, prepared.record.get("classes", [])))
        raise TaskError(
            f"{data}: one class only ({names}); a classifier needs examples of two or more"
        )
    if len(prepared.train[0]) == 0:
        raise TaskError(f"{data}: the training split is empty; there is nothing to learn from")
    if len(prepared.test[0]) == 0:
        raise TaskError(
            f"{data}: the test split is empty; there would be nothing to test on ("
            f"{len(prepared.train[0])} training examples in all; give more examples, or a test "
            "folder or file with some)"
        )


def resume(
    run_dir: str | Path,
    *,
    epochs: int | None = None,
    quiet: bool | None = None,
    callbacks: Sequence[Any] = (),
) -> Run:
    """Continue a run from its ``last.pt`` with the run's own model, data and options.

    An interrupted run continues to exactly where an uninterrupted one would be. ``epochs``
    extends a run (finished or not) to that many epochs in all: with a schedule that does not
    depend on the run's length (``none``, ``step``, ``plateau``) the result equals one run of
    that length; ``cosine`` and ``onecycle`` stretch their curve to the new length from the
    current step (a warning says so). Only ``epochs`` and ``quiet`` may change.
    """
    import warnings

    from nnatlas.train import TrainConfig, load_checkpoint

    start = time.perf_counter()
    folder = Path(run_dir)
    last = folder / "last.pt"
    if not last.is_file():
        raise TaskError(f"--resume: {last} does not exist; nothing to continue")
    ckpt = load_checkpoint(last)
    task, options, record = _run_data(ckpt, last)
    config = TrainConfig.from_dict(ckpt["config"])
    if quiet is not None:
        config.quiet = quiet
    if epochs is not None:
        done = int(ckpt["epoch"])
        if epochs <= done:
            raise TaskError(
                f"--epochs {epochs}: {folder} has trained {done} epoch(s) already; give more "
                "epochs to extend it"
            )
        if config.scheduler in ("cosine", "onecycle") and epochs != config.epochs:
            warnings.warn(
                f"the {config.scheduler} schedule was planned for {config.epochs} epochs; it "
                f"is stretched to {epochs} from step {ckpt['step']}, so the numbers differ "
                f"from a run planned for {epochs} epochs",
                stacklevel=2,
            )
        config.epochs = epochs
        ckpt["best"]["stop_reason"] = ""  # more epochs were asked for: early stopping resets
        ckpt["best"]["wait"] = 0
    info = ckpt["model_info"]
    with _folder_lock(folder, _distributed(config)):
        prepared = task.load(options, model_entry(info["name"], task))
        _check_same_data(ckpt, prepared, folder)
        net = build_model(info["name"], config.engine, dict(info["kwargs"]), seed=config.seed)
        run = _new_run(
            task, options, prepared, info["name"], info["kwargs"], net, config, folder, callbacks,
            record=record,
        )  # fmt: skip
        return _fit_and_test(run, prepared, start, resume=ckpt)


def _check_same_data(ckpt: dict[str, Any], prepared: Prepared, folder: Path) -> None:
    """Refuse to resume on data that changed since the run started (files edited, added)."""
    saved = (ckpt.get("extra") or {}).get("fingerprint")
    now = fingerprint(prepared)
    if saved is not None and saved != now:
        raise TaskError(
            f"{folder}: the data changed since this run started (fingerprint {saved} then, "
            f"{now} now): resuming would train on other data. Start a new run (--run-name, "
            "or --overwrite to replace this one)"
        )


def _new_run(
    task: Task,
    options: DataOptions,
    prepared: Prepared,
    name: str,
    kwargs: dict[str, Any],
    net: Any,
    config: Any,
    folder: Path | None,
    callbacks: Sequence[Any],
    record: dict[str, Any] | None = None,
) -> Run:
    """The Run around a new trainer; ``record`` (a resumed run's own) defaults to the data's."""
    from nnatlas.train import create_trainer

    record = prepared.record if record is None else record
    trainer = create_trainer(
        net,
        config,
        run_dir=folder,
        callbacks=callbacks,
        model_info={"name": name, "kwargs": kwargs},
        extra=_run_extra(task, options, record, prepared),
        step=task.step(config),
    )
    return Run(folder, task, options, record, name, trainer)


def _fit_and_test(run: Run, prepared: Prepared, start: float, resume: dict[str, Any] | None) -> Run:
    """Train (from the checkpoint dict ``resume`` when given), then test the restored weights."""
    from nnatlas.files import write_json
    from nnatlas.train import TensorLoader

    config, trainer = run.config, run.trainer
    train_data: Any = prepared.train
    val_data = prepared.val
    if getattr(trainer.model, "caches_features", False) and prepared.augment is None:
        # Nothing below the head learns: compute the frozen features once, not every epoch.
        train_data, val_data = (
            None if part is None else (cached_features(trainer, part[0]), *part[1:])
            for part in (prepared.train, prepared.val)
        )
    if prepared.batches is not None:  # e.g. consecutive chunks for truncated BPTT
        train_data = prepared.batches(config)
    elif prepared.augment is not None:
        train_data = TensorLoader(
            *prepared.train,
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed,
            augment=prepared.augment,
            device=trainer.data_device(prepared.train),
        )
    main = trainer.dist.is_main  # under torchrun rank 0 writes the files
    if run.dir is not None and resume is None and main:
        write_json(run.dir / "data.json", trainer.extra)
    trainer.fit(train_data, val_data, resume=resume)
    run.test_metrics = trainer.evaluate(prepared.test)
    scored = run.task.output_metrics(run, run.options, "test")  # BLEU of a translation run
    run.test_metrics.update({k: v for k, v in scored.items() if isinstance(v, float)})
    run.seconds = time.perf_counter() - start
    if run.dir is not None and main:
        write_json(run.dir / "test_metrics.json", run.test_metrics)
        if scored:
            write_json(run.dir / "test_outputs.json", scored)
    return run


def cached_features(trainer: Any, x: Any) -> Any:
    """A frozen model's features of every example, batch by batch, on the CPU.

    Shape: x (N, C, H, W) -> (N, num_features)
    """
    import torch

    model, batch = trainer.model, trainer.config.eval_batch_size or 4 * trainer.config.batch_size
    model.eval()
    with torch.inference_mode():
        parts = [
            model.features(trainer.to_device(x[i : i + batch])).float().cpu()
            for i in range(0, len(x), batch)
        ]
    return torch.cat(parts)


def _run_data(ckpt: dict[str, Any], file: Path) -> tuple[Task, DataOptions, dict[str, Any]]:
    """The task, data options and record a checkpoint carries."""
    from nnatlas.train import CheckpointError

    extra = ckpt.get("extra") or {}
    if not {"task", "data", "record"} <= set(extra) or "model_info" not in ckpt:
        raise CheckpointError(
            f"{file}: this checkpoint does not say which task, data and model it was trained "
            "with (it was written by an older nnatlas, or not by `nnatlas train`); train the "
            "model again"
        )
    return get_task(extra["task"]), DataOptions.from_dict(extra["data"]), extra["record"]


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder means its best.pt (else last.pt); a file is taken as it is."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise TaskError(f"{path}: a folder without best.pt or last.pt; is it a run folder?")
    if not path.exists():
        raise TaskError(f"{path}: no such run folder or checkpoint file")
    return path


def load_run(
    path: str | Path, device: str = "auto", root: str | None = None, threads: int | None = None
) -> Run:
    """Rebuild a trained run from its folder (best.pt, else last.pt) or a checkpoint file.

    Args:
        path: a run folder or a ``.pt`` checkpoint written by a run.
        device: where the model goes (torch engine): ``auto``, ``cpu``, ``cuda`` ...
        root: where the run's dataset is now, when not where the run recorded it (another
            machine); used by ``evaluate`` and by ``predict`` on ``SPLIT:INDEX``.
        threads: CPU threads for this process (0 = automatic); default the count the run
            trained with, saved in its config.
    """
    from nnatlas.train import CheckpointError, TrainConfig, create_trainer, load_checkpoint
    from nnatlas.train.checkpoint import non_finite_values

    file = resolve_checkpoint(path)
    ckpt = load_checkpoint(file)
    task, options, record = _run_data(ckpt, file)
    if root is not None:
        options = replace(options, root=str(Path(root).expanduser().absolute()))
    info = ckpt["model_info"]
    config = TrainConfig.from_dict(ckpt["config"])
    config.quiet, config.tensorboard = True, False
    if threads is not None:
        if threads < 0:
            raise TaskError(f"threads: expected 0 (automatic) or more, got {threads}")
        config.threads = threads
    if config.engine == "torch":
        config.device = device
    model = build_model(info["name"], config.engine, dict(info["kwargs"]), seed=config.seed)
    trainer = create_trainer(
        model, config, model_info=info, extra=ckpt["extra"], step=task.step(config)
    )
    bad = non_finite_values(ckpt["model"])
    if bad:
        raise CheckpointError(
            f"{file}: the weights hold {bad:,} NaN or infinite values (the training diverged): "
            "its predictions would mean nothing. Train again with a lower --lr, --grad-clip "
            "or --warmup-epochs"
        )
    trainer.load_model_state(ckpt["model"], source=str(file))
    trainer.history = list(ckpt.get("history") or [])
    folder = file.parent if file.parent.joinpath("config.json").is_file() else None
    return Run(folder, task, options, record, info["name"], trainer, checkpoint=file)


def _as_run(run: Run | str | Path, device: str = "auto", threads: int | None = None) -> Run:
    return run if isinstance(run, Run) else load_run(run, device, threads=threads)


def evaluate(
    run: Run | str | Path,
    split: str = "test",
    *,
    data: str | None = None,
    root: str | None = None,
    metrics: Sequence[str] | None = None,
    device: str = "auto",
    beam: int | None = None,
) -> Evaluation:
    """The loss and metrics of a trained run on one split of its dataset (or of another one).

    Args:
        run: a :class:`Run`, a run folder or a checkpoint file.
        split: ``"train"``, ``"val"`` or ``"test"``.
        data: another catalog dataset of the same task and input shape (e.g. ``"mnist"`` for a
            Fashion-MNIST model); default the run's own.
        root: a local copy of the dataset (default: the run's, for its own dataset).
        metrics: extra metrics (default: the run's ``config.metrics``).
        device: for a run given as a path.
        beam: a translation run's beam width for its BLEU (default 1, greedy decoding).
    """
    run = _as_run(run, device)
    decoding: dict[str, int] = {}
    if beam is not None:
        if "beam" not in inspect.signature(run.task.output_metrics).parameters:
            raise TaskError(f"--beam is for translation runs; this run does {run.task.title}")
        if beam < 1:
            raise TaskError(f"--beam must be at least 1 (1 decodes greedily), got {beam}")
        decoding["beam"] = beam
    options, tensors = split_tensors(run, split, data, root)
    names = list(metrics) if metrics is not None else None
    results = run.trainer.evaluate(tensors, names=names)
    scored = run.task.output_metrics(run, options, split, **decoding)
    results.update({k: v for k, v in scored.items() if isinstance(v, float)})
    evaluation = Evaluation(results, options.name, split, len(tensors[0]))
    evaluation.details = {k: v for k, v in scored.items() if not isinstance(v, float)}
    return evaluation


def split_tensors(
    run: Run, split: str, data: str | None = None, root: str | None = None
) -> tuple[DataOptions, tuple[Any, ...]]:
    """The data options and the tensors of one split, prepared as the run's training data was
    (``data``: another catalog dataset of the same task; ``root``: another copy)."""
    from nnatlas.data import absolute_name, get_spec

    if split not in ("train", "val", "test"):
        raise TaskError(f"--split {split!r}: choose train, val or test")
    options = run.options
    if data is not None and absolute_name(data) != options.name:
        spec = get_spec(data)
        if spec.task != run.task.name:
            raise TaskError(
                f"dataset {data!r} is for {spec.task or spec.kind}; this run does {run.task.title}"
            )
        other = data_options(data, root=root, val_fraction=options.val_fraction, seed=options.seed)
        options = replace(other, channels=options.channels, image_size=options.image_size)
    elif root is not None:
        options = replace(options, root=str(Path(root).expanduser().absolute()))
    tensors = run.task.load_split(options, run.record, split)
    if len(tensors[0]) == 0:
        raise TaskError(f"the {split} split of {options.name!r} is empty: nothing to evaluate")
    return options, tensors


def predict(run: Run | str | Path, input: str, *, device: str = "cpu", **options: Any) -> Any:
    """A structured prediction of a trained run for one input.

    Args:
        run: a :class:`Run`, a run folder or a checkpoint file.
        input: an image file, a sentence, a prompt, a row of numbers, or ``SPLIT:INDEX``
            (an example of the run's own dataset, e.g. ``"test:0"``), as the run's task takes.
        device: for a run given as a path.
        **options: the task's options: ``top``, ``invert`` (images), ``length``,
            ``temperature``, ``seed`` (language models), ``beam`` (seq2seq).

    Returns:
        A :class:`~nnatlas.tasks.results.ClassPrediction`, ``Generation`` or ``Translation``.
    """
    run = _as_run(run, device)
    accepted = [
        name
        for name, p in inspect.signature(run.task.predict).parameters.items()
        if p.kind is p.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TaskError(
            f"{run.task.title} predictions take no option {', '.join(unknown)}; they take "
            f"{', '.join(accepted) or 'no options'}"
        )
    return run.task.predict(run, input, **options)
