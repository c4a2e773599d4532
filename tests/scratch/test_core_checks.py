"""Every ``nnatlas check`` entry of the core scratch engine passes the project's bars, one check
per entry of the check module's own tables."""

from __future__ import annotations

import math

import pytest

from nnatlas.bridge import checks as check_registry
from nnatlas.bridge import checks_basic
from nnatlas.bridge.checks import GRADCHECK_TOL, PARITY_TOL

# Read the registry directly: all_checks() would import every other checks_* module too, and a
# broken neighbour must not fail these tests.
CORE = sorted(
    name
    for name, check in check_registry._CHECKS.items()
    if check.run.__module__ == "nnatlas.bridge.checks_basic"
)


def test_one_check_per_entry_of_the_checks_own_tables() -> None:
    tables = (
        checks_basic.LAYER_CASES,
        checks_basic.ACTIVATION_CASES,
        checks_basic.LOSS_CASES,
        checks_basic.OPTIMIZER_CASES,
    )
    bespoke = [
        "Dropout",
        "Sequential(Linear, BatchNorm1d, ReLU, Linear)",
        "clip_grad_norm_ / clip_grad_value_",
        "MLP (scratch model, cross-entropy, SGD step)",
    ]
    assert sorted([name for table in tables for name in table] + bespoke) == CORE


@pytest.mark.parametrize("name", CORE)
def test_check_passes(name: str) -> None:
    result = check_registry._CHECKS[name].run()
    assert result.passed, result
    assert result.parity_max_abs is not None and result.parity_max_abs <= PARITY_TOL
    if result.group != "optim":
        assert result.gradcheck_rel_error is not None
        assert math.isfinite(result.gradcheck_rel_error)
        assert result.gradcheck_rel_error <= GRADCHECK_TOL
