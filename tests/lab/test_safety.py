"""The lab's safety rules against a real uvicorn server: each refusal is a clear 4xx and the
server keeps answering afterwards. Paths try ``..``, absolute paths and symbolic links;
uploads try malformed, truncated, oversized, too many pixels and a format not accepted."""

from __future__ import annotations

import http.client
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from lab_helpers import free_port, serve, square_photo
from PIL import Image

from nnatlas.lab.safety import LabHTTPError, confine


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """A GET with the path sent byte for byte (no client-side '..' normalization)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    connection.close()
    return response.status, body


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


# -- paths ------------------------------------------------------------------------------------
def test_confine_refuses_escapes_and_keeps_inside_paths(tmp_path: Path) -> None:
    base = tmp_path / "runs"
    (base / "run").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("no")
    (base / "link").symlink_to(tmp_path / "secret.txt")
    (base / "dirlink").symlink_to(tmp_path)
    assert confine(base, "run/curves.png") == (base / "run" / "curves.png").resolve()
    for bad, status, words in [
        ("../secret.txt", 403, "'..'"),
        ("run/../../secret.txt", 403, "'..'"),
        ("..\\secret.txt", 403, "'..'"),
        (str(tmp_path / "secret.txt"), 403, "absolute"),
        ("/etc/passwd", 403, "absolute"),
        ("C:/Windows", 403, "absolute"),
        ("link", 403, "symbolic link"),
        ("dirlink/secret.txt", 403, "symbolic link"),
        ("", 400, "empty"),
        ("a\x00b", 400, "NUL"),
    ]:
        with pytest.raises(LabHTTPError) as caught:
            confine(base, bad, "file")
        assert caught.value.status == status and words in str(caught.value), bad


def test_path_escapes_over_http_are_refused_and_the_server_keeps_running(
    lab: Any, lab_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.json"
    outside.write_text('{"secret": 1}')
    link = lab_dirs["runs"] / "cnn-squares" / "leak.json"
    link.symlink_to(outside)
    try:
        attempts = [
            "/api/files/runs/../../../../etc/passwd",
            "/api/files/runs/%2e%2e/%2e%2e/etc/passwd",
            "/api/files/runs/cnn-squares/..%2F..%2Fsecret.json",
            "/api/files/runs//etc/passwd",
            f"/api/files/runs/{outside}",
            "/api/files/runs/cnn-squares/leak.json",
            "/api/files/reports/..%2F..%2Fetc%2Fpasswd",
            "/api/runs/..%2F..",
        ]
        for path in attempts:
            status, body = raw_get(lab.url, path)
            assert status in (400, 403, 404), (path, status, body)
            assert '"secret": 1' not in body and "root:" not in body, path
            if status != 404:  # 404: the router itself did not match a normalized path
                assert "detail" in body and len(body) > 30, body  # a sentence, not a bare code
        status, body = raw_get(lab.url, "/api/files/runs/cnn-squares/leak.json")
        assert status == 403 and "symbolic link" in body
        status, body = raw_get(lab.url, "/api/files/runs/%2e%2e/%2e%2e/etc/passwd")
        assert status == 403 and "'..'" in body
        status, body = raw_get(lab.url, f"/api/files/runs/{outside}")
        assert status in (403, 404)
    finally:
        link.unlink()
    for name in [
        "imagefolder:../../etc",
        f"imagefolder:{outside.parent}",
        "csv:sub/../../x.csv",
        "text:/etc/passwd",
    ]:
        response = httpx.post(f"{lab.url}/api/train", json={"data": name, "epochs": 1})
        assert response.status_code == 403, (name, response.text)
    response = httpx.post(f"{lab.url}/api/playground", json={"data": "csv:../../etc/passwd"})
    assert response.status_code == 403 and "'..'" in response.json()["detail"]
    response = httpx.post(f"{lab.url}/api/train", json={"data": "digits", "run_name": "../x"})
    assert response.status_code == 400 and "run_name" in response.json()["detail"]
    response = httpx.post(
        f"{lab.url}/api/explore/text", json={"run": "../cnn-squares", "text": "a"}
    )
    assert response.status_code == 400
    assert lab.alive()


# -- uploads ----------------------------------------------------------------------------------
def upload(lab: Any, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{lab.url}/api/explore/image",
        params={"run": "cnn-squares"},
        content=body,
        headers=headers or {"Content-Type": "image/png"},
        timeout=60,
    )


def test_bad_uploads_get_clear_errors_and_the_server_keeps_running(lab: Any) -> None:
    good = png_bytes(square_photo(np.random.default_rng(3), 0))
    cases = [
        (b"this is not an image at all" * 10, 400, "not a readable image"),
        (good[: len(good) // 2], 400, "not a readable image"),  # a truncated PNG
        (b"", 400, "empty upload"),
        (os.urandom(300 * 1024), 413, "limit"),  # over the test lab's 256 KB
        (png_bytes(Image.new("L", (6000, 6000))), 413, "pixels"),  # tiny file, 36 M pixels
        (png_bytes(Image.new("RGB", (20, 20)), "TIFF"), 415, "TIFF"),
    ]
    for body, status, words in cases:
        response = upload(lab, body)
        assert response.status_code == status, (words, response.text)
        assert words in response.json()["detail"], response.text
        assert lab.alive()

    def chunks() -> Any:  # no Content-Length: the limit counts the bytes as they come
        for _ in range(40):
            yield b"\x89PNG" + os.urandom(8 * 1024)

    response = upload(lab, chunks())
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    response = httpx.post(f"{lab.url}/api/playground/csv", content=b"\xff\xfe\x00bad")
    assert response.status_code == 400 and "UTF-8" in response.json()["detail"]
    response = httpx.post(f"{lab.url}/api/playground/csv", content=b"x1,x2,label\n1,2\n")
    assert response.status_code == 400 and "rows" in response.json()["detail"]
    response = upload(lab, good)  # and a good one still works
    assert response.status_code == 200, response.text
    assert lab.alive()


# -- origin, host, token ----------------------------------------------------------------------
def test_cross_origin_and_foreign_host_requests_are_refused(lab: Any) -> None:
    evil = {"Origin": "http://evil.example"}
    response = httpx.post(f"{lab.url}/api/playground", json={}, headers=evil)
    assert response.status_code == 403 and "cross-origin" in response.json()["detail"]
    assert not lab.lab.queue.jobs or all(
        j.spec.get("data") != "evil" for j in lab.lab.queue.jobs.values()
    )
    response = httpx.get(f"{lab.url}/api/runs", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    response = httpx.get(f"{lab.url}/api/runs", headers={"Origin": "null"})
    assert response.status_code == 403
    status, body = raw_get(lab.url, "/api/info", {"Host": "rebind.example:80"})
    assert status == 421 and "127.0.0.1" in body
    same = {"Origin": lab.url}  # the lab's own page
    assert httpx.get(f"{lab.url}/api/runs", headers=same).status_code == 200


def test_a_token_is_required_when_one_is_set(lab_dirs: dict[str, Path]) -> None:
    with serve(
        runs_dir=lab_dirs["runs"], data_dir=lab_dirs["data"], token="s3cret", hosts=None
    ) as served:
        response = httpx.get(f"{served.url}/api/info")
        assert response.status_code == 401 and "token" in response.json()["detail"]
        assert (
            httpx.get(f"{served.url}/api/info", headers={"X-Lab-Token": "wrong"}).status_code == 401
        )
        assert (
            httpx.get(f"{served.url}/api/info", headers={"X-Lab-Token": "s3cret"}).status_code
            == 200
        )
        page = httpx.get(f"{served.url}/?token=s3cret")
        assert page.status_code == 200 and "nnatlas lab" in page.text
        cookie = page.cookies.get("nnatlas_lab_token")
        assert cookie == "s3cret"  # the page's later requests (EventSource, images) carry it
        assert (
            httpx.get(f"{served.url}/api/runs", cookies={"nnatlas_lab_token": cookie}).status_code
            == 200
        )


def test_the_command_binds_beyond_loopback_only_with_a_token(tmp_path: Path) -> None:
    """`nnatlas lab --host 0.0.0.0` in a subprocess: prints a token, refuses requests without it."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from nnatlas.cli import main; main()",
        "lab",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--runs-dir",
        str(tmp_path / "runs"),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("token:") for line in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        found = [line.split()[1] for line in lines if line.startswith("token:")]
        assert found, "".join(lines)
        token = found[0]
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status = httpx.get(f"{url}/api/jobs").status_code
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert status == 401
        assert httpx.get(f"{url}/api/jobs", headers={"X-Lab-Token": token}).status_code == 200
        assert f"?token={token}" in "".join(lines)
    finally:
        process.terminate()
        process.wait(20)
