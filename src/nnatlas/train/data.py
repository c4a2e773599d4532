"""The in-memory fast path: batches cut from whole tensors, in a seeded order.

When a dataset fits in memory (MNIST, Fashion-MNIST, CIFAR-10 all do), a ``DataLoader`` over a
``Dataset`` spends most of its time in Python: one ``__getitem__`` per example, one transform
call per example, then ``collate`` stacks the pieces back into a batch. :class:`TensorLoader`
keeps the whole split as one tensor and cuts each batch with one indexing operation
(``x[idx]``); augmentation, when given, runs once per batch on the whole batch tensor.

The order is reproducible and resumable: each epoch draws ``randperm`` from the loader's own
``torch.Generator``. :meth:`TensorLoader.state_dict` records the generator state *at the start
of the current epoch* and how many batches were consumed, so a run resumed from a mid-epoch
checkpoint redraws the same permutation and continues with the next batch.

Under distributed training (:mod:`nnatlas.train.distributed`) :meth:`TensorLoader.shard` makes
each process draw that same permutation and take its own slice of every *global* batch of
``batch_size x world_size`` examples, so the processes together see exactly the batches one
process with the global batch size would see.

With ``bucket_by`` (a key per example, e.g. each text's length) every batch holds examples of
one key only: the epoch's permutation is stably sorted by key (so the order within a key stays
random), cut into batches at every change of key, and the batches are shuffled. Texts of one
length need no padding, so a recurrent model runs them through PyTorch's fused kernel instead
of packed step-by-step operations (torchtext's ``BucketIterator`` does the same for speed).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch

Augment = Callable[..., torch.Tensor]


def _takes_generator(fn: Callable[..., Any]) -> bool:
    try:
        return "generator" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class TensorLoader:
    """Batches cut from tensors held in memory: ``(t[idx] for t in tensors)``.

    Args:
        *tensors: the split's tensors, first dimension = examples, e.g. images (N, C, H, W)
            float32 and labels (N,) int64, or a translation's source (N, S), source lengths
            (N,), decoder inputs (N, T) and targets (N, T).
        batch_size: examples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: draw a fresh permutation each epoch (training); keep the order otherwise.
        seed: seed of the data-order generator and of the augmentation generator.
        augment: optional batch transform ``augment(x_batch, generator=g) -> x_batch`` (the
            ``generator`` argument is optional), applied to the first tensor of training
            batches only.
        drop_last: drop a last incomplete batch (keeps BatchNorm statistics stable).
        device: move the tensors there once (the whole split, not per batch).
        bucket_by: optional (N,) integer key per example; each batch then holds one key only
            (each key's last batch may be smaller; ``drop_last`` drops those).

    Shape:
        yields a tuple ``(t[b] for t in tensors)``, each (B, *t.shape[1:]) with B <= batch_size
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        augment: Augment | None = None,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        bucket_by: torch.Tensor | None = None,
    ) -> None:
        if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
            kinds = ", ".join(type(t).__name__ for t in tensors) or "nothing"
            raise TypeError(
                f"TensorLoader: expected tensors of equal length, got {kinds}; give the batch "
                "size by name: TensorLoader(x, y, batch_size=64)"
            )
        sizes = [len(t) for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorLoader: the tensors hold {sizes} examples; they must agree")
        if batch_size <= 0:
            raise ValueError(f"TensorLoader: batch_size must be positive, got {batch_size}")
        if bucket_by is not None:
            bucket_by = torch.as_tensor(bucket_by).cpu()
            if bucket_by.shape != (sizes[0],) or bucket_by.is_floating_point():
                raise ValueError(
                    f"TensorLoader: bucket_by must be one integer key per example, shape "
                    f"({sizes[0]},), got {bucket_by.dtype} of shape {tuple(bucket_by.shape)}"
                )
        self.bucket_by = bucket_by
        if device is not None:
            tensors = tuple(t.to(device) for t in tensors)
        self.tensors = tuple(tensors)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment = augment
        self._augment_takes_generator = augment is not None and _takes_generator(augment)
        self.order_generator = torch.Generator().manual_seed(seed)
        # A CPU generator even for GPU tensors: the augmentation then draws the same numbers on
        # every device (nnatlas.data.BatchAugment moves them to the batch's device).
        self.augment_generator = torch.Generator().manual_seed(seed + 1)
        self._epoch_start_state = self.order_generator.get_state()
        self._skip_batches = 0  # set by load_state_dict for a mid-epoch resume
        self.batches_done = 0  # batches handed out in the current epoch
        self.rank, self.world_size = 0, 1

    def shard(self, rank: int, world_size: int) -> TensorLoader:
        """Hand out only process ``rank``'s share of each global batch (of ``batch_size x
        world_size`` examples); returns ``self``.

        The order is padded, as ``DistributedSampler`` pads it, by repeating its first
        examples until the processes get equally many (at most ``world_size - 1`` repeats an
        epoch): equal shards keep DistributedDataParallel's mean of the processes' mean losses
        equal to the mean over the global batch.
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"TensorLoader.shard: rank {rank} is not in 0..{world_size - 1}")
        if world_size > self.num_examples:
            raise ValueError(
                f"TensorLoader.shard: {self.num_examples} examples cannot be shared between "
                f"{world_size} processes; use fewer processes"
            )
        self.rank, self.world_size = rank, world_size
        return self

    def __len__(self) -> int:
        if self.bucket_by is not None:
            counts = torch.unique(self.bucket_by, return_counts=True)[1].tolist()
            return sum(self._batches_of(count) for count in counts)
        return self._batches_of(self.num_examples)

    def _batches_of(self, n: int) -> int:
        """Batches an epoch makes of ``n`` examples (of the split, or of one bucket)."""
        batch = self.batch_size
        if self.world_size > 1:  # padded to a multiple of the processes, global batches
            n, batch = -(-n // self.world_size) * self.world_size, batch * self.world_size
        return n // batch if self.drop_last else -(-n // batch)

    @property
    def num_examples(self) -> int:
        return len(self.tensors[0])

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = self.num_examples
        self._epoch_start_state = self.order_generator.get_state()
        if self.shuffle:
            order = torch.randperm(n, generator=self.order_generator).to(self.tensors[0].device)
        else:
            order = None
        buckets = None
        if self.bucket_by is not None:
            buckets = self._bucketed(order if order is not None else torch.arange(n))
        elif self.world_size > 1:
            order = self._padded(order if order is not None else torch.arange(n))
        start_batch, self._skip_batches = self._skip_batches, 0
        self.batches_done = start_batch
        for b in range(start_batch, len(self)):
            if buckets is not None:
                rows = self._share(buckets[b], 0) if self.world_size > 1 else buckets[b]
            elif self.world_size > 1:
                rows = self._share(order, b)
            elif order is None:
                rows = slice(b * self.batch_size, (b + 1) * self.batch_size)  # views, no copy
            else:
                rows = order[b * self.batch_size : (b + 1) * self.batch_size]
            # One gather per tensor and batch, no per-example Python.
            first, *rest = (t[rows] for t in self.tensors)
            if self.augment is not None:
                if self._augment_takes_generator:
                    first = self.augment(first, generator=self.augment_generator)
                else:
                    first = self.augment(first)
            self.batches_done = b + 1
            yield (first, *rest)
        self.batches_done = 0

    def _bucketed(self, order: torch.Tensor) -> list[torch.Tensor]:
        """The epoch's batches, each of one key: ``order`` stably sorted by key, cut at every
        change of key and every (global) batch size, then shuffled when ``shuffle``. Under
        several processes each key's run is padded, as :meth:`_padded` pads the order."""
        order = order.cpu()  # bucket_by stays on the CPU; the batches move at the end
        sorted_keys, by_key = torch.sort(self.bucket_by[order], stable=True)  # (N,)
        order = order[by_key]
        counts = torch.unique_consecutive(sorted_keys, return_counts=True)[1].tolist()
        width = self.batch_size * self.world_size
        batches: list[torch.Tensor] = []
        for run in torch.split(order, counts):  # the examples of one key
            if self.world_size > 1:
                run = torch.cat([run, run.repeat(self.world_size)[: -len(run) % self.world_size]])
            cut = list(torch.split(run, width))
            if self.drop_last and len(cut[-1]) < width:
                cut.pop()
            batches += cut
        if self.shuffle:
            shuffled = torch.randperm(len(batches), generator=self.order_generator).tolist()
            batches = [batches[i] for i in shuffled]
        device = self.tensors[0].device
        return [rows.to(device) for rows in batches]

    def _padded(self, order: torch.Tensor) -> torch.Tensor:
        """``order`` repeated from its start up to a multiple of the processes."""
        pad = -len(order) % self.world_size
        return torch.cat([order, order[:pad]]).to(self.tensors[0].device)

    def _share(self, order: torch.Tensor, b: int) -> torch.Tensor:
        """This process's rows of global batch ``b``: a contiguous slice of equal length."""
        width = self.batch_size * self.world_size
        chunk = order[b * width : (b + 1) * width]  # (<= width,), a multiple of world_size
        per = len(chunk) // self.world_size
        return chunk[self.rank * per : (self.rank + 1) * per]

    def state_dict(self) -> dict[str, Any]:
        """Generator states as uint8 tensors (``torch.load(weights_only=True)`` reads them)."""
        mid_epoch = self.batches_done > 0
        return {
            "order_state": (
                self._epoch_start_state if mid_epoch else self.order_generator.get_state()
            ).clone(),
            "augment_state": self.augment_generator.get_state().clone(),
            "batches_done": self.batches_done,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # .cpu(): a checkpoint loaded with map_location="cuda" moves these tensors too.
        self.order_generator.set_state(state["order_state"].cpu())
        self.augment_generator.set_state(state["augment_state"].cpu())
        self._skip_batches = int(state["batches_done"])
