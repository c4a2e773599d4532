"""What a probe reads out of a model, in the same form for both engines (NumPy arrays).

The PyTorch probe (:mod:`.torch_engine`) and the NumPy one (:mod:`.scratch_engine`) fill
these records; the plots read only them, so every plot works for a zoo model and for its twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RecurrentRecord:
    """One direction of one recurrent layer over a batch of sequences.

    Attributes:
        layer: the module path and run key, e.g. ``"rnn.l0"`` or ``"encoder.rnn.l0_reverse"``.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        gates: by name (LSTM ``i, f, g, o``; GRU ``r, z, n``; none for an Elman RNN), each
            (N, T, H) in time order.
        states: ``"h"`` (N, T, H), and for an LSTM the memory ``"c"`` (N, T, H).
        grad_norms: (T,) ||dL/dh_t|| over the batch (the Frobenius norm of the (N, H) gradient
            of the loss with respect to the state carried out of step t: from that step's
            output and from step t + 1), or None when no gradient was taken. For the reverse
            direction the steps are read back to front, as the NumPy engine's
            ``last_grad_h_norms`` does.
    """

    layer: str
    cell: str
    gates: dict[str, np.ndarray]
    states: dict[str, np.ndarray]
    grad_norms: np.ndarray | None = None


@dataclass
class GradientRecord:
    """One forward and backward pass of a batch, as the task's step computes the loss.

    Attributes:
        loss: the batch's loss.
        grads: every trainable parameter's gradient by name (the zoo's names; the twin's are
            the same).
        weight_norms: ||W|| of every parameter by name, for the size of a gradient relative
            to its weights.
        activations: every leaf module's output by module path (the first element of a tuple
            output; a packed sequence's data).
        recurrent: per-step records of the recurrent layers run once over their sequence.
        skipped: ``(module, calls)`` of recurrent modules run more than once in the forward
            (a decoder stepping one token at a time): they have no per-step record.
    """

    loss: float
    grads: dict[str, np.ndarray]
    weight_norms: dict[str, float] = field(default_factory=dict)
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    recurrent: list[RecurrentRecord] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)

    def grad_norms(self) -> dict[str, float]:
        """||dL/dW|| of every parameter, by name (the Frobenius norm)."""
        return {name: float(np.linalg.norm(g.astype(np.float64))) for name, g in self.grads.items()}
