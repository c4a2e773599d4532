"""The registry behind ``nnatlas check``: each scratch component registers a check that runs a
finite-difference gradient check and a float64 parity comparison with its PyTorch twin.

A check module (``nnatlas/bridge/checks_*.py``) registers functions like::

    @register_check("Linear", group="layers")
    def _check_linear() -> CheckResult:
        ...
        return CheckResult("Linear", "layers", gradcheck_rel_error=..., parity_max_abs=...)

Thresholds are the project's quality bar (DESIGN.md): gradcheck relative error <= 1e-6,
float64 parity max abs difference <= 1e-10.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

GRADCHECK_TOL = 1e-6
PARITY_TOL = 1e-10


@dataclass
class CheckResult:
    """The outcome of one component's check. ``None`` means "not measured by this check"."""

    name: str
    group: str
    gradcheck_rel_error: float | None = None
    parity_max_abs: float | None = None
    detail: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        ok = True
        if self.gradcheck_rel_error is not None:
            ok &= (
                math.isfinite(self.gradcheck_rel_error)
                and self.gradcheck_rel_error <= GRADCHECK_TOL
            )
        if self.parity_max_abs is not None:
            ok &= math.isfinite(self.parity_max_abs) and self.parity_max_abs <= PARITY_TOL
        return ok and (self.gradcheck_rel_error is not None or self.parity_max_abs is not None)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "gradcheck_rel_error": self.gradcheck_rel_error,
            "parity_max_abs": self.parity_max_abs,
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Check:
    name: str
    group: str
    run: Callable[[], CheckResult]


_CHECKS: dict[str, Check] = {}


def register_check(
    name: str, group: str
) -> Callable[[Callable[[], CheckResult]], Callable[[], CheckResult]]:
    """Decorator: register ``fn`` as the check called ``name``; duplicate names are refused."""

    def decorate(fn: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
        if name in _CHECKS:
            raise ValueError(f"check {name!r} is already registered")
        _CHECKS[name] = Check(name, group, fn)
        return fn

    return decorate


def all_checks() -> dict[str, Check]:
    """Every registered check, after importing the modules that define them."""
    _load_check_modules()
    return dict(_CHECKS)


def _load_check_modules() -> None:
    import importlib
    import pkgutil

    import nnatlas.bridge as bridge_pkg

    for info in pkgutil.iter_modules(bridge_pkg.__path__):
        if info.name.startswith("checks_"):
            importlib.import_module(f"nnatlas.bridge.{info.name}")
