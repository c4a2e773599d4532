"""The model registry: thin named entry points, as timm's ``@register_model``.

Each model family registers small functions (``resnet18(**kw) -> nn.Module``); the rest of nnatlas
asks for a model by name with :func:`create_model`, so a CLI flag or a config file can pick one.

An entry also carries the facts that the rest of the project would otherwise guess from names:
its ``kind`` (what it takes and predicts), the constructor arguments it ``fits`` to a dataset
(``num_classes``, ``in_chans``, ``vocab_size`` ...) and its NumPy twin (``scratch_twin``), so
``--engine scratch`` works for every model that has one and the list of twins lives here only.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from nnatlas.errors import NnatlasError

ModelFn = Callable[..., nn.Module]

# What a model takes and predicts, and the task that trains it.
KINDS = {
    "image": "images (N, C, H, W) -> class logits (N, num_classes)",
    "tokens": "token ids (N, T) -> class logits (N, num_classes)",
    "lm": "token ids (N, T) -> next-token logits (N, T, vocab_size)",
    "seq2seq": "source ids (N, S) + target ids (N, T) -> target logits (N, T, tgt_vocab_size)",
    "detection": "images -> boxes, labels and scores (a dict of losses in training)",
}
# The arguments each kind fits to the data unless the entry says otherwise.
DEFAULT_FITS = {
    "image": ("num_classes", "in_chans"),
    "tokens": ("vocab_size", "num_classes", "padding_idx", "embed_dim"),
    "lm": ("vocab_size",),
    "seq2seq": ("src_vocab_size", "tgt_vocab_size"),
    "detection": ("num_classes",),
}


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its name, entry point, family and a one-line description.

    Attributes:
        name: the registry name (``"resnet20"``).
        fn: builds the model from keyword arguments.
        family: the group it belongs to (``"resnet_cifar"``), used by ``nnatlas models list``.
        description: the first line of the entry point's docstring.
        default_input: the (C, H, W) image size, or (T,) sequence length, it is meant for.
        kind: one of :data:`KINDS`: ``"image"``, ``"tokens"`` (int64 (N, T) input, one class
            per sequence), ``"lm"``, ``"seq2seq"`` or ``"detection"``.
        fits: the constructor arguments a task sets from the data (``num_classes``,
            ``in_chans``, ``input_size``, ``in_features``, ``vocab_size`` ...).
        scratch_twin: ``"module:Class"`` of the NumPy twin in :mod:`nnatlas.scratch.models`
            (a string: the zoo never imports the NumPy engine), or ``None`` when there is none.
            :func:`nnatlas.bridge.scratch_twin` builds it from a zoo model.
        input_sizes: the image sizes (H = W) the model can be built for, when it cannot take
            any (LeNet-5: 28 or 32); ``None`` means any size (global pooling, or an MLP that
            fits ``input_size``). Image tasks resize a dataset the model cannot take.
        inputs: for models whose weights expect particular inputs (a pretrained backbone):
            ``inputs(model_options) -> {"image_size", "channels", "mean", "std"}`` (any may be
            missing); image tasks prepare the data that way unless told otherwise.
    """

    name: str
    fn: ModelFn
    family: str
    description: str
    default_input: tuple[int, ...]
    kind: str
    fits: tuple[str, ...] = ()
    scratch_twin: str | None = None
    input_sizes: tuple[int, ...] | None = None
    inputs: Callable[[dict[str, Any]], dict[str, Any]] | None = None


_REGISTRY: dict[str, ModelEntry] = {}


class UnknownModelError(NnatlasError, KeyError):
    """``create_model`` was given a name that is not registered."""


def register_model(
    fn: ModelFn | None = None,
    *,
    name: str | None = None,
    family: str = "",
    default_input: tuple[int, ...] = (3, 224, 224),
    kind: str = "image",
    fits: tuple[str, ...] | None = None,
    scratch_twin: str | None = None,
    input_sizes: tuple[int, ...] | None = None,
    inputs: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> ModelFn | Callable[[ModelFn], ModelFn]:
    """Register a model entry point under its function name (or ``name``).

    Usable bare (``@register_model``) or with options (``@register_model(family="vgg")``).
    ``fits`` defaults to :data:`DEFAULT_FITS` of the ``kind``.

    Raises:
        ValueError: when the name is already registered (two families must not silently
            replace each other's models, as the last import would win), or for an unknown kind.
    """
    if kind not in KINDS:
        raise ValueError(f"register_model: unknown kind {kind!r}; choose from {', '.join(KINDS)}")

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
            fits=tuple(fits) if fits is not None else DEFAULT_FITS[kind],
            scratch_twin=scratch_twin,
            input_sizes=tuple(input_sizes) if input_sizes is not None else None,
            inputs=inputs,
        )
        return f

    if fn is not None:
        return decorator(fn)
    return decorator


def list_models(family: str | None = None, kind: str | None = None) -> list[str]:
    """Return the registered model names, sorted; only ``family``'s or ``kind``'s when given."""
    return sorted(
        k
        for k, e in _REGISTRY.items()
        if (family is None or e.family == family) and (kind is None or e.kind == kind)
    )


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
