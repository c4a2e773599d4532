"""mlp and lenet5 keep the state_dict layout of docs/LAYOUTS.md that the scratch twins
share, and the registry behaves as a registry (duplicates refused, helpful unknown-name errors)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnatlas.models import UnknownModelError, create_model, list_models, register_model
from nnatlas.models.lenet import LeNet5


def test_mlp_keys_follow_layout() -> None:
    keys = list(create_model("mlp").state_dict())
    assert keys == [
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
        "head.weight",
        "head.bias",
    ]
    model = create_model("mlp", hidden_sizes=(32,), batchnorm=True, dropout=0.5)
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"]
    assert model.head.weight.shape == (10, 32)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"])
def test_mlp_activations(activation: str) -> None:
    model = create_model("mlp", activation=activation, in_features=12, hidden_sizes=(8,))
    assert model(torch.randn(3, 3, 4)).shape == (3, 10)


def test_mlp_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        create_model("mlp", activation="swish")
    with pytest.raises(ValueError, match="in_features=12"):
        create_model("mlp")(torch.randn(2, 3, 4))


@pytest.mark.parametrize(("input_size", "padding"), [(28, 2), (32, 0)])
@pytest.mark.parametrize("variant", ["modern", "1998"])
def test_lenet5_layout(input_size: int, padding: int, variant: str) -> None:
    model = LeNet5(num_classes=10, in_chans=1, input_size=input_size, variant=variant)
    assert list(model.state_dict()) == [
        f"{part}.{i}.{p}"
        for part, idx in (("features", (0, 3)), ("classifier", (0, 2, 4)))
        for i in idx
        for p in ("weight", "bias")
    ]
    assert model.features[0].padding == (padding, padding)
    act, pool = (nn.ReLU, nn.MaxPool2d) if variant == "modern" else (nn.Tanh, nn.AvgPool2d)
    assert isinstance(model.features[1], act) and isinstance(model.features[2], pool)
    feats = model.forward_features(torch.randn(2, 1, input_size, input_size))
    assert feats.shape == (2, 16, 5, 5)
    other = 60 - input_size  # the other supported size
    with pytest.raises(ValueError, match=f"input_size={other}"):
        model(torch.randn(2, 1, other, other))


def test_lenet5_1998_entry_is_the_1998_variant() -> None:
    assert create_model("lenet5_1998").variant == "1998"
    assert create_model("lenet5").variant == "modern"


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="'resnet20' is already registered"):

        @register_model
        def resnet20() -> nn.Module:  # pragma: no cover - never registered
            return nn.Identity()

    assert list_models().count("resnet20") == 1


def test_unknown_name_lists_close_matches_and_valid_names() -> None:
    with pytest.raises(UnknownModelError) as info:
        create_model("resnt20")
    message = str(info.value)
    assert "Did you mean 'resnet20'" in message
    assert "Valid names:" in message and "lstm_lm" in message and "vgg16_bn" in message
    assert isinstance(info.value, KeyError)


def test_list_models_by_family() -> None:
    assert list_models("resnet_cifar") == ["resnet20", "resnet32", "resnet44", "resnet56"]
    assert list_models("plain_cifar") == ["plain20", "plain32", "plain44", "plain56"]
