"""Turning id sequences into batches: truncation and padding, padded batches with lengths,
length bucketing, and the contiguous streams of truncated backpropagation through time.

Layouts are batch-first, as the zoo's recurrent models use ``batch_first=True``: ids are
(N, T) with N sequences of T steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nnatlas.data.text.vocab import BOS_ID, EOS_ID, PAD_ID

_SIDES = ("pre", "post")


def truncate_pad(
    ids: Sequence[int] | torch.Tensor,
    length: int,
    side: str = "post",
    pad_id: int = PAD_ID,
    truncate_side: str | None = None,
) -> tuple[list[int], int]:
    """Cut or fill one sequence to exactly ``length`` ids.

    ``side`` chooses where BOTH happen, unless ``truncate_side`` overrides the cut:

    * ``"post"`` (default): keep the first ``length`` ids, pad at the end. Pair it with
      ``pack_padded_sequence`` or a mask, so the padding never reaches the last hidden state.
    * ``"pre"``: keep the LAST ``length`` ids, pad at the front (the Keras ``pad_sequences``
      default). Without packing, a unidirectional RNN then ends on real tokens; and for reviews
      the verdict is often at the end, which ``"pre"`` truncation keeps.

    Args:
        ids: token ids (list or 1-D tensor).
        length: target length, > 0.
        side: ``"post"`` or ``"pre"``: where padding goes (and truncation, by default).
        pad_id: the padding id (``<pad>`` is 0 in every :class:`~nnatlas.data.text.vocab.Vocab`).
        truncate_side: ``"post"`` (drop the end) or ``"pre"`` (drop the beginning), when it
            should differ from ``side``.

    Returns:
        ``(ids, valid_len)``: the new list of ``length`` ids and how many of them are real
        (``min(len(ids), length)``), the ``lengths`` a packed RNN or a mask needs.

    Shape:
        ids: (L,) -> (length,)
    """
    truncate_side = side if truncate_side is None else truncate_side
    if side not in _SIDES or truncate_side not in _SIDES:
        raise ValueError(
            f"truncate_pad: side and truncate_side must be 'pre' or 'post', got {side!r}, "
            f"{truncate_side!r}"
        )
    if length <= 0:
        raise ValueError(f"truncate_pad: length must be positive, got {length}")
    seq = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    if len(seq) > length:
        seq = seq[:length] if truncate_side == "post" else seq[len(seq) - length :]
    valid_len = len(seq)
    padding = [pad_id] * (length - valid_len)
    return (seq + padding if side == "post" else padding + seq), valid_len


def pad_batch(
    sequences: Sequence[Sequence[int] | torch.Tensor], pad_id: int = PAD_ID
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad variable-length sequences to the longest one.

    Returns:
        ``(ids, lengths)``: ids (N, T_max) int64, lengths (N,) int64.
    """
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int64)  # (N,)
    t_max = int(lengths.max()) if len(sequences) else 0
    ids = torch.full((len(sequences), t_max), pad_id, dtype=torch.int64)  # (N, T_max)
    for row, seq in enumerate(sequences):
        if len(seq):
            ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.int64)
    return ids, lengths


