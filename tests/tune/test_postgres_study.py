"""Processes sharing one study on a real PostgreSQL server: a throwaway cluster the test makes
(Debian's ``postgresql`` package and the ``psycopg2`` driver; skipped without them)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

pytest.importorskip("psycopg2")
from nnatlas.tune.search import database_url  # noqa: E402

# Each process reserves under the server's lock only: its own folder, as on its own machine,
# so a lock file could not serialize them.
RESERVER = """
import sys, time
import optuna
from nnatlas.tune.search import StudyLock, _reserve, _storage
url, trials, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = StudyLock(url, __import__("pathlib").Path(folder), "s")
optuna.logging.set_verbosity(optuna.logging.WARNING)
with lock.hold():
    study = optuna.create_study(storage=_storage(url), study_name="s", load_if_exists=True)
while True:
    with lock.hold():
        trial = _reserve(study, trials, "random", 0)
    if trial is None:
        break
    time.sleep(0.05)  # a trial that takes a while: the others reserve meanwhile
    study.tell(trial, trial.suggest_float("x", 0, 1))
"""


def _program(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    return found if isinstance(found, str) else (found[0] if found else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """The URL of a fresh PostgreSQL server on the loopback address (127.0.0.1, a free port;
    its socket in a temporary folder), a throwaway cluster stopped and removed afterwards."""
    initdb, pg_ctl = _program("initdb"), _program("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="nnatlas-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server as")
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "nnatlas", "-N"],
                   check=True, capture_output=True)  # fmt: skip
    options = f"-k {folder} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                    options, "start"], check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://nnatlas@127.0.0.1:{port}/postgres"  # as a user would type it
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_processes_on_a_server_reserve_under_its_lock(postgres, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", RESERVER, postgres, "12", str(tmp_path / f"machine{i}")],
            env=env,
        )
        for i in range(3)
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0]
    study = optuna.load_study(study_name="s", storage=database_url(postgres))
    assert [t.number for t in study.trials] == list(range(12))  # none extra, none twice
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert len({t.user_attrs["worker"]["pid"] for t in study.trials}) >= 2
    assert not list(tmp_path.rglob("*.lock"))  # the server's lock, not a file's


def test_a_server_that_cannot_be_reached_is_a_clear_error(tmp_path):
    from nnatlas.tune import TuneError, tune

    url = f"postgresql+psycopg2://nnatlas@/postgres?host={tmp_path}&port=1"
    with pytest.raises(TuneError, match="cannot open the study database"):
        tune("mlp", "digits", trials=1, storage=url, folder=tmp_path / "t", epochs=1)


def test_two_tune_workers_finish_one_study_with_no_trial_lost_or_duplicated(postgres, tmp_path):
    """Two `nnatlas tune` processes, each in its own folder as on its own machine, started
    together against one PostgreSQL study (the README's multi-worker commands)."""
    trials = 4
    command = [sys.executable, "-m", "nnatlas", "tune", "mlp", "--data", "digits", "--limit",
               "100", "--space", "lr,width", "--pruner", "none", "--epochs", "1", "--trials",
               str(trials), "--storage", postgres, "--study", "shared"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    workers = [
        subprocess.Popen(
            [*command, "--dir", str(tmp_path / f"machine{i}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = optuna.load_study(study_name="shared", storage=database_url(postgres))
    assert [t.number for t in study.trials] == list(range(trials))  # none lost, none extra
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == trials  # no trial ran twice under two numbers
    assert {t.user_attrs["worker"]["pid"] for t in study.trials} == {w.pid for w in workers}
    printed = [int(line.split()[1]) for out in outputs for line in out.splitlines()
               if line.startswith("trial ")]  # fmt: skip
    assert sorted(printed) == list(range(trials))  # each process reported its own trials
