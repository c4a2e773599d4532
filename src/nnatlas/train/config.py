"""``TrainConfig``: the single source of every training option.

The trainer reads it, the ``nnatlas train`` command builds its options from its fields (each
field's ``metadata["help"]`` becomes the ``--help`` text), and each run writes the resolved
config as ``config.json`` into its folder (minGPT's ``setup_logging`` habit).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nnatlas.errors import NnatlasError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau")
ENGINES = ("torch", "scratch")
AMP_MODES = ("off", "bf16", "fp16")
EXTRA_METRICS = ("accuracy", "top5", "f1", "auc", "pr_auc", "perplexity", "bits")


class ConfigError(NnatlasError, ValueError):
    """An option value a training run cannot take (the message names the option)."""


# Allowed ranges: name -> (low, high or None, low included). 0 means "off" where a help says so.
BOUNDS: dict[str, tuple[float, float | None, bool]] = {
    "epochs": (1, None, True),
    "batch_size": (1, None, True),
    "eval_batch_size": (0, None, True),
    "lr": (0.0, None, False),
    "momentum": (0.0, 1.0, True),
    "weight_decay": (0.0, None, True),
    "warmup_epochs": (0.0, None, True),
    "step_size": (1, None, True),
    "gamma": (0.0, None, False),
    "plateau_patience": (0, None, True),
    "grad_clip": (0.0, None, True),
    "label_smoothing": (0.0, 1.0, True),
    "ema": (0.0, 1.0, True),
    "patience": (0, None, True),
    "seed": (0, 2**63 - 1, True),  # torch's generators take 64-bit seeds
    "threads": (0, None, True),
    "checkpoint_every": (0, None, True),
    "grad_accum": (1, None, True),
}


def _opt(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class TrainConfig:
    """Options of one training run. Units are stated in each help text."""

    engine: str = _opt("torch", "which engine trains: torch or scratch (NumPy)", ENGINES)
    epochs: int = _opt(10, "passes over the training split")
    batch_size: int = _opt(
        128,
        "examples per process and step (the global batch is batch size x processes x --grad-accum)",
    )
    grad_accum: int = _opt(
        1,
        "gradient accumulation: micro-batches summed into one optimizer step (keeps the "
        "global batch when the number of processes changes)",
    )
    eval_batch_size: int = _opt(0, "examples per evaluation batch (0 = 4 x batch size)")
    lr: float = _opt(1e-3, "learning rate (peak rate for onecycle)")
    optimizer: str = _opt("adam", "optimizer", OPTIMIZERS)
    momentum: float = _opt(0.9, "momentum factor of the momentum and nesterov optimizers")
    weight_decay: float = _opt(0.0, "L2 penalty (decoupled for adamw)")
    scheduler: str = _opt("none", "learning-rate schedule, stepped every batch", SCHEDULERS)
    warmup_epochs: float = _opt(0.0, "linear warm-up length in epochs (fractions allowed)")
    step_size: int = _opt(10, "step scheduler: epochs between decays")
    gamma: float = _opt(0.1, "step/plateau schedulers: factor applied to the rate at a decay")
    plateau_patience: int = _opt(2, "plateau scheduler: epochs without improvement before a decay")
    grad_clip: float = _opt(0.0, "clip the global gradient norm to this value (0 = off)")
    label_smoothing: float = _opt(0.0, "cross-entropy label smoothing in [0, 1)")
    ema: float = _opt(
        0.0,
        "keep an exponential moving average of the weights, with this decay per optimizer "
        "step (0.999 averages about the last 1,000 steps; 0 = off): validation, best.pt and "
        "the final model use the average",
    )
    patience: int = _opt(0, "early stopping: epochs without improvement of --monitor (0 = off)")
    monitor: str = _opt("val_loss", "validation metric for early stopping and best.pt")
    metrics: str = _opt(
        "accuracy,f1",
        "comma list of extra metrics: accuracy, top5, f1, auc and pr_auc (two classes; added "
        "by default for them), perplexity, bits (the loss in bits per token)",
    )
    restore_best: bool = _opt(True, "load best.pt's weights at the end of training")
    seed: int = _opt(0, "seed of every random generator (weights, data order, augmentation)")
    device: str = _opt("auto", "auto, cpu, cuda, cuda:1, mps")
    amp: str = _opt(
        "off", "mixed precision (autocast): bf16 on CUDA or the CPU, fp16 on CUDA", AMP_MODES
    )
    channels_last: bool = _opt(
        False, "store 4-D activations NHWC (faster convolutions on some CPUs/GPUs)"
    )
    compile: bool = _opt(
        False, "compile the model with torch.compile (PyTorch 2; first steps slow)"
    )
    sync_bn: bool = _opt(
        False, "distributed on CUDA: BatchNorm statistics over the global batch (SyncBatchNorm)"
    )
    threads: int = _opt(
        0, "CPU threads (0 = automatic: 1 for models under 200k parameters, else all cores)"
    )
    checkpoint_every: int = _opt(
        0, "also write last.pt every N optimizer steps (0 = per epoch only)"
    )
    tensorboard: bool = _opt(True, "log to TensorBoard when the tensorboard package is installed")
    quiet: bool = _opt(False, "no progress bar and no per-epoch lines")

    def __post_init__(self) -> None:
        for f in fields(self):  # the right kind of value first: a config file may hold anything
            value, kind = getattr(self, f.name), str(f.type)
            flag = "--" + f.name.replace("_", "-")
            if kind == "bool" and not isinstance(value, bool):
                raise ConfigError(f"{flag} must be true or false, got {value!r}")
            if kind == "str" and not isinstance(value, str):
                raise ConfigError(f"{flag} must be text, got {value!r}")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{flag} must be a whole number, got {value!r}")
            if kind == "float":
                try:
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise TypeError
                    setattr(self, f.name, float(value))
                except (TypeError, OverflowError):
                    raise ConfigError(f"{flag} must be a number, got {value!r}") from None
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ConfigError(
                    f"TrainConfig.{f.name}: {getattr(self, f.name)!r} is not one of "
                    f"{', '.join(choices)}"
                )
        for name, (low, high, closed_low) in BOUNDS.items():
            value = getattr(self, name)
            flag = "--" + name.replace("_", "-")
            wanted = (f"at least {low}" if closed_low else f"above {low}") + (
                f" and below {high}" if high is not None else ""
            )
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{flag} must be a number {wanted}, got {value!r}")
            finite = isinstance(value, int) or math.isfinite(value)  # ints overflow isfinite
            ok = finite and (value >= low if closed_low else value > low)
            if not ok or (high is not None and value >= high):
                raise ConfigError(f"{flag} must be {wanted}, got {value}")
        unknown = [m for m in self.metric_names if m not in EXTRA_METRICS]
        if unknown:
            raise ConfigError(
                f"TrainConfig.metrics: unknown {unknown}; choose from {', '.join(EXTRA_METRICS)}"
            )
        # Checked here, before any data is loaded, rather than after the first epoch.
        monitorable = [f"val_{name}" for name in ("loss", *self.metric_names)]
        if self.monitor not in monitorable:
            raise ConfigError(
                f"TrainConfig.monitor: {self.monitor!r} is not recorded by this run; choose from "
                f"{', '.join(monitorable)} (add a metric with --metrics)"
            )

    @property
    def metric_names(self) -> list[str]:
        return [m.strip() for m in self.metrics.split(",") if m.strip()]

    @property
    def monitor_mode(self) -> str:
        """``"min"`` for losses and perplexity, ``"max"`` for accuracies and F1."""
        return "min" if self.monitor.endswith(("loss", "perplexity")) else "max"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict (e.g. a saved config.json), ignoring keys this version lacks."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def save(self, path: str | Path) -> Path:
        """Write the config as JSON, atomically (never a half-written config.json)."""
        from nnatlas.files import write_json

        return write_json(path, self.to_dict())
