"""Recurrent cells: one time step of an Elman RNN, an LSTM and a GRU, forward and backward.

A cell owns the weights of one layer (and one direction) and the math of one step. The sequence
wrappers in :mod:`nnatlas.scratch.recurrent` run the time loop and backpropagation through time
(BPTT) in one place, calling two methods of the cell per step:

- ``step_forward(gx, state) -> (state', cache)``: ``gx`` is the input projection of this step,
  ``x_t @ weight_ih.T + bias_ih`` (computed for all steps at once by the wrapper, one GEMM);
  ``state`` is a tuple, ``(h,)`` for RNN/GRU and ``(h, c)`` for LSTM. The RNN cell reuses
  ``gx``'s memory for its pre-activation (it is the caller's scratch space).
- ``step_backward(dstate, cache) -> (dgx, dgh, dstate_prev)``: ``dstate`` is the gradient of the
  loss w.r.t. ``state'`` (``(dh,)`` or ``(dh, dc)``); ``dgx`` and ``dgh`` are the gradients w.r.t.
  the input projection and the hidden projection ``gh = h @ weight_hh.T + bias_hh`` of this step.
  The caller turns them into weight gradients (``dW_hh = dgh.T @ h_prev``), so a sequence needs one
  GEMM per weight for all steps instead of one per step.

Each cell is also a layer on its own with torch's single-step API (``torch.nn.LSTMCell``):
``forward(x, hx)`` / ``backward(grad_h, grad_c)``.

Weights use torch's layout and gate order: ``weight_ih`` is (G*H, D), ``weight_hh`` (G*H, H), with
the gate blocks stacked as LSTM ``i, f, g, o`` and GRU ``r, z, n``.
"""

from __future__ import annotations

import math

import numpy as np

from nnatlas.scratch.init import default_generator
from nnatlas.scratch.module import Module, Parameter, ShapeError

State = tuple[np.ndarray, ...]


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """Sigmoid as ``(1 + tanh(a / 2)) / 2``: unlike ``1 / (1 + exp(-a))`` it never overflows."""
    return 0.5 * np.tanh(0.5 * a) + 0.5


