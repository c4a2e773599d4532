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
    absolute_name,
    data_home,
    fetch,
    get_spec,
    list_datasets,
    load,
    register_dataset,
    register_family,
)
from nnatlas.data.images.augment import PRESETS as AUGMENT_PRESETS
from nnatlas.data.images.augment import (
    BatchAugment,
    BatchResize,
    build_transforms,
    resize_for_backbone,
    to_grayscale,
    to_rgb,
)
from nnatlas.data.images.readers import open_image
from nnatlas.data.images.splits import (
    ImageSplits,
    Split,
    cross_validation_fold,
    fold_indices,
    load_image_dataset,
    load_image_split,
    stratified_split,
)
from nnatlas.data.tabular import TabularSplits, load_tabular_dataset
from nnatlas.data.text.batching import (
    BucketBatchSampler,
    batchify,
    collate_padded,
    collate_pairs,
    lm_stream_batches,
    lm_windows,
    pad_batch,
    truncate_pad,
    truncation_report,
)
from nnatlas.data.text.pipeline import (
    EncodedTexts,
    LMCorpus,
    TextClassificationSplits,
    encode_text,
    load_lm_corpus,
    load_text_classification,
    load_text_corpus,
    split_corpus,
)
from nnatlas.data.text.readers import LabeledTexts, PairSplits, RawTextClassification
from nnatlas.data.text.synthetic import SequenceSplits, adding_problem, copy_task, date_pairs
from nnatlas.data.text.tokenize import (
    CharTokenizer,
    WordTokenizer,
    get_tokenizer,
    tokenizer_from_dict,
    tokenizer_to_dict,
)
from nnatlas.data.text.translation import (
    EncodedPairs,
    TranslationData,
    decode_until_eos,
    encode_pairs,
    load_translation_pairs,
)
from nnatlas.data.text.vectors import WordVectors, embedding_matrix, load_word_vectors
from nnatlas.data.text.vocab import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIALS,
    UNK_ID,
    Vocab,
    vocab_coverage_table,
)

__all__ = [
    # catalog
    "DataNotFoundError",
    "DatasetError",
    "DatasetSpec",
    "RemoteFile",
    "absolute_name",
    "Source",
    "data_home",
    "fetch",
    "get_spec",
    "list_datasets",
    "load",
    "register_dataset",
    "register_family",
    # images and tabular
    "AUGMENT_PRESETS",
    "BatchAugment",
    "BatchResize",
    "ImageSplits",
    "Split",
    "TabularSplits",
    "build_transforms",
    "cross_validation_fold",
    "fold_indices",
    "load_image_dataset",
    "load_image_split",
    "load_tabular_dataset",
    "open_image",
    "resize_for_backbone",
    "stratified_split",
    "to_grayscale",
    "to_rgb",
    # text and sequences
    "adding_problem",
    "batchify",
    "BOS_ID",
    "BucketBatchSampler",
    "CharTokenizer",
    "collate_padded",
    "collate_pairs",
    "copy_task",
    "date_pairs",
    "decode_until_eos",
    "encode_pairs",
    "embedding_matrix",
    "encode_text",
    "EncodedPairs",
    "EncodedTexts",
    "EOS_ID",
    "get_tokenizer",
    "tokenizer_from_dict",
    "tokenizer_to_dict",
    "LabeledTexts",
    "lm_stream_batches",
    "lm_windows",
    "LMCorpus",
    "load_lm_corpus",
    "load_text_classification",
    "load_text_corpus",
    "load_translation_pairs",
    "load_word_vectors",
    "pad_batch",
    "PAD_ID",
    "PairSplits",
    "RawTextClassification",
    "SequenceSplits",
    "SPECIALS",
    "split_corpus",
    "TextClassificationSplits",
    "TranslationData",
    "truncate_pad",
    "truncation_report",
    "UNK_ID",
    "Vocab",
    "vocab_coverage_table",
    "WordTokenizer",
    "WordVectors",
]
