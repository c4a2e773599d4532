"""The lab's routes over HTTP on a real server: the queue (one training at a time, pause,
resume, stop), live events, zoo trainings, the run browser, reports, and the explorers."""

from __future__ import annotations

import io
import runpy
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from lab_helpers import read_events, square_photo

from nnatlas.lab.jobs import JobQueue, JobStopped


# -- the queue, in process ------------------------------------------------------------------
def slow_work(seconds: float, log: list[str], name: str) -> Any:
    def work(job: Any) -> dict[str, Any]:
        log.append(f"{name} start")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            job.checkpoint()
            time.sleep(0.01)
        log.append(f"{name} end")
        return {"name": name}

    return work


def test_the_queue_runs_one_job_at_a_time_in_order() -> None:
    queue, log = JobQueue(slots=1), []
    jobs = [queue.submit("test", n, {}, slow_work(0.2, log, n)) for n in ("a", "b", "c")]
    assert all(job.wait(10) for job in jobs)
    assert log == ["a start", "a end", "b start", "b end", "c start", "c end"]
    assert [j.state for j in jobs] == ["done"] * 3 and jobs[1].result == {"name": "b"}
    queue.close()


def test_two_slots_run_two_jobs_at_once() -> None:
    queue, log = JobQueue(slots=2), []
    jobs = [queue.submit("test", n, {}, slow_work(0.3, log, n)) for n in ("a", "b")]
    assert all(job.wait(10) for job in jobs)
    assert log[:2] == ["a start", "b start"]
    queue.close()


def test_pause_resume_and_stop() -> None:
    queue, log = JobQueue(slots=1), []
    job = queue.submit("test", "long", {}, slow_work(30, log, "long"))
    waiting = queue.submit("test", "next", {}, slow_work(0.05, log, "next"))
    deadline = time.monotonic() + 10
    while job.state != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    job.pause()
    while job.state != "paused" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.state == "paused" and waiting.state == "queued"  # a paused job keeps its slot
    job.resume()
    while job.state != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    job.stop()
    assert job.wait(10) and job.state == "stopped"
    assert waiting.wait(10) and waiting.state == "done"
    unstarted = queue.submit("test", "never", {}, slow_work(1, log, "never"))
    unstarted.pause()
    unstarted.stop()
    assert unstarted.state == "stopped" and "never start" not in log
    states = [e.split("data: ")[1] for e in job.events if "event: state" in e]
    assert [s.split('"')[3] for s in states] == [
        "running",
        "paused",
        "running",
        "stopping",
        "stopped",
    ]
    queue.close()


def test_a_failing_job_says_why() -> None:
    from nnatlas.errors import NnatlasError

    def fails(job: Any) -> None:
        raise NnatlasError("the data has one class")

    queue = JobQueue()
    job = queue.submit("test", "bad", {}, fails)
    assert job.wait(10) and job.state == "failed" and job.error == "the data has one class"
    with pytest.raises(JobStopped):
        job._stop = True
        job.checkpoint()
    queue.close()


# -- over HTTP ------------------------------------------------------------------------------
def test_a_playground_training_streams_and_exports(lab: Any, tmp_path: Path) -> None:
    spec = {"data": "circles", "epochs": 40, "hidden": [8, 8], "dropout": 0.1, "residual": True}
    job = httpx.post(f"{lab.url}/api/playground", json=spec).json()
    events = read_events(lab.url, job["id"])
    kinds = [k for k, _ in events]
    assert kinds.count("metrics") >= 20 and "boundary" in kinds and kinds[-1] == "end"
    assert events[-1][1]["state"] == "done" and events[-1][1]["result"]["test_accuracy"] > 0.85
    steps = [d["step"] for k, d in events if k == "metrics"]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    # A late client still gets everything, and the newest boundary.
    again = read_events(lab.url, job["id"])
    assert [k for k, _ in again].count("metrics") == kinds.count("metrics")
    export = httpx.get(f"{lab.url}/api/playground/{job['id']}/export.py")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    path = tmp_path / "exported.py"
    path.write_bytes(export.content)
    assert runpy.run_path(str(path))["check"]() < 1e-5  # (test_playground runs one alone)


def test_a_csv_uploaded_to_the_playground_trains(lab: Any) -> None:
    rng = np.random.default_rng(0)
    rows = ["x,y,colour"]
    for _ in range(120):
        x, y = rng.uniform(-1, 1, 2)
        rows.append(f"{x:.3f},{y:.3f},{'red' if x * y > 0 else 'blue'}")
    uploaded = httpx.post(f"{lab.url}/api/playground/csv", content="\n".join(rows).encode()).json()
    assert uploaded["classes"] == ["blue", "red"] and uploaded["rows"] == 120
    job = httpx.post(
        f"{lab.url}/api/playground", json={"data": uploaded["data"], "epochs": 80}
    ).json()
    events = read_events(lab.url, job["id"])
    assert events[-1][1]["state"] == "done"
    points = next(d for k, d in events if k == "points")
    assert points["classes"] == ["blue", "red"]


