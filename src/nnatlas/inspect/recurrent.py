"""Inside a recurrent net: gate activations per time step and hidden-state trajectories.

- :func:`plot_gates`: one heatmap per gate (LSTM input ``i``, forget ``f``, candidate ``g``,
  output ``o``; GRU reset ``r``, update ``z``, candidate ``n``), hidden units against the
  tokens of the text it read. A forget gate near 1 keeps the memory, near 0 wipes it; a
  sentiment LSTM's gates often switch at "not" and "but" (Karpathy, Johnson & Fei-Fei 2015,
  arXiv 1506.02078, read an LSTM's cells the same way).
- :func:`plot_state_trajectories`: the hidden states h_t of one or more sequences projected on
  their two principal components, a path per sequence from its first step to its last.

Both read the states the NumPy engine records and that the PyTorch probe recomputes with the
module's own weights (:mod:`.torch_engine`), so either engine's model can be drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnatlas.inspect.engines import probe
from nnatlas.inspect.figures import Figure, InspectError, figure, save
from nnatlas.inspect.records import RecurrentRecord

GATE_TITLES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g (tanh)",
    "o": "output gate o",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n (tanh)",
}
TANH_GATES = ("g", "n")  # in [-1, 1]; the others are sigmoids in [0, 1]


def pick_record(records: list[RecurrentRecord], layer: str | None, gates: bool) -> RecurrentRecord:
    """The record of ``layer`` (a name such as ``"rnn.l0"``), else the first forward one (with
    gates, when ``gates``)."""
    if not records:
        raise InspectError("the model has no recurrent layer (RNN, LSTM or GRU) to look into")
    if layer is not None:
        for record in records:
            if record.layer == layer:
                return record
        names = ", ".join(r.layer for r in records)
        raise InspectError(f"no recurrent layer {layer!r}; the model has {names}")
    forward = [r for r in records if not r.layer.endswith("_reverse")]
    if gates:
        gated = [r for r in forward if r.gates]
        if not gated:
            raise InspectError(
                f"an Elman RNN ({records[0].layer}) has no gates; its hidden state is drawn "
                "by the states plot (--what states)"
            )
        return gated[0]
    return forward[-1]  # the top layer by default: its states feed the head


def _valid(valid: Any, shape: tuple[int, int]) -> np.ndarray:
    if valid is None:
        return np.ones(shape, dtype=bool)
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != shape:
        raise InspectError(f"valid must be (N, T) = {shape}, got {valid.shape}")
    return valid


def _token_ticks(ax: Any, tokens: Sequence[str], most: int = 60) -> None:
    every = max(1, int(np.ceil(len(tokens) / most)))
    ticks = list(range(0, len(tokens), every))
    ax.set_xticks(ticks, [tokens[t] for t in ticks], rotation=90, fontsize=7)


def plot_gates(
    model: Any,
    inputs: Sequence[Any],
    tokens: Sequence[str],
    path: str | Path,
    layer: str | None = None,
    valid: Any = None,
    max_units: int = 64,
    title: str | None = None,
) -> Figure:
    """Gate activations of one sequence, a heatmap per gate with the tokens as labels.

    Args:
        inputs: what the model takes, for one sequence (batch of 1), e.g. ``(ids,)`` (1, T).
        tokens: a label per step (T,), e.g. the words the ids stand for.
        layer: the recurrent layer (``"rnn.l0"``; default the first layer, forward direction).
        valid: (1, T) True on the steps to draw (padding left out); default all.
        max_units: units drawn (the ones whose gates vary most over the text); the JSON keeps
            every unit.

    The JSON holds the layer, the cell, the tokens drawn and each gate as (T, H).
    """
    records = probe(model).recurrent_records(model, *inputs)
    record = pick_record(records, layer, gates=True)
    first = next(iter(record.gates.values()))
    if first.shape[0] != 1:
        raise InspectError(f"gates are drawn for one sequence; got a batch of {first.shape[0]}")
    keep = _valid(valid, first.shape[:2])[0]
    if len(tokens) != first.shape[1]:
        raise InspectError(f"{len(tokens)} tokens for {first.shape[1]} time steps")
    shown_tokens = [t for t, k in zip(tokens, keep, strict=True) if k]
    gates = {name: values[0][keep] for name, values in record.gates.items()}  # (T', H)
    spread = sum(g.std(axis=0) for g in gates.values())  # (H,)
    units = np.sort(np.argsort(-spread, kind="stable")[:max_units])
    fig, axes = figure(rows=len(gates), size=(max(4.0, 0.22 * len(shown_tokens) + 1.5), 2.3))
    for ax, (name, values) in zip(axes[:, 0], gates.items(), strict=True):
        low = -1.0 if name in TANH_GATES else 0.0
        image = ax.imshow(
            values[:, units].T,
            aspect="auto",
            cmap="RdBu_r" if low < 0 else "viridis",
            vmin=low,
            vmax=1.0,
            interpolation="nearest",
        )
        ax.set_ylabel("unit", fontsize=8)
        ax.set_title(GATE_TITLES.get(name, name), fontsize=9)
        _token_ticks(ax, shown_tokens)
        fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    drawn = f"{len(units)} of {first.shape[2]} units" if len(units) < first.shape[2] else "units"
    fig.suptitle(title or f"{record.layer} ({record.cell.upper()}) gates per token, {drawn}")
    return save(
        fig,
        path,
        {
            "layer": record.layer,
            "cell": record.cell,
            "tokens": shown_tokens,
            "units_drawn": units,
            "gates": gates,
        },
    )


def principal_components(states: np.ndarray, k: int = 2) -> dict[str, np.ndarray]:
    """PCA of (M, H) rows: ``mean`` (H,), ``components`` (k, H) (each signed so that its
    largest loading is positive), ``explained`` (k,) share of the variance."""
    mean = states.mean(axis=0)
    _, s, vt = np.linalg.svd(states - mean, full_matrices=False)
    comps = vt[:k]
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    total = (s**2).sum()
    explained = (s[:k] ** 2) / total if total > 0 else np.zeros(len(comps))
    if len(comps) < k:  # fewer directions than asked (a single state): pad with zeros
        comps = np.vstack([comps, np.zeros((k - len(comps), states.shape[1]))])
        explained = np.concatenate([explained, np.zeros(k - len(explained))])
    return {"mean": mean, "components": comps, "explained": explained}


def plot_state_trajectories(
    model: Any,
    inputs: Sequence[Any],
    path: str | Path,
    tokens: Sequence[Sequence[str]] | None = None,
    labels: Sequence[str] | None = None,
    layer: str | None = None,
    valid: Any = None,
    title: str | None = None,
) -> Figure:
    """Hidden states h_t projected on their first two principal components, one path per
    sequence of the batch.

    Args:
        inputs: what the model takes, a batch of N sequences, e.g. ``(ids,)`` (N, T).
        tokens: per sequence, a label per step; written beside the points when N == 1.
        labels: per sequence, a name for the legend (e.g. its class).
        layer: the recurrent layer (default: the top layer, forward direction).
        valid: (N, T) True on each row's real steps (padding left out of the PCA); default all.

    The JSON holds the layer, the explained variance, the components and each path (T_n, 2).
    """
    records = probe(model).recurrent_records(model, *inputs)
    record = pick_record(records, layer, gates=False)
    h = np.asarray(record.states["h"], dtype=np.float64)  # (N, T, H)
    keep = _valid(valid, h.shape[:2])
    pca = principal_components(h[keep])
    paths = [(h[n][keep[n]] - pca["mean"]) @ pca["components"].T for n in range(h.shape[0])]
    fig, axes = figure(size=(5.2, 4.4))
    ax = axes[0, 0]
    for n, points in enumerate(paths):
        name = labels[n] if labels is not None else f"sequence {n}"
        (line,) = ax.plot(points[:, 0], points[:, 1], "-o", markersize=2.5, linewidth=1, label=name)
        ax.plot(*points[0], "s", color=line.get_color(), markersize=6)  # the first step
        ax.plot(*points[-1], "*", color=line.get_color(), markersize=10)  # the last step
        if tokens is not None and len(paths) == 1:
            row = [t for t, k in zip(tokens[n], keep[n], strict=True) if k]
            for (px, py), token in zip(points, row, strict=True):
                ax.annotate(token, (px, py), fontsize=7, xytext=(2, 2), textcoords="offset points")
    ev = pca["explained"]
    ax.set_xlabel(f"PC 1 ({ev[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({ev[1]:.0%})")
    ax.set_title(title or f"{record.layer} hidden states (square: first step, star: last)")
    ax.grid(alpha=0.3)
    if len(paths) <= 12:
        ax.legend(fontsize=7)
    return save(
        fig,
        path,
        {
            "layer": record.layer,
            "explained_variance_ratio": ev,
            "components": pca["components"],
            "mean": pca["mean"],
            "paths": paths,
            "labels": list(labels) if labels is not None else None,
        },
    )
