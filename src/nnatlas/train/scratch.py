"""The NumPy engine behind the same training loop: :class:`ScratchTrainer`.

:class:`~nnatlas.train.trainer.Trainer` owns the loop (epochs, validation, early stopping,
checkpoints, callbacks, history); this subclass replaces only the engine-specific parts, so a
lesson switches engines with one argument and gets the same history format::

    trainer = create_trainer(model, TrainConfig(engine="scratch"))   # or engine="torch"

The step is the explicit chain of the NumPy engine (no autograd)::

    out = step.loss(model, batch, losses)  # forward (each layer caches what its backward
                                           # needs) and the loss, with d loss / d logits
    model.zero_grad()
    model.backward(out.loss.grad)          # back through every layer
    optimizer.step()

The task's step is the same object as under the torch engine: only ``losses`` differs
(:class:`ScratchLosses` returns a :class:`ScratchLoss` instead of a tensor with a graph).

Checkpoints are the same ``.pt`` files as the torch engine's (arrays stored as tensors), so
``torch.load(weights_only=True)``, resume and ``nnatlas eval`` work for both.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nnatlas.train.config import ConfigError, TrainConfig
from nnatlas.train.metrics import IGNORE_INDEX
from nnatlas.train.optimizers import build_optimizer
from nnatlas.train.steps import StepOutput
from nnatlas.train.trainer import Trainer


@dataclass
class ScratchLoss:
    """A loss under the NumPy engine: its value and its gradient with respect to the logits.

    Shape:
        grad: the shape of the logits the loss was computed from
    """

    value: float
    grad: np.ndarray

    def __float__(self) -> float:
        return self.value


class ScratchLosses:
    """The loss functions a :class:`~nnatlas.train.steps.Step` calls under the NumPy engine."""

    @staticmethod
    def cross_entropy(
        logits: np.ndarray,
        targets: np.ndarray,
        label_smoothing: float = 0.0,
        ignore_index: int = IGNORE_INDEX,
    ) -> ScratchLoss:
        """Mean cross-entropy over the non-ignored targets, and d loss / d logits.

        Shape:
            logits (B, C) or (B, T, C); targets (B,) or (B, T) -> value (), grad like logits
        """
        from nnatlas.scratch.losses import CrossEntropyLoss

        criterion = CrossEntropyLoss(ignore_index=ignore_index, label_smoothing=label_smoothing)
        value = float(criterion(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)))
        return ScratchLoss(value, criterion.backward().reshape(logits.shape))


def _to_torch(value: Any) -> Any:
    """NumPy arrays (and scalars) inside nested dicts/lists/tuples -> tensors / Python numbers."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_torch(v) for v in value)
    return value


def _to_numpy(value: Any) -> Any:
    """The inverse of :func:`_to_torch`."""
    if isinstance(value, torch.Tensor):
        return value.numpy().copy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


