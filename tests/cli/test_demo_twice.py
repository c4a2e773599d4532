"""`make demo` twice in one folder: the second replaces the demo's own run folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow  # two demos: every check and four trainings, about two minutes
def test_the_demo_runs_twice_in_one_folder(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from nnatlas.cli import main; main()", "demo"]
    for _ in range(2):
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "200"}, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "demo-mlp-digits-scratch", "demo-mlp-digits-torch",
    ]  # fmt: skip
