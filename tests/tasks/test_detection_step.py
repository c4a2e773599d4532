"""A torchvision detector, which returns a dict of losses, trains through the same Trainer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnatlas.tasks.detection import DetectionStep, collate_detection
from nnatlas.train import TrainConfig, create_trainer

detection = pytest.importorskip("torchvision.models.detection")


def tiny_faster_rcnn() -> nn.Module:
    """torchvision's Faster R-CNN on a two-layer backbone (with BatchNorm): seconds on a CPU."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    torch.manual_seed(0)
    backbone = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
    )
    backbone.out_channels = 16
    return detection.FasterRCNN(
        backbone,
        num_classes=3,
        rpn_anchor_generator=AnchorGenerator(sizes=((16, 32),), aspect_ratios=((1.0,),)),
        min_size=64,
        max_size=64,
        rpn_batch_size_per_image=32,
        box_batch_size_per_image=32,
        rpn_pre_nms_top_n_train=50,
        rpn_post_nms_top_n_train=20,
        rpn_pre_nms_top_n_test=50,
        rpn_post_nms_top_n_test=20,
    )


def squares(n: int) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """Dark 64x64 images each holding one bright square of class 1 or 2, with its box."""
    g = torch.Generator().manual_seed(0)
    samples = []
    for i in range(n):
        image = torch.rand(3, 64, 64, generator=g) * 0.1
        x0 = 6 + 5 * (i % 6)
        image[:, x0 : x0 + 24, x0 : x0 + 24] = 1.0 if i % 2 else 0.6
        box = torch.tensor([[x0, x0, x0 + 24, x0 + 24]], dtype=torch.float32)
        samples.append((image, {"boxes": box, "labels": torch.tensor([1 + i % 2])}))
    return samples


def test_a_detector_trains_and_reports_each_loss() -> None:
    loader = torch.utils.data.DataLoader(squares(8), batch_size=4, collate_fn=collate_detection)
    model = tiny_faster_rcnn()
    config = TrainConfig(epochs=30, lr=3e-3, quiet=True, tensorboard=False)
    trainer = create_trainer(model, config, step=DetectionStep())
    history = trainer.fit(loader, loader)
    parts = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")
    for phase in ("train", "val"):
        for part in parts:
            assert f"{phase}_{part}" in history[-1]
        total = sum(history[-1][f"{phase}_{p}"] for p in parts)
        assert history[-1][f"{phase}_loss"] == pytest.approx(total, rel=1e-6)
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]  # 1.97 -> 0.33 seen


def test_validation_losses_change_nothing_in_the_model() -> None:
    loader = torch.utils.data.DataLoader(squares(4), batch_size=2, collate_fn=collate_detection)
    model = tiny_faster_rcnn().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainConfig(quiet=True, tensorboard=False)
    metrics = create_trainer(model, config, step=DetectionStep()).evaluate(loader)
    assert metrics["loss"] > 0 and not model.training
    for key, value in model.state_dict().items():  # BatchNorm statistics included
        assert torch.equal(value, before[key]), key


def test_the_numpy_engine_refuses_a_torch_only_step() -> None:
    from nnatlas.scratch.models.mlp import MLP

    with pytest.raises(ValueError, match="torch engine only"):
        create_trainer(MLP(4, 2), TrainConfig(engine="scratch"), step=DetectionStep())
