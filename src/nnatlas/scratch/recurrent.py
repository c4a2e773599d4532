"""Sequence layers RNN, LSTM and GRU: a stack of cells run over time, with BPTT in one place.

The per-step math lives in the cells (:mod:`nnatlas.scratch.rnn_cells`); this module runs the time
loop, stacks layers and directions, and backpropagates through time. Three choices keep it fast
without hiding the algorithm:

- the input projection ``x_t @ W_ih.T + b`` of *all* steps is one GEMM, (T*N, D) @ (D, G*H),
  so only ``h_{t-1} @ W_hh.T`` is left inside the loop;
- the backward loop only carries ``dh``/``dc`` through time and stores each step's gate gradients;
  ``dW_hh``, ``dW_ih`` and ``dx`` are then one GEMM each over all steps (``dW_hh = dG.T @ H_prev``);
- with ``record=True`` the layer keeps per-step hidden states and gate activations, and after
  ``backward`` the norm of dL/dh_t at every step (the vanishing-gradient picture).

Variable-length batches (``lengths=``, what torch does with a ``PackedSequence``): a row stops at
its own last step. Past it the row's state is carried unchanged and its output is 0, so padding
changes nothing; the reverse direction reads each row back to front from its own last step (the
steps are reordered per row, so in step order the padding is always at the end). In the backward
pass the padded steps pass the state gradient through untouched and give the cell no gradient.

Parameters carry torch's names and layouts (``weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H),
``bias_ih_l0``, ``bias_hh_l0``, then ``_l1`` ..., ``_reverse`` for the backward direction), so
``state_dict()`` loads into ``torch.nn.LSTM`` unchanged.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.init import default_generator
from nnatlas.scratch.module import Module, ShapeError
from nnatlas.scratch.rnn_cells import GRUCell, LSTMCell, RNNCell, State, _Cell


def _in_step_order(a: np.ndarray, reverse: bool, order: np.ndarray | None) -> np.ndarray:
    """Reorder (T, N, *) from time to step order (and back: the map is its own inverse).

    The forward direction's steps are the times; the reverse direction's are the times read
    backwards, per row from its own last step when ``order`` (T, N) is given.
    """
    if not reverse:
        return a
    if order is None:
        return a[::-1]
    return a[order, np.arange(a.shape[1])[None, :]]  # (T, N, *): row n reads a[order[t, n], n]


class _Recurrent(Module):
    """The sequence wrapper shared by RNN, LSTM and GRU; subclasses pick the cell."""

    cell_class: type[_Cell] = _Cell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
        record: bool = False,
        **cell_options,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{name}: input_size, hidden_size and num_layers must be positive, got "
                f"{input_size}, {hidden_size}, {num_layers}"
            )
        rng = rng if rng is not None else default_generator()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.record = record
        self._cell_options = cell_options
        # Parameters are created in torch's order: per layer, forward then reverse direction.
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                cell = self.cell_class(
                    layer_in, hidden_size, bias, dtype=dtype, rng=rng, **cell_options
                )
                setattr(self, f"weight_ih{suffix}", cell.weight_ih)
                setattr(self, f"weight_hh{suffix}", cell.weight_hh)
                if bias:
                    setattr(self, f"bias_ih{suffix}", cell.bias_ih)
                    setattr(self, f"bias_hh{suffix}", cell.bias_hh)
        self.last_states: dict[str, dict[str, np.ndarray]] = {}
        self.last_gates: dict[str, dict[str, np.ndarray]] = {}
        self.last_grad_h_norms: dict[str, np.ndarray] = {}
        self.grad_hx: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.num_directions]

    def _cell(self, suffix: str) -> _Cell:
        # Built on every forward from the current Parameters, so to(), load_state_dict() and
        # re-assigned Parameters are always seen; the cell shares them, it copies nothing.
        get = self._parameters.get
        return self.cell_class.from_parameters(
            get(f"weight_ih{suffix}"),
            get(f"weight_hh{suffix}"),
            get(f"bias_ih{suffix}"),
            get(f"bias_hh{suffix}"),
            **self._cell_options,
        )

    @property
    def _num_states(self) -> int:
        return self.cell_class.num_states

    # -- input checks -------------------------------------------------------------------------
    def _time_major(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """Validate x and return it as (T, N, D) in the layer's dtype, plus "was unbatched"."""
        D = self.input_size
        layout = f"(N, T, {D})" if self.batch_first else f"(T, N, {D})"
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"{self.layer_name}: expected a numpy array {layout}, got {type(x).__name__}"
            )
        if x.dtype.kind != "f":
            raise TypeError(
                f"{self.layer_name}: expected float input {layout}, got dtype {x.dtype}; token ids "
                "go through an Embedding first"
            )
        if x.ndim not in (2, 3) or x.shape[-1] != D:
            raise ShapeError(
                f"{self.layer_name}: expected input {layout} with batch_first={self.batch_first} "
                f"(or unbatched (T, {D})), got {x.shape}"
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None]  # (T, 1, D)
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # (N, T, D) -> (T, N, D)
        if x.shape[0] == 0:
            raise ShapeError(f"{self.layer_name}: the sequence is empty (T = 0), got {x.shape}")
        return x.astype(self.dtype, copy=False), unbatched

    def _initial_states(
        self, hx: np.ndarray | State | None, batch: int, unbatched: bool
    ) -> tuple[np.ndarray, ...]:
        """(L*dirs, N, H) arrays: ``(h0,)`` or ``(h0, c0)``; zeros when ``hx`` is None."""
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if hx is None:
            return tuple(np.zeros(shape, self.dtype) for _ in range(self._num_states))
        if self._num_states == 2:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError(f"{self.layer_name}: hx must be a tuple (h0, c0)")
            parts = tuple(hx)
        else:
            parts = (hx,)
        want = (shape[0], shape[2]) if unbatched else shape
        states = []
        for name, part in zip(("h0", "c0"), parts, strict=False):
            part = np.asarray(part)
            if part.shape != want:
                raise ShapeError(
                    f"{self.layer_name}: expected {name} of shape {want} (num_layers * "
                    f"num_directions, N, hidden_size), got {part.shape}"
                )
            states.append(part.reshape(shape).astype(self.dtype, copy=False))
        return tuple(states)

    # -- forward ------------------------------------------------------------------------------
    def _steps(self, lengths: np.ndarray | None, T: int, N: int, unbatched: bool):
        """Per-step masks (T, N, 1) and the reverse direction's per-row step order (T, N), or
        ``(None, None)`` without ``lengths`` (every row runs all T steps)."""
        if lengths is None:
            return None, None
        lengths = np.asarray(lengths)
        if unbatched or lengths.shape != (N,) or lengths.dtype.kind not in "iu":
            raise ShapeError(
                f"{self.layer_name}: lengths must be (N,) = ({N},) integers for a batched input, "
                f"got {lengths.shape} {lengths.dtype}"
            )
        if lengths.min() < 1 or lengths.max() > T:
            raise ShapeError(
                f"{self.layer_name}: lengths must be in 1..{T} (the input has T = {T}), got "
                f"{lengths.tolist()}"
            )
        t = np.arange(T)[:, None]  # (T, 1)
        mask = (t < lengths[None, :])[:, :, None]  # (T, N, 1): True on real steps
        # Step k of the reverse direction reads time L - 1 - k of a row of length L (padding
        # keeps its place at the end); the map is its own inverse, so it also maps back.
        reverse_order = np.where(mask[:, :, 0], lengths[None, :] - 1 - t, t)  # (T, N)
        return mask, reverse_order

    def _forward(
        self, x: np.ndarray, hx: np.ndarray | State | None, lengths: np.ndarray | None = None
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        x, unbatched = self._time_major(x)  # (T, N, D)
        T, N, _ = x.shape
        mask, reverse_order = self._steps(lengths, T, N, unbatched)
        states0 = self._initial_states(hx, N, unbatched)  # each (L*dirs, N, H)
        finals = tuple(np.empty_like(s) for s in states0)
        runs = []  # per (layer, direction): what backward needs
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.num_directions + d
                order = reverse_order if d == 1 else None
                run = self._run(
                    self._cell(suffix), layer_in, tuple(s[k] for s in states0), d == 1, mask, order
                )
                for final, s in zip(finals, run["final"], strict=True):
                    final[k] = s
                outs.append(run["out"])
                runs.append(run)
            layer_in = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)  # (T, N, dirs*H)
        self._cache = {"runs": runs, "unbatched": unbatched, "T": T}
        if self.record:
            self._record(runs)
        output = layer_in
        if unbatched:
            return output[:, 0], tuple(f[:, 0] for f in finals)
        if self.batch_first:
            output = output.transpose(1, 0, 2)  # (T, N, H) -> (N, T, H)
        return output, finals

    def _run(
        self,
        cell: _Cell,
        x: np.ndarray,
        state: State,
        reverse: bool,
        mask: np.ndarray | None = None,
        order: np.ndarray | None = None,
    ) -> dict:
        """One direction of one layer over the whole sequence. x: (T, N, D) -> out (T, N, H).

        ``mask`` (T, N, 1) marks the real steps of each row (None: all); ``order`` (T, N) is the
        reverse direction's per-row step order when rows have their own lengths.
        """
        T, N, D = x.shape
        xs = _in_step_order(x, reverse, order)  # the reverse direction reads back to front
        xs = np.ascontiguousarray(xs).reshape(T * N, D)  # (T*N, D)
        gx = cell.input_projection(xs).reshape(T, N, -1)  # (T, N, G*H): one GEMM for all steps
        out = np.empty((T, N, self.hidden_size), dtype=gx.dtype)
        h0, caches = state[0], []
        for t in range(T):
            new_state, cache = cell.step_forward(gx[t], state)
            if mask is None or mask[t].all():
                state = new_state
                out[t] = state[0]
            else:  # rows past their last step keep their state and output 0
                m = mask[t]  # (N, 1)
                state = tuple(
                    np.where(m, new, old) for new, old in zip(new_state, state, strict=True)
                )
                out[t] = np.where(m, new_state[0], 0.0)
            caches.append(cache)
        return {
            "cell": cell,
            "x": xs,
            "h0": h0,
            # In step order (reversed in time for the reverse direction); a padded step's 0 is
            # never read as h_{t-1}: padding only follows a row's real steps.
            "out_steps": out,
            "out": _in_step_order(out, reverse, order),  # the same map takes steps back to time
            "caches": caches,
            "final": state,
            "reverse": reverse,
            "mask": mask,
            "order": order,
        }

    def _record(self, runs: list[dict]) -> None:
        """Keep per-step states and gates, in time order, as (T, N, H) arrays."""
        self.last_states, self.last_gates = {}, {}
        for key, run in zip(self._run_keys(), runs, strict=True):

            def in_time(steps: np.ndarray, run: dict = run) -> np.ndarray:
                return _in_step_order(steps, run["reverse"], run["order"])

            cell, caches = run["cell"], run["caches"]
            states = {"h": np.array(run["out"])}
            if self._num_states == 2:  # LSTM: c_t is the memory the gates write to
                c = np.stack([cache[1] for cache in caches[1:]] + [run["final"][1]])
                states["c"] = in_time(c)
            self.last_states[key] = states
            per_step = [cell.gate_activations(cache) for cache in caches]
            names = per_step[0].keys() if per_step else ()
            self.last_gates[key] = {n: in_time(np.stack([g[n] for g in per_step])) for n in names}

    def _run_keys(self) -> list[str]:
        return [s[1:] for layer in range(self.num_layers) for s in self._suffixes(layer)]

    # -- backward (BPTT) ----------------------------------------------------------------------
    def _backward(self, grad_output: np.ndarray | None, grad_finals: tuple) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self.layer_name}: backward called before forward")
        runs, unbatched, T = self._cache["runs"], self._cache["unbatched"], self._cache["T"]
        dirs, H = self.num_directions, self.hidden_size
        N = runs[0]["h0"].shape[0]
        out_shape = (T, N, dirs * H)
        if grad_output is None:
            g = np.zeros(out_shape, self.dtype)
        else:
            g = np.asarray(grad_output, dtype=self.dtype)
            g = g[:, None] if unbatched else (g.transpose(1, 0, 2) if self.batch_first else g)
            if g.shape != out_shape:
                raise ShapeError(
                    f"{self.layer_name}: grad_output has shape {np.shape(grad_output)}, the "
                    f"forward output had {self._user_shape(out_shape, unbatched)}"
                )
        finals = []
        state_shape = (self.num_layers * dirs, N, H)
        for name, gf in zip(("grad_h_n", "grad_c_n"), grad_finals, strict=False):
            if gf is not None:
                gf = np.asarray(gf, dtype=self.dtype)
                want = (state_shape[0], H) if unbatched else state_shape
                if gf.shape != want:
                    raise ShapeError(
                        f"{self.layer_name}: {name} must have shape {want}, got {gf.shape}"
                    )
                gf = gf.reshape(state_shape)
            finals.append(gf)
        grad_initial = [np.zeros((self.num_layers * dirs, N, H), self.dtype) for _ in grad_finals]
        self.last_grad_h_norms = {}
        keys = self._run_keys()
        for layer in reversed(range(self.num_layers)):
            dx_layer = None
            for d in range(dirs):
                k = layer * dirs + d
                run = runs[k]
                g_dir = g[:, :, d * H : (d + 1) * H]  # (T, N, H) this direction's share
                dstate = tuple(
                    np.zeros((N, H), self.dtype) if gf is None else gf[k] for gf in finals
                )
                dx, dstate0, norms = self._run_backward(run, g_dir, dstate)
                for gi, ds in zip(grad_initial, dstate0, strict=True):
                    gi[k] = ds
                self.last_grad_h_norms[keys[k]] = norms
                dx_layer = dx if dx_layer is None else dx_layer + dx
            g = dx_layer  # (T, N, D_layer) gradient for the layer below
        self.grad_hx = tuple(gi[:, 0] if unbatched else gi for gi in grad_initial)
        if len(self.grad_hx) == 1:
            self.grad_hx = self.grad_hx[0]
        if unbatched:
            return g[:, 0]
        return g.transpose(1, 0, 2) if self.batch_first else g

    def _run_backward(self, run: dict, grad_out: np.ndarray, dstate: State):
        """BPTT for one direction of one layer. grad_out: (T, N, H) in time order.

        Returns dx (T, N, D) in time order, the gradient of the initial state, and ||dL/dh_t||.
        """
        cell, caches, reverse = run["cell"], run["caches"], run["reverse"]
        mask, order = run["mask"], run["order"]
        T = len(caches)
        grad_steps = _in_step_order(grad_out, reverse, order)  # step order
        dgx_all = dgh_all = None  # (T, N, G*H), allocated on the first step
        norms = np.empty(T)
        for t in reversed(range(T)):
            padded = mask is not None and not mask[t].all()
            m = mask[t] if padded else None  # (N, 1)
            # From the output at t and from step t + 1; a padded step's output is a constant 0.
            dh = (grad_steps[t] if m is None else grad_steps[t] * m) + dstate[0]
            norms[t] = np.sqrt(np.vdot(dh, dh))
            carried = (dh, *dstate[1:])
            if m is not None:  # a padded row's step is the identity on the state: no gradient
                carried_in = tuple(d * m for d in carried)  # for the cell (its math is linear
            else:  # in dstate, so zero rows stay zero)
                carried_in = carried
            dgx, dgh, dprev = cell.step_backward(carried_in, caches[t])
            dstate = (
                dprev
                if m is None
                else tuple(np.where(m, dp, dc) for dp, dc in zip(dprev, carried, strict=True))
            )
            if dgx_all is None:
                dgx_all = np.empty((T, *dgx.shape), dgx.dtype)
                dgh_all = dgx_all if dgh is dgx else np.empty_like(dgx_all)
            dgx_all[t] = dgx
            if dgh_all is not dgx_all:
                dgh_all[t] = dgh
        M = T * dgx_all.shape[1]
        dgx2, dgh2 = dgx_all.reshape(M, -1), dgh_all.reshape(M, -1)  # (T*N, G*H)
        out = run["out_steps"]
        h_prev = np.concatenate([run["h0"][None], out[:-1]]).reshape(M, -1)  # (T*N, H): h_{t-1}
        cell.weight_ih.accumulate(dgx2.T @ run["x"])  # (G*H, D): one GEMM for all steps
        cell.weight_hh.accumulate(dgh2.T @ h_prev)  # (G*H, H)
        if cell.bias_ih is not None:
            cell.bias_ih.accumulate(dgx2.sum(axis=0))
            cell.bias_hh.accumulate(dgh2.sum(axis=0))
        dx = (dgx2 @ cell.weight_ih.data).reshape(T, -1, cell.input_size)  # (T, N, D)
        if reverse:
            return _in_step_order(dx, True, order), dstate, norms[::-1]
        return dx, dstate, norms

    # -- one step at a time, for decoders that feed their output back (attention) -----------
    def step(self, x: np.ndarray, hx: np.ndarray | State | None = None) -> tuple:
        """Run ``x`` (usually one time step) and hand back the cache instead of keeping it.

        A decoder whose next input depends on this step's output (Bahdanau attention reads the
        state to build the next input) calls the layer once per step; each call would replace
        the layer's own cache, so this returns it for :meth:`step_backward` to take back.

        Returns:
            ``(output, state, cache)``; ``output`` and ``state`` as :meth:`forward` returns them.
        """
        output, finals = self._forward(x, hx)
        state = finals if self._num_states == 2 else finals[0]
        return output, state, self._cache

    def step_backward(
        self, cache: dict, grad_output: np.ndarray | None, grad_state: np.ndarray | State | None
    ) -> tuple[np.ndarray, np.ndarray | State]:
        """BPTT through one :meth:`step`: ``(dL/dx, dL/dhx)``, accumulating the weight gradients.

        ``grad_state`` is dL/d(the state the step returned): ``h`` (LSTM: ``(h, c)``) or None.
        """
        self._cache = cache
        if grad_state is None:
            grads: tuple = (None,) * self._num_states
        else:
            grads = tuple(grad_state) if self._num_states == 2 else (grad_state,)
        grad_x = self._backward(grad_output, grads)
        return grad_x, self.grad_hx

    def _user_shape(self, shape: tuple[int, int, int], unbatched: bool) -> tuple[int, ...]:
        T, N, F = shape
        return (T, F) if unbatched else ((N, T, F) if self.batch_first else shape)

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.bidirectional:
            parts.append("bidirectional=True")
        return ", ".join(parts)


