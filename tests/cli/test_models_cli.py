"""``nnatlas models list`` / ``nnatlas models info``, run through the real typer app."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

import nnatlas.cli.models  # noqa: F401  (registers the `models` sub-app)
from nnatlas.cli import app
from nnatlas.models import create_model
from nnatlas.models.summary import count_flops

runner = CliRunner()

# ResNet-20 on one 3x32x32 image, multiply-adds per layer (out * in * 3 * 3 * H_out * W_out):
# conv1 16*3*9*1024 = 442,368; stage 1: 6 convs of 16*16*9*1024 = 2,359,296;
# stages 2 and 3: 1,179,648 for the strided conv + 5 convs of 2,359,296 each; linear 64*10.
RESNET20_MACS = 442_368 + 6 * 2_359_296 + 2 * (1_179_648 + 5 * 2_359_296) + 640


def test_flop_counter_matches_hand_count() -> None:
    flops = count_flops(create_model("resnet20"), (torch.zeros(1, 3, 32, 32),))
    assert flops == 2 * RESNET20_MACS  # ~41M multiply-adds, as He et al. report (Table 6 text)


def test_models_list_shows_every_family_with_counts() -> None:
    result = runner.invoke(app, ["models", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for text in ("resnet20", "269,722", "vgg16", "138,357,544", "seq2seq", "lstm_lm"):
        assert text in result.output
    # The NumPy column says which entries have a twin (--engine scratch trains them).
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "NumPy" in result.output
    for name in ("mlp", "lenet5", "alexnet_small", "vgg19_bn", "resnet56", "plain20"):
        assert "│ yes" in rows[name], name
    for name in ("rnn_classifier", "gru_lm", "seq2seq"):
        assert "│ yes" in rows[name], name
    assert "│ yes" in rows["resnet18"]
    assert "│ -" in rows["mobilenet_v2"]


def test_models_info_prints_params_flops_and_layers() -> None:
    result = runner.invoke(app, ["models", "info", "resnet20", "--input", "3x32x32"])
    assert result.exit_code == 0, result.output
    assert "parameters: 269,722" in result.output
    assert "NumPy twin: nnatlas.scratch.models.resnet_cifar:CifarResNet" in result.output
    assert f"{2 * RESNET20_MACS:,}" in result.output
    assert "layer3.2.conv2" in result.output and "linear" in result.output


def test_models_info_adapts_channels_and_takes_token_models() -> None:
    grey = runner.invoke(app, ["models", "info", "resnet20", "--input", "1x28x28"])
    assert grey.exit_code == 0, grey.output
    assert "parameters: 269,434" in grey.output  # conv1 has 16*1*9 weights instead of 16*3*9
    tokens = runner.invoke(app, ["models", "info", "lstm_classifier", "--input", "16"])
    assert tokens.exit_code == 0, tokens.output
    assert "16-token sequence" in tokens.output and "embedding" in tokens.output


def test_models_info_errors_say_what_to_do() -> None:
    unknown = runner.invoke(app, ["models", "info", "resnt20"])
    assert unknown.exit_code == 2 and "Did you mean 'resnet20'" in unknown.output
    bad = runner.invoke(app, ["models", "info", "resnet20", "--input", "3xbig"])
    assert bad.exit_code == 2 and "CxHxW" in bad.output
    small = runner.invoke(app, ["models", "info", "alexnet_small", "--input", "3x4x4"])
    assert small.exit_code == 2 and "cannot run on input 3x4x4" in small.output


def test_flop_count_includes_the_fused_recurrent_kernels() -> None:
    """FlopCounterMode misses nn.LSTM's fused kernel; count_flops adds its matmuls."""
    model = create_model("lstm_lm", vocab_size=65, embed_dim=128, hidden_size=256, num_layers=2)
    tokens = torch.zeros(1, 32, dtype=torch.int64)
    # Per token: layer 1 4H x (E + H), layer 2 4H x (H + H), head V x H multiply-adds.
    macs_per_token = 4 * 256 * (128 + 256) + 4 * 256 * (256 + 256) + 65 * 256
    assert count_flops(model, (tokens,)) == 2 * 32 * macs_per_token


def test_models_info_builds_fixed_size_models_for_the_given_input() -> None:
    # LeNet-5 at 32x32 drops the 2-pixel padding, so fc1 sees 16*5*5 features either way;
    # the MLP's first layer grows with the image: 1*32*32 inputs instead of 1*28*28.
    lenet = runner.invoke(app, ["models", "info", "lenet5", "--input", "1x32x32"])
    assert lenet.exit_code == 0, lenet.output
    assert "parameters: 61,706" in lenet.output
    mlp = runner.invoke(app, ["models", "info", "mlp", "--input", "1x32x32"])
    assert mlp.exit_code == 0, mlp.output
    assert f"parameters: {235_146 + (32 * 32 - 28 * 28) * 256:,}" in mlp.output


def test_models_list_rejects_an_unknown_family() -> None:
    result = runner.invoke(app, ["models", "list", "--family", "resnets"])
    assert result.exit_code == 2 and "resnet_cifar" in result.output


def test_models_info_reports_options_a_model_cannot_take() -> None:
    lm = runner.invoke(app, ["models", "info", "lstm_lm", "--num-classes", "5"])
    assert lm.exit_code == 2 and "cannot be built with num_classes=5" in lm.output
    big = runner.invoke(app, ["models", "info", "lenet5", "--input", "1x64x64"])
    assert big.exit_code == 2 and "meant for input 1x28x28" in big.output
