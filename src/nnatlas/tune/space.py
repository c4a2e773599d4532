"""Search spaces: which options a tune varies, over which ranges, and where each one goes.

A :class:`Dimension` is one searched option. Training options (``lr``, ``batch_size``,
``weight_decay``, ``optimizer``, ``scheduler``) are :class:`~nnatlas.train.TrainConfig` fields
and apply to every model. Model options (``width``, ``depth``, ``dropout``) are constructor
arguments, so they apply to a model only when its constructor takes the argument they set
(:func:`model_arguments` reads the signature): an MLP takes ``hidden_sizes`` (width and depth)
and ``dropout``; a recurrent classifier ``hidden_size`` (width), ``num_layers`` (depth) and
``dropout``; LeNet-5 none of them. Asking for one a model does not take is an error that lists
what it does take.

``--space`` names dimensions, optionally with a range: ``lr=1e-4:1e-1`` (low:high, log-scaled
where the dimension is), ``batch_size=32|64|128`` (choices), ``depth=1:4``. Left out, the tune
searches every dimension that applies to the model. This module imports neither torch nor
optuna (the command's ``--help`` reads it).
"""

from __future__ import annotations

import inspect
import math
import typing
from dataclasses import dataclass, replace
from typing import Any

from nnatlas.errors import NnatlasError


class SpaceError(NnatlasError, ValueError):
    """A ``--space`` that names an unknown dimension, a bad range, or one the model lacks."""


@dataclass(frozen=True)
class Dimension:
    """One searched option.

    Attributes:
        name: the dimension's name in ``--space`` and in the trials table.
        kind: ``"float"``, ``"int"`` or ``"choice"``.
        low, high: the range of a float or int dimension (both ends included).
        log: sample on a log scale (rates and penalties that matter by order of magnitude).
        choices: the values of a choice dimension.
        target: ``"config"`` (a TrainConfig field of the same name) or ``"model"`` (a
            constructor argument; :data:`MODEL_ARGUMENTS` says which).
        help: one line for ``--help`` and the tune's report.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    target: str = "config"
    help: str = ""

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}}"
        scale = ", log" if self.log else ""
        return f"{self.name} in [{self.low:g}, {self.high:g}{scale}]"

    def suggest(self, trial: Any) -> Any:
        """The value an optuna trial proposes for this dimension."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)


# The ranges are wide on purpose: a tune should find the edge of what trains, not assume it.
DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("lr", "float", 1e-4, 1e-1, log=True, help="learning rate (peak for onecycle)"),
        Dimension("batch_size", "choice", choices=(16, 32, 64, 128, 256), help="batch size"),
        # Log scale: 1e-6 is as good as off; 0 itself cannot be on a log scale.
        Dimension("weight_decay", "float", 1e-6, 1e-2, log=True, help="L2 penalty"),
        Dimension("optimizer", "choice", choices=("adam", "adamw", "nesterov"), help="optimizer"),
        Dimension(
            "scheduler", "choice", choices=("none", "cosine", "onecycle"), help="lr schedule"
        ),
        Dimension("dropout", "float", 0.0, 0.5, target="model", help="drop probability"),
        Dimension("width", "int", 32, 512, log=True, target="model", help="units per layer"),
        Dimension("depth", "int", 1, 3, target="model", help="hidden layers"),
    )
}
# The constructor arguments each model dimension sets, in order of preference: a model takes
# the dimension when its constructor takes one of them.
MODEL_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "width": ("hidden_sizes", "hidden_size"),
    "depth": ("hidden_sizes", "num_layers"),
    "dropout": ("dropout",),
}


def model_arguments(model: str) -> dict[str, Any]:
    """The constructor arguments of the zoo model ``model`` and their defaults.

    A registry entry point that passes ``**kwargs`` on to its class (``mlp(...) -> MLP``)
    takes that class's arguments too; the return annotation names the class.
    """
    import nnatlas.models as zoo

    fn = zoo.get_model_entry(model).fn
    found: dict[str, Any] = {}
    takes_more = False
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind is p.VAR_KEYWORD:
            takes_more = True
        elif p.kind is not p.VAR_POSITIONAL:
            found[name] = p.default
    if takes_more:
        cls = typing.get_type_hints(fn).get("return")
        if inspect.isclass(cls):
            for name, p in inspect.signature(cls.__init__).parameters.items():
                if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    found.setdefault(name, p.default)
    return found


