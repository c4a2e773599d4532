"""Any option values, valid or not: a run's options either build or raise the project's error.

Hypothesis draws values for every TrainConfig field and every data option, including the
awkward ones (negative, zero, NaN, infinite, huge, the wrong type); constructing the config
must succeed or raise :class:`~nnatlas.errors.NnatlasError`, never another exception, and a
config that builds must hold values inside the documented bounds.
"""

from __future__ import annotations

import math
from dataclasses import fields

from hypothesis import given, settings
from hypothesis import strategies as st

from nnatlas.errors import NnatlasError
from nnatlas.tasks.base import DataOptions
from nnatlas.train.config import BOUNDS, TrainConfig

awkward_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**63, 2**63 - 1, 10**400, 1e-300, 1e300]),
)
anything = st.one_of(awkward_numbers, st.text(max_size=12), st.booleans(), st.none())


def _field_values() -> st.SearchStrategy[dict]:
    names = [f.name for f in fields(TrainConfig)]
    return st.dictionaries(st.sampled_from(names), anything, max_size=4)


@settings(max_examples=400, deadline=None)
@given(_field_values())
def test_train_config_builds_or_raises_our_error(values: dict) -> None:
    try:
        config = TrainConfig(**values)
    except NnatlasError:
        return
    for name, (low, high, closed_low) in BOUNDS.items():
        value = getattr(config, name)
        assert isinstance(value, int) or math.isfinite(value)
        assert value >= low if closed_low else value > low
        assert high is None or value < high


@settings(max_examples=300, deadline=None)
@given(
    val_fraction=awkward_numbers,
    image_size=st.one_of(st.none(), awkward_numbers),
    channels=st.one_of(st.none(), awkward_numbers),
    limit=st.one_of(st.none(), awkward_numbers),
    encoding=st.one_of(st.none(), st.text(max_size=10), st.sampled_from(["utf-8", "latin-1"])),
)
def test_data_options_build_or_raise_our_error(
    val_fraction: object, image_size: object, channels: object, limit: object, encoding: object
) -> None:
    try:
        options = DataOptions(
            "digits",
            val_fraction=val_fraction,
            image_size=image_size,
            channels=channels,
            limit=limit,
            encoding=encoding,
        )
    except NnatlasError:
        return
    assert 0.0 <= options.val_fraction < 1.0
    assert options.channels in (None, 1, 3)
    assert options.limit is None or (isinstance(options.limit, int) and options.limit >= 1)
    assert options.image_size is None or isinstance(options.image_size, int)
