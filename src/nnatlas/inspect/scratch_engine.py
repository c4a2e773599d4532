"""The NumPy side of the probes: the twin of :mod:`.torch_engine` for ``nnatlas.scratch`` models.

The NumPy engine keeps what the PyTorch side has to dig for: a recurrent layer built with
``record=True`` keeps every step's gates and states, and after ``backward`` every layer leaves
``last_grad_h_norms`` (||dL/dh_t|| per step). Outputs and gradients of other layers are read by
wrapping a module's ``forward`` (and ``backward``) for the duration of a probe; the loss comes
from the task's step with the NumPy engine's losses, and ``model.backward`` takes it back
through every layer, as :class:`nnatlas.train.scratch.ScratchTrainer` does.

:func:`untouched` leaves the model as it was: modes, buffers (BatchNorm's running statistics),
gradients, the layers' own random generators (Dropout's), the recording switches.

This module imports the NumPy engine and no torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from nnatlas.inspect.figures import InspectError
from nnatlas.inspect.records import GradientRecord, RecurrentRecord
from nnatlas.scratch.module import Module, Parameter
from nnatlas.scratch.recurrent import GRU, LSTM, RNN

ENGINE = "scratch"
RECURRENT = (RNN, LSTM, GRU)


def owns(model: Any) -> bool:
    """Whether ``model`` is a NumPy-engine model."""
    return isinstance(model, Module)


def numpy(value: Any) -> np.ndarray:
    return np.asarray(value)


def to_model(model: Module, value: Any) -> Any:
    """Arrays (CPU tensors too, through ``__array__``), also inside tuples and lists, as NumPy;
    float ones in the model's dtype, integer ones as int64."""
    if isinstance(value, tuple | list):
        return type(value)(to_model(model, v) for v in value)
    if value is None or isinstance(value, int | float):
        return value
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return array.astype(model.dtype, copy=False)
    return array.astype(np.int64, copy=False)


def first_output(output: Any) -> Any:
    return output[0] if isinstance(output, tuple) else output


def cell_of(rnn: Module) -> str:
    return "lstm" if isinstance(rnn, LSTM) else "gru" if isinstance(rnn, GRU) else "rnn"


@contextlib.contextmanager
def untouched(model: Module) -> Iterator[None]:
    """Leave the model as it was (see the module docstring)."""
    modules = [m for _, m in model.named_modules()]
    saved: list[tuple[Module, str, Any]] = []
    for m in modules:
        saved.append((m, "training", m.training))
        saved += [(m, name, np.array(getattr(m, name), copy=True)) for name in m._buffers]
        for flag in ("record", "requires_input_grad"):
            if flag in m.__dict__:
                saved.append((m, flag, m.__dict__[flag]))
    grads = [(p, None if p.grad is None else p.grad.copy()) for p in model.parameters()]
    rngs = [
        (m.rng, m.rng.bit_generator.state)
        for m in modules
        if isinstance(getattr(m, "rng", None), np.random.Generator)
    ]
    try:
        yield
    finally:
        for module, name, value in saved:
            object.__setattr__(module, name, value)
        for param, grad in grads:
            param.grad = grad
        for rng, state in rngs:
            rng.bit_generator.state = state


@contextlib.contextmanager
def wrapped(module: Module, method: str, wrapper: Callable[..., Any]) -> Iterator[None]:
    """``module.<method>`` replaced by ``wrapper(original, *args, **kwargs)`` in the block."""
    had, previous = method in module.__dict__, module.__dict__.get(method)
    original = getattr(module, method)
    object.__setattr__(module, method, lambda *a, **k: wrapper(original, *a, **k))
    try:
        yield
    finally:  # the method the module had before: wrappers nest
        if had:
            object.__setattr__(module, method, previous)
        else:
            del module.__dict__[method]


def logits(model: Module, *inputs: Any) -> np.ndarray:
    """The model's first output in eval mode, as a float64 array."""
    with untouched(model):
        model.eval()
        out = first_output(model(*to_model(model, inputs)))
    return np.asarray(out, dtype=np.float64)