def applies(dimension: Dimension, arguments: dict[str, Any]) -> bool:
    """Whether a model with constructor ``arguments`` takes ``dimension``."""
    if dimension.target == "config":
        return True
    return any(arg in arguments for arg in MODEL_ARGUMENTS[dimension.name])


def parse_space(text: str | None, model: str) -> list[Dimension]:
    """The dimensions of ``--space`` for ``model``; ``None`` or ``""``: all that apply.

    Raises:
        SpaceError: an unknown name, a malformed range, or a model option the model lacks.
    """
    arguments = model_arguments(model)
    if not text:
        return [d for d in DIMENSIONS.values() if applies(d, arguments)]
    chosen: dict[str, Dimension] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, spec = (s.strip() for s in item.partition("="))
        name = name.replace("-", "_")
        if name not in DIMENSIONS:
            raise SpaceError(
                f"--space: unknown dimension {name!r}; choose from {', '.join(DIMENSIONS)}"
            )
        dimension = DIMENSIONS[name]
        if not applies(dimension, arguments):
            takes = ", ".join(arguments) or "no arguments"
            raise SpaceError(
                f"--space {name}: model {model!r} has no constructor argument "
                f"{' or '.join(MODEL_ARGUMENTS[name])} (it takes {takes}); leave {name} out"
            )
        chosen[name] = _with_range(dimension, spec) if spec else dimension
    if not chosen:
        raise SpaceError("--space: name at least one dimension, e.g. --space lr,batch_size")
    return list(chosen.values())


def _number(text: str, kind: str, item: str) -> Any:
    try:
        value = int(text) if kind == "int" else float(text)
    except ValueError:
        wanted = "a whole number" if kind == "int" else "a number"
        raise SpaceError(f"--space {item}: {text!r} is not {wanted}") from None
    if not math.isfinite(value):
        raise SpaceError(f"--space {item}: {text!r} is not a finite number")
    return value


def _with_range(dimension: Dimension, spec: str) -> Dimension:
    """``dimension`` with the range of ``low:high`` or the choices of ``a|b|c``."""
    item = f"{dimension.name}={spec}"
    if dimension.kind == "choice":
        parts = [p.strip() for p in spec.split("|") if p.strip()]
        if not parts:
            raise SpaceError(f"--space {item}: give choices as a|b|c")
        typed = type(dimension.choices[0])
        try:
            choices = tuple(typed(p) for p in parts)
        except ValueError:
            raise SpaceError(f"--space {item}: choices must be {typed.__name__}s") from None
        return replace(dimension, choices=choices)
    low_text, sep, high_text = spec.partition(":")
    if not sep:
        raise SpaceError(f"--space {item}: give a range as low:high, e.g. {dimension.name}=1:4")
    low = _number(low_text.strip(), dimension.kind, item)
    high = _number(high_text.strip(), dimension.kind, item)
    if not low < high:
        raise SpaceError(f"--space {item}: low must be below high")
    if dimension.log and low <= 0:
        raise SpaceError(f"--space {item}: {dimension.name} is searched on a log scale; low > 0")
    if dimension.name == "dropout" and not (0 <= low and high < 1):
        raise SpaceError(f"--space {item}: a drop probability lies in [0, 1)")
    if dimension.name in ("width", "depth") and low < 1:
        raise SpaceError(f"--space {item}: {dimension.name} is at least 1")
    return replace(dimension, low=low, high=high)


def split_params(params: dict[str, Any], arguments: dict[str, Any]) -> tuple[dict, dict]:
    """A trial's parameters as ``(config overrides, model_options)`` for ``tasks.train``.

    Width and depth become ``hidden_sizes = [width] * depth`` for a model that takes a list of
    widths (the one left out keeps the constructor's default), else ``hidden_size`` and
    ``num_layers``.
    """
    config = {k: v for k, v in params.items() if DIMENSIONS[k].target == "config"}
    model: dict[str, Any] = {}
    if "dropout" in params:
        model["dropout"] = float(params["dropout"])
    if "width" in params or "depth" in params:
        if "hidden_sizes" in arguments:
            default = list(arguments["hidden_sizes"] or [])
            width = int(params.get("width", default[0] if default else 128))
            depth = int(params.get("depth", len(default) or 1))
            model["hidden_sizes"] = [width] * depth
        else:
            if "width" in params:
                model["hidden_size"] = int(params["width"])
            if "depth" in params:
                model["num_layers"] = int(params["depth"])
    return config, model
