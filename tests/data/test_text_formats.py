"""Every text format, written small by the test, loaded through the catalog; and bad input."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import pytest

from nnatlas.data.catalog import DataNotFoundError, DatasetError, get_spec, list_datasets, load
from nnatlas.data.text.pipeline import load_text_classification, load_text_corpus
from nnatlas.data.text.readers import RawTextClassification
from nnatlas.data.text.translation import load_translation_pairs


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user cache; system/shared locations and downloads switched off (a bare machine)."""
    home = tmp_path / "cache"
    monkeypatch.setenv("NNATLAS_DATA", str(home))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("NNATLAS_OFFLINE", "1")
    return home


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else text)
    return path


def test_catalog_lists_the_text_datasets() -> None:
    names = list_datasets()
    for name in ("tinyshakespeare", "imdb", "sst2", "mr", "multi30k", "dates", "adding", "copy"):
        assert name in names
    for family in ("text:PATH", "csv:PATH", "pairs:PATH"):
        assert family in names
    assert get_spec("multi30k").kind == "pairs"
    assert get_spec("adding").kind == "sequence"


def test_aclimdb_folders_through_the_cache(cache: Path) -> None:
    base = cache / "imdb" / "aclImdb"
    reviews = {
        ("train", "pos"): ["A <br />great film!", "Loved it."],
        ("train", "neg"): ["Dull.", "Awful, really.", "Bad <br/>acting."],
        ("test", "pos"): ["Superb."],
        ("test", "neg"): ["Boring."],
    }
    for (split, cls), texts in reviews.items():
        for i, text in enumerate(texts):
            write(base / split / cls / f"{i}_{7 if cls == 'pos' else 2}.txt", text)
    write(base / "train" / "unsup" / "0_0.txt", "unlabeled, ignored")
    raw = load("imdb")
    assert isinstance(raw, RawTextClassification)
    assert raw.classes == ["neg", "pos"]
    assert len(raw.train) == 5 and len(raw.test) == 2
    assert raw.train.labels.count(1) == 2 and raw.train.labels.count(0) == 3
    assert "Dull." in raw.train.texts
    splits = load_text_classification("imdb", val_fraction=0.2, seed=0)
    assert len(splits.train) + len(splits.val) == 5 and len(splits.test) == 2
    # <br /> is layout, not a word: the tokenizer drops it
    assert "br" not in splits.vocab and "great" in splits.vocab


def test_glue_tsv_accepts_both_headers_and_reads_by_position(cache: Path) -> None:
    folder = cache / "sst2"
    write(folder / "train.tsv", "sentence\tlabel\nit 's great \t1\nnot good \t0\nfine \t1\n")
    write(folder / "dev.tsv", "text\tlabel\nvery bad\t0\nlovely\t1\n")
    raw = load("sst2")
    assert raw.train.texts == ["it 's great", "not good", "fine"]
    assert raw.train.labels == [1, 0, 1]
    assert raw.test.texts == ["very bad", "lovely"] and raw.val is None
    assert raw.classes == ["negative", "positive"]


