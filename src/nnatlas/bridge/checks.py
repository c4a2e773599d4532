"""The checks behind ``nnatlas check``: each scratch component registers a check that runs a
finite-difference gradient check and a float64 parity comparison with its PyTorch twin;
:func:`select_checks` picks some by name and :func:`run_checks` runs them, seeded.

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
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from nnatlas.errors import NnatlasError

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
    from pathlib import Path

    # The folder, not the package: importing nnatlas.bridge here would close the circle
    # bridge -> parity -> checks -> bridge.
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("checks_"):
            importlib.import_module(f"nnatlas.bridge.{info.name}")


class UnknownCheckError(NnatlasError, KeyError):
    """No registered check matches a name; the message lists the groups and the names."""


def select_checks(name: str) -> list[Check]:
    """The registered checks that ``name`` selects, case-insensitively.

    ``"all"`` selects everything; otherwise a group name (e.g. ``"layers"``), else every check
    whose name starts with ``name`` (``"gelu"``: GELU and GELU(approximate='tanh')), else every
    check whose name contains it (``"amsgrad"``).

    Raises:
        UnknownCheckError: nothing matches; the message lists the groups and check names.
    """
    checks = list(all_checks().values())
    key = name.strip().lower()
    if key == "all":
        return checks
    for matches in (
        [c for c in checks if c.group.lower() == key],
        [c for c in checks if c.name.lower().startswith(key)],  # "gelu" -> GELU and its variants
        [c for c in checks if key in c.name.lower()],
    ):
        if matches:
            return matches
    groups = sorted({c.group for c in checks})
    raise UnknownCheckError(
        f"no check matches {name!r}. Use 'all', a group ({', '.join(groups)}) or a check name: "
        + ", ".join(c.name for c in checks)
    )


def run_checks(checks: list[Check]) -> list[CheckResult]:
    """Run ``checks``; a check that raises becomes a failed result whose detail is the error."""
    import torch

    from nnatlas.scratch import manual_seed

    results = []
    for check in checks:
        # Same numbers on every run, whatever ran before: seed both engines' default generators.
        torch.manual_seed(0)
        manual_seed(0)
        start = time.perf_counter()
        try:
            result = check.run()
        except Exception as err:  # noqa: BLE001 - report every broken check, keep going
            last = traceback.extract_tb(err.__traceback__)[-1]
            result = CheckResult(
                check.name,
                check.group,
                detail=f"{type(err).__name__}: {err} ({last.filename}:{last.lineno})",
            )
        # Report under the registered name, which is unique and what selection matches.
        result.name, result.group = check.name, check.group
        result.extra["seconds"] = time.perf_counter() - start
        results.append(result)
    return results
