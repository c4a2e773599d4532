"""nnatlas.data: the dataset catalog, in-memory image datasets and the text pipeline.

Quick start::

    from nnatlas.data import load_image_dataset, list_datasets
    splits = load_image_dataset("fashion-mnist", val_fraction=0.1, seed=0)
    splits.train.x.shape  # (54000, 1, 28, 28), float32 in [0, 1]

See :mod:`nnatlas.data.catalog` for how datasets and their sources are registered.
"""

from nnatlas.data.catalog import (
    DataNotFoundError,
    DatasetError,
    DatasetSpec,
    RemoteFile,
    Source,
    data_home,
    fetch,
    get_spec,
    list_datasets,
    load,
    register_dataset,
    register_family,
)
from nnatlas.data.image_pipeline import (
    BatchAugment,
    BatchResize,
    build_transforms,
    resize_for_backbone,
    to_grayscale,
    to_rgb,
)
from nnatlas.data.images import ImageSplits, Split, load_image_dataset, load_image_split
from nnatlas.data.sequence import (
    BucketBatchSampler,
    batchify,
    collate_padded,
    pad_batch,
    truncate_pad,
)
from nnatlas.data.synthetic import TabularSplits, load_tabular_dataset
from nnatlas.data.text_datasets import (
    load_text_classification,
    load_text_corpus,
    load_translation_pairs,
)
from nnatlas.data.tokenize import CharTokenizer, WordTokenizer, get_tokenizer
from nnatlas.data.vocab import Vocab

__all__ = [
    # catalog
    "DataNotFoundError",
    "DatasetError",
    "DatasetSpec",
    "RemoteFile",
    "Source",
    "data_home",
    "fetch",
    "get_spec",
    "list_datasets",
    "load",
    "register_dataset",
    "register_family",
    # images and tabular
    "BatchAugment",
    "BatchResize",
    "ImageSplits",
    "Split",
    "TabularSplits",
    "build_transforms",
    "load_image_dataset",
    "load_image_split",
    "load_tabular_dataset",
    "resize_for_backbone",
    "to_grayscale",
    "to_rgb",
    # text and sequences
    "BucketBatchSampler",
    "CharTokenizer",
    "Vocab",
    "WordTokenizer",
    "batchify",
    "collate_padded",
    "get_tokenizer",
    "load_text_classification",
    "load_text_corpus",
    "load_translation_pairs",
    "pad_batch",
    "truncate_pad",
]
