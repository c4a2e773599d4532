"""Model facts for ``nnatlas models info``: parameter counts, FLOPs and a per-layer table."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode
from torch.utils.hooks import RemovableHandle

from nnatlas.models.registry import get_model_entry


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values; a tied weight (one Parameter, two names) counts once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def example_inputs(
    name: str, input_shape: tuple[int, ...] | None = None, batch_size: int = 1, vocab_size: int = 2
) -> tuple[torch.Tensor, ...]:
    """Build dummy inputs matching a registered model's kind.

    Args:
        name: the registry name.
        input_shape: (C, H, W) for images, (T,) for token models; the entry's default when None.
        batch_size: N.
        vocab_size: token ids are drawn below it (use the model's vocabulary size).

    Returns:
        the positional arguments for ``model(*inputs)``: images (N, C, H, W) float; token models
        (N, T) int64; seq2seq (src (N, T), tgt_in (N, T)).
    """
    entry = get_model_entry(name)
    shape = tuple(input_shape or entry.default_input)
    gen = torch.Generator().manual_seed(0)
    if entry.kind == "image":
        if len(shape) != 3:
            raise ValueError(f"{name} takes images; give the input as CxHxW, got {shape}")
        return (torch.randn(batch_size, *shape, generator=gen),)
    if len(shape) != 1:
        raise ValueError(f"{name} takes token sequences; give the input as a length T, got {shape}")
    # Ids from 3 up avoid the pad/bos/eos ids 0-2, so no row is all padding.
    low = min(3, vocab_size - 1)
    tokens = torch.randint(low, vocab_size, (batch_size, shape[0]), generator=gen)
    if entry.kind == "seq2seq":
        return tokens, tokens.clone()
    return (tokens,)


def rnn_flops(rnn: nn.RNNBase, x: torch.Tensor | PackedSequence) -> int:
    """Matmul FLOPs of one ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` call on ``x``.

    Per token, layer and direction the cell multiplies its input and its previous state by
    ``gates * hidden_size`` rows (gates: 1 RNN, 3 GRU, 4 LSTM), 2 FLOPs per multiply-add.
    """
    if isinstance(x, PackedSequence):
        tokens = x.data.shape[0]  # the padding is never computed
    else:
        tokens = x.shape[0] * x.shape[1] if x.ndim == 3 else x.shape[0]
    gates = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}[rnn.mode]
    directions = 2 if rnn.bidirectional else 1
    H = rnn.hidden_size
    per_token = sum(
        directions * gates * H * ((rnn.input_size if layer == 0 else H * directions) + H)
        for layer in range(rnn.num_layers)
    )
    return 2 * tokens * per_token


def _run_then_unhook(
    model: nn.Module, inputs: tuple[torch.Tensor, ...], hooks: list[RemovableHandle]
) -> None:
    """One forward pass without autograd; the hooks are removed even if it raises."""
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in hooks:
            h.remove()


def count_flops(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """Forward-pass FLOPs for ``inputs`` by torch.utils.flop_counter.FlopCounterMode.

    It counts matrix multiplications and convolutions (a multiply-add is 2 FLOPs); element-wise
    ops, pooling and normalization are not counted. PyTorch runs recurrent layers as one fused
    kernel the counter does not see, so their matmuls are added with :func:`rnn_flops`.
    """
    seen: list[int] = []  # counter total at each recurrent call's start
    extra: list[int] = []
    hooks: list[RemovableHandle] = []
    with FlopCounterMode(display=False) as counter:

        def before(module: nn.Module, args: tuple) -> None:
            seen.append(counter.get_total_flops())

        def after(module: nn.Module, args: tuple, out: object) -> None:
            if counter.get_total_flops() == seen.pop():  # the fused kernel went uncounted
                extra.append(rnn_flops(module, args[0]))  # type: ignore[arg-type]

        for module in model.modules():
            if isinstance(module, nn.RNNBase):
                hooks.append(module.register_forward_pre_hook(before))
                hooks.append(module.register_forward_hook(after))
        _run_then_unhook(model, inputs, hooks)
    return int(counter.get_total_flops()) + sum(extra)


@dataclass
class LayerRow:
    """One row of :func:`layer_summary`."""

    name: str
    type: str
    output_shape: str
    params: int


def layer_summary(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[LayerRow]:
    """Run one forward pass and record every leaf module's output shape and own parameters.

    A module called several times (a decoder stepping through time) is listed once with the
    shape of its last call.
    """
    rows: dict[str, LayerRow] = {}
    hooks: list[RemovableHandle] = []

    def shape_of(out: object) -> str:
        if isinstance(out, torch.Tensor):
            return "x".join(str(d) for d in out.shape)
        if isinstance(out, PackedSequence):  # (sum of lengths, features)
            return "packed " + shape_of(out.data)
        if isinstance(out, tuple | list) and out:
            return shape_of(out[0])
        return "?"

    for name, module in model.named_modules():
        if next(module.children(), None) is not None or not name:
            continue

        def hook(mod: nn.Module, args: object, out: object, name: str = name) -> None:
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            rows[name] = LayerRow(name, type(mod).__name__, shape_of(out), params)

        hooks.append(module.register_forward_hook(hook))
    _run_then_unhook(model, inputs, hooks)
    return list(rows.values())
