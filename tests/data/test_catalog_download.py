"""The real download code against a local HTTP server (which honours Range), and safe extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from image_writers import write_mnist_like
from nnatlas.data import DataNotFoundError, DatasetError, fetch
from nnatlas.data.catalog import DatasetSpec, RemoteFile, cache_source, url_source
from nnatlas.data.download import (
    ChecksumError,
    DownloadError,
    Limits,
    download_url,
    safe_extract,
)

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless the path starts /norange/;
    under /cut/ it promises the whole file but hangs up halfway (a dropped connection); under
    /trickle/ it sends 10 bytes every 0.05 s (200 bytes/s), as a choked server does."""

    def do_GET(self):  # noqa: N802 - http.server's name
        files, log = self.server.files, self.server.log
        path = self.path
        for prefix in ("/norange", "/cut", "/trickle"):
            path = path.removeprefix(prefix)
        data = files.get(path)
        if data is None:
            self.send_error(404)
            return
        wanted = self.headers.get("Range")
        log.append((self.path, wanted))
        start = 0
        if wanted and not self.path.startswith("/norange/"):
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path.startswith("/trickle/"):
            try:
                for i in range(0, len(body), 10):
                    self.wfile.write(body[i : i + 10])
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                return
            return
        self.wfile.write(body[: len(body) // 2] if self.path.startswith("/cut/") else body)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.log = {}, []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_download_verifies_checksum(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    dest = download_url(f"{server.base}/f.bin", tmp_path / "f.bin", sha256(PAYLOAD), progress=True)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    md5 = "md5:" + hashlib.md5(PAYLOAD).hexdigest()
    assert download_url(f"{server.base}/f.bin", tmp_path / "g.bin", md5).read_bytes() == PAYLOAD


def test_download_resumes_from_part_file(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:30000])
    dest = download_url(f"{server.base}/f.bin", tmp_path / "f.bin", sha256(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.log == [("/f.bin", "bytes=30000-")]  # only the rest was asked for


def test_dropped_connection_keeps_part_and_resumes(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="cut/f.bin: interrupted"):
        download_url(f"{server.base}/cut/f.bin", tmp_path / "f.bin", sha256(PAYLOAD))
    part = tmp_path / "f.bin.part"
    got = part.stat().st_size
    assert 0 < got < len(PAYLOAD) and not (tmp_path / "f.bin").exists()
    dest = download_url(f"{server.base}/f.bin", tmp_path / "f.bin", sha256(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    assert server.log[-1] == ("/f.bin", f"bytes={got}-")


def test_complete_part_file_and_server_without_range(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)  # interrupted just before the rename: 416
    assert download_url(f"{server.base}/f.bin", tmp_path / "f.bin", sha256(PAYLOAD)).exists()
    # A server that ignores Range sends everything with 200: start over, do not append.
    (tmp_path / "h.bin.part").write_bytes(b"stale bytes")
    dest = download_url(f"{server.base}/norange/f.bin", tmp_path / "h.bin", sha256(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_refused_naming_file(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    with pytest.raises(ChecksumError, match=r"f\.bin.*sha256 checksum mismatch"):
        download_url(f"{server.base}/f.bin", tmp_path / "f.bin", sha256(b"other"))
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_http_error_names_url(server, tmp_path):
    with pytest.raises(DownloadError, match=r"/missing.bin: HTTP 404"):
        download_url(f"{server.base}/missing.bin", tmp_path / "m.bin")
    assert not (tmp_path / "m.bin").exists()


def test_trickling_server_is_abandoned_as_stalled_and_resumed(server, tmp_path, monkeypatch):
    server.files["/f.bin"] = PAYLOAD
    monkeypatch.setenv("NNATLAS_DOWNLOAD_MIN_RATE", "1000")  # bytes/s; the server gives ~200
    monkeypatch.setenv("NNATLAS_DOWNLOAD_STALL_SECONDS", "0.5")
    url = f"{server.base}/trickle/f.bin"
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download_url(url, tmp_path / "f.bin", sha256(PAYLOAD), progress=False)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert message.startswith(f"{url}: download stalled: ") and "bytes/s over the last" in message
    assert (
        "under the minimum of 1,000 bytes/s" in message and "NNATLAS_DOWNLOAD_MIN_RATE" in message
    )
    part = tmp_path / "f.bin.part"
    got = part.stat().st_size
    assert 0 < got < len(PAYLOAD)  # kept for the next attempt
    dest = download_url(f"{server.base}/f.bin", tmp_path / "f.bin", sha256(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and server.log[-1] == ("/f.bin", f"bytes={got}-")


def test_download_deadline_names_url_and_rate(server, tmp_path, monkeypatch):
    server.files["/f.bin"] = PAYLOAD
    monkeypatch.setenv("NNATLAS_DOWNLOAD_MIN_RATE", "0")  # rate check off: only the deadline
    monkeypatch.setenv("NNATLAS_DOWNLOAD_DEADLINE", "0.5")
    url = f"{server.base}/trickle/f.bin"
    start = time.monotonic()
    with pytest.raises(
        DownloadError, match=r"gave up after [\d.]+ s \(deadline 0.5 s, NNATLAS"
    ) as err:
        download_url(url, tmp_path / "f.bin", progress=True)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert message.startswith(f"{url}: ") and " bytes/s; run again to resume" in message
    assert (tmp_path / "f.bin.part").stat().st_size > 0


def test_download_limits_from_env_refuse_nonsense(monkeypatch):
    for name in ("MIN_RATE", "STALL_SECONDS", "DEADLINE"):
        monkeypatch.delenv(f"NNATLAS_DOWNLOAD_{name}", raising=False)
    assert Limits.from_env() == Limits(1024.0, 60.0, 3600.0)
    monkeypatch.setenv("NNATLAS_DOWNLOAD_STALL_SECONDS", "soon")
    with pytest.raises(DatasetError, match=r"NNATLAS_DOWNLOAD_STALL_SECONDS='soon' is not a"):
        Limits.from_env()
    monkeypatch.setenv("NNATLAS_DOWNLOAD_STALL_SECONDS", "-1")
    with pytest.raises(DatasetError, match=r"'-1' is not a number of seconds >= 0"):
        Limits.from_env()


def test_catalog_downloads_and_extracts_archive(server, tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in (("pack/a.txt", b"alpha"), ("pack/b.txt", b"beta")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    server.files["/pack.tar.gz"] = buffer.getvalue()
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("NNATLAS_OFFLINE", raising=False)
    remote = RemoteFile(
        "pack.tar.gz", f"{server.base}/pack.tar.gz", sha256(buffer.getvalue()), extract=True
    )
    spec = DatasetSpec(
        name="h5-pack",
        kind="text",
        description="test",
        loader=lambda s, r: None,
        sources=[cache_source(), url_source(remote)],
        files=("pack/a.txt", "pack/b.txt"),
    )
    folder = fetch(spec)
    assert folder == tmp_path / "cache" / "h5-pack"
    assert (folder / "pack" / "b.txt").read_bytes() == b"beta"
    n_requests = len(server.log)
    assert fetch(spec) == folder and len(server.log) == n_requests  # cached now: no request


def test_catalog_refuses_mismatching_download(server, tmp_path, monkeypatch):
    # Files in the right format but not the published ones: their md5 differs, so the catalog
    # refuses them and says which file.
    write_mnist_like(tmp_path / "served", n_train=10, n_test=10)
    for path in (tmp_path / "served").iterdir():
        server.files[f"/mnist/{path.name}"] = path.read_bytes()
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("NNATLAS_DOWNLOAD_MIRROR", f"{server.base}/mnist")
    monkeypatch.delenv("NNATLAS_OFFLINE", raising=False)
    with pytest.raises(DataNotFoundError) as err:
        fetch("mnist")
    reason = err.value.attempts[-1][1]
    assert "ChecksumError" in reason and "train-images-idx3-ubyte.gz" in reason
    assert "md5 checksum mismatch" in reason


# ---------------------------------------------------------------- safe extraction


def _tar_with(tmp_path, name, kind=tarfile.REGTYPE, linkname=""):
    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, linkname
        data = b"evil" if kind == tarfile.REGTYPE else b""
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("member", ["../evil", "ok/../../evil", "/tmp/evil-abs"])
def test_tar_member_escaping_refused(tmp_path, member):
    archive = _tar_with(tmp_path, member)
    with pytest.raises(DatasetError, match="escape"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_tar_links_refused(tmp_path):
    archive = _tar_with(tmp_path, "link", tarfile.SYMTYPE, "/etc/passwd")
    with pytest.raises(DatasetError, match="link"):
        safe_extract(archive, tmp_path / "out")
    archive = _tar_with(tmp_path, "hard", tarfile.LNKTYPE, "x")
    with pytest.raises(DatasetError, match="link"):
        safe_extract(archive, tmp_path / "out")


def test_zip_member_escaping_refused_and_good_zip_extracts(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("fine.txt", b"fine")
        zf.writestr("../evil", b"evil")
    with pytest.raises(DatasetError, match=r"bad.zip: member '../evil' would escape"):
        safe_extract(bad, tmp_path / "out")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out" / "fine.txt").exists()
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("d/fine.txt", b"fine")
    safe_extract(good, tmp_path / "out")
    assert (tmp_path / "out" / "d" / "fine.txt").read_bytes() == b"fine"


def test_not_an_archive(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive at all")
    with pytest.raises(DatasetError, match="junk.tar.gz: not a zip or tar archive"):
        safe_extract(junk, tmp_path / "out")


def test_corrupt_or_truncated_archives_name_the_archive(tmp_path):
    # Archives without a published checksum (hymenoptera) reach extraction even when corrupt.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d/a.bin", PAYLOAD)
    data = bytearray(buffer.getvalue())
    data[100:110] = b"\xff" * 10  # inside a.bin's compressed data: a CRC or deflate error
    (tmp_path / "c.zip").write_bytes(bytes(data))
    with pytest.raises(
        DatasetError, match=r"c\.zip: cannot extract the archive \((BadZipFile|error)"
    ):
        safe_extract(tmp_path / "c.zip", tmp_path / "out")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        info = tarfile.TarInfo("p/a.bin")
        info.size = len(PAYLOAD)
        tf.addfile(info, io.BytesIO(PAYLOAD))
    cut = tmp_path / "t.tar.gz"
    cut.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(DatasetError, match=r"t\.tar\.gz: cannot extract the archive \(EOFError"):
        safe_extract(cut, tmp_path / "out")


def _png(array) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_pennfudan_downloads_unzips_and_loads_through_the_catalog(server, tmp_path, monkeypatch):
    """The real Penn-Fudan entry, its URL pointed at a test server holding a zip laid out as
    PennFudanPed.zip is (PennFudanPed/PNGImages, PennFudanPed/PedMasks with instance ids)."""
    import numpy as np

    pytest.importorskip("PIL")
    from nnatlas.data.detection import load_detection_dataset

    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i in range(1, 5):
            mask = np.zeros((48, 64), dtype=np.uint8)
            mask[4:40, 3 + i : 20 + i] = 1  # person 1
            mask[10:44, 35:60] = 2  # person 2
            photo = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            zf.writestr(f"PennFudanPed/PNGImages/FudanPed0000{i}.png", _png(photo))
            zf.writestr(f"PennFudanPed/PedMasks/FudanPed0000{i}_mask.png", _png(mask))
    server.files["/mirror/PennFudanPed.zip"] = buffer.getvalue()
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("NNATLAS_DOWNLOAD_MIRROR", f"{server.base}/mirror")
    monkeypatch.delenv("NNATLAS_OFFLINE", raising=False)
    with pytest.warns(UserWarning, match="PennFudanPed.zip: no published checksum"):
        splits = load_detection_dataset("pennfudan", val_fraction=0.25, seed=0)
    assert [path for path, _ in server.log] == ["/mirror/PennFudanPed.zip"]
    assert (tmp_path / "cache" / "pennfudan" / "PennFudanPed" / "PedMasks").is_dir()
    assert splits.classes == ["person"]
    examples = splits.train + splits.val + splits.test
    assert len(examples) == 4
    for example in examples:  # two people each, boxed from their masks
        assert example.labels.tolist() == [1, 1]
        assert [35, 10, 60, 44] in example.boxes.tolist()
    load_detection_dataset("pennfudan", val_fraction=0.25, seed=0)
    assert len(server.log) == 1  # cached: no second download
