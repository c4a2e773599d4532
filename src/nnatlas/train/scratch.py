"""The NumPy engine behind the same training loop: :class:`ScratchTrainer`.

:class:`~nnatlas.train.trainer.Trainer` owns the loop (epochs, validation, early stopping,
checkpoints, callbacks, history); this subclass replaces only the engine-specific parts, so a
lesson switches engines with one argument and gets the same history format::

    trainer = create_trainer(model, TrainConfig(engine="scratch"))   # or engine="torch"

The step is the explicit chain of the NumPy engine (no autograd)::

    logits = model(x)                   # forward, each layer caches what its backward needs
    loss = criterion(logits, y)
    model.zero_grad()
    model.backward(criterion.backward())  # d loss / d logits, back through every layer
    optimizer.step()

Checkpoints are the same ``.pt`` files as the torch engine's (arrays stored as tensors), so
``torch.load(weights_only=True)``, resume and ``nnatlas eval`` work for both.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch

from nnatlas.train.config import TrainConfig
from nnatlas.train.optimizers import build_optimizer
from nnatlas.train.trainer import Trainer


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
        batches: x (B, ...) float inputs (cast to the model's dtype) or int64 token ids;
        y (B,) or (B, T) int64.
    """

    engine = "scratch"

    # -- the step ----------------------------------------------------------------------------------
    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward, loss, backward through every layer, clipping, optimizer step."""
        from nnatlas.scratch.clip import clip_grad_norm_

        logits = self.logits_of(self.model(x))  # (B, C) or (B, T, C)
        flat = logits.reshape(-1, logits.shape[-1])  # (M, C)
        loss = float(self.criterion(flat, y.reshape(-1)))
        self.check_finite(loss)

        self.model.zero_grad()
        grad_logits = self.criterion.backward().reshape(logits.shape)  # d loss / d logits
        self.model.backward(grad_logits)
        if self.config.grad_clip > 0:
            clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss, logits

    def eval_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward and loss (NumPy keeps no graph to switch off). Returns (loss, logits)."""
        logits = self.logits_of(self.model(x))
        loss = float(self.eval_criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
        return loss, logits

    def predict(self, x: Any) -> torch.Tensor:
        """Class probabilities. Shape: x (B, ...) -> (B, C) or (B, T, C)."""
        from nnatlas.scratch.activations import softmax

        self.model.eval()
        x, _ = self.to_device(x, None)
        return torch.from_numpy(np.asarray(softmax(self.logits_of(self.model(x)), axis=-1)))

    # -- engine setup --------------------------------------------------------------------------
    def _setup_engine(self) -> torch.device:
        """The NumPy engine's losses; the device is the CPU."""
        from nnatlas.scratch.losses import CrossEntropyLoss

        if self.config.device not in ("auto", "cpu"):
            raise ValueError(
                f"--device {self.config.device}: the scratch (NumPy) engine runs on the CPU only"
            )
        self.amp_dtype = None
        self.scaler = torch.amp.GradScaler("cpu", enabled=False)  # keeps checkpoints uniform
        self.criterion = CrossEntropyLoss(label_smoothing=self.config.label_smoothing)
        self.eval_criterion = CrossEntropyLoss()
        return torch.device("cpu")

    def no_grad(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()  # NumPy keeps no graph; nothing to switch off

    def to_device(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Torch batches -> NumPy arrays (zero-copy on the CPU); floats in the model's dtype."""
        x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        if x.dtype.kind == "f":
            x = x.astype(self.model.dtype, copy=False)
        if y is not None:
            y = y.numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        return x, y

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

    def model_state(self) -> dict[str, torch.Tensor]:
        return _to_torch(self.model.state_dict())

    def load_model_state(self, state: dict[str, Any], source: str = "state") -> None:
        super().load_model_state(_to_numpy(dict(state)), source)

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
        **kwargs: passed on to the trainer (``run_dir``, ``callbacks``, ``model_info``, ``extra``).
    """
    config = config if config is not None else TrainConfig()
    cls = ScratchTrainer if config.engine == "scratch" else Trainer
    return cls(model, config, **kwargs)
