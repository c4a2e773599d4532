"""The plumbing AlexNet and VGG share: ``features`` -> ``avgpool`` -> flatten -> ``classifier``.

Both networks are a conv stack, an adaptive average pooling to a fixed map and a stack of
Linears; only their layer tables differ. :class:`ConvPoolClassifier` holds the forward split
(``forward_features`` / ``forward_head``, as the zoo's vision models) and the backward pass
through the three parts, so each model file keeps only what makes it that model.
"""

from __future__ import annotations

import numpy as np

from nnatlas.scratch.module import Module, ShapeError
from nnatlas.scratch.pooling import AdaptiveAvgPool2d
from nnatlas.scratch.sequential import Sequential


class ConvPoolClassifier(Module):
    """Base of :class:`AlexNet` and :class:`VGG`; subclasses set the attributes below.

    Attributes set by the subclass: ``features`` (Sequential conv stack), ``avgpool``
    (AdaptiveAvgPool2d), ``classifier`` (Sequential of Linears), ``in_chans``.

    Shape:
        x: (N, in_chans, H, W) -> features (N, C', H', W') -> pooled (N, C', p, p)
        -> flattened (N, C' * p * p) -> (N, num_classes)
    """

    features: Sequential
    avgpool: AdaptiveAvgPool2d
    classifier: Sequential
    in_chans: int

    def forward_features(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, H, W) -> (N, C', H', W')."""
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ShapeError(
                f"{type(self).__name__}: expected input (N, {self.in_chans}, H, W), got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        return self.features(x)

    def forward_head(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C', H', W') -> (N, num_classes)."""
        pooled = self.avgpool(x)  # (N, C', pool_size, pool_size)
        self._cache = pooled.shape
        return self.classifier(pooled.reshape(pooled.shape[0], -1))  # (N, C' * pool_size^2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shape: x: (N, C, H, W) -> (N, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        """Shape: grad_out: (N, num_classes) -> (N, C, H, W) (None when conv 0 skips it)."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before forward")
        grad = self.classifier.backward(grad_out).reshape(self._cache)  # (N, C', p, p)
        return self.features.backward(self.avgpool.backward(grad))
