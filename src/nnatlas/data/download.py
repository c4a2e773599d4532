"""Downloads that can be trusted: checksum verified, resumable, safely extracted.

A file is fetched into ``<name>.part`` next to its destination. If a ``.part`` file is already
there (an interrupted download), the request asks for the rest with an HTTP ``Range`` header and
appends; a server that ignores ``Range`` (status 200) makes us start over. Only after the checksum
matches is the ``.part`` renamed to its final name, so a half-written file never looks complete.

Archives are extracted member by member after checking that each one stays inside the target
folder: absolute paths, ``..`` components, symbolic/hard links and device files are refused
(the "zip slip" / tarfile CVE-2007-4559 class of attacks).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nnatlas.data.errors import DatasetError
from nnatlas.errors import NnatlasError

CHUNK = 1 << 16  # bytes per read; small enough for a smooth progress bar


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


def download_url(
    url: str,
    dest: str | Path,
    checksum: str | None = None,
    *,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file.

    Args:
        url: http(s) or file URL.
        dest: final path of the file.
        checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"``; verified before the rename.
        progress: show a rich progress bar.
        timeout: seconds without data before giving up.

    Returns:
        ``dest``.

    Raises:
        ChecksumError: the finished download does not match (the ``.part`` file is deleted,
            since resuming a wrong file can never fix it).
        DownloadError: network failure or HTTP error, naming the URL (a ``.part`` file is
            kept, so the next call resumes).
    """
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
            with open(part, "ab" if offset else "wb") as out:
                try:
                    got = _copy_with_progress(response, out, offset, total, dest.name, progress)
                except (http.client.HTTPException, TimeoutError) as err:
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


def _copy_with_progress(src, out, done: int, total: int | None, label: str, show: bool) -> int:
    """Copy ``src`` to ``out`` in chunks; returns the bytes copied."""
    if not show:
        start = out.tell()
        shutil.copyfileobj(src, out, CHUNK)
        return out.tell() - start
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress("[progress.description]{task.description}", *columns, transient=True) as bar:
        task = bar.add_task(label, total=total, completed=done)
        copied = 0
        while block := src.read(CHUNK):
            out.write(block)
            copied += len(block)
            bar.advance(task, len(block))
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
            that is not a readable zip/tar archive (the message names the archive).
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    written: list[Path] = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:  # check every member before writing any
                _check_member(info.filename, archive, target)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise DatasetError(f"{archive}: member {info.filename!r} is a symbolic link")
            for info in infos:
                written.append(Path(zf.extract(info, target)))
        return written
    try:
        tf = tarfile.open(archive)
    except (tarfile.TarError, OSError) as err:
        raise DatasetError(f"{archive}: not a zip or tar archive ({err})") from None
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