class _Cell(Module):
    """Weights and single-step API shared by the three cells; subclasses supply the step math."""

    gate_names: tuple[str, ...] = ()
    num_states: int = 1  # arrays in the recurrent state: (h,), or (h, c) for the LSTM
    # RNN and LSTM add the two biases before any nonlinearity, so both can go into the input
    # projection (one add for all steps). GRU cannot: b_hn sits inside ``r * (W_hn h + b_hn)``.
    fold_hh_bias: bool = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, got "
                f"{input_size}, {hidden_size}"
            )
        rng = rng if rng is not None else default_generator()
        rows = len(self.gate_names) * hidden_size
        # torch's init: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
        bound = 1.0 / math.sqrt(hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = Parameter(rng.uniform(-bound, bound, (rows, input_size)).astype(dtype))
        self.weight_hh = Parameter(rng.uniform(-bound, bound, (rows, hidden_size)).astype(dtype))
        self.bias_ih = Parameter(rng.uniform(-bound, bound, rows).astype(dtype)) if bias else None
        self.bias_hh = Parameter(rng.uniform(-bound, bound, rows).astype(dtype)) if bias else None

    @classmethod
    def from_parameters(
        cls,
        weight_ih: Parameter,
        weight_hh: Parameter,
        bias_ih: Parameter | None,
        bias_hh: Parameter | None,
        **options,
    ) -> _Cell:
        """A cell that shares (not copies) the given Parameters: the sequence wrappers keep their
        weights under torch's names (``weight_ih_l0`` ...) and lend them to a cell for the math."""
        cell = cls.__new__(cls)
        Module.__init__(cell)
        cell.input_size, cell.hidden_size = weight_ih.shape[1], weight_hh.shape[1]
        cell.weight_ih, cell.weight_hh = weight_ih, weight_hh
        cell.bias_ih, cell.bias_hh = bias_ih, bias_hh
        for name, value in options.items():
            setattr(cell, name, value)
        return cell

    # -- the step API used by the sequence wrappers ------------------------------------------
    def input_projection(self, x: np.ndarray) -> np.ndarray:
        """``x @ weight_ih.T + bias_ih`` (+ ``bias_hh`` when folded). x: (M, D) -> (M, G*H)."""
        gx = x @ self.weight_ih.data.T  # (M, G*H)
        if self.bias_ih is not None:
            gx += self.bias_ih.data
            if self.fold_hh_bias:
                gx += self.bias_hh.data
        return gx

    def step_forward(self, gx: np.ndarray, state: State) -> tuple[State, tuple]:
        raise NotImplementedError

    def step_backward(self, dstate: State, cache: tuple) -> tuple[np.ndarray, np.ndarray, State]:
        raise NotImplementedError

    def gate_activations(self, cache: tuple) -> dict[str, np.ndarray]:
        """The gate values of one step by name, each (N, H) (views into the cache)."""
        return {}

    # -- torch's single-step layer API -------------------------------------------------------
    def forward(self, x: np.ndarray, hx: np.ndarray | State | None = None):
        """One step. Returns ``h'`` (RNNCell, GRUCell) or ``(h', c')`` (LSTMCell)."""
        if not isinstance(x, np.ndarray) or x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            got = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ShapeError(
                f"{self.layer_name}: expected input (N, {self.input_size}) or "
                f"({self.input_size},), got {got}"
            )
        unbatched = x.ndim == 1
        x = np.atleast_2d(x).astype(self.weight_ih.data.dtype, copy=False)  # (N, D)
        state = self._initial_state(hx, x.shape[0], unbatched)
        new_state, cache = self.step_forward(self.input_projection(x), state)
        self._cache = (x, state[0], cache, unbatched)
        out = tuple(s[0] if unbatched else s for s in new_state)
        return out[0] if self.num_states == 1 else out

    def backward(self, grad_h: np.ndarray, grad_c: np.ndarray | None = None) -> np.ndarray:
        """Accumulate the weight gradients, return dL/dx; dL/dhx is left in ``self.grad_hx``."""
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        x, h_prev, cache, unbatched = self._cache
        dstate = [np.atleast_2d(grad_h)]
        if self.num_states == 2:
            dstate.append(np.zeros_like(dstate[0]) if grad_c is None else np.atleast_2d(grad_c))
        dgx, dgh, dprev = self.step_backward(tuple(dstate), cache)
        self.weight_ih.accumulate(dgx.T @ x)  # (G*H, D)
        self.weight_hh.accumulate(dgh.T @ h_prev)  # (G*H, H)
        if self.bias_ih is not None:
            self.bias_ih.accumulate(dgx.sum(axis=0))
            self.bias_hh.accumulate(dgh.sum(axis=0))
        dprev = tuple(d[0] if unbatched else d for d in dprev)
        self.grad_hx = dprev[0] if self.num_states == 1 else dprev
        dx = dgx @ self.weight_ih.data  # (N, D)
        return dx[0] if unbatched else dx

    def _initial_state(self, hx: np.ndarray | State | None, batch: int, unbatched: bool) -> State:
        shape = (batch, self.hidden_size)
        dtype = self.weight_ih.data.dtype
        if hx is None:
            return tuple(np.zeros(shape, dtype) for _ in range(self.num_states))
        parts = (hx,) if self.num_states == 1 else tuple(hx)
        if len(parts) != self.num_states:
            raise ValueError(
                f"{self.layer_name}: hx must be a tuple (h, c), got {len(parts)} arrays"
            )
        want = (self.hidden_size,) if unbatched else shape
        state = []
        for name, part in zip("hc", parts, strict=False):
            part = np.asarray(part, dtype=dtype)
            if part.shape != want:
                raise ShapeError(
                    f"{self.layer_name}: expected {name}0 of shape {want}, got {part.shape}"
                )
            state.append(part.reshape(shape))
        return tuple(state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """Elman cell ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``.

    Args:
        input_size: D. hidden_size: H. bias: learn ``bias_ih``, ``bias_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        dtype, rng: float32/float64 and the generator of torch's init ``U(-1/sqrt(H), 1/sqrt(H))``.

    Shape:
        x: (N, D), h: (N, H) -> h': (N, H); ``weight_ih`` (H, D), ``weight_hh`` (H, H).

    See: torch.nn.RNNCell. Check: ``nnatlas check "RNNCell"``. Tests:
    tests/scratch/test_recurrent_layers.py.
    """

    gate_names = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, dtype, rng)
        self.nonlinearity = nonlinearity

    def step_forward(self, gx: np.ndarray, state: State) -> tuple[State, tuple]:
        (h_prev,) = state
        a = gx  # (N, H): gx's buffer becomes the pre-activation, then h', in place
        a += h_prev @ self.weight_hh.data.T
        h = np.tanh(a, out=a) if self.nonlinearity == "tanh" else np.maximum(a, 0, out=a)
        return (h,), (h,)

    def step_backward(self, dstate: State, cache: tuple) -> tuple[np.ndarray, np.ndarray, State]:
        (dh,), (h,) = dstate, cache
        # tanh' = 1 - tanh^2; relu' = 1 where the output is positive (torch uses 0 at exactly 0)
        da = dh * (1.0 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0)  # (N, H)
        return da, da, (da @ self.weight_hh.data,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(_Cell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997, with torch's forget gate).

    ``i, f, o = sigmoid(...)``, ``g = tanh(...)`` over ``W_ih x + b_ih + W_hh h + b_hh`` split in
    four; ``c' = f * c + i * g``; ``h' = o * tanh(c')``.

    Shape:
        x: (N, D), (h, c): (N, H) each -> (h', c'); ``weight_ih`` (4H, D), ``weight_hh`` (4H, H),
        rows in gate order i, f, g, o.

    See: torch.nn.LSTMCell. Check: ``nnatlas check "LSTMCell"``. Tests:
    tests/scratch/test_recurrent_layers.py.
    """

    gate_names = ("i", "f", "g", "o")
    num_states = 2

    # The step is written as the equations, with no fused form: the fused in-place one it
    # replaced (gx's buffer reused for the pre-activations and gates, one tanh over all four
    # blocks) bought nothing. `benchmarks/scratch_vs_torch.py --only lstm --repeats 15
    # --threads 2` (T=100, N=32, D=H=256, float32, 2 cores), scratch/torch ratio, median of 8
    # alternating runs: readable 0.77 (0.68-0.81, one loaded run 1.41), fused 0.78 (0.72-0.83);
    # target <= 1.5. The h @ W_hh.T GEMM of each step dominates; both give the same bits.
    def step_forward(self, gx: np.ndarray, state: State) -> tuple[State, tuple]:
        h_prev, c_prev = state
        a = gx + h_prev @ self.weight_hh.data.T  # (N, 4H) pre-activations of the four gates
        H = self.hidden_size
        # (N, H) each, torch's order i, f, g, o (slices: np.split costs ~30 us a call in Python)
        a_i, a_f, a_g, a_o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
        c = f * c_prev + i * g  # (N, H): forget part of the memory, write the gated candidate
        tanh_c = np.tanh(c)
        h = o * tanh_c  # (N, H)
        return (h, c), ((i, f, g, o), c_prev, tanh_c)

    def step_backward(self, dstate: State, cache: tuple) -> tuple[np.ndarray, np.ndarray, State]:
        # From h' = o * tanh(c') and c' = f * c + i * g, with dh = dL/dh', dc_next = dL/dc':
        #   c' reaches the loss by two paths, through h' and through the next step's memory:
        #     dc' = dh * o * (1 - tanh(c')^2) + dc_next
        #   the gate values:  di = dc' * g,  df = dc' * c,  dg = dc' * i,  do = dh * tanh(c')
        #   the pre-activations: times the slope, sigmoid' = s (1 - s) for i, f, o and
        #     tanh' = 1 - g^2 for g; this da is the gradient of gx and of gh alike (a = gx + gh)
        #   the previous state: dc = dc' * f,  dh_prev = da @ W_hh
        dh, dc_next = dstate
        (i, f, g, o), c_prev, tanh_c = cache
        dc = dh * o * (1.0 - tanh_c * tanh_c) + dc_next  # (N, H)
        di, df, dg, do = dc * g, dc * c_prev, dc * i, dh * tanh_c  # (N, H) each
        da = np.concatenate(
            [di * (i * (1.0 - i)), df * (f * (1.0 - f)), dg * (1.0 - g * g), do * (o * (1.0 - o))],
            axis=1,
        )  # (N, 4H)
        return da, da, (da @ self.weight_hh.data, dc * f)

    def gate_activations(self, cache: tuple) -> dict[str, np.ndarray]:
        return dict(zip(self.gate_names, cache[0], strict=True))


class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al. 2014) in torch's form.

    ``r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Shape:
        x: (N, D), h: (N, H) -> h': (N, H); ``weight_ih`` (3H, D), ``weight_hh`` (3H, H),
        rows in gate order r, z, n.

    See: torch.nn.GRUCell. Check: ``nnatlas check "GRUCell"``. Tests:
    tests/scratch/test_recurrent_layers.py.
    """

    gate_names = ("r", "z", "n")
    fold_hh_bias = False

    def step_forward(self, gx: np.ndarray, state: State) -> tuple[State, tuple]:
        (h_prev,) = state
        H = self.hidden_size
        gh = h_prev @ self.weight_hh.data.T  # (N, 3H)
        if self.bias_hh is not None:
            gh += self.bias_hh.data
        rz = _sigmoid(gx[:, : 2 * H] + gh[:, : 2 * H])  # (N, 2H): r, z
        r, z = rz[:, :H], rz[:, H:]
        gh_n = gh[:, 2 * H :]
        n = np.tanh(gx[:, 2 * H :] + r * gh_n)  # (N, H)
        h = n + z * (h_prev - n)  # = (1 - z) n + z h
        return (h,), (h_prev, rz, n, gh_n)

    def step_backward(self, dstate: State, cache: tuple) -> tuple[np.ndarray, np.ndarray, State]:
        (dh,) = dstate
        h_prev, rz, n, gh_n = cache
        H = self.hidden_size
        r, z = rz[:, :H], rz[:, H:]
        dn = dh * (1.0 - z) * (1.0 - n * n)  # through h' then tanh: (N, H)
        dgx = np.empty((dh.shape[0], 3 * H), dtype=dh.dtype)  # (N, 3H)
        np.multiply(dn * gh_n, r * (1.0 - r), out=dgx[:, :H])  # r
        np.multiply(dh * (h_prev - n), z * (1.0 - z), out=dgx[:, H : 2 * H])  # z
        dgx[:, 2 * H :] = dn  # n
        dgh = dgx.copy()
        dgh[:, 2 * H :] *= r  # W_hn h + b_hn is scaled by r before the tanh
        return dgx, dgh, (dh * z + dgh @ self.weight_hh.data,)

    def gate_activations(self, cache: tuple) -> dict[str, np.ndarray]:
        _, rz, n, _ = cache
        H = self.hidden_size
        return {"r": rz[:, :H], "z": rz[:, H:], "n": n}
