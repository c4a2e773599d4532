"""Imports every sub-command module so that each registers itself on :data:`nnatlas.cli.app`."""

from nnatlas.cli import demo  # noqa: F401
from nnatlas.cli import data  # noqa: F401
from nnatlas.cli import models  # noqa: F401
from nnatlas.cli import train  # noqa: F401,E402  (H7: nnatlas train)
from nnatlas.cli import check  # noqa: F401
from nnatlas.cli import evaluate, predict  # noqa: F401,E402  (H7: nnatlas eval, predict)
