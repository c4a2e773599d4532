"""Seeing inside a model: plots and probes for zoo models and their NumPy twins.

Every plot takes a model (PyTorch or NumPy engine) and the data to show it on, writes a PNG
and its numbers as JSON beside it, and returns a :class:`~nnatlas.inspect.figures.Figure`::

    import nnatlas.inspect as inspect
    record = inspect.measure_gradients(model, (x, y))       # ||dL/dW||, ||dL/dh_t||
    inspect.plot_gradient_flow({"trained": record}, "gradflow.png")
    inspect.plot_gates(lstm_model, (ids,), tokens, "gates.png")

A run folder is loaded with :func:`nnatlas.tasks.load_run` and its model, record (classes,
normalization, vocabularies) and data are handed to these functions; ``nnatlas inspect RUN
--what ...`` does exactly that. The experiments (``nnatlas experiment NAME``) live in
:mod:`nnatlas.inspect.experiments`.

One module per plot family: :mod:`.curves`, :mod:`.boundary`, :mod:`.histograms`,
:mod:`.filters` (first-layer filters, feature maps), :mod:`.saliency` (saliency, Grad-CAM),
:mod:`.recurrent` (gates, hidden-state trajectories), :mod:`.confusion`, :mod:`.attention`,
:mod:`.gradflow`; the engines are read by :mod:`.torch_engine` and :mod:`.scratch_engine`.
Names are imported on first use: ``import nnatlas.inspect`` loads neither engine.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Figure": "figures",
    "InspectError": "figures",
    "GradientRecord": "records",
    "RecurrentRecord": "records",
    "plot_curves": "curves",
    "plot_curve_comparison": "curves",
    "plot_decision_boundary": "boundary",
    "plot_histograms": "histograms",
    "plot_filters": "filters",
    "plot_feature_maps": "filters",
    "plot_saliency": "saliency",
    "plot_gradcam": "saliency",
    "saliency_and_cam": "saliency",
    "plot_gates": "recurrent",
    "plot_state_trajectories": "recurrent",
    "plot_confusion": "confusion",
    "plot_attention": "attention",
    "measure_gradients": "gradflow",
    "plot_gradient_flow": "gradflow",
    # The experiments (long-memory, depth, activations) for the lessons, which use this
    # package's names only: run_experiment(name, folder, quick=True, **budget overrides).
    "run_experiment": "experiments",
    "EXPERIMENTS": "experiments",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nnatlas.inspect' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nnatlas.inspect.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
