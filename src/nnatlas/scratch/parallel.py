"""Work over the batch axis shared among the BLAS's threads: the engine's one parallel tool.

NumPy runs a GEMM on the BLAS's threads and everything else -- copies, element-wise arithmetic,
reductions -- on the calling thread alone. With two cores that leaves a ResNet step's batch
normalization, ReLUs and padding copies (a quarter of it) on one. NumPy releases the GIL inside
those loops, so plain Python threads can run them side by side: :func:`for_each_chunk` hands
slices of the batch to as many threads as the BLAS has, each on a one-thread BLAS.

Element-wise layers call :func:`map_batch`; reductions over the batch (a batch norm's channel
sums) add up fixed parts of it (:func:`batch_parts`), so their rounding depends on the shape
only, never on the thread count: one thread and two give bit-identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

# Below this many elements an array is worked on whole: handing out parts costs ~20 us a call.
PARALLEL_MIN_ELEMENTS = 1 << 18
# Parts of the batch a large array is cut into (for reductions, whatever the thread count).
BATCH_PARTS = 8

_blas_libraries: list | None = None  # threadpoolctl's handles on the loaded BLAS, found once
_pool: ThreadPoolExecutor | None = None  # the worker threads of for_each_chunk, made once
_pool_workers = 0  # how many threads _pool has
_Result = TypeVar("_Result")


def blas_threads() -> int:
    """Threads the BLAS libraries behind NumPy run a GEMM on now (1 when it cannot be read).

    Read through threadpoolctl (a dependency), so ``threadpool_limits`` and the
    ``OPENBLAS_NUM_THREADS``-style variables are both seen; a call costs about 5 us.
    """
    global _blas_libraries
    if _blas_libraries is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl missing: assume one thread
            _blas_libraries = []
        else:
            _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return max((lib.num_threads for lib in _blas_libraries), default=1)


def _set_blas_threads(threads: int) -> None:
    for lib in _blas_libraries or ():
        lib.set_num_threads(threads)


def for_each_chunk(work: Callable[[slice], _Result], parts: Sequence[slice]) -> list[_Result]:
    """``[work(part) for part in parts]``, on as many threads as the BLAS has.

    With one BLAS thread (or one chunk) the loop runs here. With T > 1, chunk i goes to thread
    i mod T (this one and T - 1 pool workers), every GEMM on a one-thread BLAS for the duration
    (restored after), so the T threads do not each start T BLAS threads. ``work`` must write
    only its own chunk's slice of shared arrays (the batch axis), and take any scratch storage
    per thread. Results come back in ``parts``' order, so sums over them do not depend on which
    thread finished first.
    """
    global _pool, _pool_workers
    available = blas_threads()
    threads = min(available, len(parts))
    if threads <= 1:
        return [work(part) for part in parts]

    def share(k: int) -> list[_Result]:
        return [work(part) for part in parts[k::threads]]

    if _pool is None or _pool_workers < threads - 1:
        _pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="nnatlas-batch")
        _pool_workers = threads - 1
    _set_blas_threads(1)
    try:
        others = [_pool.submit(share, k) for k in range(1, threads)]
        shares = [share(0)] + [future.result() for future in others]
    finally:
        _set_blas_threads(available)
    results: list[_Result] = [None] * len(parts)  # type: ignore[list-item]
    for k, done in enumerate(shares):
        results[k::threads] = done
    return results


def batch_parts(x: np.ndarray) -> list[slice]:
    """Slices of ``x``'s first axis: the whole of a small array, else :data:`BATCH_PARTS` parts
    (fewer when the batch is shorter). Depends on the shape only, not on the threads."""
    n = x.shape[0] if x.ndim else 1
    if x.size < PARALLEL_MIN_ELEMENTS or n < 2:
        return [slice(0, n)]
    step = -(-n // min(BATCH_PARTS, n))  # ceil
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def map_batch(work: Callable[[slice], object], x: np.ndarray) -> None:
    """Run ``work`` on parts of ``x``'s batch axis, in parallel when the BLAS has threads.

    For element-wise work writing into preallocated outputs: the split changes nothing in the
    result. A small array, or a one-thread BLAS, is worked on whole (one call, no overhead); a 0-d
    one gets ``...`` for its part.
    """
    if x.ndim == 0:  # no batch axis: x[...] is the whole of it
        work(...)  # type: ignore[arg-type]
        return
    parts = batch_parts(x) if blas_threads() > 1 else [slice(0, x.shape[0])]
    for_each_chunk(work, parts)
