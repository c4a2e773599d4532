"""Imports every sub-command module so that each registers itself on :data:`nnatlas.cli.app`."""

from nnatlas.cli import demo  # noqa: F401
