"""The PyTorch side of the probes: what a zoo model computes inside, read without changing it.

Three tools, each undone when the probe ends (:func:`untouched` restores the training mode,
the buffers such as BatchNorm's running statistics, the parameters' ``.grad`` and torch's
random state):

- **hooks** on modules keep their outputs (activations, feature maps, Grad-CAM's layer);
- an **unrolled recurrence**: ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` run their time loop inside
  one fused kernel, so neither the gates nor ``h_t`` of each step exist as tensors. While a
  probe runs, each recurrent module's ``forward`` is replaced by the same equations written
  step by step with the module's own Parameters (LSTM ``i, f, g, o``; GRU ``r, z, n``, torch's
  forms), which keeps every gate and every ``h_t`` and lets autograd give dL/dh_t. Padded
  batches (``PackedSequence``) stop each row at its own length, as torch does;
- the **task's step** (:class:`nnatlas.train.steps.Step`) computes the loss, so a gradient is
  measured exactly as training computes it, for any kind of task.

This module imports torch and no part of the NumPy engine; :mod:`.scratch_engine` is its
twin, and :mod:`.engines` picks one by the model's type.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from nnatlas.inspect.figures import InspectError
from nnatlas.inspect.records import GradientRecord, RecurrentRecord

ENGINE = "torch"
RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}


def owns(model: Any) -> bool:
    """Whether ``model`` is a PyTorch model."""
    return isinstance(model, nn.Module)


def numpy(value: Any) -> np.ndarray:
    """A tensor (or array) as a NumPy array on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _device(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    param = next(model.parameters(), None)
    if param is None:
        return torch.device("cpu"), torch.get_default_dtype()
    return param.device, param.dtype


def to_model(model: nn.Module, value: Any) -> Any:
    """Arrays and tensors (also inside tuples and lists) on the model's device; float ones in
    its dtype, integer ones (token ids, lengths) as int64."""
    if isinstance(value, tuple | list):
        return type(value)(to_model(model, v) for v in value)
    if value is None or isinstance(value, int | float):
        return value
    device, dtype = _device(model)
    tensor = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
    if tensor.is_floating_point():
        return tensor.to(device, dtype)
    return tensor.to(device, torch.int64)


def first_output(output: Any) -> Any:
    """The logits of an output: the first element of a tuple (``(logits, state)``)."""
    return output[0] if isinstance(output, tuple) else output


@contextlib.contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Leave the model as it was: mode, buffers, ``.grad`` of every parameter, torch's RNG."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    grads = [(p, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()]
    rng = torch.get_rng_state()
    try:
        yield
    finally:
        for module, mode in modes:
            module.training = mode
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for param, grad in grads:
            param.grad = grad
        torch.set_rng_state(rng)


def logits(model: nn.Module, *inputs: Any) -> np.ndarray:
    """The model's first output in eval mode, without a graph, as a float64 array."""
    with untouched(model), torch.no_grad():
        model.eval()
        out = first_output(model(*to_model(model, inputs)))
    return numpy(out).astype(np.float64)


def parameters(model: nn.Module) -> list[tuple[str, np.ndarray]]:
    """``(name, values)`` of every parameter, in the model's order."""
    return [(name, numpy(p)) for name, p in model.named_parameters()]


# -- the unrolled recurrence -------------------------------------------------------------------
def cell_of(rnn: nn.RNNBase) -> str:
    """``"lstm"``, ``"gru"`` or ``"rnn"``."""
    return "lstm" if isinstance(rnn, nn.LSTM) else "gru" if isinstance(rnn, nn.GRU) else "rnn"


def _in_step_order(a: torch.Tensor, reverse: bool, order: torch.Tensor | None) -> torch.Tensor:
    """(T, N, *) from time to step order and back (the reverse direction reads back to front,
    per row from its own last step when ``order`` (T, N) is given)."""
    if not reverse:
        return a
    if order is None:
        return a.flip(0)
    return a[order, torch.arange(a.shape[1], device=a.device)[None, :]]


def _steps(lengths: torch.Tensor | None, T: int, device: torch.device):
    """Masks (T, N, 1) of the real steps and the reverse direction's per-row order (T, N)."""
    if lengths is None:
        return None, None
    lengths = lengths.to(device)
    t = torch.arange(T, device=device)[:, None]  # (T, 1)
    real = t < lengths[None, :]  # (T, N)
    order = torch.where(real, lengths[None, :] - 1 - t, t)  # (T, N)
    return real[:, :, None], order


class _Tape:
    """What one recurrent module kept in a probe: per run key (``l0``, ``l0_reverse`` ...)
    the carried states ``h_t`` (tensors, for their gradients), and the states and gates as
    arrays in time order."""

    def __init__(self, module: nn.RNNBase) -> None:
        self.module, self.calls = module, 0
        self.h: dict[str, list[torch.Tensor]] = {}  # step order
        self.reverse: dict[str, bool] = {}
        self.states: dict[str, dict[str, np.ndarray]] = {}
        self.gates: dict[str, dict[str, np.ndarray]] = {}


def _direction(
    rnn: nn.RNNBase,
    suffix: str,
    x: torch.Tensor,
    state: tuple[torch.Tensor, ...],
    reverse: bool,
    mask: torch.Tensor | None,
    order: torch.Tensor | None,
    tape: _Tape,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """One direction of one layer, written as the equations. x: (T, N, D) -> (T, N, H)."""
    cell, H = cell_of(rnn), rnn.hidden_size
    w_ih, w_hh = getattr(rnn, f"weight_ih{suffix}"), getattr(rnn, f"weight_hh{suffix}")
    b_ih = getattr(rnn, f"bias_ih{suffix}") if rnn.bias else None
    b_hh = getattr(rnn, f"bias_hh{suffix}") if rnn.bias else None
    xs = _in_step_order(x, reverse, order)  # (T, N, D) in step order
    gx = F.linear(xs, w_ih, b_ih)  # (T, N, G*H): the input projection of every step at once
    h, c = state[0], state[1] if cell == "lstm" else None
    hs, cs, outs = [], [], []
    gates: dict[str, list[torch.Tensor]] = {name: [] for name in GATES[cell]}
    for t in range(xs.shape[0]):
        gh = F.linear(h, w_hh, b_hh)  # (N, G*H)
        if cell == "lstm":
            a_i, a_f, a_g, a_o = (gx[t] + gh).chunk(4, 1)  # (N, H) each, torch's order
            i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
            c_new = f * c + i * g
            h_new = o * torch.tanh(c_new)
            values = (i, f, g, o)
        elif cell == "gru":
            r = torch.sigmoid(gx[t, :, :H] + gh[:, :H])
            z = torch.sigmoid(gx[t, :, H : 2 * H] + gh[:, H : 2 * H])
            n = torch.tanh(gx[t, :, 2 * H :] + r * gh[:, 2 * H :])  # b_hn inside r * (...)
            h_new, values = (1 - z) * n + z * h, (r, z, n)
        else:
            a = gx[t] + gh
            h_new, values = (torch.tanh(a) if rnn.nonlinearity == "tanh" else F.relu(a)), ()
        out = h_new
        if mask is not None:  # a row past its last step keeps its state and outputs 0
            m = mask[t]  # (N, 1)
            h_new = torch.where(m, h_new, h)
            out = torch.where(m, h_new, torch.zeros_like(h_new))
            if cell == "lstm":
                c_new = torch.where(m, c_new, c)
        if h_new.requires_grad:
            h_new.retain_grad()  # its .grad will be dL/dh_t: from the output and from step t+1
        hs.append(h_new)
        outs.append(out)
        for name, value in zip(GATES[cell], values, strict=True):
            gates[name].append(value.detach())
        if cell == "lstm":
            cs.append(c_new.detach())
        h, c = h_new, c_new if cell == "lstm" else None
    key = suffix[1:]
    tape.h[key], tape.reverse[key] = hs, reverse

    def in_time(steps: list[torch.Tensor]) -> np.ndarray:
        return numpy(_in_step_order(torch.stack(steps).detach(), reverse, order))  # (T, N, H)

    # "h" is the layer's output (0 past a row's end), as the NumPy engine records it.
    tape.states[key] = {"h": in_time(outs)} | ({"c": in_time(cs)} if cell == "lstm" else {})
    tape.gates[key] = {name: in_time(values) for name, values in gates.items()}
    output = _in_step_order(torch.stack(outs), reverse, order)  # (T, N, H) in time order
    return output, ((h, c) if cell == "lstm" else (h,))


def _unrolled_forward(rnn: nn.RNNBase, tape: _Tape):
    """A drop-in ``forward`` for ``rnn`` (same arguments and results) that fills ``tape``."""
    lstm = cell_of(rnn) == "lstm"
    dirs = 2 if rnn.bidirectional else 1

    def forward(input: Any, hx: Any = None) -> tuple[Any, Any]:
        tape.calls += 1
        packed = isinstance(input, PackedSequence)
        lengths, unbatched = None, False
        if packed:
            x, lengths = pad_packed_sequence(input)  # (T, N, D) in the rows' own order
        elif input.dim() == 2:
            x, unbatched = input.unsqueeze(1), True  # (T, 1, D)
        else:
            x = input.transpose(0, 1) if rnn.batch_first else input  # (T, N, D)
        T, N = x.shape[:2]
        if hx is None:
            zeros = x.new_zeros(rnn.num_layers * dirs, N, rnn.hidden_size)
            hx = (zeros, zeros) if lstm else zeros
        elif unbatched:
            hx = tuple(s.unsqueeze(1) for s in hx) if lstm else hx.unsqueeze(1)
        h0, c0 = hx if lstm else (hx, None)
        mask, order = _steps(lengths, T, x.device)
        finals: list[tuple[torch.Tensor, ...]] = []
        layer_in = x
        for layer in range(rnn.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                state = (h0[k], c0[k]) if lstm else (h0[k],)
                out, final = _direction(rnn, suffix, layer_in, state, d == 1, mask, order, tape)
                outs.append(out)
                finals.append(final)
            layer_in = torch.cat(outs, dim=2) if dirs == 2 else outs[0]  # (T, N, dirs*H)
            if rnn.dropout and rnn.training and layer + 1 < rnn.num_layers:
                layer_in = F.dropout(layer_in, rnn.dropout, training=True)
        h_n = torch.stack([f[0] for f in finals])  # (L*dirs, N, H)
        state = (h_n, torch.stack([f[1] for f in finals])) if lstm else h_n
        if packed:
            return pack_padded_sequence(layer_in, lengths, enforce_sorted=False), state
        if unbatched:
            state = tuple(s[:, 0] for s in state) if lstm else state[:, 0]
            return layer_in[:, 0], state
        return (layer_in.transpose(0, 1) if rnn.batch_first else layer_in), state

    return forward


@contextlib.contextmanager
def unrolled(model: nn.Module) -> Iterator[dict[str, _Tape]]:
    """Replace every recurrent module's ``forward`` by its unrolled form while the block runs.

    Yields ``{module path: tape}``; the modules get their own ``forward`` back at the end.
    """
    tapes: dict[str, _Tape] = {}
    for name, module in model.named_modules():
        if isinstance(module, RECURRENT):
            if getattr(module, "proj_size", 0):
                raise InspectError(f"{name}: LSTMs with proj_size are not probed")
            tapes[name] = _Tape(module)
            module.forward = _unrolled_forward(module, tapes[name])
    try:
        yield tapes
    finally:
        for tape in tapes.values():
            del tape.module.forward  # the class's own forward again


def _records(tapes: dict[str, _Tape], with_grads: bool) -> tuple[list[RecurrentRecord], list]:
    """The tapes as records (modules run once); modules run more than once are skipped."""
    records, skipped = [], []
    for name, tape in tapes.items():
        if tape.calls != 1:
            if tape.calls:
                skipped.append((name, tape.calls))
            continue
        cell = cell_of(tape.module)
        for key in tape.h:
            norms = None
            if with_grads:
                steps = [0.0 if h.grad is None else float(h.grad.norm()) for h in tape.h[key]]
                norms = np.asarray(steps[::-1] if tape.reverse[key] else steps)
            records.append(
                RecurrentRecord(
                    f"{name}.{key}" if name else key,
                    cell,
                    {k: v.transpose(1, 0, 2) for k, v in tape.gates[key].items()},
                    {k: v.transpose(1, 0, 2) for k, v in tape.states[key].items()},
                    norms,
                )
            )
    return records, skipped


def recurrent_records(model: nn.Module, *inputs: Any) -> list[RecurrentRecord]:
    """Gates and states of every recurrent layer for ``inputs`` (eval mode, no gradients)."""
    with untouched(model), unrolled(model) as tapes, torch.no_grad():
        model.eval()
        model(*to_model(model, inputs))
        records, _ = _records(tapes, with_grads=False)
    return records


# -- gradients ---------------------------------------------------------------------------------
def gradients(
    model: nn.Module, batch: Sequence[Any], step: Any, losses: Any, training: bool = True
) -> GradientRecord:
    """One forward and backward of ``batch`` through the task's ``step`` (train mode unless
    ``training`` is False): the loss, every parameter's gradient, every leaf module's output
    and, for recurrent layers run once, ||dL/dh_t|| at every step. The model is untouched."""
    activations: dict[str, np.ndarray] = {}

    def keep(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            out = first_output(output)
            out = out.data if isinstance(out, PackedSequence) else out
            if isinstance(out, torch.Tensor):
                activations[name] = numpy(out)

        return hook

    with untouched(model), unrolled(model) as tapes:
        model.train(training)
        handles = [
            m.register_forward_hook(keep(name))
            for name, m in model.named_modules()
            if name and not any(True for _ in m.children())
        ]
        try:
            for p in model.parameters():
                p.grad = None
            out = step.loss(model, to_model(model, tuple(batch)), losses, training=training)
            out.loss.backward()
        finally:
            for handle in handles:
                handle.remove()
        grads = {
            name: (np.zeros(p.shape, np.float32) if p.grad is None else numpy(p.grad))
            for name, p in model.named_parameters()
            if p.requires_grad
        }
        records, skipped = _records(tapes, with_grads=True)
    weights = {name: float(p.detach().double().norm()) for name, p in model.named_parameters()}
    loss = float(out.loss.detach()) if isinstance(out.loss, torch.Tensor) else float(out.loss)
    return GradientRecord(loss, grads, weights, activations, records, skipped)


def _outputs(model: nn.Module, x: torch.Tensor, layer: str | None, names: bool = False):
    """Forward ``x`` keeping every 4-D module output in the order the modules finish."""
    finished: list[tuple[str, torch.Tensor]] = []

    def keep(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                finished.append((name, output))

        return hook

    handles = [
        m.register_forward_hook(keep(name))
        for name, m in model.named_modules()
        if name and (layer is None or name == layer)
    ]
    try:
        out = first_output(model(x))
    finally:
        for handle in handles:
            handle.remove()
    return out, finished


def feature_maps(model: nn.Module, x: Any, layer: str | None = None) -> tuple[str, np.ndarray]:
    """The output of ``layer`` (default: the first module that outputs a (N, C, H, W) map)."""
    with untouched(model), torch.no_grad():
        model.eval()
        _, finished = _outputs(model, to_model(model, x), layer)
    if not finished:
        raise InspectError(_no_map(model, layer))
    if layer is None:  # the first to finish among the leaves: a Conv2d, usually
        leaves = {n for n, m in model.named_modules() if not any(True for _ in m.children())}
        finished = [f for f in finished if f[0] in leaves] or finished
    name, out = finished[0]
    return name, numpy(out)


def input_and_map_gradients(
    model: nn.Module, x: Any, target: np.ndarray | None, layer: str | None = None
) -> dict[str, Any]:
    """For saliency and Grad-CAM: d score / d x and the map of ``layer`` with its gradient.

    ``layer`` defaults to the last module to finish with a 4-D output (the last stage of the
    backbone, what ``forward_features`` returns). ``target`` (N,) picks each row's class; the
    predicted class when None. Eval mode (BatchNorm's running statistics, no dropout).
    """
    with untouched(model):
        model.eval()
        x = to_model(model, x).clone().requires_grad_(True)
        out, finished = _outputs(model, x, layer)
        if not finished:
            raise InspectError(_no_map(model, layer))
        name, fmap = finished[-1]
        fmap.retain_grad()
        classes = out.argmax(dim=1) if target is None else to_model(model, target)
        out.gather(1, classes[:, None]).sum().backward()
        result = {
            "logits": numpy(out).astype(np.float64),
            "classes": numpy(classes),
            "input_grad": numpy(x.grad),
            "layer": name,
            "map": numpy(fmap),
            "map_grad": numpy(fmap.grad),
        }
    return result


def _no_map(model: nn.Module, layer: str | None) -> str:
    if layer is not None:
        names = [n for n, _ in model.named_modules() if n]
        return f"layer {layer!r} gave no (N, C, H, W) output; layers: {', '.join(names[:30])}"
    return f"{type(model).__name__} has no layer with an (N, C, H, W) output: it is not a CNN"


def first_conv(model: nn.Module) -> tuple[str, np.ndarray]:
    """The name and weight (out, in, kh, kw) of the first module with a 4-D weight."""
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.dim() == 4:
            return name, numpy(weight)
    raise InspectError(f"{type(model).__name__} has no convolution: no filters to show")


# -- seq2seq -----------------------------------------------------------------------------------
def decode_with_attention(model: nn.Module, src: Any, max_len: int) -> tuple[list[int], np.ndarray]:
    """Greedy decoding of one source sentence with the attention weights of every step.

    Shape: src (1, S) -> ids (L,) without bos (ending with eos unless max_len was reached),
    weights (L, S).
    """
    decoder = model.decoder
    if getattr(decoder, "attention", None) is None:
        raise InspectError("this seq2seq model has no attention (attention=None): nothing to show")
    with untouched(model), torch.no_grad():
        model.eval()
        enc_out, state, mask = model.encode(to_model(model, src))
        y = torch.full((1,), model.bos_idx, dtype=torch.int64, device=enc_out.device)
        ids, rows = [], []
        for _ in range(max_len):
            step_logits, state, weights = decoder.step(y, state, enc_out, mask)
            y = step_logits.argmax(dim=-1)
            ids.append(int(y[0]))
            rows.append(numpy(weights[0]))
            if ids[-1] == model.eos_idx:
                break
    return ids, np.stack(rows).astype(np.float64)
