"""A deliberate thread policy for CPU training.

A process that trains with PyTorch and computes metrics with NumPy holds two thread pools:
PyTorch's OpenMP pool and NumPy's BLAS pool (OpenBLAS). Left alone, each sizes itself to every
core, and the two then fight over the same cores; on small models the threads spend more time
waking and waiting than computing (a 10x slow-down is common). The policy here:

- the engine that does the work gets ``n`` threads, the other one gets one thread;
- PyTorch's inter-op pool gets one thread: the trainer runs one graph at a time, so a second
  pool only adds idle threads;
- ``n`` is chosen from the model, never from the machine's current load, because the numbers
  depend on it: a convolution sums its terms in a different order on 2 threads than on 1.
  Small models (under :data:`SMALL_MODEL_PARAMETERS` parameters: the MLPs, LeNet-5) get one
  thread: their operations are too small to split well, and one thread never waits at a
  barrier for a core another process holds. The torch trainer counts the parameters of the
  matrix products (``Trainer.thread_parameters``: no embedding rows, one direction of a
  bidirectional recurrent layer), so the LSTM text classifiers count as small too. Larger
  models get every available core (``os.sched_getaffinity``). ``OMP_NUM_THREADS``, when
  set, wins, so the user keeps the last word; the trainer saves the number it used in the
  run's config.json, so a resumed run uses the same.

Measured on the 2-core machine shared with other jobs (``nnatlas train lenet5 --data
fashion-mnist --epochs 1 --threads N``): 8.5 s with 1 thread, 33.7 s with 2, and test accuracy
0.8453 vs 0.8460.

Usage::

    from nnatlas.threads import configure_threads
    configure_threads(engine="torch")      # before building the model
"""

from __future__ import annotations

import os

SMALL_MODEL_PARAMETERS = 200_000  # below this, one thread (see the module docstring)
_blas_limiter = None  # keeps the threadpoolctl limit alive for the whole process


def available_cores() -> int:
    """Cores this process may run on (respects taskset/cgroups affinity where the OS exposes it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def default_threads(num_parameters: int | None = None) -> int:
    """``OMP_NUM_THREADS`` when set; else 1 for a small model, :func:`available_cores` otherwise."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    if num_parameters is not None and num_parameters < SMALL_MODEL_PARAMETERS:
        return 1
    return available_cores()


def configure_threads(
    threads: int = 0, engine: str = "torch", num_parameters: int | None = None
) -> int:
    """Size PyTorch's and BLAS's thread pools for one engine and return the thread count used.

    Args:
        threads: threads for the working engine; 0 chooses :func:`default_threads`.
        engine: ``"torch"`` (PyTorch computes, NumPy only reads metrics) or ``"scratch"``
            (NumPy's BLAS computes, PyTorch only moves batches).
        num_parameters: the model's size, for the automatic choice.

    Returns:
        The number of threads given to the working engine.
    """
    global _blas_limiter
    if engine not in ("torch", "scratch"):
        raise ValueError(f"configure_threads: engine must be 'torch' or 'scratch', got {engine!r}")
    if threads < 0:
        raise ValueError(f"configure_threads: threads must be >= 0 (0 = automatic), got {threads}")
    n = threads or default_threads(num_parameters)
    torch_threads, blas_threads = (n, 1) if engine == "torch" else (1, n)

    import torch

    torch.set_num_threads(torch_threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        # PyTorch allows this only before its first parallel op; later calls keep the old pool.
        pass

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl is a dependency, but a missing one must not stop training
        return n
    # Torch bundles its own OpenMP runtime; limiting "blas" touches NumPy's OpenBLAS/MKL only.
    _blas_limiter = threadpool_limits(limits=blas_threads, user_api="blas")
    return n
