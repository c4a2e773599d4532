"""``nnatlas train MODEL --data DATASET``: train any zoo model on any catalog dataset.

The options are built from :class:`nnatlas.train.TrainConfig`'s fields (one source of truth).
An option left out takes the value of the ``--config`` file (TOML or JSON, the same keys; see
:mod:`nnatlas.tune.configfile`), then the dataset's preset (:mod:`nnatlas.tasks.presets`: the
model, epochs, learning rate ... that work well for that dataset), then the config's default.
The work is done by :func:`nnatlas.tasks.train` (and :func:`nnatlas.tasks.resume`); this
module parses and prints.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import typer

from nnatlas.cli.crossval import print_cross_validation
from nnatlas.cli.errors import UsageError, exit_on_usage_error, print_error
from nnatlas.cli.options_file import READING, merge_config_file
from nnatlas.cli.root import app
from nnatlas.tasks.presets import GENERIC, PRESETS
from nnatlas.train.callbacks import Callback
from nnatlas.train.config import TrainConfig

# The sequence applications' data options (language models, word vocabularies, sentence pairs),
# passed to tasks.train by name beside options_file.READING.
SEQUENCE_READING = (
    "tokenizer", "bptt", "seq_len", "min_freq", "max_size", "max_len", "truncate_side",
    "reverse_pairs", "word_vectors", "vectors_vocab", "punctuation", "val_split",
)  # fmt: skip


# -- the command: options generated from TrainConfig -------------------------------------------
def _config_parameters() -> list[inspect.Parameter]:
    """One ``--option`` per TrainConfig field, defaulting to None (= preset, then field default)."""
    preset_keys = {key for p in (*PRESETS.values(), GENERIC) for key in (*p.config, *p.scratch)}
    params = []
    for f in fields(TrainConfig):
        choices = f.metadata.get("choices")
        help_text = f.metadata["help"] + (f": {', '.join(choices)}" if choices else "")
        # Say "preset" only where some dataset's preset does set the option.
        source = "the dataset's preset, else " if f.name in preset_keys else ""
        help_text += f" (default: {source}{f.default})"
        flag = "--" + f.name.replace("_", "-")
        decls = [f"{flag}/--no-{f.name.replace('_', '-')}"] if f.type in ("bool", bool) else [flag]
        annotation = {"int": int, "float": float, "str": str, "bool": bool}[str(f.type)]
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, *decls, help=help_text, show_default=False),
                annotation=Optional[annotation],  # noqa: UP045 (typer reads Optional)
            )
        )
    return params


def train(
    model: str | None = typer.Argument(
        None,
        help="zoo model name, see `nnatlas models list` (default: the dataset's preset, else "
        "the task's default model)",
    ),
    data: str | None = typer.Option(
        None, "--data", "-d", help="catalog dataset name, see `nnatlas data list` (default digits)"
    ),
    config: Path | None = typer.Option(  # noqa: B008
        None,
        "--config",
        help="a TOML or JSON file of options: the keys of these options (batch_size = 64), "
        "model, data and a [model_options] table of constructor arguments; between the "
        "dataset's preset and the command line, which overrides it",
    ),
    run_name: str | None = typer.Option(
        None, help="run folder name (default MODEL-DATA-ENGINE-sSEED)"
    ),
    runs_dir: Path | None = typer.Option(  # noqa: B008
        None, help="where run folders are made (default runs)"
    ),
    augment: str | None = typer.Option(
        None,
        help="augmentation preset: none, light, standard, strong, imagenet (default: the preset's)",
    ),
    val_fraction: float | None = typer.Option(
        None, help="fraction of the training data held out for validation (default 0.1)"
    ),
    data_root: str | None = typer.Option(
        None, help="a local copy of the dataset (the run remembers it)"
    ),
    image_size: int | None = typer.Option(
        None,
        help="images: pixels a side (default: the dataset's size when the model takes it, "
        "else the model's input size)",
    ),
    channels: int | None = typer.Option(
        None, help="images: 1 (grayscale) or 3 (RGB) (default: the dataset's)"
    ),
    text_column: str | None = typer.Option(None, help="csv: the text column (default text)"),
    label_column: str | None = typer.Option(None, help="csv: the label column (default label)"),
    encoding: str | None = typer.Option(
        None, help="your own text files: their encoding, e.g. latin-1 (default utf-8)"
    ),
    limit: int | None = typer.Option(
        None, help="train on at most N training examples (a stratified subset for classifiers)"
    ),
    folds: int | None = typer.Option(
        None,
        help="images: k-fold cross-validation: pool train and validation into K stratified "
        "folds, train a run per fold in RUN/fold-I, each scored on the fold it held out; with "
        "--fold, that one fold alone",
    ),
    fold: int | None = typer.Option(None, help="with --folds K: train fold I (0..K-1) only"),
    tokenizer: str | None = typer.Option(
        None, help="language models: read the corpus as char or word tokens (default char)"
    ),
    bptt: int | None = typer.Option(
        None,
        help="language models: truncated BPTT over consecutive chunks of N tokens, the hidden "
        "state carried between them (default: shuffled windows, each from a zero state)",
    ),
    seq_len: int | None = typer.Option(
        None,
        help="language models: tokens per window, the context each held-out window gives "
        "(default 128 characters, 35 words; nanoGPT's shakespeare_char: 256)",
    ),
    min_freq: int | None = typer.Option(
        None, help="word vocabularies: words seen fewer times in training become <unk>"
    ),
    word_vectors: str | None = typer.Option(
        None,
        help="text classifiers: start the embedding from pretrained word vectors: glove-6b-50d "
        "(`make glove`) or glove:FOLDER in its format; the header prints the vocabulary coverage",
    ),
    vectors_vocab: int | None = typer.Option(
        None,
        help="text classifiers: also give the N most frequent words of --word-vectors a row, so "
        "words the training texts never show keep their vector instead of <unk> (SST-2: 100000)",
    ),
    punctuation: str | None = typer.Option(
        None,
        help="text classification: split (default), strip, keep (split on spaces only) or ptb "
        "(the Penn Treebank's way, as SST-2 and GloVe are tokenized: don't -> do n't)",
    ),
    val_split: str | None = typer.Option(
        None,
        help="text classification: validation carved from train as random examples or whole "
        "sentences (their phrases left out of training); default sentences for SST-2, whose "
        "train holds the phrases of its sentences, random for the others",
    ),
    max_size: int | None = typer.Option(
        None, help="word vocabularies: at most N entries, the 4 reserved tokens included"
    ),
    max_len: int | None = typer.Option(
        None, help="text classification: tokens kept per text (default: the dataset's)"
    ),
    truncate_side: str | None = typer.Option(
        None,
        help="text classification: where a longer text is cut: post keeps its beginning, pre "
        "its end (default post)",
    ),
    reverse_pairs: bool | None = typer.Option(
        None,
        "--reverse-pairs/--no-reverse-pairs",
        help="sentence pairs: translate the other way, target to source",
        show_default=False,
    ),
    model_option: list[str] | None = typer.Option(  # noqa: B008
        None,
        "--model-option",
        help="KEY=VALUE: a constructor argument of the model (e.g. bidirectional=true, "
        "hidden_size=256); repeat it for more; wins over the --config file's model_options",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="continue --run-name from its last.pt; with --epochs N, extend it to N epochs; "
        "with --folds K, the cross-validation's unfinished folds",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="replace the run in the folder (otherwise a named folder that holds a run is "
        "refused and a default name moves on to NAME-2)",
    ),
    nproc: int | None = typer.Option(
        None,
        "--nproc",
        help="distributed: train on N processes of this machine (torch DDP, launched through "
        "torchrun; gloo on the CPU, NCCL with one GPU each); --batch-size is per process",
        rich_help_panel="Distributed (torchrun)",
    ),
    nnodes: str | None = typer.Option(
        None,
        help="distributed: machines in all, e.g. 2 (torchrun --nnodes)",
        rich_help_panel="Distributed (torchrun)",
    ),  # fmt: skip
    node_rank: int | None = typer.Option(
        None,
        help="distributed: this machine's number, 0 on the first",
        rich_help_panel="Distributed (torchrun)",
    ),  # fmt: skip
    master_addr: str | None = typer.Option(
        None,
        help="distributed: address of machine 0, the same on every machine",
        rich_help_panel="Distributed (torchrun)",
    ),  # fmt: skip
    master_port: int | None = typer.Option(
        None,
        help="distributed: a free port on machine 0 (default 29500 across machines)",
        rich_help_panel="Distributed (torchrun)",
    ),  # fmt: skip
    rdzv_endpoint: str | None = typer.Option(
        None,
        help="distributed: HOST:PORT of a c10d rendezvous instead of --master-addr",
        rich_help_panel="Distributed (torchrun)",
    ),  # fmt: skip
    rdzv_id: str | None = typer.Option(
        None,
        help="distributed: the job's id at the rendezvous (default nnatlas)",
        rich_help_panel="Distributed (torchrun)",
    ),  # fmt: skip
    **options: Any,
) -> None:
    """Train a model on a dataset, writing a run folder: runs/MODEL-DATA-ENGINE-sSEED.

    The folder holds config.json, data.json, history.csv/json, last.pt, best.pt, curves.png
    and test_metrics.json; `nnatlas eval` and `nnatlas predict` work from it alone.

    Options left out take the dataset's preset (e.g. digits: mlp, 30 epochs, cosine schedule),
    overridden by --config FILE (e.g. a tune's best-config.toml), overridden by the command line.
    Ctrl-C stops after the current step, saves last.pt and prints the command that resumes.
    Example: nnatlas train lenet5 --data fashion-mnist --epochs 3 --engine scratch

    With --nproc N the same command runs on N processes through torchrun (also
    `torchrun --nproc-per-node N -m nnatlas train ...`); rank 0 prints and writes the folder.
    """
    import nnatlas.tasks as tasks
    from nnatlas.train import NonFiniteLossError, TrainingInterrupted
    from nnatlas.train.distributed import is_main_process

    launch = dict(nproc=nproc, nnodes=nnodes, node_rank=node_rank, master_addr=master_addr)
    launch.update(master_port=master_port, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id)
    if any(v is not None for v in launch.values()):
        if folds is not None and fold is None:
            with exit_on_usage_error():
                raise UsageError("--nproc trains one run: give --fold I with --folds K")
        engine_given = options.get("engine")
        if config is not None and engine_given is None:
            from nnatlas.tune.configfile import read_options

            with exit_on_usage_error():  # the processes check the rest of the file
                engine_given = read_options(config).get("engine")
        raise typer.Exit(_launch(launch, engine_given))
    if not is_main_process():
        import warnings

        warnings.simplefilter("ignore")  # under torchrun rank 0 speaks for all

    given = dict(model=model, data=data, run_name=run_name, runs_dir=runs_dir, augment=augment)
    given.update(val_fraction=val_fraction, data_root=data_root, image_size=image_size)
    given.update(channels=channels, text_column=text_column, label_column=label_column)
    given.update(encoding=encoding, limit=limit, **options)
    given.update(
        tokenizer=tokenizer, bptt=bptt, seq_len=seq_len, min_freq=min_freq, max_size=max_size
    )
    given.update(max_len=max_len, truncate_side=truncate_side, reverse_pairs=reverse_pairs)
    given.update(word_vectors=word_vectors, vectors_vocab=vectors_vocab, punctuation=punctuation)
    given.update(val_split=val_split, folds=folds, fold=fold)
    model_options = None
    with exit_on_usage_error():
        if config is not None:
            if resume:
                raise UsageError("--resume continues with the run's saved config; drop --config")
            given, model_options = merge_config_file(config, given)
        if model_option:
            if resume:
                raise UsageError("--resume continues with the run's own model; drop --model-option")
            model_options = {**(model_options or {}), **parse_model_options(model_option)}
    model, data, run_name = given.pop("model"), given.pop("data") or "digits", given.pop("run_name")
    runs_dir = Path(given.pop("runs_dir") or "runs")
    augment, data_root = given.pop("augment"), given.pop("data_root")
    val_fraction = given.pop("val_fraction")
    val_fraction = 0.1 if val_fraction is None else val_fraction
    reading = {k: given.pop(k) for k in (*READING, *SEQUENCE_READING, "folds", "fold")}
    options = given  # TrainConfig fields only, now
    run_dir = runs_dir / run_name if run_name else None
    header = RunHeader(runs_dir)
    with exit_on_usage_error():
        try:
            reading["reverse_pairs"] = bool(reading["reverse_pairs"])
            if reading["folds"] is not None and reading["fold"] is None:
                engine = options.pop("engine") or "torch"
                cv = _cross_validate(
                    model, data, engine, runs_dir, run_name, overwrite, resume, augment=augment,
                    val_fraction=val_fraction, root=data_root, model_options=model_options,
                    **reading, **options,
                )  # fmt: skip
                print_cross_validation(cv)
                return
            if resume:
                if run_dir is None:
                    raise UsageError("--resume needs --run-name of the run to continue")
                ignored = {k: v for k, v in reading.items() if v is not None}
                run = _resume(run_dir, header, {**options, **ignored})
            else:
                engine = options.pop("engine") or "torch"
                run = tasks.train(
                    model,
                    data,
                    engine=engine,
                    runs_dir=runs_dir,
                    run_name=run_name,
                    augment=augment,
                    val_fraction=val_fraction,
                    root=data_root,
                    model_options=model_options,
                    callbacks=[header],
                    overwrite=overwrite,
                    **reading,
                    **options,
                )
        except NonFiniteLossError as err:
            print_error("training stopped", err)
            raise typer.Exit(1) from None
        except TrainingInterrupted as stop:
            _report_interrupt(stop, runs_dir)
            raise typer.Exit(130) from None
        except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, mid-step
            _report_hard_interrupt(header.run_dir, runs_dir)
            raise typer.Exit(130) from None
    if is_main_process():
        print_summary(run)


def _cross_validate(
    model: str | None, data: str, engine: str, runs_dir: Path, run_name: str | None,
    overwrite: bool, resume: bool, *, folds: int, fold: None, **options: Any,
) -> Any:  # fmt: skip
    """``--folds K`` without ``--fold``: a run per fold in ``RUNS/NAME/fold-I`` (``--resume``:
    the folds trained so far kept, an interrupted one continued)."""
    import nnatlas.tasks as tasks
    from nnatlas.cli.crossval import cross_validate_runs
    from nnatlas.tasks.run import default_run_name

    seed = options.get("seed")
    name = run_name or f"cv{folds}-" + default_run_name(
        model or tasks.preset_for(data).model or tasks.task_for(data).default_model,
        data, engine, 0 if seed is None else seed,
    )  # fmt: skip

    def train_fold(index: int, run_dir: Path) -> Any:
        return tasks.train(
            model, data, engine=engine, run_dir=run_dir, folds=folds, fold=index,
            callbacks=[RunHeader(runs_dir)], overwrite=overwrite, **options,
        )  # fmt: skip

    describe = {"model": model, "data": data, "engine": engine}
    return cross_validate_runs(
        "train", train_fold, folds, runs_dir / name, overwrite=overwrite, resume=resume,
        describe=describe,
    )  # fmt: skip


def _launch(launch: dict[str, Any], engine: str | None) -> int:
    """Run this same command on several processes through torchrun; returns its exit status."""
    import subprocess

    from nnatlas.train import distributed

    with exit_on_usage_error():
        if distributed.launched():
            raise UsageError(
                "--nproc and the other launcher flags start torchrun; this process already "
                "runs under torchrun: drop them"
            )
        if engine == "scratch":
            raise UsageError(
                "--nproc: the scratch (NumPy) engine trains in one process; drop --nproc, or "
                "use --engine torch for distributed training"
            )
        values = {k: v for k, v in launch.items() if v is not None}
        command = distributed.torchrun_command(distributed.Launch(**values), sys.argv[1:])
    nproc = values.get("nproc", 1)
    # command = [python, -m, torch.distributed.run, ...]: shown as the torchrun it is
    print(f"launching {nproc} process(es): torchrun {' '.join(command[3:])}", flush=True)
    try:
        return subprocess.call(command, env=distributed.launch_env(nproc))
    except KeyboardInterrupt:  # torchrun got the Ctrl-C too and stops its processes
        return 130


def parse_model_options(values: list[str]) -> dict[str, Any]:
    """``["bidirectional=true", "hidden_size=256"]`` -> ``{"bidirectional": True, ...}``: each
    value read as JSON (true, 256, 0.1, [64, 32], "text"), else kept as text."""
    import json

    parsed: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--model-option {item!r}: give KEY=VALUE, e.g. bidirectional=true")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = {"True": True, "False": False, "None": None}.get(value, value)
    return parsed


def print_summary(run: Any) -> None:
    """The summary table, the test line naming what chose the restored weights, the folder."""
    from rich.console import Console

    from nnatlas.train import summary_table

    trainer, test = run.trainer, run.test_metrics or {}
    if trainer.stop_reason and not run.config.quiet:
        print(trainer.stop_reason)
    Console().print(summary_table(trainer.history, test))
    best = ""
    if run.config.restore_best and trainer.best_epoch is not None:
        # Training metrics are of the optimizer's weights; under --ema the saved ones differ.
        raw = trainer.average is not None and trainer.monitor.startswith("train_")
        best = (
            f" (weights of epoch {trainer.best_epoch}, the best {trainer.monitor} "
            f"{trainer.best_value:.4f}"
            + (", of the raw weights: the model kept is their average" if raw else "")
            + ")"
        )
    extras = "".join(
        f"  test {name} {test[name]:.4f}"
        for name in ("auc", "pr_auc", "perplexity", "bits", "bleu", "exact_match")
        if name in test
    )
    headline = (
        f"test mAP@0.5 {test['map_50']:.4f}  test mAP@[.5:.95] {test['map']:.4f}"
        if "map_50" in test  # a detector has no accuracy
        else f"test accuracy {test.get('accuracy', float('nan')):.4f}"
    )
    print(f"{headline}  test loss {test['loss']:.4f}{extras}{best}")
    print(f"run folder {run.dir}", flush=True)
    # On stderr: stdout then holds only numbers that are identical from run to run.
    typer.echo(f"wall time {run.seconds:.1f} s", err=True)


def resume_command(run_dir: Path, runs_dir: Path) -> str:
    """The command that resumes ``run_dir``."""
    return f"nnatlas train --resume --run-name {run_dir.name} --runs-dir {runs_dir}"


class RunHeader(Callback):
    """Prints what is about to train before the first step (also when output is piped)."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.run_dir: Path | None = None  # known once training begins

    def on_fit_begin(self, trainer: Any) -> None:
        self.run_dir = trainer.run_dir
        extra, config = trainer.extra, trainer.config
        record, sizes = extra.get("record", {}), extra.get("sizes", {})
        name = trainer.model_info.get("name", type(trainer.model).__name__)
        threads = f"{trainer.threads} thread{'s' if trainer.threads != 1 else ''}"
        counts = getattr(trainer.model, "parameter_counts", None)
        size = f"{trainer.num_parameters():,} parameters"
        if callable(counts):  # a transfer model: what learns and what stays as pretrained
            trainable, frozen = counts()
            size = f"{trainable:,} trainable and {frozen:,} frozen parameters"
            size += f" ({trainer.model.strategy} on {trainer.model.backbone})"
        print(f"model  {name}: {size}, {config.engine} engine on {trainer.device.type}, {threads}")
        split_sizes = " / ".join(
            f"{sizes[k]:,} {k}" for k in ("train", "val", "test") if k in sizes
        )
        shape = "x".join(str(d) for d in record.get("input_shape", []))
        what = f"{len(record['classes'])} classes" if "classes" in record else ""
        dataset = extra.get("data", {}).get("name", "?")
        print(f"data   {dataset}: {split_sizes}; inputs {shape}; {what}")
        world, accum = trainer.dist.world_size, config.grad_accum
        if world > 1 or accum > 1:
            how = f"{world} processes ({trainer.dist.backend}), " if world > 1 else ""
            print(
                f"batch  {how}global batch {config.batch_size * world * accum} = "
                f"{config.batch_size} per process x {world} process(es) x {accum} accumulated"
            )
        for note in extra.get("notes", []):
            print(f"note   {note}")
        if trainer.run_dir is not None:
            again = resume_command(trainer.run_dir, self.runs_dir)
            print(f"run    {trainer.run_dir}  (resume: {again})")
        sys.stdout.flush()


def _report_interrupt(stop: Any, runs_dir: Path) -> None:
    """What Ctrl-C left behind, and how to continue."""
    print(f"\n{stop}")
    if stop.checkpoint is None:
        print("the run had no folder: nothing was saved")
        return
    print(f"saved {stop.checkpoint}")
    if not stop.replayable:
        print("(this data loader cannot replay its order: the resumed run restarts the epoch)")
    print(f"resume with: {resume_command(stop.checkpoint.parent, runs_dir)}", flush=True)


def _report_hard_interrupt(run_dir: Path | None, runs_dir: Path) -> None:
    """A second Ctrl-C stops at once: the step in progress is lost, the last checkpoint is not."""
    last = run_dir / "last.pt" if run_dir is not None else None
    if last is None or not last.is_file():
        print("\ninterrupted before the first checkpoint: nothing was saved", flush=True)
        return
    print(f"\ninterrupted at once (a second Ctrl-C): the steps since {last} was written are lost")
    print(f"resume with: {resume_command(run_dir, runs_dir)}", flush=True)


def _resume(run_dir: Path, header: RunHeader, options: dict[str, Any]) -> Any:
    """Continue ``run_dir`` with its saved config; only --epochs (to extend) and how the run
    *reports* may change."""
    import nnatlas.tasks as tasks
    from nnatlas.train import load_checkpoint
    from nnatlas.train.distributed import is_main_process

    last = run_dir / "last.pt"
    if not last.is_file():
        raise UsageError(f"--resume: {last} does not exist; nothing to continue")
    # Any other option would change the numbers of the run.
    keep = ("quiet", "epochs")
    ignored = sorted(k for k, v in options.items() if v is not None and k not in keep)
    ckpt = load_checkpoint(last)
    loader = ckpt.get("loader") or {"batches_done": 0}
    if is_main_process():  # under torchrun, rank 0 speaks for all
        if ignored:
            flags = ", ".join("--" + k.replace("_", "-") for k in ignored)
            print(f"--resume continues with the run's saved config; ignoring {flags}")
        print(
            f"resuming {last}: {ckpt['epoch']} epoch(s) done, step {ckpt['step']}, "
            f"{loader['batches_done']} batch(es) into the next epoch"
        )
    return tasks.resume(
        run_dir,
        epochs=options.get("epochs"),
        quiet=options.get("quiet"),
        callbacks=[header],
    )


# typer reads a command's options from its signature: replace **options by TrainConfig's fields.
_config_options = _config_parameters()
_base = inspect.signature(train)
train.__signature__ = _base.replace(
    parameters=[p for p in _base.parameters.values() if p.kind != p.VAR_KEYWORD] + _config_options
)
train.__annotations__.update({p.name: p.annotation for p in _config_options})
app.command(name="train")(train)