def collate_padded(
    batch: Sequence[tuple[Sequence[int] | torch.Tensor, Any]],
    pad_id: int = PAD_ID,
    sort_by_length: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``collate_fn`` for (ids, label) examples: pad per batch and report the true lengths.

    Padding per batch (not to one global max_len) wastes far less compute, above all together
    with :class:`BucketBatchSampler`. Use ``functools.partial(collate_padded, pad_id=...)`` to
    change the options in a ``DataLoader``.

    Args:
        batch: ``[(ids, label), ...]``; ids a list or 1-D tensor, label an int or a tensor.
        pad_id: the padding id.
        sort_by_length: order the batch longest first, as
            ``pack_padded_sequence(..., enforce_sorted=True)`` requires (labels follow their
            sequences). With ``enforce_sorted=False`` (PyTorch does the sorting) it is not needed.

    Returns:
        ``(ids, lengths, labels)``.

    Shape:
        ids: (N, T_max) int64 right-padded; lengths: (N,) int64 (CPU, as ``pack_padded_sequence``
        wants); labels: (N,) or (N, *) stacked.
    """
    if len(batch) == 0:
        raise ValueError("collate_padded: got an empty batch")
    sequences = [ids for ids, _ in batch]
    labels = torch.stack([torch.as_tensor(label) for _, label in batch])  # (N,)
    ids, lengths = pad_batch(sequences, pad_id)
    if sort_by_length:
        order = torch.argsort(lengths, descending=True, stable=True)
        ids, lengths, labels = ids[order], lengths[order], labels[order]
    return ids, lengths, labels


def collate_pairs(
    batch: Sequence[tuple[Sequence[int] | torch.Tensor, Sequence[int] | torch.Tensor]],
    pad_id: int = PAD_ID,
    bos_id: int = BOS_ID,
    eos_id: int = EOS_ID,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``collate_fn`` for (source ids, target ids) pairs, for an encoder-decoder with teacher
    forcing: the decoder reads ``tgt_in = [<bos>, y1 .. yT]`` and is trained to emit
    ``tgt_out = [y1 .. yT, <eos>]`` (the convention of :mod:`nnatlas.models.seq2seq`).

    Args:
        batch: ``[(src_ids, tgt_ids), ...]`` without <bos>/<eos> (they are added here).
        pad_id, bos_id, eos_id: the reserved ids (the :class:`Vocab` defaults 0, 2, 3).

    Returns:
        ``(src, src_lengths, tgt_in, tgt_out)``; ``tgt_out`` is padded with ``pad_id``, so use
        ``cross_entropy(..., ignore_index=pad_id)``.

    Shape:
        src: (N, S) int64; src_lengths: (N,) int64; tgt_in, tgt_out: (N, T + 1) int64.
    """
    if len(batch) == 0:
        raise ValueError("collate_pairs: got an empty batch")
    src, src_lengths = pad_batch([s for s, _ in batch], pad_id)  # (N, S), (N,)
    targets = [torch.as_tensor(t, dtype=torch.int64).reshape(-1) for _, t in batch]
    bos, eos = torch.tensor([bos_id]), torch.tensor([eos_id])
    tgt_in, _ = pad_batch([torch.cat([bos, t]) for t in targets], pad_id)  # (N, T + 1)
    tgt_out, _ = pad_batch([torch.cat([t, eos]) for t in targets], pad_id)  # (N, T + 1)
    return src, src_lengths, tgt_in, tgt_out


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of similar length, so little of each padded batch is padding.

    Each epoch: shuffle all indices (seeded), cut them into pools of ``batch_size * pool_factor``,
    sort every pool by length, cut pools into batches, shuffle the batch order. Batches stay
    random across epochs yet hold similar lengths (the AllenNLP / torchtext BucketIterator
    recipe). Every index appears exactly once per epoch.

    Args:
        lengths: length of every example.
        batch_size: examples per batch.
        shuffle: shuffle as above; ``False`` sorts the whole dataset by length, in a fixed order.
        drop_last: drop the last, smaller batch of each pool.
        seed: the shuffling seed; epoch ``e`` uses ``seed + e`` (call :meth:`set_epoch`, or let
            iteration advance the epoch itself), so runs are reproducible.
        pool_factor: batches per pool; larger pools give tighter lengths but less randomness.

    Use as ``DataLoader(ds, batch_sampler=BucketBatchSampler(ds.lengths, 32), collate_fn=...)``.
    """

    def __init__(
        self,
        lengths: Sequence[int] | torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        pool_factor: int = 50,
    ) -> None:
        if batch_size <= 0:
            raise ValueError(f"BucketBatchSampler: batch_size must be positive, got {batch_size}")
        if pool_factor <= 0:
            raise ValueError(f"BucketBatchSampler: pool_factor must be positive, got {pool_factor}")
        self.lengths = torch.as_tensor(lengths, dtype=torch.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.pool_factor = pool_factor
        self.epoch = 0
        self._explicit_epoch = False

    def set_epoch(self, epoch: int) -> None:
        """Fix the epoch number (the DistributedSampler convention) for reproducible order."""
        self.epoch = epoch
        self._explicit_epoch = True

    def _batches(self) -> list[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            return self._cut(order.tolist())
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(n, generator=gen)
        pool = self.batch_size * self.pool_factor
        batches: list[list[int]] = []
        for start in range(0, n, pool):
            chunk = perm[start : start + pool]
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches += self._cut(chunk.tolist())
        shuffled = torch.randperm(len(batches), generator=gen).tolist()
        return [batches[i] for i in shuffled]

    def _cut(self, indices: list[int]) -> list[list[int]]:
        batches = [
            indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)
        ]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        if not self._explicit_epoch:
            self.epoch += 1  # next iteration reshuffles differently, still reproducibly
        self._explicit_epoch = False
        yield from batches

    def __len__(self) -> int:
        n = len(self.lengths)
        if not self.drop_last:
            return math.ceil(n / self.batch_size)
        if not self.shuffle:
            return n // self.batch_size
        pool = self.batch_size * self.pool_factor
        full_pools, rest = divmod(n, pool)
        return full_pools * self.pool_factor + rest // self.batch_size


def batchify(ids: Sequence[int] | torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut one long id stream into ``batch_size`` contiguous rows (the tail that does not fit is
    dropped), as PyTorch's word_language_model ``batchify`` does, but batch-first.

    Shape:
        ids: (L,) -> (batch_size, L // batch_size); row r continues where row r ends in time.
    """
    data = torch.as_tensor(ids, dtype=torch.int64).reshape(-1)
    if batch_size <= 0:
        raise ValueError(f"batchify: batch_size must be positive, got {batch_size}")
    steps = data.numel() // batch_size
    if steps < 2:
        raise ValueError(
            f"batchify: {data.numel()} ids cannot make {batch_size} streams of at least 2 ids "
            "(an input and its next-token target); use a smaller batch_size or more text"
        )
    return data[: steps * batch_size].view(batch_size, steps)  # (N, L // N)


def lm_stream_batches(
    ids: Sequence[int] | torch.Tensor, batch_size: int, bptt: int, offset: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Language-model batches for truncated backpropagation through time.

    The corpus is cut into ``batch_size`` contiguous streams (:func:`batchify`); batch k holds
    steps ``[k*bptt, (k+1)*bptt)`` of every stream, so row r of batch k+1 continues row r of
    batch k, and the hidden state can be carried over (detached) between batches. Targets are
    the inputs shifted by one step. The last batch may be shorter than ``bptt``.

    Args:
        ids: the whole encoded corpus, one stream of ids.
        batch_size: number of parallel streams N.
        bptt: steps per batch T (how far gradients flow back).
        offset: skip the first ``offset`` ids; vary it per epoch (e.g. a random value in
            ``[0, bptt)``, as d2l does) so batches do not always start at the same positions.

    Yields:
        ``(x, y)`` with ``y[:, t] == x[:, t + 1]`` inside the batch, and ``y[:, -1]`` the id
        that follows ``x[:, -1]`` in the stream.

    Shape:
        x, y: (N, T) int64, T = bptt (or less for the last batch).
    """
    if bptt <= 0:
        raise ValueError(f"lm_stream_batches: bptt must be positive, got {bptt}")
    data = torch.as_tensor(ids, dtype=torch.int64).reshape(-1)
    if not 0 <= offset < max(1, data.numel()):
        raise ValueError(
            f"lm_stream_batches: offset {offset} outside the corpus of {data.numel()} ids"
        )
    streams = batchify(data[offset:], batch_size)  # (N, L)
    steps = streams.shape[1]
    for start in range(0, steps - 1, bptt):
        t = min(bptt, steps - 1 - start)
        yield streams[:, start : start + t], streams[:, start + 1 : start + 1 + t]  # (N, T) each


def num_lm_batches(num_ids: int, batch_size: int, bptt: int, offset: int = 0) -> int:
    """How many batches :func:`lm_stream_batches` yields (for progress bars and schedules)."""
    steps = (num_ids - offset) // batch_size
    return max(0, math.ceil((steps - 1) / bptt))


# --- diagnostics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TruncationReport:
    """What cutting sequences at ``max_len`` costs, and what padding to it wastes.

    Attributes:
        num_sequences, max_len: the inputs.
        mean, median, p90, p95, p99, longest: length statistics (in tokens).
        share_truncated: share of sequences longer than ``max_len``.
        tokens_lost: tokens dropped by truncation; ``share_tokens_lost`` of all tokens.
        share_padding: share of a (N, max_len) padded tensor that would be padding.
        histogram: ``(edges, counts)``: ``counts[i]`` lengths fall in ``[edges[i], edges[i+1])``.
    """

    num_sequences: int
    max_len: int
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    longest: int
    share_truncated: float
    tokens_lost: int
    share_tokens_lost: float
    share_padding: float
    histogram: tuple[tuple[int, ...], tuple[int, ...]]

    def __str__(self) -> str:
        lines = [
            f"{self.num_sequences:,} sequences; length mean {self.mean:.1f}, median "
            f"{self.median:.0f}, p90 {self.p90:.0f}, p95 {self.p95:.0f}, p99 {self.p99:.0f}, "
            f"max {self.longest:,}",
            f"max_len={self.max_len}: {self.share_truncated:.1%} of sequences truncated, "
            f"{self.tokens_lost:,} tokens lost ({self.share_tokens_lost:.2%}), padding to "
            f"max_len would be {self.share_padding:.1%} padding",
        ]
        edges, counts = self.histogram
        peak = max(counts) if counts else 1
        for lo, hi, count in zip(edges[:-1], edges[1:], counts, strict=True):
            bar = "#" * round(40 * count / peak) if peak else ""
            # Bins hold the integer lengths lo .. hi - 1; lengths above max_len get cut.
            cut = "  <- max_len inside" if lo <= self.max_len < hi - 1 else ""
            cut = "  (all truncated)" if lo > self.max_len else cut
            lines.append(f"{lo:>7}-{hi - 1:<7} {count:>8,} {bar}{cut}")
        return "\n".join(lines)


def truncation_report(
    lengths: Sequence[int] | torch.Tensor, max_len: int, bins: int = 10
) -> TruncationReport:
    """Length histogram and the share of tokens lost when sequences are cut at ``max_len``.

    Args:
        lengths: the length of every sequence (before truncation).
        max_len: the candidate maximum length.
        bins: histogram bins (equal width, integer edges).

    Returns:
        A :class:`TruncationReport`; ``print`` it.
    """
    if max_len <= 0:
        raise ValueError(f"truncation_report: max_len must be positive, got {max_len}")
    t = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1)
    if t.numel() == 0:
        raise ValueError("truncation_report: got no lengths")
    if bool((t < 0).any()):
        raise ValueError("truncation_report: lengths must be >= 0")
    f = t.double()
    total = int(t.sum())
    lost = int((t - max_len).clamp(min=0).sum())
    kept = total - lost
    q = torch.quantile(f, torch.tensor([0.5, 0.9, 0.95, 0.99], dtype=torch.float64)).tolist()
    longest = int(t.max())
    width = max(1, math.ceil((longest + 1) / bins))
    edges = tuple(range(0, width * bins + 1, width))
    counts = torch.bincount(t // width, minlength=bins)[:bins].tolist()
    return TruncationReport(
        num_sequences=t.numel(),
        max_len=max_len,
        mean=float(f.mean()),
        median=q[0],
        p90=q[1],
        p95=q[2],
        p99=q[3],
        longest=longest,
        share_truncated=float((t > max_len).double().mean()),
        tokens_lost=lost,
        share_tokens_lost=lost / total if total else 0.0,
        share_padding=1.0 - kept / (t.numel() * max_len),
        histogram=(edges, tuple(int(c) for c in counts)),
    )


def lm_windows(
    ids: Sequence[int] | torch.Tensor, seq_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping ``(input, next-token target)`` windows, for shuffled LM training.

    Unlike :func:`lm_stream_batches`, windows are independent examples (shuffle them freely, no
    hidden state carried over), the nanoGPT way; every id but the last is an input once.

    Shape:
        ids: (L,) -> x, y: (M, seq_len) int64 with M = (L - 1) // seq_len and
        ``y[m, t] == ids[m * seq_len + t + 1]``.
    """
    if seq_len <= 0:
        raise ValueError(f"lm_windows: seq_len must be positive, got {seq_len}")
    data = torch.as_tensor(ids, dtype=torch.int64).reshape(-1)
    m = (data.numel() - 1) // seq_len
    if m == 0:
        raise ValueError(
            f"lm_windows: {data.numel()} ids make no window of seq_len={seq_len} plus a target"
        )
    x = data[: m * seq_len].view(m, seq_len)  # (M, T)
    y = data[1 : m * seq_len + 1].view(m, seq_len)  # (M, T), shifted by one
    return x, y
