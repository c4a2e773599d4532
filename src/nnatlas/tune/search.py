"""Hyper-parameter search with Optuna: trials judged on validation data, the test set used once.

:func:`tune` runs trials until the study holds ``trials`` finished ones (complete or pruned).
Each trial is one :func:`nnatlas.tasks.train` run with the options a sampler proposes (TPE,
Bergstra et al. 2011, by default) from a search space (:mod:`nnatlas.tune.space`).
:class:`TrialReporter`, a training callback, reports each epoch's validation metric to Optuna,
which prunes a trial whose curve falls behind the others' (the median rule, or successive
halving: Jamieson & Talwalkar 2016), and ends each run before its test: the objective is
always a validation metric. When the study is complete the best configuration is trained once
more and tested, the only time a tune touches the test set; the preset's own configuration
is trained too, on validation only, to show what the search gained.

The study lives in a database: by default a SQLite file in the tune's folder; any SQLAlchemy
URL (``--storage postgresql://...``) lets several processes share one study. The database
numbers the trials, so numbers never collide; a trial is reserved (counted, then created)
under a lock (:class:`StudyLock`), so processes started together run ``trials`` in all: a
file lock beside the SQLite file, a PostgreSQL advisory lock held on the server itself (so
processes on several machines too), else a file lock in the tune's folder (there, processes
on several machines hold different locks and may each run one extra trial at the very end,
the number still unique). Ctrl-C marks the running trial
failed and keeps the study: the same command continues it (failed trials are run again; they
do not count).

Output in the tune's folder: ``study.db``, ``trials.csv``, ``best-config.toml`` (which
``nnatlas train --config`` takes), ``history.png``, ``importances.png``, ``lr.png``,
``summary.json``; ``trials/NNNN/`` (each trial's run folder), ``default/``, ``best/``.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import os
import socket
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnatlas.errors import NnatlasError
from nnatlas.train.callbacks import Callback
from nnatlas.tune.space import Dimension, model_arguments, parse_space, split_params

PRUNERS = ("median", "halving", "none")
SAMPLERS = ("tpe", "random")
FINISHED = ("COMPLETE", "PRUNED")  # the states that count towards --trials
# Options of how a run executes, not of what it computes: a study may change them between its
# processes, and a best configuration does not pin them.
RUN_ONLY = ("threads", "device", "quiet", "tensorboard", "checkpoint_every")
# How the data is read, fixed for every trial like a training option (the tune's own
# val_fraction and limit aside): word vectors, a tokenizer, a vocabulary's limits ...
DATA_OPTIONS = (
    "image_size", "channels", "text_column", "label_column", "encoding", "limit_per_class",
    "normalize", "word_vectors", "vectors_vocab", "punctuation", "val_split", "tokenizer",
    "bptt", "seq_len", "min_freq", "max_size", "max_len", "truncate_side", "reverse_pairs",
)  # fmt: skip
# One thread per trial: trials are many small runs, often several processes at once, and on 2
# shared cores two threads per process ran the digits MLP 2-10x slower than one.
TRIAL_THREADS = 1


class TuneError(NnatlasError, ValueError):
    """A tune that cannot start or continue: bad options, a study made for other settings."""


class ValidationDone(Exception):
    """Raised by :class:`TrialReporter` when a run has trained and validated: it ends the run
    before :func:`nnatlas.tasks.train` evaluates the test split, which a trial must not see."""

    def __init__(
        self, best_value: float | None, best_epoch: int | None, epochs: int, examples: int = 0
    ) -> None:
        super().__init__(f"validated: best {best_value} at epoch {best_epoch} of {epochs}")
        self.best_value, self.best_epoch, self.epochs = best_value, best_epoch, epochs
        self.examples = examples  # validation examples: how fine the metric's steps are


class TrialReporter(Callback):
    """Reports each epoch's ``metric`` to an Optuna trial, prunes it when the pruner says so,
    and raises :class:`ValidationDone` when training ends (give it last among callbacks).

    Args:
        trial: the ``optuna.Trial`` (``None``: only stop before the test, as the default
            configuration's run does).
        metric: a history column, e.g. ``val_accuracy``.
    """

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None
        self.examples = 0

    def on_fit_begin(self, trainer: Any) -> None:
        self.examples = int(trainer.extra.get("sizes", {}).get("val", 0))

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        if self.trial is None:
            return
        import optuna

        self.trial.report(float(row[self.metric]), row["epoch"])  # NaN is reported as such
        if self.trial.should_prune():
            self.pruned_at = row["epoch"]
            raise optuna.TrialPruned(
                f"pruned at epoch {row['epoch']}: {self.metric} {row[self.metric]:.4f}"
            )

    def on_fit_end(self, trainer: Any) -> None:
        # Only a run that trained to its end (or stopped early by design) is done; a run
        # stopped by an exception (pruned, diverged, Ctrl-C) lets that exception through.
        finished = trainer.epoch >= trainer.config.epochs or bool(trainer.stop_reason)
        if self.pruned_at is None and finished:
            raise ValidationDone(
                trainer.best_value, trainer.best_epoch, trainer.epoch, self.examples
            )


@dataclass
class TuneResult:
    """What a tune found. ``rows`` holds one dict per trial (number, state, value, params,
    pruned_epoch, note); ``final`` the retrained best configuration (trial, val, test), when
    the study is complete; ``default`` the preset configuration's validation value."""

    study: str
    storage: str
    folder: Path
    metric: str
    maximize: bool
    trials: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    default: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    test_uses: int = 0
    files: dict[str, Path] = field(default_factory=dict)
    importances: dict[str, float] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(r["state"] == state for r in self.rows)

    @property
    def complete(self) -> bool:
        """The study holds its ``trials`` finished trials and none is still running."""
        finished = sum(r["state"] in FINISHED for r in self.rows)
        return finished >= self.trials and not self.count("RUNNING")


@contextmanager
def study_lock(path: Path) -> Iterator[None]:
    """Wait for, then hold, an exclusive lock on ``path`` (processes on one machine)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_study_name(model: str, data: str) -> str:
    """``MODEL-DATA`` with a file dataset named by its stem, safe as a folder name."""
    prefix, sep, argument = data.partition(":")
    if sep and ("/" in argument or "." in argument):
        data = f"{prefix}-{Path(argument).stem}"
    return f"{model}-{data}".replace(":", "-").replace("/", "_").replace(" ", "_")


def database_url(url: str) -> str:
    """``url`` with a PostgreSQL driver SQLAlchemy can load: a plain ``postgresql://`` means
    psycopg (3) to SQLAlchemy 2.1, so it takes ``psycopg2`` where only that one is installed."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def _storage(url: str) -> Any:
    import optuna

    url_given, url = url, database_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # SQLite serializes writers; wait for another process's write instead of failing.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    try:
        return optuna.storages.RDBStorage(url, **kwargs)
    except Exception as err:  # SQLAlchemy's errors: a bad URL, a missing driver, no server
        raise TuneError(f"--storage {url_given}: cannot open the study database: {err}") from None


class StudyLock:
    """The lock that serializes the reservations of one study (and its creation, and the
    retraining of its best configuration).

    ``postgresql://`` storages lock on the server (``pg_advisory_lock`` on a key made from the
    study's name), which every process using the server sees, on any machine; a SQLite file
    is locked beside it (processes on one machine: SQLite itself is for one machine); any
    other storage in the tune's folder.
    """

    def __init__(self, url: str, folder: Path, study: str) -> None:
        self.url, self.path = url, _lock_path(url, folder)
        self.key = f"nnatlas tune {study}"
        self.server = url.split(":", 1)[0].split("+", 1)[0] == "postgresql"

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Wait for, then hold, the lock."""
        if not self.server:
            with study_lock(self.path):
                yield
            return
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        try:
            # NullPool: closing the connection ends the session, which frees its locks even
            # if the unlock below never runs (a killed process).
            engine = sqlalchemy.create_engine(database_url(self.url), poolclass=NullPool)
            connection = engine.connect()
        except Exception as err:  # a missing driver, no server, refused credentials
            raise TuneError(
                f"--storage {self.url}: cannot open the study database: {err}"
            ) from None
        statement = "SELECT pg_advisory_{}(hashtext(:key))"
        try:
            connection.execute(sqlalchemy.text(statement.format("lock")), {"key": self.key})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text(statement.format("unlock")), {"key": self.key})
                connection.commit()
        finally:
            connection.close()
            engine.dispose()


def _lock_path(url: str, folder: Path) -> Path:
    """Beside the SQLite file, or in the tune's folder for a server database."""
    if url.startswith("sqlite:///"):
        database = url[len("sqlite:///") :]
        if database and database != ":memory:":
            return Path(database + ".lock")
    return folder / ".study.lock"


def _sampler(kind: str, seed: int, trials: int) -> Any:
    import optuna

    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Fewer random start-up trials than optuna's 10 for a short study: 5 of 20.
    startup = max(5, min(10, trials // 4))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def _pruner(kind: str, epochs: int) -> Any:
    import optuna

    if kind == "median":
        # Judge no curve before a fifth of its epochs: early epochs rank configurations poorly.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, epochs // 5))
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=max(1, epochs // 10), reduction_factor=3
        )
    return optuna.pruners.NopPruner()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_stale_trials(study: Any) -> int:
    """Mark failed the trials left running by processes of this host that no longer exist
    (killed, the machine restarted), so they are run again. Returns how many."""
    from optuna.trial import TrialState

    host, stale = socket.gethostname(), 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker") or {}
        pid = worker.get("pid")
        if worker.get("host") == host and pid not in (None, os.getpid()) and not _alive(pid):
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            stale += 1
    return stale


def tune(
    model: str | None = None,
    data: str = "digits",
    *,
    trials: int = 20,
    space: str | None = None,
    storage: str | None = None,
    study: str | None = None,
    folder: str | Path | None = None,
    runs_dir: str | Path = "runs",
    metric: str = "val_accuracy",
    pruner: str = "median",
    sampler: str = "tpe",
    engine: str = "torch",
    val_fraction: float = 0.1,
    limit: int | None = None,
    model_options: dict[str, Any] | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> TuneResult:
    """Search the options of ``model`` on ``data`` until the study holds ``trials`` trials.

    Args:
        model: a zoo model (default: the dataset's preset model).
        data: a catalog dataset.
        trials: finished trials the study should hold in all (complete or pruned), counting
            those of earlier runs and of other processes sharing the study.
        space: ``--space`` text (:func:`nnatlas.tune.space.parse_space`); default every
            dimension that applies to the model.
        storage: an SQLAlchemy URL; default ``sqlite:///FOLDER/study.db``.
        study: the study's name (default ``MODEL-DATA``).
        folder: the tune's folder (default ``runs_dir/tune/STUDY``).
        metric: the validation metric to optimize (``val_loss`` is minimized, accuracies and
            F1 are maximized); it is also each run's ``monitor``.
        pruner: ``median``, ``halving`` (successive halving) or ``none``.
        sampler: ``tpe`` or ``random``.
        engine, val_fraction, limit, model_options, **options: fixed for every trial, as
            :func:`nnatlas.tasks.train` takes them: training options (``epochs=10``; a
            searched option overrides a fixed one) and the data options of
            :data:`DATA_OPTIONS` (``word_vectors="glove-6b-50d"``). ``threads`` defaults to
            :data:`TRIAL_THREADS`.
        on_trial: called with each trial's row when it ends (the command prints it).

    Returns:
        A :class:`TuneResult`; ``final`` holds the test metrics once the study is complete.
    """
    try:
        import optuna
    except ModuleNotFoundError:
        raise TuneError(
            "nnatlas tune needs optuna, an optional extra: pip install 'nnatlas[tune]' (or "
            "pip install optuna)"
        ) from None

    import nnatlas.tasks as tasks

    if trials < 1:
        raise TuneError(f"--trials must be at least 1, got {trials}")
    if pruner not in PRUNERS:
        raise TuneError(f"--pruner {pruner!r}: choose from {', '.join(PRUNERS)}")
    if sampler not in SAMPLERS:
        raise TuneError(f"--sampler {sampler!r}: choose from {', '.join(SAMPLERS)}")
    task = tasks.task_for(data)
    model = model or tasks.preset_for(data).model or task.default_model
    dims = parse_space(space, model)
    arguments = model_arguments(model)
    given = {k: v for k, v in options.items() if v is not None}
    reading = {k: v for k, v in given.items() if k in DATA_OPTIONS}
    fixed = {k: v for k, v in given.items() if k not in DATA_OPTIONS}
    known = [f.name for f in dataclasses.fields(tasks.resolve_config(data, engine, {}))]
    for key in fixed:
        if key not in known:
            close = difflib.get_close_matches(key, [*known, *DATA_OPTIONS], n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise TuneError(
                f"unknown option {key!r}{hint} (training options: {', '.join(known)}; data "
                f"options: {', '.join(DATA_OPTIONS)})"
            )
    fixed.setdefault("threads", TRIAL_THREADS)
    base = tasks.resolve_config(data, engine, {**fixed, "monitor": metric})  # checks metric
    # The data options' values and whether the task takes them, before a study is made.
    from nnatlas.tasks.run import data_options

    task.check_options(data_options(data, val_fraction=val_fraction, limit=limit, **reading))
    maximize = base.monitor_mode == "max"
    name = study or default_study_name(model, data)
    folder = Path(folder) if folder is not None else Path(runs_dir) / "tune" / name
    folder = folder.absolute()
    folder.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{folder / 'study.db'}"
    settings = {
        "model": model,
        "data": data,
        "metric": metric,
        "engine": engine,
        "space": [d.describe() for d in dims],
        "fixed": {k: fixed[k] for k in sorted(fixed) if k not in RUN_ONLY},
        "model_options": model_options or {},
        "val_fraction": val_fraction,
        "limit": limit,
        **({"data_options": reading} if reading else {}),  # older studies had none
    }
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the command prints its own lines
    lock = StudyLock(url, folder, name)
    with lock.hold():  # two processes starting together create the tables once
        the_study = optuna.create_study(
            storage=_storage(url),
            study_name=name,
            direction="maximize" if maximize else "minimize",
            load_if_exists=True,
            pruner=_pruner(pruner, base.epochs),
        )
        saved = the_study.user_attrs.get("settings")
        if saved is None:
            the_study.set_user_attr("settings", settings)
        elif saved != json.loads(json.dumps(settings)):
            now = json.loads(json.dumps(settings))  # as the database gives them back
            changed = "; ".join(
                f"{k} {saved.get(k)!r} then, {now.get(k)!r} now"
                for k in dict.fromkeys([*now, *saved])
                if saved.get(k) != now.get(k)
            )
            raise TuneError(
                f"study {name!r} in {url} was made with other settings ({changed}); continue "
                "it with the same options, or start another with --study NAME"
            )
        _fail_stale_trials(the_study)

    context = _TrialContext(
        tasks, model, data, engine, dims, arguments, metric, fixed, model_options or {},
        val_fraction, limit, folder, reading,
    )  # fmt: skip
    while True:
        with lock.hold():
            trial = _reserve(the_study, trials, sampler, base.seed)
        if trial is None:
            break
        row = context.run(the_study, trial)
        if on_trial is not None:
            on_trial(row)

    result = _result(the_study, name, url, folder, metric, maximize, trials)
    if result.complete and result.best is not None:
        with lock.hold():  # one process retrains and tests, once per best configuration
            _finish(the_study, context, result)
    result = _result(the_study, name, url, folder, metric, maximize, trials)
    _write_outputs(result, context, base)
    return result


def _reserve(study: Any, trials: int, sampler: str, seed: int) -> Any:
    """A new running trial when the study holds fewer than ``trials`` finished or running
    ones, else ``None``. Call under the study lock."""
    from optuna.trial import TrialState

    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    everything = study.get_trials(deepcopy=False)
    if sum(t.state in counted for t in everything) >= trials:
        return None
    # A sampler seeded by the trial's number: processes sharing a study draw different
    # configurations, and one process alone gives the same study for the same seed.
    study.sampler = _sampler(sampler, seed * 100_003 + len(everything), trials)
    trial = study.ask()
    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
    return trial


@dataclass
class _TrialContext:
    """What every trial of one tune shares, and how one configuration is trained."""

    tasks: Any
    model: str
    data: str
    engine: str
    dims: list[Dimension]
    arguments: dict[str, Any]
    metric: str
    fixed: dict[str, Any]
    model_options: dict[str, Any]
    val_fraction: float
    limit: int | None
    folder: Path
    reading: dict[str, Any] = dataclasses.field(default_factory=dict)  # DATA_OPTIONS given

    def options_of(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(TrainConfig options, model_options)`` of a configuration's searched ``params``."""
        config, model = split_params(params, self.arguments)
        return {**self.fixed, **config, "monitor": self.metric}, {**self.model_options, **model}

    def train(self, params: dict[str, Any], run_dir: Path, callbacks: list, **extra: Any) -> Any:
        options, model_options = self.options_of(params)
        options.update(quiet=True, tensorboard=False, **extra)
        from nnatlas.train.trainer import TrainingWarning

        with warnings.catch_warnings():
            # A rate far too high is what a search is for finding; the row says "diverged".
            warnings.simplefilter("ignore", TrainingWarning)
            return self.tasks.train(
                self.model,
                self.data,
                engine=self.engine,
                run_dir=run_dir,
                val_fraction=self.val_fraction,
                limit=self.limit,
                model_options=model_options,
                callbacks=callbacks,
                overwrite=True,
                **self.reading,
                **options,
            )

    def validate(self, params: dict[str, Any], run_dir: Path, trial: Any = None) -> dict:
        """Train a configuration and return its best validation value, never testing it."""
        reporter = TrialReporter(trial, self.metric)
        try:
            self.train(params, run_dir, [reporter])
        except ValidationDone as done:
            return {"value": done.best_value, "epoch": done.best_epoch, "epochs": done.epochs,
                    "examples": done.examples}  # fmt: skip
        raise RuntimeError("the run ended without TrialReporter's ValidationDone")

    def run(self, study: Any, trial: Any) -> dict[str, Any]:
        """Run one reserved trial and tell the study how it ended; returns its row."""
        import optuna
        from optuna.trial import TrialState

        from nnatlas.train import NonFiniteLossError

        params = {d.name: d.suggest(trial) for d in self.dims}
        run_dir = self.folder / "trials" / f"{trial.number:04d}"
        try:
            outcome = self.validate(params, run_dir, trial)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
        except NonFiniteLossError as err:
            # Diverged: pruned rather than failed, so the sampler learns to avoid the region.
            trial.set_user_attr("note", f"diverged: {str(err).split(';')[0]}")
            study.tell(trial, state=TrialState.PRUNED)
        except BaseException:  # Ctrl-C, or a real error: fail the trial, keep the study
            study.tell(trial, state=TrialState.FAIL)
            raise
        else:
            if outcome["value"] is None:
                trial.set_user_attr("note", "no epoch had a finite validation value")
                study.tell(trial, state=TrialState.PRUNED)
            else:
                trial.set_user_attr("best_epoch", outcome["epoch"])
                study.tell(trial, outcome["value"])
        return _row(study.get_trials(deepcopy=False)[trial.number])


def _row(t: Any) -> dict[str, Any]:
    """A trial as a plain row; a pruned trial's value is its last reported one."""
    state = t.state.name
    value = t.value
    pruned_epoch = None
    if state == "PRUNED":
        pruned_epoch = t.last_step
        if value is None and t.intermediate_values:
            value = t.intermediate_values[t.last_step]
    return {
        "number": t.number,
        "state": state,
        "value": value,
        "params": dict(t.params),
        "pruned_epoch": pruned_epoch,
        "best_epoch": t.user_attrs.get("best_epoch"),
        "note": t.user_attrs.get("note", ""),
        "seconds": t.duration.total_seconds() if t.duration is not None else None,
    }


def _result(
    study: Any, name: str, url: str, folder: Path, metric: str, maximize: bool, trials: int
) -> TuneResult:
    rows = [_row(t) for t in study.get_trials(deepcopy=False)]
    result = TuneResult(name, url, folder, metric, maximize, trials, rows)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    if complete:
        pick = max if maximize else min
        result.best = pick(complete, key=lambda r: r["value"])
    attrs = study.user_attrs
    result.default, result.final = attrs.get("default"), attrs.get("final")
    result.test_uses = len(attrs.get("tested", []))
    return result


def _finish(study: Any, context: _TrialContext, result: TuneResult) -> None:
    """Validate the preset configuration once, and retrain and test the best one (once per
    best configuration: a later, longer study with a new best tests again, and says so)."""
    attrs = study.user_attrs
    if attrs.get("default") is None:
        default = context.validate({}, context.folder / "default")
        study.set_user_attr("default", default)
    best = result.best
    final = attrs.get("final")
    if final is not None and final["trial"] == best["number"]:
        return
    run = context.train(best["params"], context.folder / "best", [])
    test = {k: float(v) for k, v in (run.test_metrics or {}).items()}
    trainer = run.trainer
    tested = [*attrs.get("tested", []), best["number"]]
    study.set_user_attr(
        "final",
        {"trial": best["number"], "val": trainer.best_value, "epoch": trainer.best_epoch,
         "test": test, "run": str(run.dir)},
    )  # fmt: skip
    study.set_user_attr("tested", tested)


def best_config(result: TuneResult, context: _TrialContext, base: Any) -> dict[str, Any]:
    """The best configuration as ``nnatlas train --config`` options: model, data, the
    resolved values of every option the preset, the tune or the search set."""
    import nnatlas.tasks as tasks
    from nnatlas.data import absolute_name

    params = result.best["params"]
    options, model_options = context.options_of(params)
    resolved = tasks.resolve_config(context.data, context.engine, options)
    keys = [*tasks.preset_for(context.data).config, *options, "epochs", "seed"]
    out: dict[str, Any] = {"model": context.model, "data": absolute_name(context.data)}
    out["engine"] = context.engine
    out["val_fraction"] = context.val_fraction
    if context.limit is not None:
        out["limit"] = context.limit
    out.update(context.reading)
    for key in dict.fromkeys(keys):
        if key not in RUN_ONLY:
            out[key] = getattr(resolved, key)
    if model_options:
        out["model_options"] = model_options
    return out


def _write_outputs(result: TuneResult, context: _TrialContext, base: Any) -> None:
    """trials.csv, summary.json, the plots and, with a best trial, best-config.toml."""
    from nnatlas.files import write_json, write_text_atomic
    from nnatlas.tune import plots
    from nnatlas.tune.configfile import write_options

    folder, files = result.folder, result.files
    names = [d.name for d in context.dims]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["number", "state", result.metric, "pruned_epoch", "note", *names])
    for r in result.rows:
        params = [r["params"].get(n, "") for n in names]
        writer.writerow(
            [r["number"], r["state"], r["value"], r["pruned_epoch"], r["note"], *params]
        )
    files["trials"] = write_text_atomic(folder / "trials.csv", buffer.getvalue())
    if any(r["state"] in FINISHED for r in result.rows):
        files["history"] = plots.optimization_history(
            result.rows, result.metric, result.maximize, folder / "history.png"
        )
    if any("lr" in r["params"] for r in result.rows):
        files["lr"] = plots.rate_vs_metric(result.rows, result.metric, folder / "lr.png")
    result.importances = _importances(result)
    if result.importances:
        files["importances"] = plots.importances(
            result.importances, folder / "importances.png", "optuna's default evaluator"
        )
    if result.best is not None:
        comment = (
            f"best configuration of study {result.study!r}: trial {result.best['number']}, "
            f"{result.metric} {result.best['value']:.4f} (validation)\n"
            f"train it with: nnatlas train --config {folder / 'best-config.toml'}"
        )
        files["best_config"] = write_options(
            folder / "best-config.toml", best_config(result, context, base), comment
        )
    summary = {
        "study": result.study,
        "storage": result.storage,
        "metric": result.metric,
        "trials": result.trials,
        "counts": {s: result.count(s) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")},
        "best": result.best,
        "default": result.default,
        "final": result.final,
        "test_uses": result.test_uses,
        "importances": result.importances,
    }
    files["summary"] = write_json(folder / "summary.json", summary)


def _importances(result: TuneResult) -> dict[str, float]:
    """Each searched parameter's importance (optuna's default evaluator), when computable."""
    import optuna

    complete = [r for r in result.rows if r["state"] == "COMPLETE"]
    if len(complete) < 2:
        return {}
    study = optuna.load_study(study_name=result.study, storage=_storage(result.storage))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError):  # e.g. every trial had the same value
        return {}
