"""The GPU path's options, checked where they can be on a CPU: device choice, channels_last,
the refusals, and the two GPU benchmarks' code (benchmarks/gpu_throughput.py and
benchmarks/airbench.py) run small. What they measure needs a GPU and is not measured here."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest
import torch

from nnatlas.train import ConfigError, TrainConfig, Trainer, resolve_device
from nnatlas.train.distributed import DistContext, device_for

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NO_CUDA = not torch.cuda.is_available()


def _benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not NO_CUDA, reason="the refusal is for machines without CUDA")
def test_cuda_asked_for_without_a_gpu_is_a_clear_error():
    with pytest.raises(ConfigError, match="--device cuda:1: CUDA is not available here"):
        resolve_device("cuda:1")
    assert resolve_device("auto").type in ("cpu", "mps")


@pytest.mark.skipif(not NO_CUDA, reason="counts the GPUs of a machine without any")
def test_a_process_without_a_gpu_of_its_own_is_told_how_many_to_start():
    ctx = DistContext(rank=1, local_rank=1, world_size=2, backend="nccl")
    with pytest.raises(ConfigError, match="NCCL takes one GPU per process and there are 0"):
        device_for(ctx, torch.device("cuda"))
    assert device_for(ctx, torch.device("cpu")) == torch.device("cpu")


def test_channels_last_trains_a_convolution_with_nhwc_batches():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2)
    )
    model(torch.zeros(1, 3, 8, 8))  # materialize the lazy layer
    trainer = Trainer(model, TrainConfig(epochs=1, batch_size=8, channels_last=True,
                                         device="cpu", quiet=True, threads=1))  # fmt: skip
    batch = trainer.to_device(torch.randn(8, 3, 8, 8))
    assert batch.is_contiguous(memory_format=torch.channels_last)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 2, (16,))
    before = model[0].weight.detach().clone()
    trainer.fit((x, y))
    assert not torch.equal(before, model[0].weight)
    assert trainer.data_device([x, y]) is None  # on the CPU the split stays where it is


def test_airbench_whitening_filters_decorrelate_the_patches():
    airbench = _benchmark("airbench")
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(3, 3, generator=g)  # correlated colour channels, as in photographs
    images = torch.einsum("dc,nchw->ndhw", mix, torch.randn(200, 3, 32, 32, generator=g))
    layer = torch.nn.Conv2d(3, 24, 2)
    airbench.init_whitening(layer, images, eps=0.0)
    out = torch.nn.functional.conv2d(images, layer.weight[:12])  # (N, 12, 31, 31)
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12)
    covariance = flat.T @ flat / len(flat)
    assert torch.allclose(covariance, torch.eye(12), atol=1e-2)
    assert torch.equal(layer.weight[12:], -layer.weight[:12])


def test_airbench_schedule_and_a_small_run_on_the_cpu():
    airbench = _benchmark("airbench")
    total = 100
    factors = [airbench.lr_factor(s, total) for s in range(total + 1)]
    assert factors[0] == pytest.approx(0.2) and max(factors) == pytest.approx(1.0)
    assert factors[-1] == pytest.approx(0.07)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (256, 32, 32, 3), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (256,), generator=g)
    x = airbench.to_input(images, torch.device("cpu"))
    shifted = airbench.translate(x, 2, torch.Generator().manual_seed(1))
    assert shifted.shape == x.shape and not torch.equal(shifted, x)
    args = argparse.Namespace(amp="bf16", batch_size=64, epochs=1, widths=(8, 16, 16),
                              compile=False)  # fmt: skip
    result = airbench.train((x, labels, x[:64], labels[:64]), args, seed=0)
    assert result["seconds"] > 0 and 0.0 <= result["accuracy"] <= 1.0


def test_the_throughput_benchmark_runs_both_paths():
    bench = _benchmark("gpu_throughput")
    args = argparse.Namespace(examples=64, batch_size=16, steps=3, warmup=1, device="cpu",
                              compile=False)  # fmt: skip
    assert bench.measure("plain", args) > 0 and bench.measure("fast", args) > 0


@pytest.mark.slow  # torch.compile builds C++ kernels on the CPU: a minute or more
def test_compile_trains_the_same_model(tmp_path):
    from conftest import blobs, torch_mlp

    x, y = blobs()
    trainer = Trainer(torch_mlp(), TrainConfig(epochs=1, compile=True, device="cpu", quiet=True))
    trainer.fit((x, y))
    assert trainer.training_model() is not trainer.model and trainer.step > 0
