"""The ImageNet-style models keep torchvision's state_dict keys: its weights load unchanged and
give the same outputs. Random weights stand in for the pretrained ones (no download)."""

from __future__ import annotations

import pytest
import torch
import torchvision

from nnatlas.models import create_model

# (zoo name, torchvision builder, input side): the smallest side each net accepts keeps it fast.
CASES = [
    ("resnet18", torchvision.models.resnet18, 64),
    ("vgg16", torchvision.models.vgg16, 32),
    ("alexnet", torchvision.models.alexnet, 64),
    pytest.param("resnet50", torchvision.models.resnet50, 64, marks=pytest.mark.slow),
    pytest.param("vgg11_bn", torchvision.models.vgg11_bn, 32, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "builder", "side"), CASES)
def test_torchvision_weights_load_with_equal_outputs(name: str, builder, side: int) -> None:
    torch.manual_seed(0)
    reference = builder(weights=None).eval()
    # Randomise BatchNorm statistics too, so eval-mode normalisation is really compared.
    for m in reference.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    state = reference.state_dict()
    with torch.device("meta"):  # skip our own (slow, 138M-value) initialisation
        model = create_model(name)
    assert list(model.state_dict()) == list(state), "key names or order differ from torchvision"
    model.load_state_dict(state, assign=True)
    model.eval()
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)
