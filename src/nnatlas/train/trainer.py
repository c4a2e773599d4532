"""The training loop, written out: epochs of steps, validation, early stopping, checkpoints.

Read :meth:`Trainer.fit` top to bottom; it calls :meth:`Trainer.train_epoch`, which calls
:meth:`Trainer.train_step` (the task's loss, backward, clip, optimizer step). Reporting
(progress bar, history files, plots, TensorBoard) is done by callbacks
(:mod:`nnatlas.train.callbacks`).

The trainer knows no task: what a batch is, what the model is given and how the loss is computed
belong to a :class:`~nnatlas.train.steps.Step` (``step=``; cross-entropy classification by
default), so a seq2seq model trains on source, lengths and targets as separate tensors and a
detector that returns a dict of losses trains through the same loop.

The NumPy engine's :class:`nnatlas.train.scratch.ScratchTrainer` subclasses this class and
replaces only what is engine specific (the step, the evaluation forward, the loss, how batches
and state are converted), so both engines share this loop and write the same history.

Example::

    trainer = Trainer(model, TrainConfig(epochs=5, lr=3e-3, scheduler="onecycle"), run_dir="runs/a")
    history = trainer.fit((x_train, y_train), (x_val, y_val))
    test = trainer.evaluate((x_test, y_test))
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from nnatlas.files import FolderLock
from nnatlas.threads import configure_threads
from nnatlas.train import distributed
from nnatlas.train.averaging import WeightAverage
from nnatlas.train.callbacks import (
    Callback,
    CurvePlotter,
    HistoryWriter,
    ProgressBar,
    TensorBoardLogger,
)
from nnatlas.train.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    check_state_matches,
    load_checkpoint,
    rng_state,
    save_atomic,
    seed_everything,
    set_rng_state,
)
from nnatlas.train.config import ConfigError, TrainConfig
from nnatlas.train.data import TensorLoader
from nnatlas.train.metrics import IGNORE_INDEX
from nnatlas.train.optimizers import build_optimizer
from nnatlas.train.schedulers import LRScheduler
from nnatlas.train.steps import ClassificationStep, Metrics, Step, StepOutput, first_output

# Tensors of one split (cut into batches here), a TensorLoader, or any re-iterable of batches.
Batches = TensorLoader | Iterable[Any] | tuple[torch.Tensor, ...]


EXPLOSION = 1e3  # a loss this many times the first one (and above it) has blown up


class TrainingWarning(UserWarning):
    """Training goes on but something is wrong (an exploding loss, a NaN validation metric)."""


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step and what to try."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after a step; ``checkpoint`` (when the run has a folder) holds
    everything a resume needs. A KeyboardInterrupt, so uncaught it ends a program as usual.

    Attributes:
        epoch: epochs completed; step: optimizer steps taken.
        checkpoint: the last.pt just written, or ``None`` for a run kept in memory.
        replayable: whether a resume continues with the very next batch (a TensorLoader)
            rather than from the start of the interrupted epoch.
    """

    def __init__(
        self, epoch: int, step: int, checkpoint: Path | None, replayable: bool = True
    ) -> None:
        super().__init__(f"training stopped by Ctrl-C after step {step} (epoch {epoch + 1})")
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint
        self.replayable = replayable


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
    return device


class TorchLosses:
    """The loss functions a :class:`~nnatlas.train.steps.Step` calls under the torch engine."""

    @staticmethod
    def cross_entropy(
        logits: torch.Tensor,
        targets: torch.Tensor,
        label_smoothing: float = 0.0,
        ignore_index: int = IGNORE_INDEX,
    ) -> torch.Tensor:
        """Mean cross-entropy over the non-ignored targets, computed in float32.

        Shape:
            logits (B, C) or (B, T, C); targets (B,) or (B, T) -> ()
        """
        flat = logits.reshape(-1, logits.shape[-1]).float()  # (M, C); autocast's bf16 -> fp32
        return torch.nn.functional.cross_entropy(
            flat, targets.reshape(-1), ignore_index=ignore_index, label_smoothing=label_smoothing
        )


