"""Image data: the catalog's image datasets, their file readers, in-memory splits, augmentation.

- :mod:`~nnatlas.data.images.datasets`: the named image datasets and their sources;
- :mod:`~nnatlas.data.images.readers`: file formats (IDX, CIFAR pickles, npz, image folders ...);
- :mod:`~nnatlas.data.images.splits`: train/validation/test splits held in memory;
- :mod:`~nnatlas.data.images.augment`: batched tensor augmentation and resizing.

The public names are exported by :mod:`nnatlas.data`.
"""
