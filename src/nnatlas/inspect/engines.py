"""One probe per engine, chosen by the model's type: a ``torch.nn.Module`` or a NumPy-engine
``Module``.

The two probe modules (:mod:`.torch_engine`, :mod:`.scratch_engine`) have the same functions
and fill the same records (:mod:`.records`), so the plots never ask which engine computed the
numbers. Neither this module nor any plot imports both engines; the test suite holds that
(tests/test_boundaries.py: only the bridge and the Trainer's NumPy side do).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from nnatlas.inspect.figures import InspectError


def probe(model: Any) -> ModuleType:
    """The probe module for ``model``'s engine.

    Raises:
        InspectError: for anything that is neither engine's model.
    """
    from nnatlas.inspect import scratch_engine

    if scratch_engine.owns(model):
        return scratch_engine
    from nnatlas.inspect import torch_engine

    if torch_engine.owns(model):
        return torch_engine
    raise InspectError(
        f"expected a PyTorch model or a NumPy-engine (nnatlas.scratch) model, got "
        f"{type(model).__name__}"
    )


def default_step() -> Any:
    """The step the Trainer uses by default: cross-entropy of the logits against the batch's
    last tensor (:class:`nnatlas.train.steps.ClassificationStep`)."""
    from nnatlas.train.steps import ClassificationStep

    return ClassificationStep()


def losses_for(model: Any) -> Any:
    """The loss functions a step calls under the model's engine."""
    if probe(model).ENGINE == "scratch":
        from nnatlas.train.scratch import ScratchLosses

        return ScratchLosses()
    from nnatlas.train.trainer import TorchLosses

    return TorchLosses()
