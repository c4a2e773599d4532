"""What keeps the lab a local tool: the address, a token, the origin, paths and uploads.

- It listens on 127.0.0.1 unless ``--host`` is given; then it prints a token at start, and
  every request must carry it (``?token=`` once, after which a same-site cookie does; or the
  ``X-Lab-Token`` header).
- A request whose ``Origin`` (or ``Sec-Fetch-Site``) says another site sent it is refused, so
  a page on the web cannot drive the lab through the user's browser; a ``Host`` that is not the
  lab's own address is refused too (DNS rebinding).
- Every path the page can name is a relative path inside the runs, data or reports folder:
  ``..``, absolute paths and symbolic links that lead outside are refused.
- Uploads are read up to a size limit (counting the bytes as they arrive, whatever the request
  claims) and decoded before use: an image must open, verify and load as PNG, JPEG, GIF, BMP or
  WebP within a pixel budget.

Each refusal is an HTTP error with a sentence saying what was wrong (:class:`LabHTTPError`).
"""

from __future__ import annotations

import io
import re
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nnatlas.errors import NnatlasError

TOKEN_COOKIE = "nnatlas_lab_token"
TOKEN_HEADER = "x-lab-token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_IMAGE_PIXELS = 25_000_000  # 5000 x 5000: a photo; a decompression bomb is far beyond
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


class LabHTTPError(NnatlasError, ValueError):
    """A refused request: ``status`` is the HTTP status, the message says why and what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def new_token() -> str:
    return secrets.token_urlsafe(24)


def confine(base: Path, relative: str, what: str = "path") -> Path:
    """``base / relative``, refused unless it stays inside ``base`` once links are followed.

    Args:
        base: the runs, data or reports folder.
        relative: what the page sent (``"my-run/curves.png"``).
        what: how the error names the argument.
    """
    if not isinstance(relative, str) or not relative.strip():
        raise LabHTTPError(400, f"{what}: empty; give a path inside {base.name}/")
    if "\x00" in relative:
        raise LabHTTPError(400, f"{what} {relative!r}: holds a NUL character")
    candidate = Path(relative)
    if (
        candidate.is_absolute()
        or relative.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", relative)
    ):
        raise LabHTTPError(
            403, f"{what} {relative!r}: absolute paths are refused; give a path inside {base.name}/"
        )
    if ".." in re.split(r"[\\/]", relative):
        raise LabHTTPError(
            403, f"{what} {relative!r}: '..' is refused; the lab only reads inside {base.name}/"
        )
    root = base.resolve()
    target = (root / candidate).resolve()  # follows symbolic links
    if target != root and root not in target.parents:
        raise LabHTTPError(
            403,
            f"{what} {relative!r}: leads outside {base.name}/ (through a symbolic link); refused",
        )
    return target


def check_name(name: str, what: str = "name") -> str:
    """A run name or another single folder name: letters, digits, ``._+-``, no path."""
    if not isinstance(name, str) or not NAME.match(name):
        raise LabHTTPError(
            400,
            f"{what} {name!r}: use letters, digits and . _ + - only (up to 128, not starting "
            "with a dot); no slashes",
        )
    return name


async def read_body(request: Any, limit: int) -> bytes:
    """The request body, refused (413) beyond ``limit`` bytes, counted as the bytes arrive."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise LabHTTPError(
            413, f"upload of {int(declared):,} bytes refused: the limit is {limit:,} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise LabHTTPError(413, f"upload refused: over the limit of {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise LabHTTPError(400, "empty upload: send the file's bytes as the request body")
    return body


def decode_image(data: bytes, name: str = "upload") -> Any:
    """The uploaded bytes as a loaded PIL image, or a 4xx naming what is wrong with them."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, size = probe.format, probe.size
            if kind not in IMAGE_FORMATS:
                raise LabHTTPError(415, f"{name}: a {kind} image; send {', '.join(IMAGE_FORMATS)}")
            if size[0] * size[1] > MAX_IMAGE_PIXELS:
                raise LabHTTPError(
                    413,
                    f"{name}: {size[0]}x{size[1]} pixels; the limit is {MAX_IMAGE_PIXELS:,} pixels",
                )
            probe.verify()  # checks the file's structure without decoding it all
        image = Image.open(io.BytesIO(data))
        image.load()  # decodes every pixel: a truncated file fails here
    except LabHTTPError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as err:
        raise LabHTTPError(
            400,
            f"{name}: not a readable image ({type(err).__name__}: {err}); send a PNG or JPEG file",
        ) from None
    return image


class Guard:
    """ASGI middleware: the host, origin and token checks before any route runs.

    Args:
        app: the application it guards.
        token: required on every request when set (the lab listens beyond 127.0.0.1).
        hosts: the ``Host`` names accepted (``None``: any; a token protects such a lab).
    """

    def __init__(self, app: Any, token: str | None, hosts: tuple[str, ...] | None) -> None:
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self.problem(scope, headers)
        if problem is not None:
            await _refuse(scope, receive, send, *problem)
            return
        await self.app(scope, receive, send)

    def problem(self, scope: dict, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        hostname = urlsplit(f"//{host}").hostname or ""
        if self.hosts is not None and hostname not in self.hosts:
            return 421, f"Host {host!r} is not this lab's address; open it at 127.0.0.1"
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            if urlsplit(origin).netloc != host:
                return (
                    403,
                    f"cross-origin request from {origin} refused: the lab answers its own page",
                )
        elif origin == "null":
            return 403, "request from an opaque origin refused"
        if headers.get("sec-fetch-site") == "cross-site":
            return 403, "cross-site request refused: the lab answers its own page only"
        if self.token is not None and not self._has_token(scope, headers):
            return 401, (
                "this lab needs the token it printed when it started: open the address it "
                "printed (http://HOST:PORT/?token=...)"
            )
        return None

    def _has_token(self, scope: dict, headers: dict[str, str]) -> bool:
        given = [headers.get(TOKEN_HEADER, "")]
        given += parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no token
            pass
        if TOKEN_COOKIE in cookie:
            given.append(cookie[TOKEN_COOKIE].value)
        return any(secrets.compare_digest(g.encode(), self.token.encode()) for g in given if g)


async def _refuse(scope: dict, receive: Any, send: Any, status: int, message: str) -> None:
    from starlette.responses import JSONResponse

    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    await JSONResponse({"detail": message}, status_code=status)(scope, receive, send)
