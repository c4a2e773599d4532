"""Loss functions with explicit gradients.

See: torch.nn.{MSELoss, BCEWithLogitsLoss, CrossEntropyLoss}.

A loss is called like PyTorch's, ``loss = criterion(logits, target)``, and returns a 0-d array
(or the per-element array for ``reduction="none"``). ``criterion.backward(grad=1.0)`` then returns
``d loss / d logits`` (times ``grad``, which must have the loss's shape), ready for
``model.backward``. Targets that do not fit raise errors naming the loss and what was expected.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.activations import log_softmax, sigmoid
from nnatlas.scratch.module import Module, ShapeError

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    """Reduction handling shared by the losses."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction

    def _upstream(self, grad: float | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The upstream gradient broadcast to the per-element loss shape."""
        grad = np.asarray(grad, dtype=np.float64)
        expected = shape if self.reduction == "none" else ()
        if grad.shape not in (expected, ()):
            raise ShapeError(
                f"{type(self).__name__}.backward: grad must have the loss's shape {expected}, "
                f"got {grad.shape}"
            )
        return np.broadcast_to(grad, shape)

    def _check_cache(self) -> None:
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}: backward called before the loss was computed"
            )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error ``(input - target)^2``.

    Args:
        reduction: ``"mean"`` (over every element), ``"sum"`` or ``"none"``.

    Shape:
        input: (N, *), target: the same shape -> () or (N, *) for ``"none"``.

    See: torch.nn.MSELoss. Check: ``nnatlas check "MSELoss"``. Tests:
    tests/scratch/test_core_losses.py.
    """

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        target = np.asarray(target)
        if input.shape != target.shape:
            raise ShapeError(
                f"MSELoss: target must have the input's shape {input.shape}, got {target.shape}"
            )
        diff = input - target
        self._cache = diff
        per_element = diff * diff
        if self.reduction == "none":
            return per_element
        return np.asarray(per_element.sum() if self.reduction == "sum" else per_element.mean())

    def backward(self, grad: float | np.ndarray = 1.0) -> np.ndarray:
        self._check_cache()
        diff = self._cache
        scale = 1.0 / diff.size if self.reduction == "mean" else 1.0
        return (2.0 * scale * diff * self._upstream(grad, diff.shape)).astype(
            diff.dtype, copy=False
        )


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step.

    ``l = -w [p y log s(x) + (1 - y) log(1 - s(x))]`` with ``s`` the sigmoid and ``p`` the
    ``pos_weight``; computed as ``(1 - y) x + (1 + (p - 1) y) softplus(-x)`` so no ``exp`` of a
    large number is ever taken.

    Args:
        weight: rescaling weight broadcast to the input (optional).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        pos_weight: weight of positive examples per class, broadcast along the last axis
            (e.g. ``n_negative / n_positive`` for an imbalanced label).

    Shape:
        input: (N, *) logits, target: the same shape with values in [0, 1] -> () or (N, *).

    See: torch.nn.BCEWithLogitsLoss. Check: ``nnatlas check "BCEWithLogitsLoss"``. Tests:
    tests/scratch/test_core_losses.py.
    """

    def __init__(
        self,
        weight: np.ndarray | None = None,
        reduction: str = "mean",
        pos_weight: np.ndarray | None = None,
    ) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float64)
        self.pos_weight = None if pos_weight is None else np.asarray(pos_weight, dtype=np.float64)

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        target = np.asarray(target)
        if input.shape != target.shape:
            raise ShapeError(
                f"BCEWithLogitsLoss: target must have the input's shape {input.shape}, got "
                f"{target.shape} (targets are 0/1 floats, one per logit)"
            )
        x, y = input, target.astype(input.dtype)
        softplus_neg = np.logaddexp(0.0, -x)  # log(1 + exp(-x)) = -log s(x)
        log_weight = 1.0 if self.pos_weight is None else 1.0 + (self.pos_weight - 1.0) * y
        per_element = (1.0 - y) * x + log_weight * softplus_neg
        if self.weight is not None:
            per_element = per_element * self.weight
        self._cache = (x, y, log_weight)
        per_element = per_element.astype(x.dtype, copy=False)
        if self.reduction == "none":
            return per_element
        return np.asarray(per_element.sum() if self.reduction == "sum" else per_element.mean())

    def backward(self, grad: float | np.ndarray = 1.0) -> np.ndarray:
        self._check_cache()
        x, y, log_weight = self._cache
        # d/dx softplus(-x) = -sigmoid(-x)
        grad_x = (1.0 - y) - log_weight * sigmoid(-x)
        if self.weight is not None:
            grad_x = grad_x * self.weight
        if self.reduction == "mean":
            grad_x = grad_x / x.size
        return (grad_x * self._upstream(grad, x.shape)).astype(x.dtype, copy=False)


class CrossEntropyLoss(_Loss):
    """Log-softmax + negative log-likelihood, fused.

    With class-index targets, per element
    ``l = -(1 - eps) w_y log p_y - (eps / C) sum_c w_c log p_c``
    (``eps`` = label_smoothing, ``w`` = class weights or 1); elements whose target equals
    ``ignore_index`` contribute 0. ``"mean"`` divides by the summed ``w_y`` of the kept
    elements, as PyTorch does. Targets may also be class probabilities of the input's shape
    (then ``ignore_index`` does not apply and ``"mean"`` divides by the number of elements).

    Args:
        weight: (C,) rescaling weight per class (optional).
        ignore_index: a target value that is skipped (PyTorch's -100 by default).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: eps in [0, 1]; the target becomes ``(1 - eps) one_hot + eps / C``.

    Shape:
        input: (N, C) or (N, C, d1, ...) logits; target: (N) or (N, d1, ...) int class indices
        in [0, C), or float probabilities shaped like the input -> () or (N, d1, ...).

    See: torch.nn.CrossEntropyLoss. Check: ``nnatlas check "CrossEntropyLoss"``. Tests:
    tests/scratch/test_core_losses.py.
    """

    def __init__(
        self,
        weight: np.ndarray | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.weight = None if weight is None else np.asarray(weight, dtype=np.float64)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def _soft_targets(
        self, input: np.ndarray, target: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """The per-class coefficients q (loss = -sum_c q_c log p_c), the kept-element mask and the
        "mean" denominator. Class axis moved last: q is (M, C) with M = N * d1 * ..."""
        n_classes = input.shape[1]
        eps = self.label_smoothing
        w = np.ones(n_classes) if self.weight is None else self.weight
        if w.shape != (n_classes,):
            raise ShapeError(
                f"CrossEntropyLoss: weight must have shape ({n_classes},) for {n_classes} classes, "
                f"got {w.shape}"
            )
        if target.shape == input.shape and target.dtype.kind == "f":
            probs = np.moveaxis(target, 1, -1).reshape(-1, n_classes).astype(np.float64)
            probs = probs * (1.0 - eps) + eps / n_classes
            keep = np.ones(probs.shape[0], dtype=bool)
            return probs * w, keep, float(probs.shape[0])
        expected = (input.shape[0],) + input.shape[2:]
        if target.shape != expected:
            raise ShapeError(
                f"CrossEntropyLoss: for input {input.shape} the target must be class indices of "
                f"shape {expected} (or probabilities of shape {input.shape}), got {target.shape}"
            )
        if target.dtype.kind not in "iu":
            raise TypeError(
                f"CrossEntropyLoss: class-index targets must be integers, got dtype "
                f"{target.dtype}; convert with target.astype(np.int64)"
            )
        labels = target.reshape(-1).astype(np.int64)  # (M,)
        keep = labels != self.ignore_index
        bad = keep & ((labels < 0) | (labels >= n_classes))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"CrossEntropyLoss: target class indices must be in [0, {n_classes - 1}] (or "
                f"ignore_index={self.ignore_index}); found {labels[first]} at flat position {first}"
            )
        safe = np.where(keep, labels, 0)
        q = np.zeros((labels.size, n_classes))
        q[np.arange(labels.size), safe] = (1.0 - eps) * w[safe]
        q += (eps / n_classes) * w  # label smoothing spreads eps over every class
        q[~keep] = 0.0
        return q, keep, float(w[safe][keep].sum())

    def forward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        target = np.asarray(target)
        if input.ndim < 2:
            raise ShapeError(
                f"CrossEntropyLoss: expected logits of shape (N, C) or (N, C, d1, ...), "
                f"got {input.shape}"
            )
        n_classes = input.shape[1]
        q, keep, denom = self._soft_targets(input, target)
        logits = np.moveaxis(input, 1, -1).reshape(-1, n_classes)  # (M, C)
        log_p = log_softmax(logits, axis=-1)  # (M, C)
        per_element = -(q * log_p).sum(axis=-1)  # (M,)
        self._cache = (input.shape, input.dtype, np.exp(log_p), q, denom)
        if self.reduction == "none":
            out_shape = (input.shape[0],) + input.shape[2:]
            return per_element.reshape(out_shape).astype(input.dtype, copy=False)
        total = per_element.sum()
        # 0/0 -> nan when every target is ignored, as PyTorch.
        value = total if self.reduction == "sum" else total / denom if denom else np.nan
        return np.asarray(value, dtype=input.dtype)

    def backward(self, grad: float | np.ndarray = 1.0) -> np.ndarray:
        self._check_cache()
        shape, dtype, p, q, denom = self._cache
        # d/dlogits of -sum_c q_c log softmax_c = p * sum_c q_c - q
        grad_logits = p * q.sum(axis=-1, keepdims=True) - q  # (M, C)
        if self.reduction == "mean":
            grad_logits = grad_logits / denom
        out_shape = (shape[0],) + shape[2:]
        upstream = self._upstream(grad, out_shape).reshape(-1, 1)
        grad_logits = grad_logits * upstream
        moved = (shape[0],) + shape[2:] + (shape[1],)  # (N, d1.., C)
        return np.moveaxis(grad_logits.reshape(moved), -1, 1).astype(dtype, copy=False)

    def extra_repr(self) -> str:
        return (
            f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, "
            f"label_smoothing={self.label_smoothing}"
        )
