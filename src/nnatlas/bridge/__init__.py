"""The one place that imports both engines: weight transfer scratch <-> torch and parity checks.

- :mod:`~nnatlas.bridge.transfer`: copy parameters and buffers by name, both ways.
- :mod:`~nnatlas.bridge.parity`: ``check_parity`` compares outputs, gradients and optimizer steps.
- :mod:`~nnatlas.bridge.zoo`: the scratch twin of a zoo model (MLP, LeNet-5, LSTM LM) and back.
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
