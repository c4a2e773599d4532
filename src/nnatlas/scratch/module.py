"""The layer base of the NumPy engine: parameters with gradients, children, train/eval mode.

A scratch layer is a forward/backward pair (CS231n style) held in a class with PyTorch's names:

- ``forward(x)`` computes the output and keeps in ``self._cache`` what the backward needs;
- ``backward(grad_out)`` reads that cache (never recomputes the forward), **adds** the parameter
  gradients into ``param.grad`` (as ``torch.autograd`` accumulates) and returns the input gradient.

Parameters are :class:`Parameter` objects (``.data`` and ``.grad``), registered by plain attribute
assignment as in ``torch.nn.Module``, so ``named_parameters()`` yields PyTorch's names
(``0.weight``, ``fc1.bias``, ``weight_ih_l0`` ...) and weights move between the engines unchanged.

This package never imports torch.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nnatlas.errors import NnatlasError

DTypeLike = type[np.floating] | np.dtype | str


class ShapeError(NnatlasError, ValueError):
    """A layer was given an input it cannot take; the message names the layer and the shape."""


class Parameter:
    """A trainable array and its gradient. See: torch.nn.Parameter.

    Args:
        data: the values; float32 or float64.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray) -> None:
        data = np.asarray(data)
        if data.dtype not in (np.float32, np.float64):
            data = data.astype(np.float64)
        self.data: np.ndarray = data
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def accumulate(self, grad: np.ndarray) -> None:
        """Add ``grad`` into ``self.grad`` (allocating it on first use)."""
        if self.grad is None:
            self.grad = np.array(grad, dtype=self.data.dtype, copy=True)
        else:
            self.grad += grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every scratch layer and model. See: torch.nn.Module."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_cache", None)
        object.__setattr__(self, "_path", "")

    # -- registration -------------------------------------------------------------------------
    def __setattr__(self, name: str, value: object) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning "
                f"attribute {name!r}"
            )
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """A non-trainable array saved with the state (e.g. BatchNorm running statistics)."""
        self._buffers[name] = name
        object.__setattr__(self, name, value)

    # -- traversal ----------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for path, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                yield (f"{path}.{name}" if path else name), param

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for path, module in self.named_modules(prefix):
            for name in module._buffers:
                yield (f"{path}.{name}" if path else name), getattr(module, name)

    def num_parameters(self) -> int:
        return sum(p.data.size for p in self.parameters())

    # -- mode, gradients, dtype ---------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for _, module in self.named_modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, dtype: DTypeLike) -> Module:
        """Cast every parameter and floating buffer to ``dtype`` (float32 or float64)."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(
                f"{type(self).__name__}.to: dtype must be float32 or float64, got {dtype}"
            )
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None if p.grad is None else p.grad.astype(dtype)
        for _, module in self.named_modules():
            for name in module._buffers:
                value = getattr(module, name)
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    object.__setattr__(module, name, value.astype(dtype))
        return self

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0].data.dtype if params else np.dtype(np.float32)

    # -- forward / backward -------------------------------------------------------------------
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    @property
    def layer_name(self) -> str:
        """How errors name this layer: its class, and its path inside the model when known."""
        return f"{type(self).__name__}{f' ({self._path})' if self._path else ''}"

    def _name_children(self, prefix: str = "") -> None:
        for path, module in self.named_modules(prefix):
            object.__setattr__(module, "_path", path)

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by PyTorch name, module by module (torch's order), as copies."""
        state: dict[str, np.ndarray] = {}
        for path, module in self.named_modules():
            prefix = f"{path}." if path else ""
            for name, p in module._parameters.items():
                state[prefix + name] = p.data.copy()
            for name in module._buffers:
                state[prefix + name] = np.array(getattr(module, name), copy=True)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers, checking names and shapes."""
        own_params = dict(self.named_parameters())
        own_buffers = {name: None for name, _ in self.named_buffers()}
        expected = set(own_params) | set(own_buffers)
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if strict and (missing or unexpected):
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys "
                f"{unexpected}. Was the state saved from a different architecture?"
            )
        for name, param in own_params.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != param.data.shape:
                raise ShapeError(
                    f"{type(self).__name__}.load_state_dict: {name!r} has shape {value.shape}, "
                    f"the model expects {param.data.shape}"
                )
            param.data = value.astype(param.data.dtype, copy=True)
        for name in own_buffers:
            if name in state:
                *path, attr = name.split(".")
                owner = self
                for part in path:
                    owner = owner._modules[part]
                current = np.asarray(getattr(owner, attr))
                # Keep the model's dtype: float64 files must not make float32 running stats float64.
                object.__setattr__(
                    owner, attr, np.array(state[name], dtype=current.dtype, copy=True)
                )

    def save(self, path: str | os.PathLike) -> Path:
        """Save the state as ``.npz`` atomically (temp file + rename)."""
        return save_npz(self.state_dict(), path)

    def load(self, path: str | os.PathLike, strict: bool = True) -> None:
        self.load_state_dict(load_npz(path), strict=strict)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


def save_npz(state: dict[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Write arrays to ``path`` (.npz) via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **state)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read arrays saved by :func:`save_npz`; a missing or broken file names itself."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such parameter file (expected an .npz from Module.save)"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable .npz parameter file ({err})") from err


def check_ndim(layer: Module, x: np.ndarray, expected: str, ndims: tuple[int, ...]) -> None:
    """Raise :class:`ShapeError` naming ``layer`` unless ``x.ndim`` is one of ``ndims``.

    ``expected`` is the shape as a reader would write it, e.g. ``"(N, C, H, W)"``.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{layer.layer_name}: expected a numpy array {expected}, got {type(x).__name__}"
        )
    if x.ndim not in ndims:
        raise ShapeError(f"{layer.layer_name}: expected input of shape {expected}, got {x.shape}")
