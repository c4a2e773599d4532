"""The model registry: thin named entry points, as timm's ``@register_model``.

Each model family registers small functions (``resnet18(**kw) -> nn.Module``); the rest of nnatlas
asks for a model by name with :func:`create_model`, so a CLI flag or a config file can pick one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

ModelFn = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its name, entry point, family and a one-line description.

    Attributes:
        name: the registry name (``"resnet20"``).
        fn: builds the model from keyword arguments.
        family: the group it belongs to (``"resnet_cifar"``), used by ``nnatlas models list``.
        description: the first line of the entry point's docstring.
        default_input: the (C, H, W) image size, or (T,) sequence length, it is meant for.
        kind: ``"image"``, ``"tokens"`` (int64 (N, T) input) or ``"seq2seq"``.
    """

    name: str
    fn: ModelFn
    family: str
    description: str
    default_input: tuple[int, ...]
    kind: str


_REGISTRY: dict[str, ModelEntry] = {}


class UnknownModelError(KeyError):
    """``create_model`` was given a name that is not registered."""

    def __str__(self) -> str:
        # KeyError's own __str__ wraps the message in quotes; show the sentence as written.
        return str(self.args[0])


def register_model(
    fn: ModelFn | None = None,
    *,
    name: str | None = None,
    family: str = "",
    default_input: tuple[int, ...] = (3, 224, 224),
    kind: str = "image",
) -> ModelFn | Callable[[ModelFn], ModelFn]:
    """Register a model entry point under its function name (or ``name``).

    Usable bare (``@register_model``) or with options (``@register_model(family="vgg")``).

    Raises:
        ValueError: when the name is already registered (two families must not silently
            replace each other's models, as the last import would win).
    """

    def decorator(f: ModelFn) -> ModelFn:
        key = name or f.__name__
        if key in _REGISTRY:
            other = _REGISTRY[key].fn
            raise ValueError(
                f"model {key!r} is already registered by {other.__module__}.{other.__qualname__}; "
                f"choose another name for {f.__module__}.{f.__qualname__}"
            )
        doc = (f.__doc__ or "").strip().splitlines()
        _REGISTRY[key] = ModelEntry(
            name=key,
            fn=f,
            family=family or f.__module__.rsplit(".", 1)[-1],
            description=doc[0] if doc else "",
            default_input=tuple(default_input),
            kind=kind,
        )
        return f

    if fn is not None:
        return decorator(fn)
    return decorator


def list_models(family: str | None = None) -> list[str]:
    """Return the registered model names, sorted; only ``family``'s when given."""
    return sorted(k for k, e in _REGISTRY.items() if family is None or e.family == family)


def get_model_entry(name: str) -> ModelEntry:
    """Return the registry entry of ``name``.

    Raises:
        UnknownModelError: (a KeyError) for an unknown name; the message lists close matches
            and every valid name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}"
        ) from None


def create_model(name: str, **kwargs: object) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs`` (e.g. ``num_classes=2, in_chans=1``).

    Raises:
        UnknownModelError: (a KeyError) for an unknown name, with close matches and valid names.
    """
    return get_model_entry(name).fn(**kwargs)
