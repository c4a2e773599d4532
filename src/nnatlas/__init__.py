"""nnatlas: a hands-on atlas of deep-learning architectures, from the ANN to the LSTM.

Every architecture exists twice: readable NumPy with an explicit backward pass
(:mod:`nnatlas.scratch`, never imports torch) and idiomatic PyTorch (:mod:`nnatlas.models`).
:mod:`nnatlas.bridge` is the one place that imports both and proves them equal.
"""

__version__ = "0.1.0"
