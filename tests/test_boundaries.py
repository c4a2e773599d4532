"""DESIGN.md's boundaries, checked in fresh interpreters so other tests cannot hide a leak."""

import subprocess
import sys

import pytest


def _modules_after_import(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_scratch_engine_never_imports_torch() -> None:
    loaded = _modules_after_import("import nnatlas.scratch, nnatlas.scratch.models")
    assert "torch" not in loaded, "nnatlas.scratch must stay NumPy-only"


@pytest.mark.parametrize("package", ["nnatlas.models"])
def test_zoo_knows_nothing_of_scratch(package: str) -> None:
    loaded = _modules_after_import(f"import {package}")
    assert not any(name.startswith("nnatlas.scratch") for name in loaded)
