"""The dataset catalog: every named dataset, where its files can be found, and how to load it.

How it fits together:

* A :class:`DatasetSpec` describes one named dataset (``"fashion-mnist"``, ``"tinyshakespeare"``):
  its ``kind`` (``"image" | "text" | "pairs" | "sequence" | "tabular" | "detection"``), a
  description, the ``files`` that make up a complete local copy, an **ordered** list of
  :class:`Source` objects, a ``loader`` and its provenance (``citation``, ``license``,
  ``sizes``).
* Sources are tried in order by :func:`fetch`: the user cache (``$NNATLAS_DATA``, default
  ``~/.cache/nnatlas``), known system locations (e.g. Debian's ``/usr/share/datasets``), the
  project's sibling ``../shared/data`` folder (a convenience for tests, never required), the
  original download URL (checksum verified, resumable, safe extraction) and a registry mirror
  (a package that ships the files) where one exists. When nothing works, :class:`DataNotFoundError`
  lists every source tried, why it failed, and how to get the data by hand.
* ``loader(spec, root, **kwargs)`` turns a spec into data. ``root`` is a local folder given by the
  user (``--data-root PATH``); when it is ``None`` the loader calls ``fetch(spec)``. Image loaders
  return :class:`nnatlas.data.images.splits.ImageSplits`; text loaders return what
  :mod:`nnatlas.data.text.datasets` documents.
* Parametric names (``imagefolder:PATH``, ``medmnist:breastmnist``, ``text:PATH``, ``csv:PATH``)
  are *families*: :func:`register_family` maps a prefix to ``factory(argument) -> DatasetSpec``.

Registering a dataset (from any module; the catalog imports the modules listed in
``_PROVIDERS`` lazily, the first time it is queried)::

    from nnatlas.data.catalog import DatasetSpec, register_dataset, cache_source, url_source

    register_dataset(DatasetSpec(
        name="tinyshakespeare", kind="text", description="40,000 lines of Shakespeare",
        files=("input.txt",),
        sources=[cache_source(), shared_source("tinyshakespeare"),
                 url_source(RemoteFile("input.txt", "https://...", "sha256:86c4e6...")),],
        loader=_load_tinyshakespeare, license="public domain", sizes={"chars": 1_115_394}))

Environment variables:
    NNATLAS_DATA: the cache folder (default ``~/.cache/nnatlas``).
    NNATLAS_NO_SYSTEM_DATA: when set to a non-empty value other than ``0``, skip system locations,
        the shared folder and package mirrors (tests use it to simulate a bare machine).
    NNATLAS_OFFLINE: when set, skip downloads.
    NNATLAS_DOWNLOAD_MIRROR: a base URL that replaces the folder part of every download URL
        (``MIRROR/<filename>``), for a local mirror or a test server.
    NNATLAS_DOWNLOAD_MIN_RATE: bytes per second (default 1024); a download whose average rate
        over the last NNATLAS_DOWNLOAD_STALL_SECONDS falls under it is abandoned as stalled.
    NNATLAS_DOWNLOAD_STALL_SECONDS: the window of that average, in seconds (default 60).
    NNATLAS_DOWNLOAD_DEADLINE: seconds one download attempt may take in all (default 3600).
        For these three, 0 switches the check off; an abandoned download keeps its ``.part``
        file and the next attempt resumes it (see :mod:`nnatlas.data.download`).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nnatlas.data.download import RemoteFile, download_remote
from nnatlas.data.errors import DataNotFoundError, DatasetError

DatasetKind = Literal["image", "text", "pairs", "sequence", "tabular", "detection"]
SourceKind = Literal["cache", "system", "shared", "url", "package"]
# The task (nnatlas.tasks) that trains on a dataset of each kind, unless the spec says otherwise:
# a text dataset is either labeled texts or a corpus, so text specs name theirs.
DEFAULT_TASKS = {
    "image": "image_classification",
    "tabular": "tabular_classification",
    "pairs": "seq2seq",
    "detection": "detection",
}

# Modules whose import registers datasets. Missing ones are skipped (a helper may not have
# written its part yet); a module that exists but fails to import raises, naming itself.
_PROVIDERS = (
    "nnatlas.data.images.datasets",
    "nnatlas.data.tabular",
    "nnatlas.data.text.datasets",
    "nnatlas.data.detection.datasets",
)


@dataclass(frozen=True)
class Source:
    """One place to look for a dataset's files.

    Attributes:
        kind: ``"cache"`` (``data_home()/<dataset folder>``), ``"system"`` (an absolute folder),
            ``"shared"`` (``<repo>/../shared/data/<location>``), ``"url"`` (download ``remote``
            into the cache) or ``"package"`` (``location`` is ``"dist_or_module/sub/folder"``,
            a folder inside an installed Python package that ships the files).
        location: folder, shared sub-folder or package path, depending on ``kind``.
        remote: the files to download for a ``"url"`` source.
        note: a human hint, e.g. ``"apt install dataset-fashion-mnist"``.
    """

    kind: SourceKind
    location: str = ""
    remote: tuple[RemoteFile, ...] = ()
    note: str = ""

    def describe(self, folder: str = "") -> str:
        if self.kind == "cache":
            return f"cache {data_home() / folder}"
        if self.kind == "system":
            return f"system location {self.location}"
        if self.kind == "shared":
            return f"shared folder {shared_data_dir() / self.location}"
        if self.kind == "url":
            urls = [_mirrored(r.url, r.filename) for r in self.remote]
            if len(urls) == 1:
                return f"download {urls[0]}"
            base = os.path.commonprefix(urls)
            return f"download {len(urls)} files from {base[: base.rfind('/') + 1]}"
        return f"package mirror {self.location}"


def cache_source() -> Source:
    return Source("cache")


def system_source(path: str | Path, note: str = "") -> Source:
    return Source("system", str(path), note=note)


def shared_source(subdir: str) -> Source:
    return Source("shared", subdir, note="project test data, see ../shared/data/MANIFEST.md")


def url_source(*remote: RemoteFile, note: str = "") -> Source:
    return Source("url", remote=tuple(remote), note=note)


def package_source(path: str, note: str = "") -> Source:
    return Source("package", path, note=note)


@dataclass
class DatasetSpec:
    """A named dataset: what it is, where its files live and how to load it.

    Attributes:
        name: catalog name (lowercase, ``-`` separated; families use ``prefix:argument``).
        kind: ``"image" | "text" | "pairs" | "sequence" | "tabular"``.
        description: one line for ``nnatlas data list``.
        sources: ordered places to look (see :class:`Source`).
        loader: ``loader(spec, root: Path | None, **kwargs)`` -> the data.
        files: relative paths that make a complete local copy (what :func:`fetch` checks for).
            A tuple entry may list alternatives separated by ``|`` (``"x.gz|x"``).
        citation, license: provenance, shown by ``nnatlas data info``.
        sizes: e.g. ``{"train": 60000, "test": 10000}``.
        manual: how to get the data by hand (shown when every source fails).
        folder: sub-folder name under the cache (default: ``name`` with ``:``/``/`` replaced).
        argument: for a family member, the part after ``prefix:``.
        task: the :mod:`nnatlas.tasks` task that trains on it (``"image_classification"``,
            ``"text_classification"``, ``"language_modeling"``, ``"seq2seq"`` ...); default
            :data:`DEFAULT_TASKS` of the kind, ``""`` when no task trains on it yet.
    """

    name: str
    kind: DatasetKind
    description: str
    sources: list[Source]
    loader: Callable[..., Any]
    files: tuple[str, ...] = ()
    citation: str = ""
    license: str = ""
    sizes: dict[str, int] = field(default_factory=dict)
    manual: str = ""
    folder: str = ""
    argument: str | None = None
    task: str = ""

    def __post_init__(self) -> None:
        if not self.folder:
            self.folder = self.name.replace(":", "-").replace("/", "_")
        if not self.task:
            self.task = DEFAULT_TASKS.get(self.kind, "")

    def load(self, root: str | Path | None = None, **kwargs: Any) -> Any:
        return self.loader(self, Path(root).expanduser() if root is not None else None, **kwargs)

    def takes(self, option: str) -> bool:
        """Whether the loader takes the keyword option ``option`` (``image_size`` for image
        folders, ``encoding`` and ``text_column`` for a CSV ...)."""
        import inspect

        # Image loaders wrap a reader whose signature lists the dataset's own options.
        function = getattr(self.loader, "reader", self.loader)
        return option in inspect.signature(function).parameters


@dataclass(frozen=True)
class _Family:
    prefix: str
    kind: DatasetKind
    description: str
    factory: Callable[[str], DatasetSpec]
    argument_help: str  # e.g. "PATH" or "FLAG"
    choices: tuple[str, ...] = ()  # known arguments, for suggestions (empty: free-form)
    task: str = ""  # as DatasetSpec.task; the factory's specs must agree


_REGISTRY: dict[str, DatasetSpec] = {}
_FAMILIES: dict[str, _Family] = {}
_loaded = False


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to the catalog. Refuses a name that is already taken."""
    if ":" in spec.name:
        raise DatasetError(f"dataset name {spec.name!r} may not contain ':' (use register_family)")
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise DatasetError(f"dataset {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def register_family(
    prefix: str,
    factory: Callable[[str], DatasetSpec],
    *,
    kind: DatasetKind,
    description: str,
    argument_help: str = "PATH",
    choices: tuple[str, ...] = (),
    task: str = "",
) -> None:
    """Register a parametric family: ``get_spec(f"{prefix}:{arg}")`` returns ``factory(arg)``."""
    if prefix in _FAMILIES:
        raise DatasetError(f"dataset family {prefix!r} is already registered")
    task = task or DEFAULT_TASKS.get(kind, "")
    _FAMILIES[prefix] = _Family(prefix, kind, description, factory, argument_help, choices, task)