class ScratchTrainer(Trainer):
    """Trains a :class:`nnatlas.scratch.module.Module` with the NumPy engine's loss and optimizers.

    Same arguments as :class:`~nnatlas.train.trainer.Trainer`; ``config.engine`` must be
    ``"scratch"``. The device is always the CPU; ``amp`` and ``channels_last`` do not apply.

    Shape:
        batches: arrays as the step expects them; float inputs are cast to the model's dtype,
        int64 token ids and targets stay as they are.
    """

    engine = "scratch"

    # -- the step ----------------------------------------------------------------------------------
    def train_step(self, batch: Any) -> tuple[StepOutput, float]:
        """The task's loss, backward through every layer, clipping, optimizer step."""
        from nnatlas.scratch.clip import clip_grad_norm_

        out = self.step_fn.loss(self.model, batch, self.losses, training=True)
        loss = float(out.loss)
        self.check_finite(loss)

        self.model.zero_grad()
        self.model.backward(out.loss.grad)  # d loss / d logits, back through every layer
        if self.config.grad_clip > 0:
            clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return out, loss

    def infer(self, *inputs: Any) -> Any:
        """The model's output (eval mode) as CPU tensors. Shape: as :meth:`Trainer.infer`."""
        from nnatlas.train.steps import first_output

        self.model.eval()
        output = first_output(self.model(*self.to_device(inputs)))
        return torch.from_numpy(np.asarray(output)) if isinstance(output, np.ndarray) else output

    # -- engine setup --------------------------------------------------------------------------
    def _setup_engine(self) -> torch.device:
        """The NumPy engine's losses; the device is the CPU."""
        if self.config.device not in ("auto", "cpu"):
            raise ConfigError(
                f"--device {self.config.device}: the scratch (NumPy) engine runs on the CPU only"
            )
        if self.dist.enabled:
            raise ConfigError(
                "the scratch (NumPy) engine trains in one process: run it without --nproc or "
                "torchrun, or use --engine torch for distributed training"
            )
        torch_only = [
            flag
            for flag, on in (
                ("--grad-accum", self.config.grad_accum > 1),
                ("--compile", self.config.compile),
                ("--sync-bn", self.config.sync_bn),
                (f"--amp {self.config.amp}", self.config.amp != "off"),
            )
            if on
        ]
        if torch_only:
            raise ConfigError(
                f"{', '.join(torch_only)}: torch engine options; the scratch (NumPy) engine "
                "does not take them (drop them, or use --engine torch)"
            )
        self.amp_dtype = None
        self.scaler = torch.amp.GradScaler("cpu", enabled=False)  # keeps checkpoints uniform
        self.losses = ScratchLosses()
        return torch.device("cpu")

    def no_grad(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()  # NumPy keeps no graph; nothing to switch off

    def to_device(self, batch: Any) -> Any:
        """Torch tensors in a batch (tuples, lists, dicts) -> NumPy arrays (zero-copy on the
        CPU); float arrays in the model's dtype."""
        if isinstance(batch, (torch.Tensor, np.ndarray)):
            array = batch.numpy() if isinstance(batch, torch.Tensor) else batch
            if array.dtype.kind == "f":
                array = array.astype(self.model.dtype, copy=False)
            return array
        if isinstance(batch, dict):
            return {key: self.to_device(value) for key, value in batch.items()}
        if isinstance(batch, (tuple, list)):
            return type(batch)(self.to_device(value) for value in batch)
        return batch

    def build_optimizer(self) -> Any:
        """The optimizer named by ``config.optimizer``, from :mod:`nnatlas.scratch.optim`."""
        from nnatlas.scratch import optim

        cfg = self.config
        return build_optimizer(
            cfg.optimizer, self.model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay, optim
        )

    # -- state as tensors, so one checkpoint format serves both engines -----------------------
    def num_parameters(self) -> int:
        return self.model.num_parameters()

    def thread_parameters(self) -> int:
        return self.model.num_parameters()  # NumPy's BLAS threads: sized as before

    def model_state(self) -> dict[str, torch.Tensor]:
        return _to_torch(self.model.state_dict())

    def load_model_state(self, state: dict[str, Any], source: str = "state") -> None:
        super().load_model_state(_to_numpy(dict(state)), source)

    def live_state(self) -> dict[str, torch.Tensor]:
        # torch.from_numpy shares the arrays' memory: the weight average reads them uncopied.
        live = {name: torch.from_numpy(p.data) for name, p in self.model.named_parameters()}
        for name, buffer in self.model.named_buffers():
            live[name] = torch.from_numpy(np.asarray(buffer))
        return live

    def optimizer_state(self) -> dict[str, Any]:
        return _to_torch(self.optimizer.state_dict())

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(_to_numpy(state))

    def _layer_generators(self) -> dict[str, np.random.Generator]:
        """Each layer's own NumPy generator (e.g. Dropout's ``rng``), by module path."""
        return {
            path: module.rng
            for path, module in self.model.named_modules()
            if isinstance(getattr(module, "rng", None), np.random.Generator)
        }

    def engine_rng_state(self) -> dict[str, Any]:
        """The states of :meth:`_layer_generators`: dicts of str and int, safe to load.

        The NumPy engine's layers draw from their own ``np.random.Generator``; a resumed run
        must continue those streams too.
        """
        return {path: rng.bit_generator.state for path, rng in self._layer_generators().items()}

    def load_engine_rng_state(self, state: dict[str, Any] | None) -> None:
        for path, rng in self._layer_generators().items():
            if state and path in state:
                rng.bit_generator.state = state[path]


def create_trainer(model: Any, config: TrainConfig | None = None, **kwargs: Any) -> Trainer:
    """The trainer for ``config.engine``: :class:`Trainer` (torch) or :class:`ScratchTrainer`.

    Args:
        model: a ``torch.nn.Module`` (engine "torch") or a scratch ``Module`` (engine "scratch").
        config: the options; ``None`` means ``TrainConfig()`` (the torch engine).
        **kwargs: passed on to the trainer (``run_dir``, ``callbacks``, ``model_info``, ``extra``,
            ``step``).
    """
    config = config if config is not None else TrainConfig()
    cls = ScratchTrainer if config.engine == "scratch" else Trainer
    return cls(model, config, **kwargs)
