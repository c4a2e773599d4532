"""Batch normalization of images (Ioffe & Szegedy 2015, arXiv 1502.03167).

See: torch.nn.BatchNorm2d.

The arithmetic (batch statistics, running-stat update with PyTorch's momentum convention and
unbiased running variance, the compact backward) lives once in
:mod:`nnatlas.scratch.batchnorm`; this layer only fixes the input layout: statistics per channel
C over N, H and W.

The compact backward, derived in comments in ``batch_norm_backward``, is here, per channel, over
its M = N * H * W values: ``dx = (1/M) * gamma * inv_std * (M*dy - sum(dy) - x_hat * sum(dy *
x_hat))``, the sums over axes (0, 2, 3).
"""

from __future__ import annotations

from nnatlas.scratch.batchnorm import BatchNormBase


class BatchNorm2d(BatchNormBase):
    """Per-channel normalization of an (N, C, H, W) batch.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance for stability.
        momentum: weight of the new batch in the running statistics; None for a cumulative
            average.
        affine: learn ``weight`` (gamma, init 1) and ``bias`` (beta, init 0).
        track_running_stats: keep ``running_mean``/``running_var``/``num_batches_tracked``
            buffers and use them in eval mode.
        dtype: float32 (default) or float64.

    Shape:
        x: (N, C, H, W) -> (N, C, H, W); statistics over axes (0, 2, 3).

    See: torch.nn.BatchNorm2d. Check: ``nnatlas check "BatchNorm2d train"``. Tests:
    tests/scratch/test_conv_layers.py.
    """

    _expected = "(N, C, H, W)"
    _ndims = (4,)