def _ensure_registered() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _PROVIDERS:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def list_datasets(kind: str | None = None, task: str | None = None) -> list[str]:
    """Names of all datasets (families as ``prefix:ARG``), sorted, optionally only those of one
    ``kind`` or trained by one ``task``."""
    _ensure_registered()

    def wanted(entry: DatasetSpec | _Family) -> bool:
        return (kind is None or entry.kind == kind) and (task is None or entry.task == task)

    names = [n for n, s in _REGISTRY.items() if wanted(s)]
    names += [f"{p}:{f.argument_help}" for p, f in _FAMILIES.items() if wanted(f)]
    return sorted(names)


def list_specs(kind: str | None = None) -> list[DatasetSpec]:
    """The registered (non-family) specs, sorted by name."""
    _ensure_registered()
    return [s for n, s in sorted(_REGISTRY.items()) if kind is None or s.kind == kind]


def families() -> dict[str, _Family]:
    """The registered families by prefix (``"medmnist"``, ``"imagefolder"`` ...)."""
    _ensure_registered()
    return dict(_FAMILIES)


def get_spec(name: str) -> DatasetSpec:
    """Look up a dataset by name (``"digits"``, ``"medmnist:breastmnist"``, ``"imagefolder:PATH"``).

    Raises:
        DatasetError: unknown name; the message suggests close matches and lists valid names.
    """
    _ensure_registered()
    key = name.strip()
    if key in _REGISTRY:
        return _REGISTRY[key]
    lowered = key.lower()
    if lowered in _REGISTRY:
        return _REGISTRY[lowered]
    prefix, sep, argument = key.partition(":")
    if sep and prefix.lower() in _FAMILIES:
        if not argument:
            fam = _FAMILIES[prefix.lower()]
            raise DatasetError(
                f"dataset {name!r}: give the {fam.argument_help}, e.g. "
                f"'{fam.prefix}:{(fam.choices or ('...',))[0]}'"
            )
        return _FAMILIES[prefix.lower()].factory(argument)
    candidates = list(_REGISTRY) + [f"{p}:" for p in _FAMILIES]
    for fam in _FAMILIES.values():
        candidates += [f"{fam.prefix}:{c}" for c in fam.choices]
    close = difflib.get_close_matches(lowered, candidates, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise DatasetError(
        f"unknown dataset {name!r}.{hint} Valid names: {', '.join(list_datasets())} "
        "(see `nnatlas data list`)."
    )


def absolute_name(name: str) -> str:
    """``csv:reviews.csv`` -> ``csv:/home/me/reviews.csv``: a family argument that is a path,
    made absolute, so the name means the same file from any working directory."""
    _ensure_registered()
    prefix, sep, argument = name.partition(":")
    family = _FAMILIES.get(prefix.lower()) if sep else None
    if family is None or family.argument_help != "PATH" or not argument:
        return name
    return f"{prefix}:{Path(argument).expanduser().absolute()}"


def load(name: str, root: str | Path | None = None, **kwargs: Any) -> Any:
    """Load a dataset by name with its registered loader (``get_spec(name).load(root, ...)``)."""
    return get_spec(name).load(root, **kwargs)


# ---------------------------------------------------------------- locations


def data_home() -> Path:
    """The user cache: ``$NNATLAS_DATA`` or ``~/.cache/nnatlas`` (created lazily by downloads)."""
    env = os.environ.get("NNATLAS_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nnatlas"


def shared_data_dir() -> Path:
    """``<repo>/../shared/data``: project test data (present on the dev machine only)."""
    # src/nnatlas/data/catalog.py -> parents[3] is the repository root (src layout).
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "False")


def system_locations_enabled() -> bool:
    """False when NNATLAS_NO_SYSTEM_DATA asks :func:`fetch` to skip all but cache and download."""
    return not _flag("NNATLAS_NO_SYSTEM_DATA")


def _mirrored(url: str, filename: str) -> str:
    mirror = os.environ.get("NNATLAS_DOWNLOAD_MIRROR")
    return f"{mirror.rstrip('/')}/{filename}" if mirror else url


def missing_files(folder: Path, files: tuple[str, ...] | list[str]) -> list[str]:
    """The entries of ``files`` (``"a|b"`` means a or b) with no match in ``folder``."""
    return [f for f in files if not any((folder / alt).exists() for alt in f.split("|"))]


def _pretty(entry: str) -> str:
    first, *others = entry.split("|")
    return f"{first} (or {' or '.join(others)})" if others else first


def find_file(folder: Path, entry: str) -> Path:
    """The first existing alternative of ``entry`` (``"x.gz|x"``) in ``folder``."""
    for alt in entry.split("|"):
        if (folder / alt).exists():
            return folder / alt
    raise FileNotFoundError(f"{folder}: none of {entry.split('|')} exists")


def _package_folder(location: str) -> Path | None:
    module, _, sub = location.partition("/")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / sub


def fetch(
    spec: DatasetSpec | str,
    root: str | Path | None = None,
    *,
    files: tuple[str, ...] | None = None,
    download: bool = True,
) -> Path:
    """Return a local folder holding ``files`` (default ``spec.files``), trying sources in order.

    Args:
        spec: the dataset (or its name).
        root: a user-given folder; when set, it is the only place looked at (``root`` itself or
            ``root/<spec.folder>``).
        files: the files needed (a subset, e.g. only the test split).
        download: allow ``"url"`` sources.

    Raises:
        DataNotFoundError: listing each source tried and why it failed.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    need = tuple(files if files is not None else spec.files)
    attempts: list[tuple[str, str]] = []

    def check(folder: Path, label: str) -> Path | None:
        if not folder.is_dir():
            attempts.append((label, "folder does not exist"))
            return None
        missing = missing_files(folder, need)
        if missing:
            present = [find_file(folder, f).name for f in need if f not in missing]
            have = f"has {', '.join(present)} but " if present else ""
            attempts.append((label, f"{have}is missing {', '.join(map(_pretty, missing))}"))
            return None
        return folder

    if root is not None:
        root = Path(root).expanduser()
        for folder in (root, root / spec.folder):
            if check(folder, f"--data-root {folder}") is not None:
                return folder
        raise DataNotFoundError(spec.name, attempts, spec.manual)

    for source in spec.sources:
        label = source.describe(spec.folder)
        if source.kind == "cache":
            found = check(data_home() / spec.folder, label)
        elif source.kind in ("system", "shared", "package"):
            if not system_locations_enabled():
                attempts.append((label, "skipped (NNATLAS_NO_SYSTEM_DATA is set)"))
                continue
            if source.kind == "system":
                folder: Path | None = Path(source.location)
            elif source.kind == "shared":
                folder = shared_data_dir() / source.location
            else:
                folder = _package_folder(source.location)
            if folder is None:
                hint = f" ({source.note})" if source.note else ""
                attempts.append((label, f"package not installed{hint}"))
                continue
            found = check(folder, label)
            if found is None and source.note:
                attempts[-1] = (label, f"{attempts[-1][1]} ({source.note})")
        else:  # url
            if not download or _flag("NNATLAS_OFFLINE"):
                attempts.append((label, "downloads disabled (offline)"))
                continue
            target = data_home() / spec.folder
            try:
                for remote in source.remote:
                    wanted = remote.extract or any(remote.filename in f.split("|") for f in need)
                    if not wanted:
                        continue  # e.g. only the test split was asked for
                    download_remote(remote, target, url=_mirrored(remote.url, remote.filename))
            except (OSError, ValueError) as err:  # network, disk, checksum, archive: go on
                attempts.append((label, f"{type(err).__name__}: {err}"))
                continue
            found = check(target, label)
        if found is not None:
            return found
    raise DataNotFoundError(spec.name, attempts, spec.manual)
