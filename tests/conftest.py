"""Every test starts from the same seeds, so a test's numbers do not depend on what ran before."""

import random

import numpy as np
import pytest
import torch

from nnatlas.scratch import manual_seed


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    manual_seed(0)  # the NumPy engine's default generator (layers built without rng=)
