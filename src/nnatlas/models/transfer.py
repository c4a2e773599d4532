"""Transfer learning as a model: a zoo backbone with pretrained weights, a new head, a strategy.

The strategy is part of the model (a constructor argument), so a transfer run is an ordinary
run folder: its checkpoint rebuilds the same backbone, head and frozen layers for ``eval``,
``predict`` and ``--resume``. Strategies (Yosinski et al. 2014, arXiv 1411.1792; Howard &
Ruder 2018, arXiv 1801.06146 for discriminative rates and gradual unfreezing):

- ``scratch``: the same architecture from random weights (the baseline transfer must beat);
- ``features``: everything frozen but the new head, BatchNorm kept in eval mode (its running
  statistics stay ImageNet's); the frozen features can be computed once and cached, so the
  head trains in seconds (:attr:`TransferNet.caches_features`);
- ``finetune``: every layer learns, the backbone at ``backbone_lr`` times the head's rate;
- ``discriminative``: the backbone in ``stages`` from the bottom, each stage's rate
  ``layer_decay`` times the one above it;
- ``gradual``: ``features`` first, then one stage more is unfrozen every ``unfreeze_every``
  epochs, from the top (:meth:`TransferNet.set_epoch`).

``parameter_groups(lr)`` gives the optimizer the per-group rates; the Trainer uses it when a
model has it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnatlas.errors import NnatlasError
from nnatlas.models.base import VisionModel
from nnatlas.models.registry import create_model, register_model

STRATEGIES = ("scratch", "features", "finetune", "discriminative", "gradual")


class TransferNet(VisionModel):
    """A backbone (its pretrained head removed) and a new head, trained by a strategy.
    NumPy twin: none yet.

    Args:
        backbone: a zoo model name (``mobilenet_v2``, ``efficientnet_lite0``, ``resnet18``,
            ``resnet20`` ...).
        num_classes: outputs of the new head.
        strategy: one of :data:`STRATEGIES`.
        weights: ``"pretrained"`` (the backbone's known source, found offline), a path to a
            weight file for the backbone, or ``None`` (random weights; ``scratch`` uses none).
        backbone_lr: finetune and gradual: the backbone's rate as a multiple of the head's.
        layer_decay: discriminative: each stage's rate as a multiple of the stage above.
        stages: discriminative and gradual: how many groups the backbone is cut into.
        unfreeze_every: gradual: epochs between two unfreezings.
        dropout: before the new head.
        image_size: the input size (EfficientNet's "same" padding is fixed for one size).
        flip_tta: in eval mode, average the features of each image and of its mirror image
            (horizontal-flip test-time augmentation): validation, test, ``eval`` and
            ``predict`` all see it, so the checkpoint chosen on validation is scored the way
            it is tested. The head is linear, so this equals averaging the two logits. With
            ``features`` the cached training features are such means too (they are computed
            in eval mode), so the head trains on what it is tested on.

    Shape:
        x: (N, 3, H, W) images -> (N, num_classes); or (N, num_features) cached features
        (from :meth:`features`) -> (N, num_classes).
    """

    def __init__(
        self,
        backbone: str = "mobilenet_v2",
        num_classes: int = 2,
        strategy: str = "finetune",
        weights: str | None = "pretrained",
        backbone_lr: float = 0.1,
        layer_decay: float = 0.5,
        stages: int = 4,
        unfreeze_every: int = 1,
        dropout: float = 0.2,
        image_size: int | None = None,
        flip_tta: bool = False,
    ) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise NnatlasError(f"--strategy {strategy!r}: choose from {', '.join(STRATEGIES)}")
        if strategy == "scratch":
            weights = None
        options: dict[str, Any] = {"image_size": image_size} if "efficientnet" in backbone else {}
        net = create_model(backbone, **options)
        if weights is not None and not next(net.parameters()).is_meta:  # meta: shapes only
            from nnatlas.models.pretrained import load_weights, weight_source

            path = weight_source(backbone).locate() if weights == "pretrained" else weights
            load_weights(net, path, source=backbone)
        if not isinstance(net, VisionModel):
            raise NnatlasError(f"{backbone!r} is not an image model with a replaceable head")
        net.reset_classifier(0)  # the pretrained head goes; ours takes the pooled features
        self.net = net
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(net.num_features, num_classes)
        self.backbone, self.strategy, self.weights = backbone, strategy, weights
        self.backbone_lr, self.layer_decay = backbone_lr, layer_decay
        self.unfreeze_every, self.flip_tta = unfreeze_every, flip_tta
        self.num_classes, self.num_features, self.head_name = num_classes, net.num_features, "head"
        self.in_chans = getattr(net, "in_chans", 3)
        self.stage_names = _stages(net, stages)
        self.frozen: set[int] = set()  # indices of frozen stages
        if strategy in ("features", "gradual"):
            self._freeze(set(range(len(self.stage_names))))

    # -- forward ---------------------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features (in eval mode with ``flip_tta``, the mean of the
        image's and its mirror's). Shape: (N, C, H, W) -> (N, num_features)."""
        pooled = self.net.forward_head(self.net.forward_features(x), pre_logits=True)
        if self.flip_tta and not self.training:
            mirrored = self.net.forward_head(self.net.forward_features(x.flip(-1)), pre_logits=True)
            pooled = (pooled + mirrored) / 2  # (N, num_features)
        return pooled

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.dim() == 2 else self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.head(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    @property
    def caches_features(self) -> bool:
        """Whether training only needs the backbone's features once (nothing below the head
        learns, and the frozen BatchNorm layers compute the same function every epoch)."""
        return self.strategy == "features"

    # -- strategies --------------------------------------------------------------------------------
    def _freeze(self, stages: set[int]) -> None:
        self.frozen = set(stages)
        for index, names in enumerate(self.stage_names):
            for name in names:
                self.net.get_parameter(name).requires_grad_(index not in self.frozen)

    def set_epoch(self, epoch: int) -> None:
        """gradual: before epoch ``epoch`` (0-based), unfreeze one more stage from the top
        every ``unfreeze_every`` epochs. Other strategies do nothing."""
        if self.strategy != "gradual":
            return
        open_stages = min(len(self.stage_names), epoch // max(1, self.unfreeze_every))
        top = len(self.stage_names) - open_stages
        self._freeze(set(range(top)))
        self.train(self.training)

    def train(self, mode: bool = True) -> TransferNet:
        """As ``nn.Module.train``, but BatchNorm layers of frozen stages stay in eval mode, so
        their running statistics stay those of the pretrained weights; with ``features`` the
        whole backbone is a fixed function (no dropout or stochastic depth either)."""
        super().train(mode)
        if mode and self.strategy == "features":
            self.net.eval()
        elif mode and self.frozen:
            frozen_params = {n for i in self.frozen for n in self.stage_names[i]}
            for name, module in self.net.named_modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    own = {f"{name}.{p}" for p, _ in module.named_parameters(recurse=False)}
                    if own and own <= frozen_params:
                        module.eval()
        return self

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """The optimizer's groups: the head at ``lr``; the backbone by strategy (every
        parameter is listed, frozen ones too, so gradual unfreezing needs no new optimizer)."""
        head = {"params": list(self.head.parameters()), "lr": lr, "name": "head"}
        stages = [[self.net.get_parameter(n) for n in names] for names in self.stage_names]
        if self.strategy == "discriminative":
            depth = len(stages)
            groups = [
                {"params": params, "lr": lr * self.layer_decay ** (depth - i), "name": f"stage{i}"}
                for i, params in enumerate(stages)
            ]
        else:
            # Pretrained layers move slowly; a random backbone (scratch) learns at the full rate.
            scale = self.backbone_lr if self.strategy in ("finetune", "gradual") else 1.0
            groups = [{"params": [p for s in stages for p in s], "lr": lr * scale,
                       "name": "backbone"}]  # fmt: skip
        return [g for g in groups if g["params"]] + [head]

    def parameter_counts(self) -> tuple[int, int]:
        """(trainable, frozen) numbers of weights right now."""
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return trainable, sum(p.numel() for p in self.parameters()) - trainable


def _stages(net: nn.Module, stages: int) -> list[list[str]]:
    """The backbone's parameter names cut into ``stages`` contiguous groups of about equal
    size, from the input up (the registration order of a feed-forward network)."""
    names = [(n, p.numel()) for n, p in net.named_parameters()]
    if not names:
        return []
    total, groups, current, filled = sum(n for _, n in names), [], [], 0
    for name, size in names:
        current.append(name)
        filled += size
        if filled >= total * (len(groups) + 1) / stages and len(groups) < stages - 1:
            groups.append(current)
            current = []
    groups.append(current)
    return [g for g in groups if g]


def transfer_inputs(options: dict[str, Any]) -> dict[str, Any]:
    """What a transfer model's weights expect: the pretrained source's size and normalization
    (none for random weights, which learn the data's own), RGB images."""
    weights = options.get("weights", "pretrained")
    if options.get("strategy") == "scratch" or weights is None:
        return {"channels": 3}
    from nnatlas.models.pretrained import SOURCES

    source = SOURCES.get(options.get("backbone", "mobilenet_v2"))
    if source is None:  # a weight file for a model without a known source: its data's stats
        return {"channels": 3}
    spec = {"channels": 3, "mean": list(source.mean), "std": list(source.std)}
    return {**spec, "image_size": source.input_size, "source": f"{source.dataset} weights"}


@register_model(
    family="transfer",
    default_input=(3, 224, 224),
    fits=("num_classes",),
    inputs=transfer_inputs,
)
def transfer(**kwargs: Any) -> TransferNet:
    """A pretrained backbone with a new head and a transfer strategy (features, finetune ...)."""
    return TransferNet(**kwargs)
