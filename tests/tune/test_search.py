"""``nnatlas.tune.tune``: real Optuna studies over real (tiny) training runs on digits."""

from __future__ import annotations

import json

import optuna
import pytest

import nnatlas.tasks as tasks
from nnatlas.tune import TrialReporter, TuneError, tune
from nnatlas.tune.search import ValidationDone

# Small enough for the default suite: 300 training digits, a few epochs, one thread.
TINY = dict(limit=200, epochs=2, threads=1)


def in_memory_trial(pruner):
    study = optuna.create_study(direction="maximize", pruner=pruner)
    return study, study.ask()


def test_the_reporter_prunes_from_the_validation_curve_and_never_tests(tmp_path):
    # A threshold no digits model reaches after one epoch: pruned at epoch 1.
    study, trial = in_memory_trial(optuna.pruners.ThresholdPruner(lower=1.01))
    reporter = TrialReporter(trial, "val_accuracy")
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        tasks.train("mlp", "digits", run_dir=tmp_path / "p", callbacks=[reporter], quiet=True,
                    monitor="val_accuracy", **TINY)  # fmt: skip
    assert reporter.pruned_at == 1
    assert list(study.trials[0].intermediate_values) == [1]
    assert not (tmp_path / "p" / "test_metrics.json").exists()


def test_a_finished_run_ends_before_its_test_with_the_best_value(tmp_path):
    study, trial = in_memory_trial(optuna.pruners.NopPruner())
    with pytest.raises(ValidationDone) as done:
        tasks.train("mlp", "digits", run_dir=tmp_path / "d", quiet=True, monitor="val_accuracy",
                    callbacks=[TrialReporter(trial, "val_accuracy")], **TINY)  # fmt: skip
    history = json.loads((tmp_path / "d" / "history.json").read_text())
    assert done.value.best_value == max(row["val_accuracy"] for row in history)
    assert done.value.epochs == 2 and len(study.trials[0].intermediate_values) == 2
    assert not (tmp_path / "d" / "test_metrics.json").exists()


def test_a_tune_tests_only_the_best_and_continues_where_it_stopped(tmp_path):
    rows = []
    result = tune("mlp", "digits", trials=3, space="lr,width", folder=tmp_path / "t",
                  on_trial=rows.append, **TINY)  # fmt: skip
    assert [r["number"] for r in rows] == [0, 1, 2] and result.complete
    assert result.best["value"] == max(r["value"] for r in rows if r["state"] == "COMPLETE")
    # The test split: untouched by trials and the preset's run, used once by the best one.
    folder = tmp_path / "t"
    tested = sorted(p.parent.name for p in folder.rglob("test_metrics.json"))
    assert tested == ["best"] and result.test_uses == 1
    assert result.final["trial"] == result.best["number"]
    assert result.final["val"] == pytest.approx(result.best["value"])  # same seed, same run
    assert result.default["value"] is not None
    for name in ("trials", "history", "lr", "best_config", "summary"):
        assert result.files[name].is_file(), name
    assert (folder / "trials.csv").read_text().count("\n") == 4
    # Asked again: nothing to run, nothing retested.
    again = tune("mlp", "digits", trials=3, space="lr,width", folder=folder, **TINY)
    assert len(again.rows) == 3 and again.test_uses == 1
    # More trials continue the same study (trial 3).
    more = tune("mlp", "digits", trials=4, space="lr,width", folder=folder, **TINY)
    assert [r["number"] for r in more.rows] == [0, 1, 2, 3]
    # Other settings would mix two objectives in one study: refused, naming what changed.
    with pytest.raises(TuneError, match=r"space .*then.*now"):
        tune("mlp", "digits", trials=5, space="lr", folder=folder, **TINY)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(trials=0), "--trials must be at least 1"),
        (dict(pruner="hyperband"), "choose from median, halving, none"),
        (dict(metric="val_top5"), "choose from val_loss"),
        (dict(storage="nosuchdb://x"), "cannot open the study database"),
        (dict(epoch=3), "unknown option 'epoch'; did you mean epochs"),
    ],
)
def test_bad_options_are_refused_before_training(tmp_path, kwargs, expected):
    with pytest.raises(Exception, match=expected) as err:
        tune("mlp", "digits", folder=tmp_path / "t", **{**TINY, **kwargs})
    assert (
        isinstance(err.value, tasks.TaskError | TuneError)
        or "ConfigError" in type(err.value).__name__
    )


def test_data_options_are_fixed_for_every_trial_and_kept_in_the_best_config(tmp_path):
    """A text classifier tuned with its data read one way (here min_freq and max_len): every
    trial and the retrained best read it so, and best-config.toml says so."""
    from nnatlas.tune.configfile import read_options

    rows = ["text,label"] + ["a truly great film,pos", "a dull mess,neg", "great fun,pos",
                             "so dull,neg"] * 15  # fmt: skip
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    result = tune("lstm_classifier", f"csv:{tmp_path / 'r.csv'}", trials=2, space="lr",
                  folder=tmp_path / "t", epochs=1, threads=1, min_freq=2, max_len=3,
                  model_options={"embed_dim": 8, "hidden_size": 8})  # fmt: skip
    assert result.complete
    for run in (tmp_path / "t").rglob("config.json"):
        saved = tasks.load_run(run.parent)
        assert saved.options.min_freq == 2 and saved.options.max_len == 3, run.parent
    best = read_options(result.files["best_config"])
    assert best["min_freq"] == 2 and best["max_len"] == 3
    with pytest.raises(TuneError, match="data options: .*word_vectors"):
        tune("mlp", "digits", folder=tmp_path / "u", word_vector="glove-6b-50d", **TINY)
    # Other data options than the study's: refused, naming the ones it had.
    with pytest.raises(TuneError, match=r"data_options \{'min_freq': 2, 'max_len': 3\} then, None"):
        tune("lstm_classifier", f"csv:{tmp_path / 'r.csv'}", trials=2, space="lr",
             folder=tmp_path / "t", epochs=1, threads=1,
             model_options={"embed_dim": 8, "hidden_size": 8})  # fmt: skip


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        ({"val_split": "sentence"}, "--val-split must be random or sentences"),
        ({"image_size": 8}, "--image-size does not apply to text classification"),
    ],
)
def test_bad_data_options_are_refused_before_a_study_exists(tmp_path, reading, expected):
    (tmp_path / "r.csv").write_text("text,label\ngreat,pos\ndull,neg\n" * 10)
    with pytest.raises(tasks.TaskError, match=expected):
        tune("lstm_classifier", f"csv:{tmp_path / 'r.csv'}", folder=tmp_path / "t", epochs=1,
             **reading)  # fmt: skip
    assert not (tmp_path / "t" / "study.db").exists()
