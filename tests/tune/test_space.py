"""Search spaces: which dimensions apply to which model (by its constructor), and ranges."""

from __future__ import annotations

import pytest

from nnatlas.tune.space import (
    DIMENSIONS,
    SpaceError,
    model_arguments,
    parse_space,
    split_params,
)


def names(dims):
    return [d.name for d in dims]


def test_the_constructor_says_which_model_options_apply():
    # mlp(...) passes **kwargs to MLP: its arguments count (hidden_sizes, dropout, batchnorm).
    assert {"hidden_sizes", "dropout", "batchnorm", "num_classes"} <= set(model_arguments("mlp"))
    assert names(parse_space(None, "mlp")) == list(DIMENSIONS)
    lenet = names(parse_space(None, "lenet5"))
    assert lenet == ["lr", "batch_size", "weight_decay", "optimizer", "scheduler"]
    # A recurrent classifier takes width and depth as hidden_size and num_layers.
    assert {"width", "depth", "dropout"} <= set(names(parse_space(None, "lstm_classifier")))


def test_a_model_option_the_model_lacks_is_refused_with_what_it_takes():
    with pytest.raises(SpaceError, match=r"no constructor argument dropout .*variant"):
        parse_space("lr,dropout", "lenet5")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lrr", "unknown dimension 'lrr'"),
        ("lr=1e-3", "low:high"),
        ("lr=0:1", "log scale"),
        ("lr=1e-2:1e-3", "low must be below high"),
        ("depth=1.5:3", "not a whole number"),
        ("dropout=0:1.5", r"\[0, 1\)"),
        ("batch_size=32|big", "must be ints"),
        (",", "name at least one"),
    ],
)
def test_bad_spaces_say_what_is_wrong(text, expected):
    with pytest.raises(SpaceError, match=expected):
        parse_space(text, "mlp")


def test_ranges_and_choices_replace_the_defaults():
    dims = {d.name: d for d in parse_space("lr=1e-4:1e-2, batch-size=32|64, depth=2:4", "mlp")}
    assert (dims["lr"].low, dims["lr"].high, dims["lr"].log) == (1e-4, 1e-2, True)
    assert dims["batch_size"].choices == (32, 64)
    assert (dims["depth"].low, dims["depth"].high) == (2, 4)
    assert list(dims) == ["lr", "batch_size", "depth"]


def test_params_split_into_config_and_constructor_arguments():
    mlp = model_arguments("mlp")
    config, model = split_params({"lr": 0.01, "width": 64, "depth": 3, "dropout": 0.2}, mlp)
    assert config == {"lr": 0.01}
    assert model == {"hidden_sizes": [64, 64, 64], "dropout": 0.2}
    # Depth alone keeps the constructor's default width (MLP: 256, 128 -> 256).
    assert split_params({"depth": 1}, mlp)[1] == {"hidden_sizes": [256]}
    rnn = model_arguments("lstm_classifier")
    assert split_params({"width": 32, "depth": 2}, rnn)[1] == {"hidden_size": 32, "num_layers": 2}
