"""Option files: what a tune writes, `nnatlas train --config` reads back unchanged."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnatlas.tune.configfile import ConfigFileError, read_options, write_options

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
)
keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12).filter(
    lambda k: "-" not in k  # dashes become underscores on reading
)
options = st.dictionaries(
    keys,
    st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(keys, scalars, max_size=3)),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(values=options)
def test_toml_and_json_read_back_what_was_written(tmp_path_factory, values):
    folder = tmp_path_factory.mktemp("options")
    for suffix in (".toml", ".json"):
        path = write_options(folder / f"best{suffix}", values, comment="a\ncomment")
        assert read_options(path) == values


def test_special_floats_and_dashed_keys(tmp_path):
    path = write_options(tmp_path / "a.toml", {"x": math.inf, "y": -math.inf})
    assert read_options(path) == {"x": math.inf, "y": -math.inf}
    (tmp_path / "b.toml").write_text("batch-size = 64\nlr = 1e-3\n")
    assert read_options(tmp_path / "b.toml") == {"batch_size": 64, "lr": 1e-3}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.yaml", "lr: 1", "is .toml or .json"),
        ("a.toml", "lr = = 1\n", r"not valid TOML: .*line 1"),
        ("a.json", '{"lr": }', r"not valid JSON: .*line 1"),
        ("a.json", "[1, 2]", "a table of options"),
        ("a.toml", "batch-size = 1\nbatch_size = 2\n", "given twice"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigFileError, match=expected) as err:
        read_options(path)
    assert str(path) in str(err.value)


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    with pytest.raises(ConfigFileError, match="no such option file"):
        read_options(tmp_path / "nothing.toml")
