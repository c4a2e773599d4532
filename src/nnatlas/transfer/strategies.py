"""One transfer run: the training options that suit each strategy, on top of which the
user's own options go.

The rates are the head's; a fine-tuned backbone learns at ``backbone_lr`` (0.1) times it, and
the discriminative strategy halves the rate stage by stage from the top (Howard & Ruder 2018).
Frozen features train a linear head only, so they take more epochs cheaply; fine-tuning moves
millions of weights on a few hundred images, so a small backbone rate and the ImageNet recipe's
random resized crops (``augment="imagenet"``): on hymenoptera they raised MobileNetV2 from
0.9281 (flips and shifts) to 0.9346 and EfficientNet-Lite0 from 0.9412 to 0.9608 (README).
"""

from __future__ import annotations

from typing import Any

# Defaults per strategy; the user's options override them (see the module docstring).
STRATEGY_OPTIONS: dict[str, dict[str, Any]] = {
    "scratch": dict(epochs=15, lr=1e-3, batch_size=32, scheduler="cosine"),
    "features": dict(epochs=10, lr=1e-3, batch_size=32, scheduler="cosine"),
    "finetune": dict(epochs=10, lr=1e-3, batch_size=32, scheduler="cosine", augment="imagenet"),
    "discriminative": dict(
        epochs=10, lr=1e-3, batch_size=32, scheduler="cosine", augment="imagenet"
    ),
    "gradual": dict(epochs=10, lr=1e-3, batch_size=32, scheduler="cosine", augment="imagenet"),
}
MODEL_OPTIONS = (
    "backbone_lr", "layer_decay", "stages", "unfreeze_every", "dropout", "flip_tta",
)  # fmt: skip
# Threshold-free metrics a run can monitor once they are recorded (two classes only).
RANKING_METRICS = ("auc", "pr_auc")


def train(
    backbone: str,
    data: str,
    strategy: str = "features",
    *,
    weights: str | None = "pretrained",
    model_options: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """Train ``backbone`` on ``data`` with a transfer ``strategy``; a normal run.

    Args:
        backbone: a zoo image model with pretrained weights (``mobilenet_v2``,
            ``efficientnet_lite0``, ``resnet18``, ``resnet20`` ...).
        data: a catalog image dataset (``imagefolder:PATH``, ``medmnist:breastmnist`` ...).
        strategy: ``scratch``, ``features``, ``finetune``, ``discriminative`` or ``gradual``.
        weights: ``"pretrained"`` (found offline), a weight file, or ``None``.
        model_options: more :class:`~nnatlas.models.TransferNet` arguments (``backbone_lr``,
            ``layer_decay``, ``stages``, ``unfreeze_every``, ``dropout``, ``flip_tta``).
        **options: anything :func:`nnatlas.tasks.train` takes (``epochs``, ``lr``, ``limit``,
            ``run_dir``, ``image_size``, ``monitor`` ...); they override the strategy's
            defaults. ``monitor="val_auc"`` (or ``val_pr_auc``) records that metric by itself.
    """
    import nnatlas.tasks as tasks
    from nnatlas.models import STRATEGIES

    if strategy not in STRATEGIES:
        raise tasks.TaskError(f"--strategy {strategy!r}: choose from {', '.join(STRATEGIES)}")
    model = {"backbone": backbone, "strategy": strategy, "weights": weights}
    model.update(model_options or {})
    merged = {**STRATEGY_OPTIONS[strategy], **{k: v for k, v in options.items() if v is not None}}
    watched = str(merged.get("monitor", "")).removeprefix("val_")
    if watched in RANKING_METRICS and "metrics" not in merged:
        # The config checks --monitor before the data says there are two classes (which is
        # when AUC would be added by itself), so ask for the metric here.
        merged["metrics"] = ",".join(("accuracy", "f1", *RANKING_METRICS))
    if "run_dir" not in merged and "run_name" not in merged:
        merged["run_name"] = default_name(backbone, data, strategy, merged.get("seed", 0))
    return tasks.train("transfer", data, model_options=model, **merged)


def default_name(backbone: str, data: str, strategy: str, seed: int) -> str:
    """A transfer run's default folder name: ``BACKBONE-STRATEGY-DATA-sSEED``."""
    return f"{backbone}-{strategy}-{_safe(data)}-s{seed}"


def _safe(data: str) -> str:
    from nnatlas.tasks.run import default_run_name

    # The dataset part of a default run name: csv:/a/b.csv -> csv-b
    return default_run_name("x", data, "e", 0).removeprefix("x-").removesuffix("-e-s0")