def test_glue_zip_layout_is_found_in_a_root_folder(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "glue"
    write(root / "SST-2" / "train.tsv", "sentence\tlabel\na\t1\nb\t0\nc\t1\nd\t0\n")
    write(root / "SST-2" / "dev.tsv", "sentence\tlabel\ne\t0\n")
    raw = load("sst2", root=root)
    assert len(raw.train) == 4 and len(raw.test) == 1


def test_sst2_label_out_of_range_names_file_and_line(cache: Path) -> None:
    folder = cache / "sst2"
    write(folder / "train.tsv", "sentence\tlabel\ngood\t1\nodd\t2\n")
    write(folder / "dev.tsv", "sentence\tlabel\nbad\t0\n")
    with pytest.raises(DatasetError, match=r"train\.tsv, line 3: label '2' out of range"):
        load("sst2")


def test_glue_test_file_without_labels_is_refused(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "train.tsv", "index\tsentence\n0\tsome text\n")
    write(tmp_path / "dev.tsv", "sentence\tlabel\nbad\t0\n")
    with pytest.raises(DatasetError, match="no labels"):
        load("sst2", root=tmp_path)


def test_empty_dataset_is_refused(tmp_path: Path, cache: Path) -> None:
    write(tmp_path / "train.tsv", "sentence\tlabel\n")
    write(tmp_path / "dev.tsv", "sentence\tlabel\nbad\t0\n")
    with pytest.raises(DatasetError, match=r"train\.tsv: no examples found"):
        load("sst2", root=tmp_path)
    for split in ("train", "test"):
        for cls in ("pos", "neg"):
            (tmp_path / "imdb" / split / cls).mkdir(parents=True)
    with pytest.raises(DatasetError, match="no examples found"):
        load("imdb", root=tmp_path / "imdb")
    write(tmp_path / "empty.txt", "\n\n")
    with pytest.raises(DatasetError, match="empty"):
        load_text_corpus(f"text:{tmp_path / 'empty.txt'}")


def test_rt_polarity_is_latin1(cache: Path) -> None:
    folder = cache / "mr" / "rt-polaritydata"
    pos = ["a charming , intelligent film .", "une belle histoire de caf\xe9 .", "superb ."]
    neg = ["tedious .", "a mess .", "clich\xe9d and dull ."]
    write(folder / "rt-polarity.pos", ("\n".join(pos) + "\n").encode("latin-1"))
    write(folder / "rt-polarity.neg", ("\n".join(neg) + "\n").encode("latin-1"))
    raw = load("mr")
    assert len(raw.train) == 6 and raw.test is None
    assert "clich\xe9d and dull ." in raw.train.texts
    splits = load_text_classification("mr", test_fraction=1 / 3, val_fraction=0.25, seed=1)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (3, 1, 2)
    assert sorted(splits.test.labels.tolist()) == [0, 1]  # stratified


def test_csv_columns_named_by_options(tmp_path: Path, cache: Path) -> None:
    path = write(
        tmp_path / "reviews.csv",
        'id,review,sentiment\n1,"Great, really great",pos\n2,Bad,neg\n3,"multi\nline ok",pos\n',
    )
    raw = load(f"csv:{path}", text_column="review", label_column="sentiment")
    assert raw.classes == ["neg", "pos"]
    assert raw.train.texts == ["Great, really great", "Bad", "multi\nline ok"]
    assert raw.train.labels == [1, 0, 1]
    with pytest.raises(DatasetError, match=r"no column named 'text'.*\['id', 'review'"):
        load(f"csv:{path}")
    write(path, "review,sentiment\nok,pos\nbad,neg\nmore,neutral\n")
    with pytest.raises(DatasetError, match=r"reviews\.csv, line 4: label 'neutral' is not one"):
        load(f"csv:{path}", text_column="review", label_column="sentiment", classes=["neg", "pos"])
    write(path, "review,sentiment\nok,pos\nmeh\n")
    with pytest.raises(DatasetError, match=r"reviews\.csv, line 3: 1 fields, expected 2"):
        load(f"csv:{path}", text_column="review", label_column="sentiment")


def test_csv_integer_labels_sort_numerically(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path / "d.tsv", "text\tlabel\na\t10\nb\t2\nc\t1\n")
    raw = load(f"csv:{path}")
    assert raw.classes == ["1", "2", "10"]
    assert raw.train.labels == [2, 1, 0]


def test_csv_fractional_label_is_refused_whole_floats_accepted(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path / "scores.csv", "text,label\na,0\nb,1\nc,1.5\nd,0\n")
    with pytest.raises(DatasetError, match=r"scores\.csv, line 4: label '1\.5' is not a whole"):
        load(f"csv:{path}")
    with pytest.raises(DatasetError, match=r"scores\.csv, line 4: label '1\.5' is not a whole"):
        load(f"csv:{path}", classes=["0", "1"])
    write(path, "text,label\na,0.0\nb,1.0\nc,1\nd,nan\n")
    with pytest.raises(DatasetError, match=r"scores\.csv, line 5: label 'nan' is not a whole"):
        load(f"csv:{path}")
    write(path, "text,label\na,0.0\nb,1.0\nc,1\n")
    raw = load(f"csv:{path}")
    assert raw.classes == ["0", "1"] and raw.train.labels == [0, 1, 1]
    assert load(f"csv:{path}", classes=["0", "1"]).train.labels == [0, 1, 1]
    # Labels that are names (not all numbers) keep their spelling, 1.5 included.
    write(path, "text,label\na,1.5 stars\nb,1.5\n")
    assert load(f"csv:{path}").classes == ["1.5", "1.5 stars"]


def test_csv_field_over_128_kib_loads(tmp_path: Path, cache: Path) -> None:
    import csv

    review = "a long, long review " * (300 * 1024 // 20)  # 300 KiB in one quoted field
    path = write(tmp_path / "long.csv", f'text,label\n"{review}",pos\nshort,neg\n')
    before = csv.field_size_limit()
    raw = load(f"csv:{path}")
    assert raw.train.texts[0] == review.strip() and len(review) == 300 * 1024
    assert csv.field_size_limit() == before  # the process-wide limit is put back


def test_csv_bad_quoting_and_delimiter_name_the_file(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path / "q.csv", 'text,label\n"unterminated,pos\n')
    with pytest.raises(DatasetError, match=r"q\.csv, line 2: 1 fields, expected 2"):
        load(f"csv:{path}")  # the open quote swallows the rest of the file into one field
    with pytest.raises(DatasetError, match=r"q\.csv: bad delimiter ';;'"):
        load(f"csv:{path}", delimiter=";;")


def test_unknown_encoding_and_truncated_utf16(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path / "c.txt", "caf\u00e9\n".encode("utf-16-le") + b"\x00")
    with pytest.raises(DatasetError, match=r"c\.txt: unknown encoding 'klingon'"):
        load_text_corpus(f"text:{path}", encoding="klingon")
    with pytest.raises(
        DatasetError, match=r"c\.txt, line \d+, column \d+: not valid utf-16-le .*truncated data"
    ):
        load_text_corpus(f"text:{path}", encoding="utf-16-le")


def test_multi30k_gz_and_plain(cache: Path) -> None:
    folder = cache / "multi30k"
    en = {
        "train": ["A dog runs.", "Two men.", "A cat."],
        "val": ["A boy."],
        "test_2016_flickr": ["Snow."],
    }
    de = {"train": ["Ein Hund rennt.", "Zwei Männer.", "Eine Katze."], "val": ["Ein Junge."]}
    de["test_2016_flickr"] = ["Schnee."]
    for stem in en:
        write(folder / f"{stem}.en.gz", "\n".join(en[stem]) + "\n")
        suffix = "" if stem == "val" else ".gz"  # a mix: plain files are accepted too
        write(folder / f"{stem}.de{suffix}", "\n".join(de[stem]) + "\n")
    pairs = load_translation_pairs("multi30k")
    assert pairs.train[1] == ("Two men.", "Zwei Männer.")
    assert (len(pairs.train), len(pairs.val), len(pairs.test)) == (3, 1, 1)
    reverse = load_translation_pairs("multi30k", src="de", tgt="en")
    assert reverse.val == [("Ein Junge.", "A boy.")] and reverse.src_lang == "de"
    write(folder / "val.de", "Ein Junge.\nExtra line.\n")
    with pytest.raises(DatasetError, match=r"val\.en\.gz has 1 lines but .*val\.de has 2"):
        load_translation_pairs("multi30k")


def test_tatoeba_pairs_ignore_attribution(tmp_path: Path, cache: Path) -> None:
    lines = [
        "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wit)",
        "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)",
    ]
    lines += [f"I have {i} cats.\tJ'ai {i} chats." for i in range(18)]
    path = write(tmp_path / "fra.txt", "\n".join(lines) + "\n\n")
    pairs = load_translation_pairs(f"pairs:{path}", val_fraction=0.1, test_fraction=0.2, seed=3)
    assert (len(pairs.train), len(pairs.val), len(pairs.test)) == (14, 2, 4)
    everything = sorted(pairs.train + pairs.val + pairs.test)
    assert ("Go.", "Va !") in everything and len(set(everything)) == 20
    again = load_translation_pairs(f"pairs:{path}", val_fraction=0.1, test_fraction=0.2, seed=3)
    assert again.test == pairs.test
    write(path, "Go.\tVa !\nno tab here\n")
    with pytest.raises(DatasetError, match=r"fra\.txt, line 2: expected at least 2"):
        load_translation_pairs(f"pairs:{path}")


def test_non_utf8_names_file_and_line_or_is_replaced(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path / "corpus.txt", b"first line\nsecond caf\xe9 line\n")
    with pytest.raises(DatasetError, match=r"corpus\.txt, line 2, column 11: not valid utf-8"):
        load_text_corpus(f"text:{path}")
    text = load_text_corpus(f"text:{path}", errors="replace")
    assert text == "first line\nsecond caf\ufffd line\n"
    write(tmp_path / "train.tsv", b"sentence\tlabel\nok\t1\nna\xefve\t0\n")
    write(tmp_path / "dev.tsv", "sentence\tlabel\nbad\t0\n")
    with pytest.raises(DatasetError, match=r"train\.tsv, line 3, column 3"):
        load("sst2", root=tmp_path)
    raw = load("sst2", root=tmp_path, errors="replace")
    assert raw.train.texts[1] == "na\ufffdve"


def test_missing_dataset_lists_every_source(cache: Path) -> None:
    with pytest.raises(DataNotFoundError) as info:
        load_text_corpus("tinyshakespeare")
    message = str(info.value)
    assert "cache" in message and "shared folder" in message and "download" in message
    assert "input.txt" in message
    with pytest.raises(DataNotFoundError, match="no such file"):
        load_text_corpus("text:/nonexistent/file.txt")


def test_kind_mismatch_is_explained(tmp_path: Path, cache: Path) -> None:
    path = write(tmp_path / "a.txt", "hello world\n")
    with pytest.raises(DatasetError, match="not a text classification dataset"):
        load_text_classification(f"text:{path}")
    with pytest.raises(DatasetError, match="not a text corpus"):
        load_text_corpus("dates")


def test_mr_archive_is_downloaded_and_extracted(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real archive layout (rt-polaritydata/rt-polarity.{pos,neg}) served from a file:// mirror.
    mirror = tmp_path / "mirror"
    inner = tmp_path / "build" / "rt-polaritydata"
    write(inner / "rt-polarity.pos", b"simply brilliant .\nfun .\n")
    write(inner / "rt-polarity.neg", b"a mess .\ntedious .\nna\xefve and flat .\n")
    mirror.mkdir()
    with tarfile.open(mirror / "rt-polaritydata.tar.gz", "w:gz") as tar:
        tar.add(inner, arcname="rt-polaritydata")
    monkeypatch.delenv("NNATLAS_OFFLINE")
    monkeypatch.setenv("NNATLAS_DOWNLOAD_MIRROR", mirror.as_uri())
    with pytest.warns(UserWarning, match="no published checksum"):
        raw = load("mr")
    assert len(raw.train) == 5 and raw.train.labels == [0, 0, 0, 1, 1]
    assert "na\xefve and flat ." in raw.train.texts  # latin-1 decoded
    assert (cache / "mr" / "rt-polaritydata" / "rt-polarity.pos").is_file()
