"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts only, so the safe loader
(``weights_only=True``, which refuses arbitrary pickled objects) reads it. Random-generator
states are stored as tensors or lists for the same reason.

Writing goes to a temporary file in the same folder, then ``os.replace`` renames it over the
target: the rename is atomic on POSIX and Windows, so a process killed mid-write leaves either
the old checkpoint or the new one, never half a file.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnatlas.errors import NnatlasError
from nnatlas.scratch import init as scratch_init

FORMAT = "nnatlas-checkpoint"
VERSION = 1
REQUIRED = ("engine", "model_info", "config", "model")  # what rebuilding the model needs


class CheckpointError(NnatlasError, ValueError):
    """A file is not an nnatlas checkpoint, or belongs to another model."""


def save_atomic(obj: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` through a temp file and an atomic rename.

    Raises:
        nnatlas.files.WriteError: the disk is full or the folder is not writable.
    """
    import io

    from nnatlas.files import atomic_target

    # Serialized in memory first: torch reports a failed file write as a RuntimeError
    # ("iostream error"), a plain write reports it as the OSError it is (disk full ...).
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_target(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())
    return Path(path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_atomic`, refusing anything else.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is not a readable nnatlas checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no checkpoint there (expected last.pt or best.pt of a run)"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError ... by cause
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(err).__name__}: {str(err)[:200]}). "
            "Point to last.pt or best.pt inside a run folder made by `nnatlas train`."
        ) from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: this is a PyTorch file but not an nnatlas checkpoint (no format={FORMAT!r} "
            "entry). Point to last.pt or best.pt inside a run folder made by `nnatlas train`."
        )
    missing = [key for key in REQUIRED if key not in ckpt]
    if missing:
        raise CheckpointError(
            f"{path}: an nnatlas checkpoint without {', '.join(missing)} (damaged, or edited "
            "by hand); use another last.pt/best.pt or train again"
        )
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {ckpt['version']} is newer than this nnatlas ({VERSION}); "
            "upgrade nnatlas"
        )
    return ckpt


def non_finite_values(state: dict[str, Any]) -> int:
    """How many NaN or infinite numbers the floating-point tensors of ``state`` hold."""
    return sum(
        int((~torch.isfinite(v)).sum())
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.is_floating_point()
    )


def check_state_matches(
    state: dict[str, Any], expected: dict[str, tuple[int, ...]], source: str, model_name: str
) -> None:
    """Refuse a state dict whose keys or shapes differ from the model's, naming the first few."""
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:4]}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            details.append(f"unexpected {unexpected[:4]}{' ...' if len(unexpected) > 4 else ''}")
        if wrong:
            details.append(
                "shape of " + ", ".join(f"{k} {got[k]} vs {expected[k]}" for k in wrong[:3])
            )
        raise CheckpointError(
            f"{source}: the weights do not fit this {model_name} model ({'; '.join(details)}). "
            "Was it saved for another model or with other model options?"
        )


# -- random-generator states --------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """The global generators of Python, NumPy and PyTorch (and CUDA), as safe-loadable values."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        # Python's Mersenne Twister: 624 words + position, all < 2**32, so int64 holds them.
        "python": {
            "version": int(py_version),
            "internal": torch.tensor(py_internal, dtype=torch.int64),
            "gauss": py_gauss,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu())
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["name"],
            numpy_state["keys"].cpu().numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate(
        (
            python_state["version"],
            tuple(int(v) for v in python_state["internal"].tolist()),
            python_state["gauss"],
        )
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) with one number."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    scratch_init.manual_seed(seed)  # the NumPy engine's default generator
