"""``nnatlas demo``: the main job on data that needs no download."""

from __future__ import annotations

from nnatlas.cli import app


@app.command()
def demo() -> None:
    """Run the main job: gradient checks + parity, then train an MLP on digits with both engines."""
    print("nnatlas demo: not wired yet")
