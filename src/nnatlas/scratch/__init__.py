"""The NumPy engine: readable layers with explicit backward passes. Never imports torch."""

from nnatlas.scratch.linear import Linear
from nnatlas.scratch.module import Module, Parameter, ShapeError, load_npz, save_npz

__all__ = ["Linear", "Module", "Parameter", "ShapeError", "load_npz", "save_npz"]
