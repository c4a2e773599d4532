"""Where and how a report's numbers were measured: hardware, versions, seeds, wall time.

airbench opens its results with the machine and the runtime; a lesson report does too, so a
number read later can be weighed (a busy 2-core laptop is not a quiet GPU).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from nnatlas.threads import available_cores

_PACKAGES = ("nnatlas", "numpy", "torch", "torchvision", "scikit-learn", "matplotlib", "jinja2")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    return "none (CPU only)"


def _git_commit() -> str:
    """The checkout's commit (``+dirty`` with uncommitted changes), or ``""`` outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return commit + ("+dirty" if dirty else "")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def collect(
    seed: int, quick: bool, engine: str, started: datetime, seconds: float
) -> dict[str, Any]:
    """The provenance header of one run (plain values, for JSON and the template)."""
    import torch

    try:
        load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "seed": seed,
        "mode": "quick" if quick else "full",
        "engine": engine,
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "wall_seconds": round(seconds, 2),
        "cpu": _cpu_model(),
        "cores": available_cores(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "load_average": load,
        "gpu": _gpu(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": _versions(),
        "commit": _git_commit(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def now() -> datetime:
    return datetime.now(UTC)
