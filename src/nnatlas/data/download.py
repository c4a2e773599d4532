"""Downloads that can be trusted: checksum verified, resumable, safely extracted.

A file is fetched into ``<name>.part`` next to its destination. If a ``.part`` file is already
there (an interrupted download), the request asks for the rest with an HTTP ``Range`` header and
appends; a server that ignores ``Range`` (status 200) makes us start over. Only after the checksum
matches is the ``.part`` renamed to its final name, so a half-written file never looks complete.

A download that crawls is abandoned rather than left to run forever: the socket timeout only
fires when *no* byte arrives, so a server trickling a byte every few seconds would never trip
it. :func:`download_url` also gives up when the average rate over the last
``NNATLAS_DOWNLOAD_STALL_SECONDS`` (default 60) falls under ``NNATLAS_DOWNLOAD_MIN_RATE`` bytes
per second (default 1024), or when the whole attempt takes longer than
``NNATLAS_DOWNLOAD_DEADLINE`` seconds (default 3600; 0 switches either check off). The ``.part``
file is kept in both cases, so the next attempt resumes where this one stopped.

Archives are extracted member by member after checking that each one stays inside the target
folder: absolute paths, ``..`` components, symbolic/hard links and device files are refused
(the "zip slip" / tarfile CVE-2007-4559 class of attacks).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nnatlas.data.errors import DatasetError
from nnatlas.errors import NnatlasError

CHUNK = 1 << 16  # bytes per read; small enough for a smooth progress bar
# Defaults of the environment variables that bound a download (see the module docstring).
MIN_RATE = 1024.0  # bytes per second, averaged over STALL_SECONDS
STALL_SECONDS = 60.0  # the window over which the rate is averaged
DEADLINE = 3600.0  # seconds for one attempt; a later attempt resumes from the .part file


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file.

    Attributes:
        filename: name of the file once saved in the dataset folder.
        url: where to download it from.
        checksum: ``"sha256:<hex>"`` (or ``"md5:<hex>"`` where only the upstream md5 is known);
            ``None`` skips verification (the report says so).
        extract: unpack the archive (zip/tar) into the dataset folder after verification.
    """

    filename: str
    url: str
    checksum: str | None = None
    extract: bool = False


class DownloadError(NnatlasError, OSError):
    """The server could not be reached or refused the request (the message names the URL)."""


class ChecksumError(DatasetError):
    """A downloaded or local file does not have the expected checksum."""


def file_checksum(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: str | Path, checksum: str | None) -> None:
    """Check ``path`` against ``"sha256:<hex>"`` / ``"md5:<hex>"`` (a bare hex means sha256).

    Raises:
        ChecksumError: naming the file, the expected and the actual digest.
    """
    if not checksum:
        return
    algorithm, _, expected = checksum.rpartition(":")
    algorithm = algorithm or "sha256"
    actual = file_checksum(path, algorithm)
    if actual.lower() != expected.lower():
        raise ChecksumError(
            f"{path}: {algorithm} checksum mismatch (expected {expected}, got {actual}); "
            "the file is corrupt or was changed upstream. Delete it and download again."
        )


@dataclass(frozen=True)
class Limits:
    """When a download is abandoned (see the module docstring); 0 switches a check off.

    Attributes:
        min_rate: bytes per second, averaged over ``stall_seconds``.
        stall_seconds: the averaging window, in seconds.
        deadline: seconds for the whole attempt.
    """

    min_rate: float = MIN_RATE
    stall_seconds: float = STALL_SECONDS
    deadline: float = DEADLINE

    @classmethod
    def from_env(cls) -> Limits:
        """The limits from ``NNATLAS_DOWNLOAD_{MIN_RATE,STALL_SECONDS,DEADLINE}`` or defaults."""
        values = {}
        for field, default in (
            ("min_rate", MIN_RATE),
            ("stall_seconds", STALL_SECONDS),
            ("deadline", DEADLINE),
        ):
            name = f"NNATLAS_DOWNLOAD_{field.upper()}"
            raw = os.environ.get(name, "").strip()
            try:
                values[field] = float(raw) if raw else default
            except ValueError:
                values[field] = -1.0
            if not values[field] >= 0:  # also refuses nan
                raise DatasetError(
                    f"{name}={raw!r} is not a number of "
                    f"{'bytes per second' if field == 'min_rate' else 'seconds'} >= 0 "
                    "(0 switches the check off); fix or unset it"
                )
        return cls(**values)


