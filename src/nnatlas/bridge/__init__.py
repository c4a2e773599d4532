"""Where the two engines meet: weight transfer scratch <-> torch and parity checks.

With the NumPy side of the Trainer, this package is where modules may import both torch and
:mod:`nnatlas.scratch` (tests/test_boundaries.py holds the rule).

- :mod:`~nnatlas.bridge.transfer`: copy parameters and buffers by name, both ways.
- :mod:`~nnatlas.bridge.parity`: ``check_parity`` compares outputs, gradients and optimizer steps.
- :mod:`~nnatlas.bridge.zoo`: the scratch twin of a zoo model (MLP, LeNet-5, the recurrent LMs)
  and back.
- ``checks_*`` modules register the checks that ``nnatlas check`` runs.
"""

from nnatlas.bridge.parity import ParityReport, check_parity
from nnatlas.bridge.transfer import scratch_to_torch, torch_to_scratch
from nnatlas.bridge.zoo import scratch_twin, torch_twin

__all__ = [
    "ParityReport",
    "check_parity",
    "scratch_to_torch",
    "scratch_twin",
    "torch_to_scratch",
    "torch_twin",
]