def test_control_over_http_and_clear_errors(lab: Any) -> None:
    job = httpx.post(f"{lab.url}/api/playground", json={"epochs": 3000, "pace_ms": 5}).json()
    url = f"{lab.url}/api/jobs/{job['id']}"
    for _ in range(200):
        if httpx.get(url).json()["state"] == "running":
            break
        time.sleep(0.02)
    assert httpx.post(f"{url}/pause").status_code == 200
    assert httpx.post(f"{url}/stop").json()["state"] in ("stopping", "stopped")
    assert read_events(lab.url, job["id"])[-1][1]["state"] == "stopped"
    response = httpx.post(f"{url}/resume")
    assert response.status_code == 400 and "not paused" in response.json()["detail"]
    assert httpx.post(f"{url}/explode").status_code == 400
    response = httpx.get(f"{lab.url}/api/jobs/9999")
    assert response.status_code == 400 and "no job 9999" in response.json()["detail"]
    response = httpx.get(f"{lab.url}/api/playground/{job['id']}/export.py")
    assert response.status_code == 409
    response = httpx.post(f"{lab.url}/api/playground", json={"hidden": [0]})
    assert response.status_code == 400 and "hidden" in response.json()["detail"]


def test_a_zoo_training_streams_its_epochs_into_the_run_browser(lab: Any) -> None:
    job = httpx.post(
        f"{lab.url}/api/train",
        json={"data": "moons", "model": "mlp", "epochs": 3, "run_name": "lab-moons", "lr": 0.01},
    ).json()
    events = read_events(lab.url, job["id"])
    epochs = [d for k, d in events if k == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3] and "val_loss" in epochs[0]
    end = events[-1][1]
    assert end["state"] == "done" and end["result"]["run"] == "lab-moons"
    assert end["result"]["test_metrics"]["accuracy"] > 0.8
    runs = {r["name"]: r for r in httpx.get(f"{lab.url}/api/runs").json()}
    assert runs["lab-moons"]["model"] == "mlp" and runs["lab-moons"]["data"] == "moons"
    detail = httpx.get(f"{lab.url}/api/runs/lab-moons").json()
    assert len(detail["history"]) == 3
    assert {c["path"] for c in detail["checkpoints"]} == {"best.pt", "last.pt"}
    curves = httpx.get(f"{lab.url}/api/files/runs/lab-moons/curves.png")
    assert curves.status_code == 200 and curves.headers["content-type"] == "image/png"
    ckpt = httpx.get(f"{lab.url}/api/files/runs/lab-moons/best.pt")
    assert "attachment" in ckpt.headers["content-disposition"]
    response = httpx.post(f"{lab.url}/api/train", json={"data": "no-such-set"})
    assert response.status_code == 400 and "no-such-set" in response.json()["detail"]
    assert httpx.get(f"{lab.url}/api/runs/nothing-here").status_code == 404


def test_reports_are_listed_and_served_sandboxed(lab: Any) -> None:
    reports = httpx.get(f"{lab.url}/api/reports").json()
    assert reports == [{"path": "01-ann/index.html", "title": "Lesson 1: the artificial neuron"}]
    page = httpx.get(f"{lab.url}/api/files/reports/01-ann/index.html")
    assert page.status_code == 200 and "sandbox" in page.headers["content-security-policy"]


def test_the_explorers_answer_with_figures_and_refuse_the_wrong_run(lab: Any) -> None:
    buffer = io.BytesIO()
    square_photo(np.random.default_rng(9), 2).save(buffer, format="JPEG")
    result = httpx.post(
        f"{lab.url}/api/explore/image",
        params={"run": "cnn-squares"},
        content=buffer.getvalue(),
        timeout=60,
    ).json()
    assert {c for c, _ in result["prediction"]} == {"red", "blue"}
    assert result["feature_maps"]["layer"] and len(result["feature_maps"]["shape"]) == 3
    for url in result["figures"].values():
        image = httpx.get(f"{lab.url}{url}")
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    text = httpx.post(
        f"{lab.url}/api/explore/text",
        json={"run": "lstm-reviews", "text": "a wonderful story"},
        timeout=60,
    ).json()
    assert text["cell"] == "lstm" and list(text["gates"]) == ["i", "f", "g", "o"]
    assert len(text["gates"]["f"]) == len(text["tokens"]) == 3
    assert {c for c, _ in text["prediction"]} == {"pos", "neg"}
    wrong = httpx.post(f"{lab.url}/api/explore/text", json={"run": "cnn-squares", "text": "a b"})
    assert wrong.status_code == 400 and "text classifier" in wrong.json()["detail"]
    wrong = httpx.post(
        f"{lab.url}/api/explore/image", params={"run": "lstm-reviews"}, content=buffer.getvalue()
    )
    assert wrong.status_code == 400 and "image run" in wrong.json()["detail"]
    assert lab.alive()


def test_concurrent_explorer_requests_are_served_one_by_one(lab: Any) -> None:
    answers: list[int] = []

    def ask() -> None:
        response = httpx.post(
            f"{lab.url}/api/explore/text",
            json={"run": "lstm-reviews", "text": "i loved it"},
            timeout=120,
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200, 200, 200]


def test_the_sequence_explorer_reads_a_gru_language_model(
    lab: Any, lab_dirs: dict[str, Path]
) -> None:
    import nnatlas.tasks as tasks

    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and the dog ran to the park while birds sang".split()
    text = lab_dirs["data"] / "tiny.txt"
    text.write_text(" ".join(rng.choice(words, 700)), encoding="utf-8")
    tasks.train(
        "gru_lm",
        f"text:{text}",
        runs_dir=lab_dirs["runs"],
        run_name="gru-tiny",
        epochs=1,
        model_options={"hidden_size": 16, "embed_dim": 8, "num_layers": 1},
        quiet=True,
        tensorboard=False,
        threads=1,
    )
    result = httpx.post(
        f"{lab.url}/api/explore/text", json={"run": "gru-tiny", "text": "the cat"}, timeout=60
    ).json()
    assert result["cell"] == "gru" and list(result["gates"]) == ["r", "z", "n"]
    assert result["tokens"] == list("the cat")  # a character model: one step per character
    assert result["prediction"].startswith("the cat ... ")