class _Watch:
    """Checks a running download against :class:`Limits` after every read."""

    def __init__(self, url: str, part: Path, limits: Limits) -> None:
        self.url, self.part, self.limits = url, part, limits
        self.start = time.monotonic()
        self.samples: deque[tuple[float, int]] = deque([(self.start, 0)])  # (time, bytes)

    def update(self, copied: int) -> None:
        now = time.monotonic()
        limits, elapsed = self.limits, now - self.start
        if limits.deadline and elapsed > limits.deadline:
            raise DownloadError(
                f"{self.url}: gave up after {elapsed:.3g} s (deadline {limits.deadline:g} s, "
                f"NNATLAS_DOWNLOAD_DEADLINE) with {copied:,} bytes received this attempt, "
                f"{copied / elapsed:,.0f} bytes/s; run again to resume from {self.part}"
            )
        if not (limits.min_rate and limits.stall_seconds):
            return
        self.samples.append((now, copied))
        # Keep one sample at or before the window's start: the rate is over the whole window.
        while len(self.samples) > 1 and self.samples[1][0] <= now - limits.stall_seconds:
            self.samples.popleft()
        then, before = self.samples[0]
        if now - then >= limits.stall_seconds:
            rate = (copied - before) / (now - then)
            if rate < limits.min_rate:
                raise DownloadError(
                    f"{self.url}: download stalled: {rate:,.0f} bytes/s over the last "
                    f"{now - then:.3g} s, under the minimum of {limits.min_rate:,.0f} bytes/s "
                    f"(NNATLAS_DOWNLOAD_MIN_RATE, NNATLAS_DOWNLOAD_STALL_SECONDS); "
                    f"{copied:,} bytes received this attempt. Run again to resume from "
                    f"{self.part}, or try later or from a mirror (NNATLAS_DOWNLOAD_MIRROR)"
                )


