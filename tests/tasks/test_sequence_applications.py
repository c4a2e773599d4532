"""The sequence applications on tiny generated corpora: each one learns its corpus by heart, and
the choices it offers (truncated BPTT, word tokens, vocabulary limits, truncation side, the
direction of a pair file) do what they say and are kept by the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nnatlas.tasks as tasks
from nnatlas.data import UNK_ID, Vocab, encode_text, tokenizer_from_dict
from nnatlas.errors import NnatlasError
from nnatlas.models import create_model
from nnatlas.tasks.base import DataOptions
from nnatlas.tasks.language import LanguageModelStep, StreamBatches
from nnatlas.train.trainer import TorchLosses

FAST = dict(quiet=True, tensorboard=False, threads=1)
SMALL_LM = {"embed_dim": 16, "hidden_size": 48, "num_layers": 1}
SMALL_CLASSIFIER = {"embed_dim": 16, "hidden_size": 16}
VERSE = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n"


def write_corpus(path: Path, repeats: int = 40) -> str:
    path.write_text(VERSE * repeats, encoding="utf-8")
    return f"text:{path}"


def write_reviews(path: Path) -> str:
    """Two kinds of review, told apart by their words; "zany" and "plot" are seen once."""
    good = ["a great film", "truly great acting", "great fun and a great cast", "loved it"]
    bad = ["a dull film", "truly dull acting", "dull and a dull cast", "hated it"]
    rows = [f"{t},pos" for t in good] + [f"{t},neg" for t in bad]
    rows = rows * 8 + ["zany great ending,pos", "dull plot,neg"]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return f"csv:{path}"


def write_pairs(path: Path) -> str:
    numbers = ["one", "two", "three", "four"]
    french = ["un", "deux", "trois", "quatre"]
    lines = [f"{numbers[i]} {numbers[j]}\t{french[i]} {french[j]} ."
             for i in range(4) for j in range(4)]  # fmt: skip
    path.write_text("\n".join(lines * 4) + "\n", encoding="utf-8")
    return f"pairs:{path}"


# -- text generation -----------------------------------------------------------------------------
@pytest.mark.parametrize("bptt", [None, 16])
def test_a_character_lm_learns_a_tiny_corpus_with_and_without_truncated_bptt(
    tmp_path: Path, bptt: int | None
) -> None:
    data = write_corpus(tmp_path / "verse.txt")
    run = tasks.train("lstm_lm", data, bptt=bptt, epochs=12, batch_size=8, lr=2e-2,
                      model_options=SMALL_LM, run_dir=tmp_path / "lm", **FAST)  # fmt: skip
    assert run.history[-1]["train_loss"] < 0.15  # from ln(28) = 3.3 nats a character
    assert run.test_metrics["loss"] < 0.15 and run.test_metrics["perplexity"] < 1.2
    data_json = json.loads((tmp_path / "lm" / "data.json").read_text())
    assert data_json["data"]["bptt"] == bptt and data_json["record"]["bptt"] == bptt
    assert ("truncated BPTT" in " ".join(data_json["notes"])) == (bptt is not None)
    text = tasks.predict(run.dir, "Thou art", length=22, temperature=0).text
    assert text == " more lovely and more "


def test_seq_len_sets_the_window_of_training_and_of_the_held_out_splits(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "verse.txt")
    run = tasks.train("lstm_lm", data, seq_len=24, epochs=1, batch_size=8,
                      model_options=SMALL_LM, run_dir=tmp_path / "lm", **FAST)  # fmt: skip
    assert run.record["seq_len"] == 24 and run.record["input_shape"] == [24]
    for split in ("val", "test"):
        x, y = run.task.load_split(run.options, run.record, split)
        assert x.shape[1] == 24 and torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(NnatlasError, match="--seq-len"):
        tasks.train("lstm_classifier", write_reviews(tmp_path / "r.csv"), seq_len=24,
                    run_dir=tmp_path / "clf", **FAST)  # fmt: skip


def test_truncated_bptt_batches_continue_row_by_row() -> None:
    ids = torch.arange(41)
    x, y = ids[:40].view(10, 4), ids[1:41].view(10, 4)  # 10 consecutive windows of 4
    batches = list(StreamBatches(x, y, batch_size=3))  # 3 streams of 3 windows; 1 left out
    assert len(batches) == len(StreamBatches(x, y, 3)) == 3
    for k, (bx, first, by) in enumerate(batches):
        assert bx.shape == by.shape == (3, 4) and first.tolist() == [k == 0] * 3
        assert torch.equal(by[:, :-1], bx[:, 1:])
        if k:  # row r goes on where row r of the batch before stopped
            assert torch.equal(bx[:, 0], batches[k - 1][2][:, -1])
    assert [int(b[0][r, 0]) for r in range(3) for b in batches] == list(range(0, 36, 4))


def test_the_step_carries_the_state_detached_and_evaluation_starts_from_zero() -> None:
    torch.manual_seed(0)
    model = create_model("gru_lm", vocab_size=9, embed_dim=4, hidden_size=6, num_layers=1)
    x = torch.randint(0, 9, (2, 10))
    step, losses = LanguageModelStep(), TorchLosses()
    first, later = torch.tensor([True, True]), torch.tensor([False, False])
    step.loss(model, (x[:, :5], first, x[:, 1:6]), losses, training=True)
    carried = step.state
    assert not carried.requires_grad  # detached: the gradient stops at the chunk boundary
    out = step.loss(model, (x[:, 5:9], later, x[:, 6:10]), losses, training=True)
    expected, _ = model(x[:, 5:9], carried)
    torch.testing.assert_close(out.outputs, expected)
    fresh, _ = model(x[:, 5:9])
    assert not torch.allclose(out.outputs, fresh)
    evaluated = step.loss(model, (x[:, 5:9], later, x[:, 6:10]), losses, training=False)
    torch.testing.assert_close(evaluated.outputs, fresh)
    # A new epoch (first = True) starts from zeros again.
    again = step.loss(model, (x[:, 5:9], first, x[:, 6:10]), losses, training=True)
    torch.testing.assert_close(again.outputs, fresh)


def test_the_numpy_engine_trains_with_truncated_bptt_as_torch_does(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "verse.txt", repeats=32)
    options = {"embed_dim": 8, "hidden_size": 16, "num_layers": 1}
    runs = [
        tasks.train("lstm_lm", data, engine=engine, bptt=16, epochs=2, batch_size=4, lr=1e-2,
                    model_options=options, run_dir=tmp_path / engine, **FAST)
        for engine in ("torch", "scratch")
    ]  # fmt: skip
    for key in ("train_loss", "val_loss"):
        torch_values, numpy_values = ([row[key] for row in run.history] for run in runs)
        np.testing.assert_allclose(numpy_values, torch_values, rtol=1e-4)
    # The held-out text read as running text, state carried: the same in both engines.
    streamed = [run.test_metrics["stream_loss"] for run in runs]
    np.testing.assert_allclose(streamed[1], streamed[0], rtol=1e-4)


def test_held_out_text_is_also_scored_as_running_text(tmp_path: Path) -> None:
    from nnatlas.tasks.language import EVAL_STREAMS

    data = write_corpus(tmp_path / "verse.txt", repeats=300)  # 24 test windows of 128
    run = tasks.train("lstm_lm", data, epochs=1, batch_size=8, lr=2e-2, val_fraction=0.3,
                      model_options=SMALL_LM, run_dir=tmp_path / "lm", **FAST)  # fmt: skip
    x, y = run.task.load_split(run.options, run.record, "test")
    streams, chunks = EVAL_STREAMS, len(x) // EVAL_STREAMS
    assert chunks >= 2  # so the state is carried at least once
    # Each stream's windows joined into one sequence, read in one call from a zero state.
    joined_x = x[: streams * chunks].reshape(streams, chunks * x.shape[1])
    joined_y = y[: streams * chunks].reshape(streams, chunks * y.shape[1])
    with torch.no_grad():
        logits, _ = run.model.eval()(joined_x, None)
    expected = float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), joined_y.flatten()))
    assert run.test_metrics["stream_loss"] == pytest.approx(expected, rel=1e-5)
    assert run.test_metrics["stream_bits"] == pytest.approx(expected / np.log(2), rel=1e-5)
    assert tasks.evaluate(run.dir)["stream_loss"] == pytest.approx(expected, rel=1e-5)


def test_a_word_language_model(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "verse.txt", repeats=60)
    run = tasks.train("gru_lm", data, tokenizer="word", epochs=8, batch_size=4, lr=1e-2,
                      model_options=SMALL_LM, run_dir=tmp_path / "words", **FAST)  # fmt: skip
    record = run.record
    assert record["tokenizer"]["type"] == "word" and record["seq_len"] == 35
    assert "thou" in record["vocab"]["itos"] and "Thou" not in record["vocab"]["itos"]
    assert run.test_metrics["accuracy"] > 0.95
    text = tasks.predict(run.dir, "Thou art", length=4, temperature=0).text
    assert text == " more lovely and more"  # words, joined by spaces
    # A prompt word the corpus never had is <unk>, not an error.
    assert len(tasks.predict(run.dir, "zebra", length=3).text.split()) == 3


@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_sampling_at_a_temperature_near_zero_or_from_the_top_1_is_greedy(engine: str) -> None:
    torch.manual_seed(3)
    model = create_model("lstm_lm", vocab_size=12, embed_dim=6, hidden_size=10, num_layers=1)
    if engine == "torch":
        greedy = model.generate(torch.tensor([1, 4]), 12, temperature=0)
        cold = model.generate(torch.tensor([1, 4]), 12, temperature=1e-5,
                              generator=torch.Generator().manual_seed(0))  # fmt: skip
        top1 = model.generate(torch.tensor([1, 4]), 12, temperature=1.5, top_k=1,
                              generator=torch.Generator().manual_seed(0))  # fmt: skip
        assert torch.equal(cold, greedy) and torch.equal(top1, greedy)
        return
    from nnatlas.bridge import scratch_twin

    twin = scratch_twin(model)
    greedy = twin.generate([1, 4], 12, temperature=0)
    cold = twin.generate([1, 4], 12, temperature=1e-5, rng=np.random.default_rng(0))
    top1 = twin.generate([1, 4], 12, temperature=1.5, top_k=1, rng=np.random.default_rng(0))
    assert np.array_equal(cold, greedy) and np.array_equal(top1, greedy)
    assert np.array_equal(greedy, model.generate(torch.tensor([1, 4]), 12, temperature=0))


# -- sentiment -----------------------------------------------------------------------------------
def test_a_bidirectional_classifier_learns_a_tiny_corpus(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv")
    options = {**SMALL_CLASSIFIER, "bidirectional": True}
    run = tasks.train("lstm_classifier", data, model_options=options, epochs=15, batch_size=8,
                      lr=1e-2, run_dir=tmp_path / "bi", **FAST)  # fmt: skip
    assert run.model.num_directions == 2
    assert tasks.evaluate(run.dir, split="train")["accuracy"] == 1.0
    prediction = tasks.predict(run.dir, "truly great fun")
    assert prediction.label == "pos" and prediction.top[0][1] > 0.9


def test_vocabulary_limits_map_rare_and_unknown_words_to_unk(tmp_path: Path) -> None:
    data = write_reviews(tmp_path / "reviews.csv")
    run = tasks.train("gru_classifier", data, min_freq=2, max_size=12, epochs=1,
                      model_options=SMALL_CLASSIFIER, run_dir=tmp_path / "v", **FAST)  # fmt: skip
    record = json.loads((tmp_path / "v" / "data.json").read_text())["record"]
    assert record["min_freq"] == 2 and record["max_size"] == 12
    vocab = Vocab.from_dict(record["vocab"])
    assert len(vocab) == 12 and "zany" not in vocab.itos and "great" in vocab.itos
    ids = encode_text("zany great qwerty", vocab, tokenizer_from_dict(record["tokenizer"]), 10)
    assert ids.tolist() == [UNK_ID, vocab.stoi["great"], UNK_ID]
    assert "training tokens are <unk>" in " ".join(run.trainer.extra["notes"])


@pytest.mark.parametrize(("side", "kept"), [("post", ["great", "fun", "and"]),
                                            ("pre", ["a", "great", "cast"])])  # fmt: skip
def test_truncation_keeps_the_side_asked_for(tmp_path: Path, side: str, kept: list[str]) -> None:
    path = tmp_path / "reviews.csv"
    rows = ["great fun and a great cast,pos", "dull and a dull cast,neg"] * 10
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    run = tasks.train("rnn_classifier", f"csv:{path}", max_len=3, truncate_side=side, epochs=1,
                      model_options=SMALL_CLASSIFIER, run_dir=tmp_path / side, **FAST)  # fmt: skip
    assert run.record["max_len"] == 3 and run.record["truncate_side"] == side
    x, lengths, y = run.task.load_split(run.options, run.record, "test")  # as evaluate reads it
    vocab = Vocab.from_dict(run.record["vocab"])
    positive = int((y == run.record["classes"].index("pos")).nonzero()[0, 0])
    assert vocab.decode(x[positive, : lengths[positive]].tolist()) == kept
    assert tasks.evaluate(run.dir)["loss"] == pytest.approx(run.test_metrics["loss"])


def test_ptb_punctuation_splits_clitics_and_the_run_reads_new_text_so(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    rows = ["\"it does n't work , it 's dull ...\",neg", '"a fun , clever film",pos'] * 10
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    run = tasks.train("rnn_classifier", f"csv:{path}", punctuation="ptb", epochs=1,
                      model_options=SMALL_CLASSIFIER, run_dir=tmp_path / "run", **FAST)  # fmt: skip
    assert run.record["tokenizer"]["punctuation"] == "ptb"
    vocab = Vocab.from_dict(run.record["vocab"])
    assert {"n't", "'s", "..."} <= set(vocab.itos)
    # Raw text is split the same way: "doesn't" -> "does", "n't", both known words.
    ids = encode_text("it doesn't", vocab, tokenizer_from_dict(run.record["tokenizer"]), 10)
    assert vocab.decode(ids.tolist()) == ["it", "does", "n't"]
    with pytest.raises(tasks.TaskError, match="--punctuation must be"):
        tasks.train("rnn_classifier", f"csv:{path}", punctuation="ptbx", epochs=1)


odd = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                st.text(max_size=6), st.sampled_from(["char", "word", "pre", "post"]))  # fmt: skip


SEQUENCE_OPTION_NAMES = ["tokenizer", "bptt", "seq_len", "min_freq", "max_size", "max_len",
                         "truncate_side", "reverse_pairs", "punctuation"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(SEQUENCE_OPTION_NAMES), odd))
def test_sequence_data_options_build_or_raise_our_error(values: dict) -> None:
    try:
        options = DataOptions("sst2", **values)
    except NnatlasError:
        return
    assert options.tokenizer in (None, "char", "word")
    assert options.punctuation in (None, "split", "strip", "keep", "ptb")
    assert options.truncate_side in (None, "pre", "post")
    assert isinstance(options.reverse_pairs, bool)
    for name in ("bptt", "seq_len", "min_freq", "max_size", "max_len"):
        value = getattr(options, name)
        assert value is None or (type(value) is int and 1 <= value <= 10**7)


# -- translation ---------------------------------------------------------------------------------
def test_a_pair_file_translates_in_the_direction_asked_for(tmp_path: Path) -> None:
    data = write_pairs(tmp_path / "pairs.txt")
    run = tasks.train("seq2seq", data, reverse_pairs=True, epochs=25, batch_size=16, lr=1e-2,
                      model_options={"embed_dim": 16, "hidden_size": 32},
                      run_dir=tmp_path / "back", **FAST)  # fmt: skip
    saved = json.loads((tmp_path / "back" / "data.json").read_text())
    assert saved["data"]["reverse_pairs"] is True and saved["record"]["direction"] == "tgt -> src"
    assert "one" in saved["record"]["tgt_vocab"]["itos"]  # English is now the target side
    assert run.test_metrics["exact_match"] == 1.0
    assert tasks.predict(run.dir, "trois un .").output == "three one"
    assert tasks.predict(run.dir, "test:0").correct


def test_sst2_validation_is_whole_sentences_and_eval_carves_it_again(tmp_path: Path, monkeypatch):
    """SST-2's train holds phrases of its sentences: validation holds out whole sentences,
    the run records that, and `evaluate(split="val")` scores the very split training saw."""
    monkeypatch.setenv("NNATLAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("NNATLAS_NO_SYSTEM_DATA", "1")
    monkeypatch.setenv("NNATLAS_OFFLINE", "1")
    folder = tmp_path / "cache" / "sst2"
    folder.mkdir(parents=True)
    rows = []
    for i in range(40):  # 40 sentences, each with two of its phrases
        good = i % 2
        words = ["a", "truly" if good else "really", "great" if good else "dull", f"film{i}"]
        sentence = " ".join(words)
        rows += [f"{sentence}\t{good}", f"{' '.join(words[1:3])}\t{good}", f"film{i}\t{good}"]
    (folder / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    (folder / "dev.tsv").write_text("sentence\tlabel\na truly great film\t1\na dull film\t0\n")
    run = tasks.train("lstm_classifier", "sst2", model_options=SMALL_CLASSIFIER, epochs=2,
                      batch_size=8, val_fraction=0.25, run_dir=tmp_path / "r", **FAST)  # fmt: skip
    assert run.record["val_split"] == "sentences"
    assert any("10 of the 40 training sentences" in note for note in run.trainer.extra["notes"])
    # 10 sentences held out; their "film{i}" phrases are in no kept sentence: dropped.
    assert len(run.trainer.history) == 2
    kept = max(run.trainer.history, key=lambda row: row["val_accuracy"])  # SST-2's monitor
    assert tasks.evaluate(run.dir, split="val")["loss"] == pytest.approx(kept["val_loss"], abs=1e-6)
    again = tasks.train("lstm_classifier", "sst2", model_options=SMALL_CLASSIFIER, epochs=1,
                        batch_size=8, val_fraction=0.25, val_split="random",
                        run_dir=tmp_path / "random", **FAST)  # fmt: skip
    assert again.record["val_split"] == "random"
    assert again.trainer.extra["sizes"]["val"] == 30  # a quarter of the 120 phrases
    with pytest.raises(tasks.TaskError, match="--val-split must be random or sentences"):
        tasks.train("lstm_classifier", "sst2", val_split="phrases", epochs=1)
    with pytest.raises(tasks.TaskError, match="--val-split"):
        tasks.train("mlp", "digits", val_split="sentences", epochs=1)
