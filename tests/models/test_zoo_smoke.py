"""One smoke test over the whole registry (timm's habit): every model builds, runs forward and
backward, and has the published parameter count."""

from __future__ import annotations

import pytest
import torch

from nnatlas.errors import NnatlasError
from nnatlas.models import create_model, get_model_entry, list_models
from nnatlas.models.summary import count_parameters, example_inputs

# Published counts: torchvision's model docs (ImageNet nets, 1000 classes) and He et al. 2016
# Table 6 / akamaster's README (CIFAR nets, 10 classes: 0.27M, 0.46M, 0.66M, 0.85M).
PUBLISHED_PARAMS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    # A plain net is its ResNet minus the parameter-free option-A shortcuts: same count.
    "plain20": 269_722,
    "plain32": 464_154,
    "plain44": 658_586,
    "plain56": 853_018,
    # LeNet-5 for 10 classes: 156 + 2,416 + 48,120 + 10,164 + 850.
    "lenet5": 61_706,
    "lenet5_1998": 61_706,
    # torchvision's docs: 3.5M; the TensorFlow EfficientNet-Lite README: 4.7M (lite0).
    "mobilenet_v2": 3_504_872,
    "efficientnet_lite0": 4_652_008,
}

# The 130M+ parameter VGGs take 2-4 s each on one core (most of it initialising the 25088x4096
# Linear, and the backward pass writing 130M gradients); vgg11 stands for the family in the fast
# suite, the others run with `pytest -m slow`.
SLOW = {"vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"}


DETECTORS = set(list_models(kind="detection"))


def _input_shape(name: str) -> tuple[int, ...] | None:
    entry = get_model_entry(name)
    if entry.kind == "image" and entry.default_input == (3, 224, 224):
        # Adaptive pooling lets ImageNet nets run on small images: 32 px is VGG's minimum (five
        # 2x2 poolings), 64 px AlexNet's (11x11 stride-4 stem and three 3x3 poolings).
        return (3, 32, 32) if name.startswith("vgg") else (3, 64, 64)
    return None


def _build(name: str, **kwargs: object) -> torch.nn.Module:
    """``create_model``, skipping a model whose optional package is not installed (the
    pretrained backbones; `make test` installs them, a bare `pip install` does not)."""
    try:
        return create_model(name, **kwargs)
    except NnatlasError as err:
        if "make pretrained" in str(err):
            pytest.skip(str(err))
        raise


def _params(names: list[str]) -> list[object]:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def test_registry_has_the_issue_models() -> None:
    expected = set(PUBLISHED_PARAMS) | {
        "mlp",
        "alexnet_small",
        "rnn_classifier",
        "lstm_classifier",
        "gru_classifier",
        "lstm_lm",
        "gru_lm",
        "rnn_lm",
        "seq2seq",
    }
    assert expected <= set(list_models())


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_parameter_count_matches_published(name: str) -> None:
    with torch.device("meta"):  # no memory and no init: 140M-parameter VGGs count instantly
        model = _build(name)
    assert count_parameters(model) == PUBLISHED_PARAMS[name]


# Detectors take lists of images and targets: tests/models/test_detectors.py runs them.
@pytest.mark.parametrize("name", _params([n for n in list_models() if n not in DETECTORS]))
def test_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    model = _build(name)
    entry = get_model_entry(name)
    vocab = getattr(model, "vocab_size", None) or getattr(model, "tgt_vocab_size", 2)
    inputs = example_inputs(name, _input_shape(name), batch_size=2, vocab_size=vocab)
    out = model(*inputs)
    if entry.kind == "lm":
        out, state = out
        assert state is not None
    if entry.kind in ("image", "tokens"):
        expected = (2, model.num_classes)
    elif entry.kind == "lm":
        expected = (2, inputs[0].shape[1], vocab)
    else:  # seq2seq: one row of logits per target-input position
        expected = (2, inputs[1].shape[1], vocab)
    assert out.shape == expected
    assert torch.isfinite(out).all()
    # A random upstream gradient: an all-ones one sums softmax-like outputs to constants.
    out.backward(torch.randn_like(out))
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not no_grad, f"{name}: parameters without gradient: {no_grad}"


@pytest.mark.parametrize(
    "name", ["mlp", "lenet5", "alexnet_small", "resnet20", "plain20", "resnet18"]
)
def test_vision_interface(name: str) -> None:
    """forward == forward_head(forward_features); reset_classifier; in_chans and num_classes."""
    torch.manual_seed(0)
    shape = _input_shape(name) or get_model_entry(name).default_input
    model = create_model(name, num_classes=7, in_chans=1).eval()
    x = torch.randn(2, 1, *shape[1:])
    out = model(x)
    assert out.shape == (2, 7)
    torch.testing.assert_close(model.forward_head(model.forward_features(x)), out)
    pre = model.forward_head(model.forward_features(x), pre_logits=True)
    assert pre.shape == (2, model.num_features)
    model.reset_classifier(3)
    assert model(x).shape == (2, 3) and model.get_classifier().out_features == 3
    model.reset_classifier(0)  # timm: 0 classes -> the pooled features
    torch.testing.assert_close(model(x), pre)


def test_image_model_names_a_wrong_channel_count() -> None:
    model = create_model("resnet20")
    with pytest.raises(ValueError, match=r"expected input \(N, 3, H, W\).*in_chans=1"):
        model(torch.zeros(1, 1, 32, 32))
