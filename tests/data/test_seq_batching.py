"""truncate_pad, padded batches with lengths, length bucketing, LM streams, truncation report."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnatlas.data.text.batching import (
    BucketBatchSampler,
    batchify,
    collate_padded,
    lm_stream_batches,
    num_lm_batches,
    truncate_pad,
    truncation_report,
)


def test_truncate_pad_post_and_pre() -> None:
    ids = [5, 6, 7, 8, 9]
    assert truncate_pad(ids, 3) == ([5, 6, 7], 3)  # post: keep the beginning
    assert truncate_pad(ids, 3, side="pre") == ([7, 8, 9], 3)  # pre: keep the end
    assert truncate_pad([5, 6], 4) == ([5, 6, 0, 0], 2)
    assert truncate_pad([5, 6], 4, side="pre") == ([0, 0, 5, 6], 2)
    assert truncate_pad([5, 6], 4, pad_id=-1) == ([5, 6, -1, -1], 2)
    # the cut can differ from the padding side
    assert truncate_pad(ids, 3, side="post", truncate_side="pre") == ([7, 8, 9], 3)
    assert truncate_pad([5], 3, side="post", truncate_side="pre") == ([5, 0, 0], 1)
    assert truncate_pad(torch.tensor([1, 2]), 2) == ([1, 2], 2)
    assert truncate_pad([], 2) == ([0, 0], 0)
    with pytest.raises(ValueError, match="side and truncate_side must be 'pre' or 'post'"):
        truncate_pad(ids, 3, side="left")
    with pytest.raises(ValueError, match="length must be positive"):
        truncate_pad(ids, 0)


@settings(deadline=None)
@given(
    st.lists(st.integers(1, 50), max_size=30), st.integers(1, 20), st.sampled_from(["pre", "post"])
)
def test_truncate_pad_properties(ids: list[int], length: int, side: str) -> None:
    out, valid = truncate_pad(ids, length, side=side)
    assert len(out) == length and valid == min(len(ids), length)
    real = out[:valid] if side == "post" else out[length - valid :]
    assert real == (ids[:valid] if side == "post" else ids[len(ids) - valid :])
    assert out.count(0) == length - valid


def test_collate_padded_returns_lengths_and_labels() -> None:
    batch = [([4, 5], 1), (torch.tensor([6, 7, 8, 9]), 0), ([3], 1)]
    ids, lengths, labels = collate_padded(batch)
    assert ids.dtype == torch.int64 and ids.shape == (3, 4)
    assert ids.tolist() == [[4, 5, 0, 0], [6, 7, 8, 9], [3, 0, 0, 0]]
    assert lengths.tolist() == [2, 4, 1] and labels.tolist() == [1, 0, 1]
    ids, lengths, labels = collate_padded(batch, sort_by_length=True, pad_id=9)
    assert lengths.tolist() == [4, 2, 1] and labels.tolist() == [0, 1, 1]
    assert ids[1].tolist() == [4, 5, 9, 9]
    # the lengths feed pack_padded_sequence directly
    emb = torch.nn.Embedding(10, 3)(ids)
    packed = torch.nn.utils.rnn.pack_padded_sequence(emb, lengths, batch_first=True)
    assert packed.data.shape == (7, 3)
    with pytest.raises(ValueError, match="empty batch"):
        collate_padded([])


@settings(deadline=None, max_examples=40)
@given(
    st.lists(st.integers(0, 100), min_size=1, max_size=300),
    st.integers(1, 17),
    st.booleans(),
    st.integers(0, 3),
)
def test_bucketing_keeps_every_index_exactly_once(
    lengths: list[int], batch_size: int, shuffle: bool, seed: int
) -> None:
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, seed=seed, pool_factor=3)
    batches = list(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert len(batches) == len(sampler)
    assert all(1 <= len(b) <= batch_size for b in batches)


def test_bucketing_groups_similar_lengths_and_is_seeded() -> None:
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 500, (2000,), generator=gen)
    sampler = BucketBatchSampler(lengths, 32, seed=7)
    batches = list(sampler)
    spread = sum(int(lengths[b].max() - lengths[b].min()) for b in batches) / len(batches)
    assert spread < 40  # random batches of 32 would spread over ~470
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    assert padded < 1.1 * int(lengths.sum())  # under 10% padding
    # reproducible per epoch, different across epochs
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(BucketBatchSampler(lengths, 32, seed=7)) == batches


def test_bucketing_drop_last() -> None:
    lengths = list(range(103))
    sampler = BucketBatchSampler(lengths, 10, shuffle=True, drop_last=True, pool_factor=5, seed=1)
    batches = list(sampler)
    assert all(len(b) == 10 for b in batches) and len(batches) == len(sampler) == 10
    fixed = BucketBatchSampler(lengths, 10, shuffle=False, drop_last=True)
    assert len(list(fixed)) == len(fixed) == 10


def test_lm_targets_are_inputs_shifted_by_one() -> None:
    ids = torch.arange(103)
    batches = list(lm_stream_batches(ids, batch_size=4, bptt=6))
    assert len(batches) == num_lm_batches(103, 4, 6) == 4  # 25 steps per stream, 24 targets
    for x, y in batches:
        assert x.shape == y.shape and x.shape[0] == 4 and x.dtype == torch.int64
        assert torch.equal(y[:, :-1], x[:, 1:])
        assert torch.equal(y, x + 1)  # here ids are consecutive, so "next id" is x + 1
    assert [x.shape[1] for x, _ in batches] == [6, 6, 6, 6]  # (25 - 1) steps / 6


def test_lm_streams_are_contiguous_across_batches() -> None:
    # Row r of batch k+1 continues row r of batch k, so hidden state can be carried over.
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50, (1000,), generator=gen)
    batches = list(lm_stream_batches(ids, batch_size=5, bptt=35))
    xs = torch.cat([x for x, _ in batches], dim=1)  # (5, steps - 1)
    ys = torch.cat([y for _, y in batches], dim=1)
    streams = batchify(ids, 5)  # (5, 200)
    assert torch.equal(streams, ids[:1000].view(5, 200))
    assert torch.equal(xs, streams[:, :-1]) and torch.equal(ys, streams[:, 1:])
    assert batches[-1][0].shape[1] == 199 - 35 * 5  # the last batch is shorter


def test_lm_offset_and_errors() -> None:
    ids = list(range(50))
    x, y = next(iter(lm_stream_batches(ids, batch_size=2, bptt=3, offset=4)))
    assert x[0].tolist() == [4, 5, 6] and y[0].tolist() == [5, 6, 7]
    assert x[1].tolist() == [27, 28, 29]  # the second stream starts half-way
    with pytest.raises(ValueError, match="cannot make 30 streams"):
        list(lm_stream_batches(ids, batch_size=30, bptt=3))
    with pytest.raises(ValueError, match="bptt must be positive"):
        list(lm_stream_batches(ids, batch_size=2, bptt=0))


def test_truncation_report_counts_lost_tokens() -> None:
    lengths = [2, 4, 6, 8, 10]
    report = truncation_report(lengths, max_len=5)
    assert report.num_sequences == 5 and report.longest == 10
    assert report.tokens_lost == 1 + 3 + 5
    assert report.share_tokens_lost == pytest.approx(9 / 30)
    assert report.share_truncated == pytest.approx(3 / 5)
    assert report.share_padding == pytest.approx(1 - 21 / 25)
    assert report.median == 6 and report.mean == 6
    edges, counts = report.histogram
    assert sum(counts) == 5 and edges[0] == 0 and edges[-1] > 10
    text = str(report)
    assert "max_len=5" in text and "60.0% of sequences truncated" in text and "#" in text
    no_cut = truncation_report(lengths, max_len=10)
    assert no_cut.tokens_lost == 0 and no_cut.share_truncated == 0
    with pytest.raises(ValueError, match="max_len must be positive"):
        truncation_report(lengths, 0)
