"""Text and sequence data: datasets, readers, tokenizers, vocabularies, batching, pairs.

- :mod:`~nnatlas.data.text.datasets`: the named text datasets and their sources;
- :mod:`~nnatlas.data.text.readers`: file formats (plain text, GLUE TSV, aclImdb, CSV, pairs);
- :mod:`~nnatlas.data.text.tokenize` and :mod:`~nnatlas.data.text.vocab`: text to ids;
- :mod:`~nnatlas.data.text.pipeline`: classification splits and language-model corpora;
- :mod:`~nnatlas.data.text.translation`: sentence pairs with two vocabularies;
- :mod:`~nnatlas.data.text.batching`: truncation, padding, bucketing, truncated BPTT;
- :mod:`~nnatlas.data.text.synthetic`: generated sequence tasks (adding, copy, dates).

The public names are exported by :mod:`nnatlas.data`.
"""