class RNN(_Recurrent):
    """Multi-layer Elman RNN, ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Args:
        input_size: D, features per step. hidden_size: H. num_layers: stacked layers.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias: learn biases. batch_first: input/output are (N, T, *) instead of (T, N, *).
        bidirectional: add a layer reading the sequence backwards; outputs are concatenated.
        dtype: float32 or float64. rng: generator for torch's ``U(-1/sqrt(H), 1/sqrt(H))`` init.
        record: after each forward keep ``last_states[key]["h"]`` (T, N, H) (``key`` is
            ``"l0"``, ``"l0_reverse"``, ``"l1"`` ...) and ``last_gates[key]`` (none for RNN).
            Whatever ``record``, ``backward`` leaves ``last_grad_h_norms[key]``: (T,) the norm
            of dL/dh_t at every step (the vanishing-gradient picture).

    Shape:
        x: (T, N, D) (or (N, T, D) when batch_first, or unbatched (T, D)),
        h0: (L*dirs, N, H) -> output (T, N, dirs*H), h_n (L*dirs, N, H).
        ``lengths``: (N,) ints in 1..T, each row's real steps (torch packs such a batch with
        ``pack_padded_sequence``): output is 0 past a row's length and h_n is its state at its
        own last step (for the reverse direction, at its first).
        ``backward(grad_output, grad_h_n=None)`` returns dL/dx and leaves dL/dh0 in ``grad_hx``.

    See: torch.nn.RNN. Check: ``nnatlas check "RNN-tanh"``. Tests:
    tests/scratch/test_recurrent_layers.py.
    """

    cell_class = RNNCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        dtype: type[np.floating] = np.float32,
        rng: np.random.Generator | None = None,
        record: bool = False,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, bidirectional, dtype, rng,
            record, nonlinearity=nonlinearity,
        )  # fmt: skip
        self.nonlinearity = nonlinearity

    def forward(
        self, x: np.ndarray, hx: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        output, (h_n,) = self._forward(x, hx, lengths)
        return output, h_n

    def backward(
        self, grad_output: np.ndarray | None, grad_h_n: np.ndarray | None = None
    ) -> np.ndarray:
        return self._backward(grad_output, (grad_h_n,))


class LSTM(_Recurrent):
    """Multi-layer LSTM over a sequence, gates i, f, g, o.

    Args: as :class:`RNN` (without ``nonlinearity``).

    Shape:
        x: (T, N, D) (or (N, T, D) when batch_first, or unbatched (T, D)),
        hx = (h0, c0), each (L*dirs, N, H) -> output (T, N, dirs*H), (h_n, c_n) each (L*dirs, N, H).
        ``lengths``: (N,) as for :class:`RNN`.
        ``backward(grad_output, grad_h_n=None, grad_c_n=None)`` returns dL/dx and leaves
        ``(dL/dh0, dL/dc0)`` in ``grad_hx``.
        With ``record=True``: ``last_gates["l0"]["f"]`` is (T, N, H), as is
        ``last_states["l0"]["c"]``.

    See: torch.nn.LSTM. Check: ``nnatlas check "LSTM"``. Tests:
    tests/scratch/test_recurrent_layers.py.
    """

    cell_class = LSTMCell

    def forward(
        self,
        x: np.ndarray,
        hx: tuple[np.ndarray, np.ndarray] | None = None,
        lengths: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        output, (h_n, c_n) = self._forward(x, hx, lengths)
        return output, (h_n, c_n)

    def backward(
        self,
        grad_output: np.ndarray | None,
        grad_h_n: np.ndarray | None = None,
        grad_c_n: np.ndarray | None = None,
    ) -> np.ndarray:
        return self._backward(grad_output, (grad_h_n, grad_c_n))


class GRU(_Recurrent):
    """Multi-layer GRU over a sequence, gates r, z, n in torch's form.

    Args: as :class:`RNN` (without ``nonlinearity``).

    Shape:
        as :class:`RNN`; with ``record=True`` ``last_gates["l0"]`` holds ``r``, ``z``, ``n``.

    See: torch.nn.GRU. Check: ``nnatlas check "GRU"``. Tests:
    tests/scratch/test_recurrent_layers.py.
    """

    cell_class = GRUCell

    def forward(
        self, x: np.ndarray, hx: np.ndarray | None = None, lengths: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        output, (h_n,) = self._forward(x, hx, lengths)
        return output, h_n

    def backward(
        self, grad_output: np.ndarray | None, grad_h_n: np.ndarray | None = None
    ) -> np.ndarray:
        return self._backward(grad_output, (grad_h_n,))
