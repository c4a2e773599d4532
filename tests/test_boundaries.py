"""DESIGN.md's floors and boundaries, held by reading every import in the package.

An import counts wherever it is written: at the top, inside a function (a lazy import), under
``TYPE_CHECKING``, absolute or relative. Registration by name (``importlib.import_module`` of
a module listed in a string, as the catalogs and the check registry do on first use) is not an
import edge: it runs when called, never at import time, so it cannot close a circle. The
runtime checks run in fresh interpreters, so other tests cannot hide a leak.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# DESIGN.md's floors, from the top; an import points down only. The small utilities (errors,
# files, threads) sit on the ground floor with the NumPy engine but import nothing of the
# package, so every floor, the engine included, may use them: they count as one floor lower.
FLOORS = {
    "__main__": 5,  # `python -m nnatlas` (and torchrun -m nnatlas): the command, on top of all
    "cli": 4,
    "lab": 4,
    "lessons": 3,
    # transfer and tune drive tasks (a strategy comparison, a search: many training runs), so
    # they stand half a floor above it; DESIGN.md draws them beside it.
    "transfer": 2.5,
    "tune": 2.5,
    "tasks": 2,
    "inspect": 2,
    "train": 1,
    "models": 1,
    "data": 1,
    "bridge": 1,
    "scratch": 0,
    "errors": -2,  # the error base imports nothing at all; files.py raises its errors
    "files": -1,
    "threads": -1,
}
# Imports between packages of one floor that the design asks for: the bridge connects the zoo
# to the NumPy engine; the command `nnatlas lab` serves the lab.
SAME_FLOOR = {("bridge", "models"), ("cli", "lab")}
# The real rule for which modules import both engines (torch and nnatlas.scratch): the bridge,
# and the NumPy side of the Trainer (its engine, and the checkpoint code that seeds the NumPy
# engine's generator with the others).
BOTH_ENGINES = {"nnatlas.train.scratch", "nnatlas.train.checkpoint"}
BOTH_ENGINES_PACKAGES = {"bridge"}


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (packages by their ``__init__``)."""
    found = {}
    for path in (SRC / "nnatlas").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


@cache
def imports(module: str) -> frozenset[str]:
    """Every module ``module`` imports, anywhere in its source (``from p import sub`` counts
    as importing ``p.sub`` when that is a module)."""
    names = set()
    path = modules()[module]
    # A relative import starts from the module's package (its own name, for an __init__).
    package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                names.add(sub if sub in modules() else source)
    return frozenset(names)


def package(module: str) -> str:
    """``nnatlas.tasks.run`` -> ``tasks``; the top-level ``nnatlas`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def own_imports(module: str) -> set[str]:
    return {name for name in imports(module) if name in modules() and name != module}


def test_every_package_has_a_floor() -> None:
    unknown = {package(m) for m in modules()} - set(FLOORS) - {""}
    assert not unknown, f"add {sorted(unknown)} to FLOORS (and to DESIGN.md's floors)"


def test_imports_only_point_down() -> None:
    wrong = []
    for module in modules():
        src = package(module)
        if not src:
            continue
        for target in own_imports(module):
            dst = package(target)
            if dst in ("", src) or FLOORS[dst] < FLOORS[src] or (src, dst) in SAME_FLOOR:
                continue
            wrong.append(f"{module} imports {target}")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(sorted(wrong))


def test_nothing_below_the_command_imports_it() -> None:
    leaks = [
        f"{m} imports {t}"
        for m in modules()
        if package(m) not in ("cli", "__main__")  # the entry point sits above the command
        for t in own_imports(m)
        if package(t) == "cli"
    ]
    assert not leaks, leaks


def test_lessons_and_lab_use_the_public_api_only() -> None:
    deep = [
        f"{m} imports {t}"
        for m in modules()
        if package(m) in ("lessons", "lab")
        for t in own_imports(m)
        if package(t) not in ("lessons", "lab") and t.count(".") > 1
    ]
    assert not deep, f"import the package (nnatlas.tasks), not its modules: {deep}"


def test_only_the_bridge_and_the_trainers_numpy_side_import_both_engines() -> None:
    both = {
        m
        for m in modules()
        if any(n == "torch" or n.startswith("torch.") for n in imports(m))
        and any(n.startswith("nnatlas.scratch") for n in imports(m))
    }
    allowed = {m for m in both if package(m) in BOTH_ENGINES_PACKAGES} | BOTH_ENGINES
    assert both <= allowed, f"modules importing both engines: {sorted(both - allowed)}"
    assert BOTH_ENGINES <= both, "BOTH_ENGINES lists a module that no longer imports both"


def test_no_import_circles() -> None:
    graph = {m: own_imports(m) for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def _modules_after_import(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_scratch_engine_never_imports_torch() -> None:
    loaded = _modules_after_import("import nnatlas.scratch, nnatlas.scratch.models")
    assert "torch" not in loaded, "nnatlas.scratch must stay NumPy-only"
    outside = {
        t
        for m in modules()
        if package(m) == "scratch"
        for t in imports(m)
        if t.startswith("nnatlas.") and package(t) not in ("scratch", "errors")
    }
    assert not outside, f"nnatlas.scratch imports {sorted(outside)}"


@pytest.mark.parametrize("package_name", ["nnatlas.models"])
def test_zoo_knows_nothing_of_scratch(package_name: str) -> None:
    loaded = _modules_after_import(f"import {package_name}")
    assert not any(name.startswith("nnatlas.scratch") for name in loaded)


@pytest.mark.parametrize(
    "statement", ["import nnatlas.cli, nnatlas.cli.commands", "import nnatlas.tasks"]
)
def test_the_command_and_the_tasks_api_load_without_torch(statement: str) -> None:
    # `nnatlas --help` builds every command's options; torch costs seconds on a cold start.
    assert "torch" not in _modules_after_import(statement)