def download_url(
    url: str,
    dest: str | Path,
    checksum: str | None = None,
    *,
    progress: bool = True,
    timeout: float = 30.0,
    limits: Limits | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file.

    Args:
        url: http(s) or file URL.
        dest: final path of the file.
        checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"``; verified before the rename.
        progress: show a rich progress bar.
        timeout: seconds without any data before giving up (one read).
        limits: minimum rate and overall deadline; ``None``: :meth:`Limits.from_env`. They are
            checked after each read, so a deadline can be overrun by up to ``timeout``.

    Returns:
        ``dest``.

    Raises:
        ChecksumError: the finished download does not match (the ``.part`` file is deleted,
            since resuming a wrong file can never fix it).
        DownloadError: network failure, HTTP error, a stalled transfer or a passed deadline,
            naming the URL (a ``.part`` file is kept, so the next call resumes).
    """
    limits = Limits.from_env() if limits is None else limits
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "nnatlas"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416:  # 416: nothing left to send, the .part is already complete
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
        response = None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"{url}: {reason}") from None
    if response is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with response:
            status = getattr(response, "status", 200)
            if offset and status != 206:
                offset = 0  # the server ignored Range: start over
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            watch = _Watch(url, part, limits)
            with open(part, "ab" if offset else "wb") as out:
                try:
                    got = _copy_with_progress(
                        response, out, offset, total, dest.name, progress, watch
                    )
                except DownloadError:  # stalled or past the deadline: already explained
                    raise
                except (http.client.HTTPException, OSError) as err:  # timeout, reset, ...
                    # What arrived stays in the .part file: the next call resumes from there.
                    raise DownloadError(f"{url}: interrupted ({err!r})") from None
            # http.client returns a short read, not an error, when the server hangs up early.
            if length is not None and got < int(length):
                raise DownloadError(
                    f"{url}: interrupted after {offset + got} of {total} bytes; "
                    f"run again to resume from {part}"
                )
    try:
        verify_checksum(part, checksum)
    except ChecksumError as err:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"download of {url} refused: {err}") from None
    os.replace(part, dest)
    return dest


def _copy_with_progress(
    src, out, done: int, total: int | None, label: str, show: bool, watch: _Watch
) -> int:
    """Copy ``src`` to ``out`` in chunks, checking ``watch`` after each; returns bytes copied."""
    # read1 returns what one socket read gave: read(n) would wait for all n bytes, and a
    # trickling server would then never give the watch a chance to run.
    read = getattr(src, "read1", src.read)
    bar = task = None
    if show:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        bar = Progress("[progress.description]{task.description}", *columns, transient=True)
        task = bar.add_task(label, total=total, completed=done)
        bar.start()
    copied = 0
    try:
        while block := read(CHUNK):
            out.write(block)
            copied += len(block)
            if bar is not None:
                bar.advance(task, len(block))
            watch.update(copied)
    finally:
        if bar is not None:
            bar.stop()
    return copied


def download_remote(remote: RemoteFile, folder: str | Path, url: str | None = None) -> Path:
    """Download one catalog file into ``folder`` (skipped when already there and valid)."""
    folder = Path(folder)
    dest = folder / remote.filename
    if dest.exists():
        try:
            verify_checksum(dest, remote.checksum)
        except ChecksumError:
            dest.unlink()
    if not dest.exists():
        if remote.checksum is None:
            warnings.warn(
                f"{remote.filename}: no published checksum, the download is not verified",
                stacklevel=2,
            )
        download_url(url or remote.url, dest, remote.checksum)
    if remote.extract:
        safe_extract(dest, folder)
    return dest


def _check_member(name: str, archive: Path, target: Path) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
        raise DatasetError(f"{archive}: member {name!r} would escape {target}; refusing to extract")
    out = (target / pure).resolve()
    if out != target and target not in out.parents:
        raise DatasetError(f"{archive}: member {name!r} would escape {target}; refusing to extract")
    return out


def safe_extract(archive: str | Path, target: str | Path) -> list[Path]:
    """Extract a zip or tar archive into ``target``, refusing anything that could escape it.

    Returns:
        The extracted paths.

    Raises:
        DatasetError: a member with an absolute path, ``..``, a link or a device file; or a file
            that is not a readable zip/tar archive, or one that is truncated or corrupt (the
            message names the archive).
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    try:
        if zipfile.is_zipfile(archive):
            return _extract_zip(archive, target)
        return _extract_tar(archive, target)
    # A truncated or corrupted archive fails mid-way with any of these (BadZipFile and TarError
    # are not OSErrors; a cut gzip stream raises EOFError, bad deflate data zlib.error); OSError
    # is a bad gzip header, or the disk.
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DatasetError(
            f"{archive}: cannot extract the archive ({type(err).__name__}: {err}); if it is "
            "truncated or corrupt, delete it and download again"
        ) from None


def _extract_zip(archive: Path, target: Path) -> list[Path]:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:  # check every member before writing any
            _check_member(info.filename, archive, target)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DatasetError(f"{archive}: member {info.filename!r} is a symbolic link")
        return [Path(zf.extract(info, target)) for info in infos]


def _extract_tar(archive: Path, target: Path) -> list[Path]:
    try:
        tf = tarfile.open(archive)
    except (tarfile.TarError, OSError) as err:
        raise DatasetError(f"{archive}: not a zip or tar archive ({err})") from None
    written: list[Path] = []
    with tf:
        members = tf.getmembers()
        for m in members:
            _check_member(m.name, archive, target)
            if not (m.isfile() or m.isdir()):
                raise DatasetError(
                    f"{archive}: member {m.name!r} is a link or special file; refusing to extract"
                )
        # Python >= 3.11.4 also applies its own "data" filter; older ones rely on the checks above.
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        for m in members:
            tf.extract(m, target, **extra)
            written.append(target / m.name)
    return written
