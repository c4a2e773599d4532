"""Run folders: never overwritten without being asked, and the data a run was trained on.

- :func:`choose_folder`: a folder that already holds a run is refused when it was named
  (``--run-name``), replaced with ``overwrite=True``, or, for a default name, left alone in
  favour of the next free ``NAME-2``, ``NAME-3`` ...
- :func:`fingerprint`: a digest of a run's prepared data, stored in its checkpoints, so a
  resumed run refuses to continue on data that changed under it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from nnatlas.tasks.base import Prepared, TaskError

# What a run writes; a folder with any of them holds a run.
RUN_FILES = (
    "config.json",
    "data.json",
    "history.json",
    "history.csv",
    "last.pt",
    "best.pt",
    "curves.png",
    "test_metrics.json",
)
RUN_FOLDERS_GLOBS = ("eval-*", "tensorboard")


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` has files a training run wrote."""
    return any((folder / name).exists() for name in RUN_FILES)


def describe_run(folder: Path) -> str:
    """``"3 epochs, test accuracy 0.9481"`` for what ``folder`` holds (best effort)."""
    parts = []
    try:
        parts.append(f"{len(json.loads((folder / 'history.json').read_text()))} epoch(s)")
    except (OSError, ValueError, TypeError):
        pass
    try:
        test = json.loads((folder / "test_metrics.json").read_text())
        key = "accuracy" if "accuracy" in test else "loss"
        parts.append(f"test {key} {test[key]:.4f}")
    except (OSError, ValueError, TypeError, KeyError):
        parts.append("not finished")
    return ", ".join(parts)


def clear_run(folder: Path) -> None:
    """Remove what a run wrote in ``folder`` (and nothing else: the user's own files stay)."""
    for name in RUN_FILES:
        (folder / name).unlink(missing_ok=True)
    for pattern in RUN_FOLDERS_GLOBS:
        for path in folder.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)


def choose_folder(folder: Path, named: bool, overwrite: bool) -> tuple[Path, str | None]:
    """The folder to train into, and a note when it is not the one asked for.

    Args:
        folder: the folder the run would write to.
        named: whether the user chose it (``--run-name`` / ``run_dir``) rather than the
            default ``MODEL-DATA-ENGINE-sSEED``.
        overwrite: replace a run that is there.

    Raises:
        TaskError: a named folder that holds a run, without ``overwrite``.
    """
    if not holds_run(folder) or overwrite:
        return folder, None
    if named:
        raise TaskError(
            f"{folder} already holds a run ({describe_run(folder)}): continue it with --resume, "
            "replace it with --overwrite, or choose another --run-name"
        )
    for n in range(2, 1000):
        candidate = folder.with_name(f"{folder.name}-{n}")
        if not holds_run(candidate):
            return candidate, f"{folder} holds an earlier run; this one goes to {candidate}"
    raise TaskError(f"{folder} and 998 numbered folders beside it hold runs; clean some up")


def fingerprint(prepared: Prepared) -> str:
    """A digest of the prepared splits and their record (classes, vocabularies ...)."""
    digest = hashlib.sha1(usedforsecurity=False)  # change detection, not security
    for part in (prepared.train, prepared.val, prepared.test):
        for tensor in part or ():
            array = tensor.detach().cpu().numpy()
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
    digest.update(json.dumps(prepared.record, sort_keys=True).encode())
    return digest.hexdigest()[:16]
