"""TensorLoader's ``bucket_by``: batches of one key, every example once, resumable, shardable;
and the thread count the torch trainer picks for a text classifier."""

from __future__ import annotations

import pytest
import torch

from nnatlas.models import RecurrentClassifier
from nnatlas.train import TensorLoader, TrainConfig, create_trainer

KEYS = torch.tensor([3, 1, 3, 2, 1, 3, 3, 2, 1, 1, 3, 2, 3])  # 13 examples, 3 lengths


def _loader(**kwargs) -> TensorLoader:
    x = torch.arange(len(KEYS))
    return TensorLoader(x, KEYS, batch_size=2, shuffle=True, seed=3, bucket_by=KEYS, **kwargs)


def test_each_batch_holds_one_key_and_an_epoch_every_example_once() -> None:
    loader = _loader()
    epochs = [list(loader) for _ in range(2)]
    for batches in epochs:
        assert len(batches) == len(loader) == 2 + 2 + 3  # ceil(4/2) + ceil(3/2) + ceil(6/2)
        assert all(len(set(keys.tolist())) == 1 for _, keys in batches)
        assert sorted(torch.cat([x for x, _ in batches]).tolist()) == list(range(len(KEYS)))
    orders = [[x.tolist() for x, _ in batches] for batches in epochs]
    assert orders[0] != orders[1]  # reshuffled each epoch


def test_drop_last_drops_each_keys_short_batch() -> None:
    batches = list(_loader(drop_last=True))
    assert len(batches) == 2 + 1 + 3 and all(len(x) == 2 for x, _ in batches)


def test_bucketed_loader_resumes_mid_epoch_with_the_same_batches() -> None:
    a = _loader()
    it = iter(a)
    next(it), next(it)
    state = a.state_dict()
    rest = [x.tolist() for x, _ in it]
    b = TensorLoader(torch.arange(len(KEYS)), KEYS, batch_size=2, seed=99, shuffle=True,
                     bucket_by=KEYS)  # fmt: skip
    b.load_state_dict(state)
    assert [x.tolist() for x, _ in b] == rest


def test_shards_split_each_bucketed_batch_equally() -> None:
    single = [x for x, _ in TensorLoader(torch.arange(13), KEYS, batch_size=4, shuffle=True,
                                         seed=3, bucket_by=KEYS)]  # fmt: skip
    shards = [list(_loader().shard(rank, 2)) for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == len(single)
    for one, (a, ka), (b, kb) in zip(single, *shards, strict=True):
        assert len(a) == len(b) and len(set(ka.tolist() + kb.tolist())) == 1
        assert torch.cat([a, b])[: len(one)].tolist() == one.tolist()


def test_bucket_by_must_be_one_integer_per_example() -> None:
    with pytest.raises(ValueError, match="bucket_by must be one integer key per example"):
        TensorLoader(torch.arange(4), batch_size=2, bucket_by=torch.ones(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="bucket_by"):
        TensorLoader(torch.arange(4), batch_size=2, bucket_by=torch.ones(4))


def test_threads_are_sized_without_embedding_rows_and_per_direction() -> None:
    model = RecurrentClassifier(vocab_size=20_000, embed_dim=100, hidden_size=128,
                                bidirectional=True)  # fmt: skip
    trainer = create_trainer(model, TrainConfig(epochs=1, quiet=True, tensorboard=False))
    lstm = 4 * 128 * (100 + 128) + 2 * 4 * 128  # one direction's weights and biases
    assert trainer.thread_parameters() == lstm + 2 * 128 * 2 + 2  # + the head
    assert trainer.num_parameters() > 2_000_000  # what it learns is still counted in full