class Trainer:
    """Trains a ``torch.nn.Module`` on batches, with the loss and metrics of a task's step.

    Args:
        model: the model; with the default step it returns logits (N, C), or (N, T, C) for
            sequences, and a tuple output's first element is taken as the logits (language
            models return ``(logits, state)``).
        config: all options; see :class:`~nnatlas.train.config.TrainConfig`.
        run_dir: folder for config.json, history, last.pt/best.pt and curves.png; ``None``
            keeps everything in memory.
        callbacks: extra callbacks, run after the built-in ones.
        model_info: how to rebuild the model (``{"name": ..., "kwargs": {...}}``), stored in
            checkpoints so ``nnatlas eval``/``predict`` can recreate it; plain values only.
        extra: plain values saved into every checkpoint (class names, normalization ...).
        step: the task's batch step (:class:`~nnatlas.train.steps.Step`); default
            :class:`~nnatlas.train.steps.ClassificationStep` with ``config.label_smoothing``.

    Shape:
        batches (default step): x (B, ...) any input the model takes; y (B,) or (B, T) int64
        class indices. Other steps define their own batches.
    """

    engine = "torch"

    def __init__(
        self,
        model: Any,
        config: TrainConfig | None = None,
        run_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        model_info: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        step: Step | None = None,
    ) -> None:
        self.config = config if config is not None else TrainConfig(engine=self.engine)
        if self.config.engine != self.engine:
            raise ValueError(
                f"{type(self).__name__} trains the {self.engine} engine but config.engine is "
                f"{self.config.engine!r}; use nnatlas.train.create_trainer to pick the class"
            )
        self.model = model
        self.step_fn = step if step is not None else ClassificationStep(self.config.label_smoothing)
        if self.engine not in self.step_fn.engines:
            engines = " and ".join(self.step_fn.engines)
            raise ValueError(
                f"{type(self.step_fn).__name__} runs under the {engines} engine only, "
                f"not {self.engine}"
            )
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.model_info = model_info or {"name": type(model).__name__, "kwargs": {}}
        self.extra = extra or {}
        self.threads = configure_threads(
            self.config.threads, engine=self.engine, num_parameters=self.thread_parameters()
        )
        self.config.threads = self.threads  # resolved, so config.json and resumes use it too
        # Under torchrun: join the process group (a no-op for one process).
        self.dist = distributed.context(self.config.device)
        self.device = self._setup_engine()
        # Rank 0 alone prints, writes history and plots, and hears the callbacks.
        self.callbacks = self._default_callbacks() + list(callbacks) if self.dist.is_main else []
        self._wrapped: tuple[tuple[bool, ...], Any] | None = None  # see training_model()

        self.history: list[dict[str, Any]] = []
        self.monitor = self.config.monitor  # fit() watches train_* instead when there is no val
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps taken
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.epochs_without_improvement = 0
        self.stop_reason = ""
        self.last_finite_loss: float | None = None
        self.first_loss: float | None = None  # of this process's first step, for explosions
        self.warned_explosion = False
        self.train_metrics = self.step_fn.metrics(self._train_metric_names())
        self.optimizer: Any = None
        self.scheduler: LRScheduler | None = None
        self.average: WeightAverage | None = None  # --ema: the weights validation uses

    # -- the loop ------------------------------------------------------------------------------
    def fit(
        self,
        train: Batches,
        val: Batches | None = None,
        resume: str | Path | dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Train for ``config.epochs`` epochs (or until early stopping) and return the history.

        Args:
            train: training batches: a tuple of tensors such as ``(x, y)`` (fast path), a
                TensorLoader, or any re-iterable of batches such as a ``DataLoader``.
            val: validation batches, same forms; ``None`` monitors the training metrics.
            resume: a checkpoint (last.pt), or its loaded dict, to continue from. With a
                TensorLoader (or tensors) a mid-epoch checkpoint continues with the very next
                batch; other iterables get checkpoints at epoch ends only (their order cannot
                be replayed).

        Returns:
            The history: one dict per epoch (``epoch``, ``step``, ``lr``, ``train_*``,
            ``val_*``, ``time_s``).
        """
        if self.run_dir is None or not self.dist.is_main:
            return self._fit(train, val, resume)
        with FolderLock(self.run_dir):  # one training per folder (re-entrant in one process)
            return self._fit(train, val, resume)

    def _fit(
        self, train: Batches, val: Batches | None, resume: str | Path | dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        cfg = self.config
        seed_everything(cfg.seed)
        train_loader = self.as_batches(train, shuffle=True)
        val_loader = self.as_batches(val, shuffle=False) if val is not None else None
        self.monitor = cfg.monitor if val_loader is not None else "train_" + cfg.monitor[4:]
        if val_loader is None:  # the training metrics must then hold the monitored one too
            names = self._train_metric_names()
            watched = cfg.monitor[4:]
            if watched != "loss" and watched not in names:
                self.train_metrics = self.step_fn.metrics([*names, watched])
        steps_per_epoch = -(-len(train_loader) // cfg.grad_accum)  # optimizer steps
        self.optimizer = self.build_optimizer()
        self.scheduler = LRScheduler(
            self.optimizer,
            cfg.scheduler,
            total_steps=cfg.epochs * steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            warmup_steps=round(cfg.warmup_epochs * steps_per_epoch),
            step_size=cfg.step_size,
            gamma=cfg.gamma,
            patience=cfg.plateau_patience,
            mode=cfg.monitor_mode,
        )
        self.average = WeightAverage(cfg.ema, self.live_state()) if cfg.ema else None
        if resume is not None:
            ckpt = resume if isinstance(resume, dict) else load_checkpoint(resume, self.device)
            self.load_training_state(ckpt, train_loader)
        elif self.run_dir is not None and self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(self.run_dir / "config.json")

        for callback in self.callbacks:
            callback.on_fit_begin(self)
        self._interrupted = False
        previous_handler = self._catch_interrupts()
        try:
            while self.epoch < cfg.epochs and not self.stop_reason:
                self._stop_if_interrupted(train_loader, between_epochs=True)
                start = time.perf_counter()
                for callback in self.callbacks:
                    callback.on_epoch_begin(self, self.epoch, steps_per_epoch)
                train_metrics = self.train_epoch(train_loader)
                with self.averaged_weights():
                    val_metrics = self.evaluate(val_loader) if val_loader is not None else {}
                # Rank 0's figures everywhere: best.pt and early stopping then decide alike on
                # every process even if a GPU's sums differed in the last bit.
                val_metrics = distributed.broadcast(self.dist, val_metrics)
                self.epoch += 1

                row = {"epoch": self.epoch, "step": self.step, "lr": self.scheduler.lr}
                row.update({f"train_{k}": v for k, v in train_metrics.items()})
                row.update({f"val_{k}": v for k, v in val_metrics.items()})
                row["time_s"] = time.perf_counter() - start
                self.history.append(row)
                if self.monitor not in row:
                    raise ValueError(
                        f"--monitor {cfg.monitor}: no such metric; this run records "
                        f"{', '.join(k for k in row if k.startswith(('train_', 'val_')))}"
                    )

                if not math.isfinite(row[self.monitor]):
                    warnings.warn(
                        f"{self.monitor} is {row[self.monitor]} at epoch {self.epoch}: this epoch "
                        "cannot be the best one (are the model's outputs overflowing?)",
                        TrainingWarning,
                        stacklevel=2,
                    )
                self.scheduler.epoch_end(row[self.monitor])
                if self.is_improvement(row[self.monitor]):
                    self.best_value, self.best_epoch = row[self.monitor], self.epoch
                    self.epochs_without_improvement = 0
                    self.best_state = self.evaluated_state()
                    self.save_checkpoint("best.pt", train_loader)
                else:
                    self.epochs_without_improvement += 1
                if cfg.patience and self.epochs_without_improvement >= cfg.patience:
                    self.stop_reason = (
                        f"early stopping: {self.monitor} has not improved for {cfg.patience} "
                        f"epochs (best {self.best_value:.4f} at epoch {self.best_epoch})"
                    )
                self.save_checkpoint("last.pt", train_loader)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, row)
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
            for callback in self.callbacks:
                callback.on_fit_end(self)

        if self.average is not None:  # the final model is the average, as validation saw it
            self.load_model_state(self.average.state())
        if cfg.restore_best and self.best_state is not None:
            self.load_model_state(self.best_state)
        elif cfg.restore_best and self.history:
            warnings.warn(
                f"no epoch had a finite {self.monitor}: keeping the last epoch's weights",
                TrainingWarning,
                stacklevel=2,
            )
        return self.history

    def train_epoch(self, loader: TensorLoader | Iterable) -> dict[str, float]:
        """One pass over the training batches; returns the epoch's training metrics.

        A model with ``set_epoch(epoch)`` hears of each epoch first (a transfer model unfreezes
        a stage there; a DistributedSampler reshuffles the same way).
        """
        if callable(getattr(self.model, "set_epoch", None)):
            self.model.set_epoch(self.epoch)
        distributed.set_loader_epoch(loader, self.epoch)  # a DistributedSampler's reshuffle
        self.model.train()
        for group in _groups(loader, self.config.grad_accum):
            if len(group) == 1:
                out, loss = self.train_step(self.to_device(group[0]))
                self.train_metrics.add(out, loss)
            else:
                loss = self.accumulate_step([self.to_device(batch) for batch in group])
            self.scheduler.step()
            self.step += 1
            if self.average is not None:
                self.average.update(self.live_state())
            every = self.config.checkpoint_every
            if every and self.step % every == 0 and _is_mid_epoch(loader):
                self.save_checkpoint("last.pt", loader)
            for callback in self.callbacks:
                callback.on_step_end(self, loss)
            self._stop_if_interrupted(loader)
        # Each process saw its own share: the epoch's figures are the mean over the processes.
        metrics = distributed.mean_over_processes(self.dist, self.train_metrics.compute())
        self.train_metrics.reset()
        return metrics

    def train_step(self, batch: Any) -> tuple[StepOutput, float]:
        """The task's loss, backward, gradient clipping, optimizer step. Returns (output, loss)."""
        with self.autocast():
            out = self.step_fn.loss(self.training_model(), batch, self.losses, training=True)
        loss_value = _value(out.loss)
        self.check_finite(loss_value)

        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(out.loss).backward()  # the scaler is a no-op unless fp16 on CUDA
        self._optimizer_step()
        return out, loss_value

    def accumulate_step(self, batches: Sequence[Any]) -> float:
        """One optimizer step over several micro-batches (``--grad-accum``): each one's mean
        loss, weighted by its share of the examples, adds its gradient, so the step follows
        the mean loss over all of them, as one batch of their total size would (exactly, but
        for BatchNorm's per-batch statistics and losses averaged over tokens). Returns that
        mean loss.

        Under DistributedDataParallel the gradients are averaged over the processes once, in
        the last micro-batch's backward (``no_sync`` skips it in the others).
        """
        model = self.training_model()
        self.optimizer.zero_grad(set_to_none=True)
        sizes = [_examples(batch) for batch in batches]
        total = 0.0
        for i, (batch, share) in enumerate(zip(batches, sizes, strict=True)):
            last = i == len(batches) - 1
            sync = contextlib.nullcontext() if last or not self.dist.enabled else model.no_sync()
            with sync:
                with self.autocast():
                    out = self.step_fn.loss(model, batch, self.losses, training=True)
                loss_value = _value(out.loss)
                self.check_finite(loss_value)
                weight = share / sum(sizes)  # a short last micro-batch counts for less
                self.scaler.scale(out.loss * weight).backward()
            self.train_metrics.add(out, loss_value)
            total += loss_value * weight
        self._optimizer_step()
        return total

    def _optimizer_step(self) -> None:
        """Clip (the unscaled gradients) and step through the GradScaler."""
        if self.config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, not scaled ones
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def training_model(self) -> Any:
        """What the training forward calls: the model, inside DistributedDataParallel under
        torchrun, compiled with ``--compile``. Wrapped again when the set of trainable
        parameters changes (a transfer model unfreezing a stage), which DDP cannot follow."""
        if not (self.dist.enabled or self.config.compile):
            return self.model
        trainable = tuple(p.requires_grad for p in self.model.parameters())
        if self._wrapped is None or self._wrapped[0] != trainable:
            model: Any = self.model
            if self.dist.enabled:
                model = distributed.wrap_model(model, self.dist, self.device)
            if self.config.compile:
                model = torch.compile(model)
            self._wrapped = (trainable, model)
        return self._wrapped[1]

    def evaluate(self, data: Batches, names: Sequence[str] | None = None) -> dict[str, float]:
        """Loss and metrics over ``data`` with the model in eval mode (dropout off, BN frozen).

        Args:
            data: batches, in any form :meth:`fit` takes.
            names: extra metrics; defaults to ``config.metrics``.
        """
        loader = self.as_batches(data, shuffle=False)
        metrics: Metrics = self.step_fn.metrics(
            names if names is not None else self.config.metric_names
        )
        self.model.eval()
        with self.no_grad():
            for batch in loader:
                out, loss = self.eval_step(self.to_device(batch))
                metrics.add(out, loss)
        return metrics.compute()

    def eval_step(self, batch: Any) -> tuple[StepOutput, float]:
        """The task's loss without gradients. Returns (output, loss)."""
        with self.autocast():
            out = self.step_fn.loss(self.model, batch, self.losses, training=False)
        return out, _value(out.loss)

    def infer(self, *inputs: Any) -> Any:
        """The model's output for inputs (eval mode, no graph), as CPU tensors: the first
        element of a tuple output (logits, not a language model's state).

        Shape: inputs as the model takes them (a batch) -> e.g. logits (B, C) or (B, T, C)
        """
        self.model.eval()
        with self.no_grad():
            output = first_output(self.model(*self.to_device(inputs)))
        return output.float().cpu() if isinstance(output, torch.Tensor) else output

    def predict(self, x: Any) -> torch.Tensor:
        """Class probabilities for a batch of inputs. Shape: x (B, ...) -> (B, C) or (B, T, C)."""
        return torch.softmax(self.infer(x), dim=-1)

    # -- helpers the loop calls ------------------------------------------------------------------
    def _catch_interrupts(self) -> Any:
        """Make Ctrl-C ask the loop to stop after the current step (see
        :meth:`_stop_if_interrupted`); a second Ctrl-C interrupts at once. Returns the previous
        SIGINT handler, or ``None`` off the main thread (where signals cannot be caught)."""
        import threading

        if threading.current_thread() is not threading.main_thread() or self.dist.enabled:
            # Under torchrun each process would stop after a different step and the others
            # would wait for it forever: there Ctrl-C stops at once; last.pt stays.
            return None
        previous = signal.getsignal(signal.SIGINT)

        def request_stop(signum: int, frame: Any) -> None:
            self._interrupted = True
            signal.signal(signal.SIGINT, previous)  # the next Ctrl-C is a plain interrupt

        signal.signal(signal.SIGINT, request_stop)
        return previous

    def _stop_if_interrupted(self, loader: Any, between_epochs: bool = False) -> None:
        """After a Ctrl-C: write last.pt (the step is complete) and raise TrainingInterrupted."""
        if not getattr(self, "_interrupted", False):
            return
        path = self.save_checkpoint("last.pt", loader)
        replayable = between_epochs or isinstance(loader, TensorLoader)
        raise TrainingInterrupted(self.epoch, self.step, path, replayable)

    def check_finite(self, loss: float) -> None:
        """Stop with a useful message when the loss is NaN or infinite; warn once when it
        explodes while staying finite (a learning rate far too high)."""
        if math.isfinite(loss):
            if self.first_loss is None:
                self.first_loss = loss
            elif not self.warned_explosion and loss > EXPLOSION * max(self.first_loss, 1.0):
                self.warned_explosion = True
                warnings.warn(
                    f"the training loss exploded from {self.first_loss:.4g} to {loss:.4g} at "
                    f"step {self.step + 1}: the learning rate ({self.config.lr:g}) is probably "
                    "far too high; the run will learn little (lower --lr, add --warmup-epochs "
                    "or --grad-clip)",
                    TrainingWarning,
                    stacklevel=2,
                )
            self.last_finite_loss = loss
            return
        last = "none yet" if self.last_finite_loss is None else f"{self.last_finite_loss:.4f}"
        raise NonFiniteLossError(
            f"the training loss became {loss} at step {self.step + 1} (epoch {self.epoch + 1}); "
            f"the last finite loss was {last}. The learning rate ({self.config.lr:g}) is probably "
            "too high: lower it (--lr), add warm-up (--warmup-epochs 1) or clip gradients "
            "(--grad-clip 1.0); also check the inputs for NaN."
        )

    def is_improvement(self, value: float) -> bool:
        """Whether ``value`` of the monitored metric beats the best so far (the first finite
        one does; NaN never does, so restore-best never hands back a diverged epoch)."""
        if not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        if self.config.monitor_mode == "min":
            return value < self.best_value
        return value > self.best_value

    def as_batches(self, data: Batches, shuffle: bool) -> TensorLoader | Iterable:
        """A tuple of tensors (``(x, y)``, or more) becomes a :class:`TensorLoader`; loaders
        and other iterables of batches pass through."""
        if isinstance(data, tuple) and data and all(hasattr(part, "shape") for part in data):
            tensors = [torch.as_tensor(part) for part in data]
            batch = self.config.batch_size if shuffle else self._eval_batch_size()
            data = TensorLoader(*tensors, batch_size=batch, shuffle=shuffle, seed=self.config.seed,
                                device=self.data_device(tensors))  # fmt: skip
        if not (shuffle and self.dist.enabled):
            return data  # evaluation: every process scores the whole split, the same weights
        if isinstance(data, TensorLoader):
            return data.shard(self.dist.rank, self.dist.world_size)
        return distributed.distributed_loader(data, self.dist, self.config.seed)

    def data_device(self, tensors: Sequence[torch.Tensor]) -> torch.device | None:
        """Where in-memory data lives: on a GPU the whole split is copied there once instead
        of every batch (when it is under 2 GiB); ``None`` (stay) on the CPU."""
        on_gpu = self.device.type != "cpu" and sum(t.nbytes for t in tensors) < 2**31
        return self.device if on_gpu else None

    def _eval_batch_size(self) -> int:
        return self.config.eval_batch_size or 4 * self.config.batch_size

    def _train_metric_names(self) -> list[str]:
        # Training-phase metrics stay cheap: the loss, and accuracy/perplexity when asked for.
        return [m for m in self.config.metric_names if m in ("accuracy", "perplexity")]

    def _default_callbacks(self) -> list[Callback]:
        callbacks: list[Callback] = [] if self.config.quiet else [ProgressBar()]
        if self.run_dir is not None:
            callbacks += [HistoryWriter(self.run_dir), CurvePlotter(self.run_dir)]
            if self.config.tensorboard:
                logger = TensorBoardLogger.if_available(self.run_dir / "tensorboard")
                callbacks += [logger] if logger is not None else []
        return callbacks

    # -- engine-specific parts (ScratchTrainer replaces these) -----------------------------------
    def _setup_engine(self) -> torch.device:
        """Place the model on its device and set up precision and the losses; returns the device."""
        device = distributed.device_for(self.dist, resolve_device(self.config.device))
        if self.config.sync_bn:
            self.model = distributed.convert_sync_batchnorm(self.model, device)
        self.model.to(device)
        if self.config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        amp = self.config.amp
        if amp == "fp16" and device.type == "cpu":
            raise ConfigError(
                "--amp fp16 needs CUDA (or MPS): on the CPU, float16 autocast is not supported "
                "for training; use --amp bf16 (CPU autocast) or --amp off"
            )
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        # fp16 gradients underflow; GradScaler multiplies the loss first (bf16 needs no scaling).
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
        self.losses: Any = TorchLosses()
        return device

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision around the forward pass when ``amp`` is on (bf16 on CUDA and the
        CPU, fp16 on CUDA); the losses are computed in float32 (:class:`TorchLosses`)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def no_grad(self) -> contextlib.AbstractContextManager:
        """No autograd graph during evaluation."""
        return torch.inference_mode()

    def to_device(self, batch: Any) -> Any:
        """Move every tensor of a batch (tuples, lists and dicts of them) to the model's device;
        4-D float tensors become channels-last when ``config.channels_last`` is set."""
        if isinstance(batch, torch.Tensor):
            batch = batch.to(self.device, non_blocking=True)
            if self.config.channels_last and batch.dim() == 4 and batch.is_floating_point():
                batch = batch.contiguous(memory_format=torch.channels_last)
            return batch
        if isinstance(batch, dict):
            return {key: self.to_device(value) for key, value in batch.items()}
        if isinstance(batch, (tuple, list)):
            return type(batch)(self.to_device(value) for value in batch)
        return batch

    def build_optimizer(self) -> Any:
        """The optimizer named by ``config.optimizer``, over the model's parameters, in the
        groups the model asks for (``model.parameter_groups(lr)``: per-group rates, as a
        transfer model's backbone and head) when it has that method."""
        cfg = self.config
        groups = getattr(self.model, "parameter_groups", None)
        params = groups(cfg.lr) if callable(groups) else self.model.parameters()
        return build_optimizer(cfg.optimizer, params, cfg.lr, cfg.momentum, cfg.weight_decay)

    def num_parameters(self) -> int:
        """How many numbers the model learns."""
        return sum(p.numel() for p in self.model.parameters())

    def thread_parameters(self) -> int:
        """The size that picks the automatic thread count (:func:`nnatlas.threads.
        default_threads`): the parameters of the model's matrix products, as large as one
        operation gets. An embedding is a lookup, so its rows count for nothing; a
        bidirectional recurrent layer runs two chains of small per-step products, so it counts
        one direction. A bidirectional LSTM text classifier (1.7M parameters, 1.47M of them
        embedding rows) then takes one thread: on SST-2 with other jobs on the 2 cores it
        trained 306 samples/s with 2 threads and 1,844 with 1 (``benchmarks/text_throughput.py``).
        """
        total = 0
        for module in self.model.modules():
            if isinstance(module, torch.nn.Embedding):
                continue
            own = sum(p.numel() for p in module.parameters(recurse=False))
            directions = 2 if isinstance(module, torch.nn.RNNBase) and module.bidirectional else 1
            total += own // directions
        return total

    def model_state(self) -> dict[str, torch.Tensor]:
        """A detached copy of the model's weights and buffers (on the CPU)."""
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def live_state(self) -> dict[str, torch.Tensor]:
        """The model's weights and buffers by name, sharing their memory (no copy), for the
        weight average (``--ema``) to read every step."""
        return self.model.state_dict()

    def evaluated_state(self) -> dict[str, torch.Tensor]:
        """The weights validation scores and checkpoints hold as ``model``: the average
        under ``--ema``, else the model's own."""
        return self.average.state() if self.average is not None else self.model_state()

    @contextlib.contextmanager
    def averaged_weights(self) -> Any:
        """Inside: the model holds the weight average (``--ema``); after: its own weights
        again, so training continues where it was."""
        if self.average is None:
            yield
            return
        own = self.model_state()
        self.load_model_state(self.average.state())
        try:
            yield
        finally:
            self.load_model_state(own)

    def load_model_state(self, state: dict[str, Any], source: str = "state") -> None:
        """Load weights after checking their names and shapes (``source`` names them in errors)."""
        own = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
        check_state_matches(state, own, source, self.model_info.get("name", "this"))
        self.model.load_state_dict(state)

    def optimizer_state(self) -> dict[str, Any]:
        """The optimizer's state (moments, momentum buffers) as checkpoint values."""
        return self.optimizer.state_dict()

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        """The inverse of :meth:`optimizer_state`."""
        self.optimizer.load_state_dict(state)

    def engine_rng_state(self) -> Any:
        """Generators the model keeps itself (torch layers use the global one: nothing here)."""
        return None

    def load_engine_rng_state(self, state: Any) -> None:
        """The inverse of :meth:`engine_rng_state`."""

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, name: str, loader: Any = None) -> Path | None:
        """Write ``run_dir/name`` atomically with everything :meth:`fit` needs to resume.

        Under torchrun rank 0 writes (every process holds the same weights and, drawing the
        same random numbers, the same generator states) and the others wait at a barrier, so
        no process goes on while the file a resume needs is half done.
        """
        if self.run_dir is None:
            return None
        if self.dist.is_main:
            self._write_checkpoint(self.run_dir / name, loader)
        distributed.barrier(self.dist)
        return self.run_dir / name

    def _write_checkpoint(self, path: Path, loader: Any) -> Path:
        checkpoint = {
            "format": FORMAT,
            "version": VERSION,
            "engine": self.engine,
            "model_info": self.model_info,
            "config": self.config.to_dict(),
            "extra": self.extra,
            # What eval, predict and transfer load: the average under --ema.
            "model": self.evaluated_state(),
            "ema": self._average_checkpoint(),
            "optimizer": self.optimizer_state(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "rng": rng_state(),
            "engine_rng": self.engine_rng_state(),
            "loader": loader.state_dict() if isinstance(loader, TensorLoader) else None,
            "epoch": self.epoch,
            "step": self.step,
            "train_metrics": self.train_metrics.state_dict(),
            "last_finite_loss": self.last_finite_loss,
            "history": self.history,
            "best": {
                "value": self.best_value,
                "epoch": self.best_epoch,
                "wait": self.epochs_without_improvement,
                "stop_reason": self.stop_reason,
            },
            "world_size": self.dist.world_size,
        }
        return save_atomic(checkpoint, path)

    def _average_checkpoint(self) -> dict[str, Any] | None:
        """Under ``--ema``: the optimizer's own weights (a resume trains on from them) and
        the number of updates the average has had."""
        if self.average is None:
            return None
        return {"training": self.model_state(), "updates": self.average.updates}

    def load_training_state(self, ckpt: dict[str, Any], loader: Any) -> None:
        """Restore a :meth:`save_checkpoint` dict so training continues where it stopped."""
        if ckpt["engine"] != self.engine:
            raise CheckpointError(
                f"checkpoint was written by the {ckpt['engine']} engine; this trainer is "
                f"{self.engine}"
            )
        saved_world = int(ckpt.get("world_size", 1))
        if saved_world != self.dist.world_size:
            raise CheckpointError(
                f"this run trained on {saved_world} process(es) and is resumed on "
                f"{self.dist.world_size}: each process's share of the data would change. "
                f"Resume with --nproc {saved_world}"
                + (" (or without --nproc)" if saved_world == 1 else "")
            )
        averaged = ckpt.get("ema")
        if averaged is not None:  # "model" holds the average; training goes on from these
            self.load_model_state(averaged["training"], source="checkpoint")
        else:
            self.load_model_state(ckpt["model"], source="checkpoint")
        if self.average is not None:
            self.average.load(ckpt["model"], averaged["updates"] if averaged else 0)
        self.load_optimizer_state(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt["scaler"] is not None:
            self.scaler.load_state_dict(ckpt["scaler"])
        if ckpt["loader"] is not None and isinstance(loader, TensorLoader):
            loader.load_state_dict(ckpt["loader"])
        self.epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
        self.train_metrics.load_state_dict(ckpt["train_metrics"])
        self.last_finite_loss = ckpt["last_finite_loss"]
        self.history = list(ckpt["history"])
        best = ckpt["best"]
        self.best_value, self.best_epoch = best["value"], best["epoch"]
        self.epochs_without_improvement, self.stop_reason = int(best["wait"]), best["stop_reason"]
        if self.run_dir is not None and (self.run_dir / "best.pt").is_file():
            self.best_state = load_checkpoint(self.run_dir / "best.pt")["model"]
        set_rng_state(ckpt["rng"])  # last: nothing above may draw random numbers afterwards
        self.load_engine_rng_state(ckpt.get("engine_rng"))


def _value(loss: Any) -> float:
    """A loss as a Python number (a tensor's ``item()``; ``float()`` of anything else)."""
    return loss.detach().item() if isinstance(loss, torch.Tensor) else float(loss)


def _examples(batch: Any) -> int:
    """Examples in a batch: the first dimension of its first tensor (1 when it has none)."""
    first = batch[0] if isinstance(batch, (tuple, list)) and batch else batch
    if isinstance(first, dict):
        first = next(iter(first.values()), None)
    return len(first) if isinstance(first, torch.Tensor) and first.dim() else 1


def _groups(loader: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """The batches of ``loader`` in lists of ``size`` (the last one may be shorter)."""
    group: list[Any] = []
    for batch in loader:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _is_mid_epoch(loader: Any) -> bool:
    """Whether a checkpoint now would fall inside an epoch that a resume can replay.

    Only a :class:`TensorLoader` can replay its batch order; at an epoch's last batch
    :meth:`Trainer.fit` writes last.pt itself.
    """
    return isinstance(loader, TensorLoader) and loader.batches_done < len(loader)
