"""Every ``nnatlas check`` entry of the recurrent engine passes the project's bars."""

from __future__ import annotations

import pytest

from nnatlas.bridge import checks as check_registry
from nnatlas.bridge import checks_recurrent
from nnatlas.bridge.checks import GRADCHECK_TOL, PARITY_TOL

# Read the registry directly rather than through all_checks(), which imports every other team's
# checks_* module too: a broken neighbour must not fail these tests.
CHECKS = dict(check_registry._CHECKS)

RECURRENT = sorted(
    name
    for name, check in CHECKS.items()
    if check.run.__module__ == "nnatlas.bridge.checks_recurrent"
)


def test_expected_checks_are_registered():
    for name in ("Embedding", "LSTM", "GRU", "RNN-relu", "LSTMCell", "LSTM-2layer"):
        assert name in RECURRENT
    assert "LSTM bidirectional, 2 layers, initial state" in RECURRENT


def test_one_check_per_entry_of_the_checks_own_tables():
    sequences = [
        f"{kind}{suffix}"
        for kind in checks_recurrent.SEQUENCE_LAYERS
        for suffix in checks_recurrent.SEQUENCE_CONFIGS
    ]
    tables = (checks_recurrent.CELL_CASES, checks_recurrent.LM_CASES)
    names = sequences + [name for table in tables for name in table] + ["Embedding"]
    assert sorted(names) == RECURRENT


@pytest.mark.parametrize("name", RECURRENT)
def test_check_passes(name):
    result = CHECKS[name].run()
    assert result.gradcheck_rel_error is not None and result.parity_max_abs is not None
    assert result.gradcheck_rel_error <= GRADCHECK_TOL, result
    assert result.parity_max_abs <= PARITY_TOL, result
    assert result.passed
