"""Every ``nnatlas check`` entry of the convolutional scratch engine passes the project's bars."""

from __future__ import annotations

import math

import pytest

import nnatlas.bridge.checks_conv  # noqa: F401  (registers the checks)
from nnatlas.bridge import registry
from nnatlas.bridge.registry import GRADCHECK_TOL, PARITY_TOL

# Read the registry directly: all_checks() would import every other checks_* module too, and a
# broken neighbour must not fail these tests.
CONV = sorted(
    name
    for name, check in registry._CHECKS.items()
    if check.run.__module__ == "nnatlas.bridge.checks_conv"
)


def test_expected_checks_are_registered() -> None:
    for name in ("Conv2d(3, 4, 3)", "MaxPool2d(2)", "AvgPool2d(2)", "AdaptiveAvgPool2d(1)",
                 "Flatten", "BatchNorm2d train", "BatchNorm2d eval", "LeNet5(modern)",
                 "LeNet5(1998)", "BasicBlock"):  # fmt: skip
        assert name in CONV
    assert sum(name.startswith("Conv2d") for name in CONV) >= 7


@pytest.mark.parametrize("name", CONV)
def test_check_passes(name: str) -> None:
    result = registry._CHECKS[name].run()
    assert result.passed, result
    assert result.parity_max_abs is not None and result.parity_max_abs <= PARITY_TOL
    if result.group == "layers" or name.startswith("LeNet5"):
        assert result.gradcheck_rel_error is not None
        assert math.isfinite(result.gradcheck_rel_error)
        assert result.gradcheck_rel_error <= GRADCHECK_TOL
