"""Every ``nnatlas check`` entry of the convolutional scratch engine passes the project's bars."""

from __future__ import annotations

import math

import pytest

from nnatlas.bridge import checks as check_registry
from nnatlas.bridge import checks_conv
from nnatlas.bridge.checks import GRADCHECK_TOL, PARITY_TOL

# Read the registry directly: all_checks() would import every other checks_* module too, and a
# broken neighbour must not fail these tests.
CONV = sorted(
    name
    for name, check in check_registry._CHECKS.items()
    if check.run.__module__ == "nnatlas.bridge.checks_conv"
)


def test_expected_checks_are_registered() -> None:
    for name in ("Conv2d(3, 4, 3)", "MaxPool2d(2)", "AvgPool2d(2)", "AdaptiveAvgPool2d(1)",
                 "Flatten", "BatchNorm2d train", "BatchNorm2d eval", "LeNet5(modern)",
                 "LeNet5(1998)", "BasicBlock"):  # fmt: skip
        assert name in CONV
    assert sum(name.startswith("Conv2d") for name in CONV) >= 7


def test_one_check_per_entry_of_the_checks_own_tables() -> None:
    tables = (
        checks_conv.CONV_CASES,
        checks_conv.POOL_CASES,
        checks_conv.BATCHNORM2D_CASES,
        checks_conv.LENET_CASES,
        checks_conv.BLOCK_CASES,
    )
    names = [name for table in tables for name in table]
    assert sorted(names) == CONV


@pytest.mark.parametrize("name", CONV)
def test_check_passes(name: str) -> None:
    result = check_registry._CHECKS[name].run()
    assert result.passed, result
    assert result.parity_max_abs is not None and result.parity_max_abs <= PARITY_TOL
    if result.group == "layers" or name.startswith("LeNet5"):
        assert result.gradcheck_rel_error is not None
        assert math.isfinite(result.gradcheck_rel_error)
        assert result.gradcheck_rel_error <= GRADCHECK_TOL
