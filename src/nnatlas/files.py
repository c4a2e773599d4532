"""Writing files so that nothing is lost or left half-written, and one writer per run folder.

- :func:`write_text_atomic` / :func:`write_json`: a temporary file, then an atomic rename. A
  process killed (or a disk filling up) while writing leaves the previous file, or none, never
  a truncated one; the temporary file is removed on any error.
- :class:`WriteError`: a write that failed (disk full, read-only folder), naming the file and
  what to do, instead of a raw ``OSError``.
- :class:`FolderLock`: one training per run folder at a time; the lock file names its holder.
  Taking it also removes the ``.*.tmp`` files that killed writers left behind.

This module imports no torch and nothing else of the package but its error base.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnatlas.errors import NnatlasError

LOCK_NAME = ".lock"


class WriteError(NnatlasError, OSError):
    """A file could not be written (no space, no permission ...); the message says which."""


class FolderLockedError(NnatlasError, RuntimeError):
    """Another process is training into the same run folder."""


def write_error(path: str | os.PathLike, err: OSError) -> WriteError:
    """A :class:`WriteError` for ``path`` with the reason and what to do about it."""
    reason = err.strerror or str(err)
    hint = "free some space or write elsewhere (--runs-dir)"
    if isinstance(err, PermissionError) or getattr(err, "errno", None) == 30:  # EROFS
        hint = "the folder is not writable: choose another one (--runs-dir)"
    return WriteError(f"cannot write {path}: {reason}; {hint}")


@contextmanager
def atomic_target(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it atomically when the block ends.

    The block writes the temporary file (by name: matplotlib's ``savefig`` and
    ``torch.save`` both take one); on success it is fsynced and renamed over ``path``, on any
    error it is removed. An ``OSError`` becomes a :class:`WriteError`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as err:
        raise write_error(path, err) from err
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())  # the bytes reach the disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; this is an ordinary file
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, err) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """``value`` as indented JSON (UTF-8, non-ASCII kept), written atomically."""
    return write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files that writers killed mid-write left in ``folder``."""
    removed = []
    for stale in folder.glob(".*.tmp*"):
        if stale.is_file():
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FolderLock:
    """Hold ``folder/.lock`` while training into ``folder``; refuse if another process does.

    Re-entrant within one process (the command takes it, then the Trainer takes it again). A
    lock left by a process that no longer runs on this host is stale and taken over.

    Example::

        with FolderLock(run_dir):
            ...train, write checkpoints...
    """

    _held: dict[Path, int] = {}  # folders this process holds, with a nesting count

    def __init__(self, folder: str | os.PathLike, on_stale: Callable[[str], None] | None = None):
        self.folder = Path(folder).absolute()
        self.path = self.folder / LOCK_NAME
        self.on_stale = on_stale

    def __enter__(self) -> FolderLock:
        if self.folder in self._held:
            self._held[self.folder] += 1
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise write_error(self.folder, err) from err
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._check_holder()  # raises unless the lock is stale (then removed)
                continue
            except OSError as err:
                raise write_error(self.path, err) from err
            with os.fdopen(fd, "w") as handle:
                holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
                json.dump(holder, handle)
            break
        else:  # pragma: no cover - another process took the stale lock between our attempts
            self._check_holder()
        self._held[self.folder] = 1
        remove_stale_temporaries(self.folder)
        return self

    def _check_holder(self) -> None:
        try:
            holder = json.loads(self.path.read_text())
            pid, host, since = int(holder["pid"]), str(holder["host"]), float(holder["since"])
        except (OSError, ValueError, KeyError, TypeError):
            pid, host, since = -1, socket.gethostname(), 0.0  # unreadable: treat as stale
        if pid > 0 and (host != socket.gethostname() or _alive(pid)):
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
            raise FolderLockedError(
                f"{self.folder} is in use: process {pid} on {host} has been training into it "
                f"since {started}. Wait for it to finish, stop it, or use another --run-name "
                f"(if no such process runs, delete {self.path})"
            )
        if self.on_stale is not None:
            self.on_stale(f"removed a stale lock of process {pid} in {self.folder}")
        self.path.unlink(missing_ok=True)

    def __exit__(self, *exc: object) -> None:
        count = self._held.get(self.folder, 0)
        if count > 1:
            self._held[self.folder] = count - 1
            return
        self._held.pop(self.folder, None)
        self.path.unlink(missing_ok=True)