def parameters(model: Module) -> list[tuple[str, np.ndarray]]:
    return [(name, p.data) for name, p in model.named_parameters()]


# -- recurrent layers --------------------------------------------------------------------------
@contextlib.contextmanager
def recording(model: Module) -> Iterator[dict[str, list]]:
    """Every recurrent layer records its gates and states; yields ``{path: [module, calls]}``
    (calls counted through ``forward`` and ``step``, which a decoder calls once a token)."""
    layers: dict[str, list] = {}
    with contextlib.ExitStack() as stack:
        for name, module in model.named_modules():
            if isinstance(module, RECURRENT):
                entry = layers.setdefault(name, [module, 0])
                object.__setattr__(module, "record", True)

                def count(original: Callable, *a: Any, entry: list = entry, **k: Any) -> Any:
                    entry[1] += 1
                    return original(*a, **k)

                stack.enter_context(wrapped(module, "forward", count))
                stack.enter_context(wrapped(module, "step", count))
        yield layers


def _records(layers: dict[str, list], with_grads: bool) -> tuple[list[RecurrentRecord], list]:
    records, skipped = [], []
    for name, (module, calls) in layers.items():
        if calls != 1:
            if calls:
                skipped.append((name, calls))
            continue
        for key in module._run_keys():
            norms = module.last_grad_h_norms.get(key) if with_grads else None
            records.append(
                RecurrentRecord(
                    f"{name}.{key}" if name else key,
                    cell_of(module),
                    {g: v.transpose(1, 0, 2).copy() for g, v in module.last_gates[key].items()},
                    {s: v.transpose(1, 0, 2).copy() for s, v in module.last_states[key].items()},
                    None if norms is None else np.asarray(norms, dtype=np.float64),
                )
            )
    return records, skipped


def recurrent_records(model: Module, *inputs: Any) -> list[RecurrentRecord]:
    """Gates and states of every recurrent layer for ``inputs`` (eval mode)."""
    with untouched(model), recording(model) as layers:
        model.eval()
        model(*to_model(model, inputs))
        records, _ = _records(layers, with_grads=False)
    return records


# -- gradients ---------------------------------------------------------------------------------
def _leaves(model: Module) -> list[tuple[str, Module]]:
    return [(name, m) for name, m in model.named_modules() if name and not m._modules]


def gradients(
    model: Module, batch: Sequence[Any], step: Any, losses: Any, training: bool = True
) -> GradientRecord:
    """As :func:`nnatlas.inspect.torch_engine.gradients`, with ``model.backward``."""
    activations: dict[str, np.ndarray] = {}

    def keep(name: str) -> Callable[..., Any]:
        def wrapper(original: Callable, *a: Any, **k: Any) -> Any:
            out = original(*a, **k)
            first = first_output(out)
            if isinstance(first, np.ndarray):
                activations[name] = np.array(first, copy=True)
            return out

        return wrapper

    with untouched(model), recording(model) as layers, contextlib.ExitStack() as stack:
        for name, leaf in _leaves(model):
            stack.enter_context(wrapped(leaf, "forward", keep(name)))
        model.train(training)
        model.zero_grad()
        out = step.loss(model, to_model(model, tuple(batch)), losses, training=training)
        model.backward(out.loss.grad)
        grads = {
            name: np.zeros(p.shape, p.data.dtype) if p.grad is None else p.grad.copy()
            for name, p in model.named_parameters()
        }
        records, skipped = _records(layers, with_grads=True)
    weights = {
        name: float(np.linalg.norm(p.data.astype(np.float64)))
        for name, p in model.named_parameters()
    }
    return GradientRecord(float(out.loss), grads, weights, activations, records, skipped)


def _outputs(model: Module, x: np.ndarray, layer: str | None) -> tuple[Any, list]:
    """Forward ``x`` keeping every 4-D module output in the order the modules finish."""
    finished: list[tuple[str, np.ndarray]] = []

    def keep(name: str) -> Callable[..., Any]:
        def wrapper(original: Callable, *a: Any, **k: Any) -> Any:
            out = original(*a, **k)
            if isinstance(out, np.ndarray) and out.ndim == 4:
                finished.append((name, out))
            return out

        return wrapper

    with contextlib.ExitStack() as stack:
        for name, module in model.named_modules():
            if name and (layer is None or name == layer):
                stack.enter_context(wrapped(module, "forward", keep(name)))
        out = first_output(model(x))
    return out, finished


