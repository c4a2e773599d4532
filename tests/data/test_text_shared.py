"""The real copies in ../shared/data load with the right counts (skipped when absent), and the
download path verifies their published checksums (served from a local file:// mirror)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nnatlas.data.catalog import DataNotFoundError, load
from nnatlas.data.text.pipeline import load_lm_corpus, load_text_classification, load_text_corpus
from nnatlas.data.text.translation import load_translation_pairs

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.shared


def need(sub: str) -> Path:
    folder = SHARED / sub
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (project test data, see shared/data/MANIFEST.md)")
    return folder


@pytest.fixture
def mirror_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A bare machine (empty cache, no shared folder) whose downloads come from a local folder."""

    def use(folder: Path) -> Path:
        monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
        monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
        monkeypatch.delenv("NNATLAS_OFFLINE", raising=False)
        monkeypatch.setenv("NNATLAS_DOWNLOAD_MIRROR", folder.resolve().as_uri())
        return tmp_path / "cache"

    return use


def test_tinyshakespeare_counts() -> None:
    need("tinyshakespeare")
    text = load_text_corpus("tinyshakespeare")
    assert len(text) == 1_115_394
    assert len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")


def test_tinyshakespeare_download_is_checksum_verified(mirror_env, tmp_path: Path) -> None:
    source = need("tinyshakespeare")
    cache = mirror_env(source)
    text = load_text_corpus("tinyshakespeare")
    assert len(text) == 1_115_394
    assert (cache / "tinyshakespeare" / "input.txt").is_file()
    # a tampered copy upstream is refused, and the error says so
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "input.txt").write_text(text.replace("Citizen", "Citoyen"), encoding="utf-8")
    shutil.rmtree(cache)
    mirror_env(bad)
    with pytest.raises(DataNotFoundError, match="checksum mismatch"):
        load_text_corpus("tinyshakespeare")
    assert not (cache / "tinyshakespeare" / "input.txt").exists()


def test_sst2_counts_and_header_variant() -> None:
    folder = need("sst2")
    assert (folder / "train.tsv").read_text(encoding="utf-8").startswith("text\tlabel\n")
    raw = load("sst2")
    assert len(raw.train) == 67_349 and len(raw.test) == 872
    assert set(raw.train.labels) == {0, 1} and set(raw.test.labels) == {0, 1}
    assert raw.train.texts[0] == "hide new secretions from the parental units"
    assert raw.test.texts[0] == "it 's a charming and often affecting journey ."
    assert raw.test.labels[0] == 1


def test_sst2_through_the_text_pipeline() -> None:
    need("sst2")
    splits = load_text_classification("sst2", max_len=50, min_freq=2, val_fraction=0.1, seed=0)
    assert len(splits.test) == 872 and splits.val_split == "sentences"
    # Validation is a tenth of the 6,885 sentences the phrases come from, whole, like dev
    # (mean 19.5 tokens); training keeps the phrases of the other sentences.
    assert len(splits.val) == round(0.1 * 6_885) == 688
    assert 60_000 < len(splits.train) < 67_349 - 688
    val_tokens = sum(splits.val.raw_lengths) / len(splits.val)
    assert 17 < val_tokens < 22
    train_texts = set(splits.train.texts)
    assert not any(text in train_texts for text in splits.val.texts)
    assert "688 of the 6,885 training sentences" in splits.val_note
    random = load_text_classification("sst2", max_len=50, val_split="random", seed=0)
    assert len(random.train) + len(random.val) == 67_349
    assert len(random.val) == round(0.1 * 67_349)
    assert 10_000 < len(splits.vocab) < 20_000
    assert splits.truncation.share_truncated < 0.01  # SST-2 phrases are short


def test_multi30k_counts_and_alignment() -> None:
    need("multi30k")
    pairs = load_translation_pairs("multi30k")
    assert (len(pairs.train), len(pairs.val), len(pairs.test)) == (29_000, 1_014, 1_000)
    assert (pairs.src_lang, pairs.tgt_lang) == ("en", "de")
    assert pairs.train[0] == (
        "Two young, White males are outside near many bushes.",
        "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
    )
    assert all(src and tgt for src, tgt in pairs.val)


def test_multi30k_download_is_checksum_verified(mirror_env) -> None:
    cache = mirror_env(need("multi30k"))
    pairs = load_translation_pairs("multi30k", src="de", tgt="en")
    assert len(pairs.test) == 1_000 and pairs.src_lang == "de"
    assert len(list((cache / "multi30k").glob("*.gz"))) == 6


def test_tinyshakespeare_char_lm_corpus() -> None:
    need("tinyshakespeare")
    corpus = load_lm_corpus("tinyshakespeare", val_fraction=0.1)
    assert len(corpus.train) + len(corpus.val) == 1_115_394
    assert len(corpus.vocab) == 65 + 4  # 65 characters + <pad> <unk> <bos> <eos>
    assert corpus.decode(corpus.train[:14]) == "First Citizen:"
