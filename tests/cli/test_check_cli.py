"""``nnatlas check``: every registered check passes; selection, JSON output and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nnatlas.bridge import checks as check_registry
from nnatlas.bridge.checks import CheckResult
from nnatlas.cli import _register, app

_register()
runner = CliRunner()

CORE = {"Linear", "Dropout", "GELU", "CrossEntropyLoss", "AdamW", "BatchNorm1d train (N, C)"}


def test_check_all_json_passes_every_registered_check():
    result = runner.invoke(app, ["check", "all", "--json"])
    rows = json.loads(result.stdout)
    failed = [(r["name"], r["detail"]) for r in rows if not r["passed"]]
    assert not failed and result.exit_code == 0
    assert CORE <= {r["name"] for r in rows}
    assert {r["group"] for r in rows} >= {"layers", "activations", "losses", "optim", "models"}
    for row in rows:
        assert row["gradcheck_rel_error"] is not None or row["parity_max_abs"] is not None


def test_check_selects_by_group_or_name_case_insensitively():
    rows = json.loads(runner.invoke(app, ["check", "LOSSES", "--json"]).stdout)
    assert rows and {r["group"] for r in rows} == {"losses"}
    rows = json.loads(runner.invoke(app, ["check", "gelu", "--json"]).stdout)
    assert [r["name"] for r in rows] == ["GELU", "GELU(approximate='tanh')"]
    rows = json.loads(runner.invoke(app, ["check", "amsgrad", "--json"]).stdout)
    assert {r["name"] for r in rows} == {"Adam(amsgrad, weight_decay)", "AdamW(amsgrad)"}
    rows = json.loads(runner.invoke(app, ["check", "batchnorm1d", "--json"]).stdout)
    assert len(rows) >= 4 and all("BatchNorm1d" in r["name"] for r in rows)


def test_check_table_output():
    result = runner.invoke(app, ["check", "activations"])
    assert result.exit_code == 0
    assert "Tanh" in result.stdout and "PASS" in result.stdout and "passed" in result.stdout


def test_unknown_name_exits_2_and_lists_valid_names():
    result = runner.invoke(app, ["check", "no-such-layer"])
    assert result.exit_code == 2
    message = result.stderr if hasattr(result, "stderr") else result.output
    assert "no-such-layer" in message and "CrossEntropyLoss" in message and "losses" in message


@pytest.fixture
def failing_check():
    def broken() -> CheckResult:
        return CheckResult("zz_failing", "zz_test", gradcheck_rel_error=0.5)

    def crashing() -> CheckResult:
        raise ZeroDivisionError("boom")

    check_registry.all_checks()  # load the real checks first, so ours are the only additions
    check_registry._CHECKS["zz_failing"] = check_registry.Check("zz_failing", "zz_test", broken)
    check_registry._CHECKS["zz_crashing"] = check_registry.Check("zz_crashing", "zz_test", crashing)
    yield
    del check_registry._CHECKS["zz_failing"], check_registry._CHECKS["zz_crashing"]


def test_failing_or_crashing_check_exits_1_and_says_why(failing_check):
    result = runner.invoke(app, ["check", "zz_test", "--json"])
    assert result.exit_code == 1
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert not rows["zz_failing"]["passed"]
    assert (
        not rows["zz_crashing"]["passed"]
        and "ZeroDivisionError: boom" in rows["zz_crashing"]["detail"]
    )