def feature_maps(model: Module, x: Any, layer: str | None = None) -> tuple[str, np.ndarray]:
    """The output of ``layer`` (default: the first module that outputs a (N, C, H, W) map)."""
    with untouched(model):
        model.eval()
        _, finished = _outputs(model, to_model(model, x), layer)
    if not finished:
        raise InspectError(_no_map(model, layer))
    if layer is None:
        leaves = {name for name, _ in _leaves(model)}
        finished = [f for f in finished if f[0] in leaves] or finished
    name, out = finished[0]
    return name, np.array(out, copy=True)


def input_and_map_gradients(
    model: Module, x: Any, target: np.ndarray | None, layer: str | None = None
) -> dict[str, Any]:
    """As :func:`nnatlas.inspect.torch_engine.input_and_map_gradients`."""
    with untouched(model):
        model.eval()
        for _, module in model.named_modules():
            if "requires_input_grad" in module.__dict__:  # a first conv may skip dL/dx
                object.__setattr__(module, "requires_input_grad", True)
        x = to_model(model, x)
        out, finished = _outputs(model, x, layer)
        if not finished:
            raise InspectError(_no_map(model, layer))
        name, fmap = finished[-1]
        fmap = np.array(fmap, copy=True)
        classes = out.argmax(axis=1) if target is None else np.asarray(target, dtype=np.int64)
        grad = np.zeros_like(out)
        grad[np.arange(len(out)), classes] = 1.0  # d (sum of the chosen scores) / d logits
        seen: list[np.ndarray] = []

        def capture(original: Callable, grad_out: np.ndarray, *a: Any, **k: Any) -> Any:
            seen.append(np.array(grad_out, copy=True))
            return original(grad_out, *a, **k)

        with wrapped(_module(model, name), "backward", capture):
            input_grad = model.backward(grad)
        model.zero_grad()
    return {
        "logits": np.asarray(out, dtype=np.float64),
        "classes": classes,
        "input_grad": np.asarray(input_grad),
        "layer": name,
        "map": fmap,
        "map_grad": seen[0],  # backward runs last call first: the map we kept
    }


def _module(model: Module, path: str) -> Module:
    return dict(model.named_modules())[path]


def _no_map(model: Module, layer: str | None) -> str:
    if layer is not None:
        names = [n for n, _ in model.named_modules() if n]
        return f"layer {layer!r} gave no (N, C, H, W) output; layers: {', '.join(names[:30])}"
    return f"{type(model).__name__} has no layer with an (N, C, H, W) output: it is not a CNN"


def first_conv(model: Module) -> tuple[str, np.ndarray]:
    for name, module in model.named_modules():
        weight = module._parameters.get("weight")
        if isinstance(weight, Parameter) and weight.data.ndim == 4:
            return name, weight.data
    raise InspectError(f"{type(model).__name__} has no convolution: no filters to show")


# -- seq2seq -----------------------------------------------------------------------------------
def decode_with_attention(model: Module, src: Any, max_len: int) -> tuple[list[int], np.ndarray]:
    """As :func:`nnatlas.inspect.torch_engine.decode_with_attention`."""
    decoder = model.decoder
    if getattr(decoder, "attention", None) is None:
        raise InspectError("this seq2seq model has no attention (attention=None): nothing to show")
    with untouched(model):
        model.eval()
        enc_out, state, mask = model.encode(to_model(model, src))
        prepared = decoder.prepare(enc_out)
        y = np.full(1, model.bos_idx, dtype=np.int64)
        ids, rows = [], []
        for _ in range(max_len):
            step_logits, state, weights = decoder.step(y, state, enc_out, prepared, mask)
            y = step_logits.argmax(axis=-1)
            ids.append(int(y[0]))
            rows.append(np.asarray(weights[0], dtype=np.float64))
            if ids[-1] == model.eos_idx:
                break
    return ids, np.stack(rows)
