"""Processes sharing one study: ``nnatlas tune`` started twice at once, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

ARGS = ["--data", "digits", "--limit", "100", "--space", "lr,width", "--pruner", "none"]


def nnatlas(*args: str) -> list[str]:
    return [sys.executable, "-c", "from nnatlas.cli import main; main()", *args]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# Two processes that reserve trials exactly as `tune` does (under the lock beside the SQLite
# file), but finish each at once instead of training: the reservation alone, in seconds.
RESERVER = """
import os, sys, time
import optuna
from nnatlas.tune.search import _lock_path, _reserve, _storage, study_lock
url, trials, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = _lock_path(url, folder)
optuna.logging.set_verbosity(optuna.logging.WARNING)
with study_lock(lock):
    study = optuna.create_study(storage=_storage(url), study_name="s", load_if_exists=True)
while True:
    with study_lock(lock):
        trial = _reserve(study, trials, "tpe", 0)
    if trial is None:
        break
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.05)  # a trial that takes a while: the other process reserves meanwhile
    study.tell(trial, x)
"""


def test_processes_reserving_together_never_collide_nor_overshoot(tmp_path):
    url = f"sqlite:///{tmp_path / 'fast.db'}"
    workers = [
        subprocess.Popen([sys.executable, "-c", RESERVER, url, "12", str(tmp_path)], env=env())
        for _ in range(3)
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0]
    study = optuna.load_study(study_name="s", storage=url)
    assert [t.number for t in study.trials] == list(range(12))
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert len({t.user_attrs["worker"]["pid"] for t in study.trials}) >= 2


@pytest.mark.slow  # two processes that import torch and train: 64 s on a busy 2-core machine
def test_two_processes_started_together_share_one_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    commands = [
        nnatlas(
            "tune",
            "mlp",
            *ARGS,
            "--trials",
            "4",
            "--epochs",
            "1",
            "--storage",
            storage,
            "--study",
            "shared",
            "--dir",
            str(tmp_path / f"worker{i}"),
        )  # fmt: skip
        for i in range(2)
    ]
    workers = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env()) for c in commands]  # fmt: skip
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = optuna.load_study(study_name="shared", storage=storage)
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(4)), numbers  # no collision, no extra trial
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    pids = {t.user_attrs["worker"]["pid"] for t in study.trials}
    assert pids == {w.pid for w in workers}, "both processes ran trials"
    # Each process printed its own trials; together, each number once.
    printed = [line.split()[1] for out in outputs for line in out.splitlines()
               if line.startswith("trial ")]  # fmt: skip
    assert sorted(map(int, printed)) == numbers
    # The best was retrained and tested by one process only.
    assert sum("retrained best" in out for out in outputs) >= 1
    assert study.user_attrs["tested"] == [study.best_trial.number]
    tested = list(tmp_path.rglob("test_metrics.json"))
    assert len(tested) == 1 and tested[0].parent.name == "best"


@pytest.mark.slow  # two processes and four short trainings: ~30 s on a busy 2-core machine
def test_ctrl_c_keeps_the_study_and_the_same_command_continues_it(tmp_path):
    command = nnatlas("tune", "mlp", *ARGS, "--trials", "1", "--epochs", "4", "--dir",
                      str(tmp_path / "t"))  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env())  # fmt: skip
    history = tmp_path / "t" / "trials" / "0000" / "history.json"
    deadline = time.monotonic() + 300
    while not history.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)  # as Ctrl-C: the Trainer stops after the current step
    output = first.communicate(timeout=300)[0]
    assert first.returncode == 130, output
    assert "Run the same command to continue it" in output
    storage = f"sqlite:///{Path(tmp_path / 't' / 'study.db')}"
    study = optuna.load_study(study_name="mlp-digits", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL"]

    again = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    states = [t.state.name for t in optuna.load_study(study_name="mlp-digits",
                                                      storage=storage).trials]  # fmt: skip
    assert states == ["FAIL", "COMPLETE"]  # the failed trial ran again, as trial 1
    assert "2 trials: 1 complete, 0 pruned, 1 fail" in again.stdout
