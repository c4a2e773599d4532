"""Helpers the recurrent models share: the cell table and hidden-state handling.

A hidden state is ``h`` (num_layers * num_directions, N, H) for RNN and GRU, or the pair
``(h, c)`` for LSTM, exactly as ``torch.nn.LSTM`` returns it.
"""

from __future__ import annotations

import torch
from torch import nn

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

# torch's gate orders are the layouts the scratch twins copy: LSTM i, f, g, o; GRU r, z, n.
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> nn.RNNBase:
    """Build ``nn.RNN`` (tanh) / ``nn.LSTM`` / ``nn.GRU``, batch_first, by name.

    ``dropout`` acts between stacked layers only, so it is dropped for a single layer (where
    torch would warn that it does nothing).
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    return CELLS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
    )


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind ``state`` (truncated BPTT: keep the values, drop the history)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return (state[0].detach(), state[1].detach())
    return state.detach()


def select_state(state: State, index: torch.Tensor) -> State:
    """Pick batch rows ``index`` (1-D int64) of a state (used by beam search).

    Shape:
        state: (L, N, H) (or a pair of them) -> (L, len(index), H)
    """
    if isinstance(state, tuple):
        return (state[0].index_select(1, index), state[1].index_select(1, index))
    return state.index_select(1, index)


def top_hidden(state: State) -> torch.Tensor:
    """The last layer's hidden state ``h`` of a unidirectional state.

    Shape:
        state: (L, N, H) (or a pair of them) -> (N, H)
    """
    h = state[0] if isinstance(state, tuple) else state
    return h[-1]
