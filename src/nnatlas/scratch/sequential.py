"""A chain of layers. See: torch.nn.Sequential."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnatlas.scratch.module import Module


class Sequential(Module):
    """Apply layers in order; backpropagate through them in reverse.

    Children are named ``"0"``, ``"1"``, ... exactly as in ``torch.nn.Sequential``, so parameter
    names (``0.weight``, ``2.bias`` ...) and state_dict keys match the PyTorch twin.

    Args:
        *layers: the modules, applied first to last.

    Shape:
        x: whatever the first layer takes -> whatever the last layer returns.

    See: torch.nn.Sequential. Check:
    ``nnatlas check "Sequential(Linear, BatchNorm1d, ReLU, Linear)"``. Tests:
    tests/scratch/test_core_layers.py.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: argument {index} must be a scratch Module, "
                    f"got {type(layer).__name__}"
                )
            setattr(self, str(index), layer)
        # Give every descendant its path ("0", "2.weight" ...) so shape errors say where they are.
        self._name_children()

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for layer in reversed(self._modules.values()):
            grad_out = layer.backward(grad_out)
        return grad_out

    def __getitem__(self, index: int | slice) -> Module:
        layers = list(self._modules.values())
        if isinstance(index, slice):
            # Keep the original names ("2", "3" ...) as torch.nn.Sequential slicing does.
            part = Sequential()
            for name in list(self._modules)[index]:
                setattr(part, name, self._modules[name])
            return part
        try:
            return layers[index]
        except IndexError:
            raise IndexError(
                f"Sequential: index {index} out of range for {len(layers)} layers"
            ) from None

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, layer: Module) -> Sequential:
        """Add ``layer`` at the end (named by its position), as ``torch.nn.Sequential.append``."""
        setattr(self, str(len(self)), layer)
        self._name_children(self._path)
        return self
