"""Imports every sub-command module so that each registers itself on :data:`nnatlas.cli.app`.

The order here is the order of ``nnatlas --help``: the main job, proofs, training, transfer,
practice (search, rates, overfitting), browsing.
"""

from nnatlas.cli import demo  # noqa: F401, I001  (order is the help's order)
from nnatlas.cli import lesson  # noqa: F401
from nnatlas.cli import check  # noqa: F401
from nnatlas.cli import train  # noqa: F401
from nnatlas.cli import evaluate  # noqa: F401
from nnatlas.cli import predict  # noqa: F401
from nnatlas.cli import transfer  # noqa: F401
from nnatlas.cli import tune  # noqa: F401
from nnatlas.cli import lr_find  # noqa: F401
from nnatlas.cli import study  # noqa: F401
from nnatlas.cli import inspect  # noqa: F401
from nnatlas.cli import experiment  # noqa: F401
from nnatlas.cli import models  # noqa: F401
from nnatlas.cli import data  # noqa: F401
from nnatlas.cli import lab  # noqa: F401
