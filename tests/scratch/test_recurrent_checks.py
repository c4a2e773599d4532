"""Every ``nnatlas check`` entry of the recurrent engine passes the project's bars."""

from __future__ import annotations

import pytest

import nnatlas.bridge.checks_recurrent  # noqa: F401  (registers the checks)
from nnatlas.bridge import registry
from nnatlas.bridge.registry import GRADCHECK_TOL, PARITY_TOL

# Read the registry directly rather than through all_checks(), which imports every other team's
# checks_* module too: a broken neighbour must not fail these tests.
CHECKS = dict(registry._CHECKS)

RECURRENT = sorted(
    name
    for name, check in CHECKS.items()
    if check.run.__module__ == "nnatlas.bridge.checks_recurrent"
)


def test_expected_checks_are_registered():
    for name in ("Embedding", "LSTM", "GRU", "RNN-relu", "LSTMCell", "LSTM-2layer"):
        assert name in RECURRENT
    assert "LSTM bidirectional, 2 layers, initial state" in RECURRENT


@pytest.mark.parametrize("name", RECURRENT)
def test_check_passes(name):
    result = CHECKS[name].run()
    assert result.gradcheck_rel_error is not None and result.parity_max_abs is not None
    assert result.gradcheck_rel_error <= GRADCHECK_TOL, result
    assert result.parity_max_abs <= PARITY_TOL, result
    assert result.passed
