"""Does watching slow training down? 10 page clients on one lab training against none.

The lab runs as ``nnatlas lab`` does (uvicorn, in its own process, here on a free port). One
training is started with no client watching, then the same training with ``--clients`` real
server-sent-event clients (``httpx`` streams, one thread each, in this process, as ten browser
tabs on the same machine would be) connected before its first step and following it to its
end; the two alternate ``--rounds`` times. The figure is the training's own wall time as the
lab measures it (the job's ``seconds``), median with clients / median without. Every client
must have received every metrics event and the final one (and boundaries: the newest at each
of its polls), or the run is refused. Beside the ratio it reports the CPU seconds the lab's
process spent per training with and without clients (serving costs their difference, whatever
the machine's load does to wall times) and those the clients spent.

The default training is the playground's (the one that streams most: metrics and a 48x48
decision boundary every 10 steps, at full speed); ``--workload train`` runs a zoo MLP on
digits through nnatlas.tasks.train instead (one event per epoch and a loss every 0.25 s).

Run: ``python benchmarks/lab_clients.py [--clients 10] [--rounds 7] [--workload playground]
[--epochs 60]`` (more epochs: a longer training, whose ratio the machine's noise moves less)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

PLAYGROUND = {
    "data": "spirals",
    "points": 2000,
    "hidden": [32, 32, 32],
    "activations": ["relu", "relu", "relu"],
    "residual": True,
    "epochs": 60,
    "report_every": 10,
    "grid": 48,
    "pace_ms": 0,
}
TRAIN = {"data": "digits", "model": "mlp", "epochs": 6, "engine": "scratch"}
SERVER = (
    "import sys, uvicorn; from nnatlas.lab import LabSettings, create_app; "
    "uvicorn.run(create_app(LabSettings(runs_dir=sys.argv[2])), host='127.0.0.1', "
    "port=int(sys.argv[1]), log_level='warning')"
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(runs_dir)], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/jobs", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the lab did not start")


def watch(
    client: httpx.Client,
    url: str,
    job_id: int,
    ready: threading.Barrier,
    counts: list[dict[str, int]],
) -> None:
    """One page client: follow the job's events to the end, counting them by kind.

    It splits the byte stream into events itself (a blank line ends one) and reads only the
    ``event:`` line, as a browser's EventSource does in C: a client that decoded every line in
    Python would cost this process more CPU than the lab spends serving it. ``ready`` is passed
    once the stream is open (its first bytes, the ``retry`` line, have come).
    """
    seen: dict[str, int] = {}
    buffer = b""
    with client.stream("GET", f"{url}/api/jobs/{job_id}/events", timeout=600) as response:
        for chunk in response.iter_raw():
            if ready is not None:
                ready.wait(60)
                ready = None
            buffer += chunk
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                start = event.find(b"event: ")
                if start < 0:
                    continue  # the retry line, a heartbeat comment
                kind = event[start + 7 : event.find(b"\n", start)].decode()
                seen[kind] = seen.get(kind, 0) + 1
            if "end" in seen:
                break
    counts.append(seen)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_training(
    url: str, workload: str, clients: list[httpx.Client], run: int
) -> tuple[float, int]:
    """Train once with ``clients`` watching from its first step; returns (the job's seconds,
    the metrics or epoch events each client received).

    The pages are open before the training starts, as they would be: a slow playground job
    holds the queue while the measured one waits its turn and the clients connect to it;
    then the holder is stopped. The job's ``seconds`` count from its own start.
    """
    holder = httpx.post(f"{url}/api/playground", json={"epochs": 5000, "pace_ms": 50}).json()
    if workload == "playground":
        job = httpx.post(f"{url}/api/playground", json=PLAYGROUND, timeout=60).json()
    else:
        spec = {**TRAIN, "run_name": f"bench-{run}-{len(clients)}"}
        job = httpx.post(f"{url}/api/train", json=spec, timeout=60).json()
    counts: list[dict[str, int]] = []
    ready = threading.Barrier(len(clients) + 1)
    threads = [
        threading.Thread(target=watch, args=(c, url, job["id"], ready, counts)) for c in clients
    ]
    for t in threads:
        t.start()
    if clients:
        ready.wait(60)
    httpx.post(f"{url}/api/jobs/{holder['id']}/stop", timeout=60)
    while True:
        summary = httpx.get(f"{url}/api/jobs/{job['id']}", timeout=60).json()
        if summary["state"] in ("done", "failed", "stopped"):
            break
        time.sleep(0.2)
    for t in threads:
        t.join(120)
    if summary["state"] != "done":
        raise SystemExit(f"the training {summary['state']}: {summary['error']}")
    kind = "metrics" if workload == "playground" else "epoch"
    # The boundary is "newest only": a client gets the pictures its polls catch (about 10 a
    # second), so only the other events must be the same for every client.
    expected = {tuple(sorted((k, v) for k, v in c.items() if k != "boundary")) for c in counts}
    if len(counts) != len(clients) or len(expected) > 1 or any(c.get("end") != 1 for c in counts):
        raise SystemExit(f"a client missed events: {counts}")
    return summary["seconds"], (counts[0].get(kind, 0) if counts else -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workload", choices=("playground", "train"), default="playground")
    parser.add_argument(
        "--epochs", type=int, default=PLAYGROUND["epochs"],
        help="playground epochs (60: about 1 s; more make the figure less noisy)",
    )  # fmt: skip
    args = parser.parse_args()
    PLAYGROUND["epochs"] = args.epochs
    with tempfile.TemporaryDirectory() as runs:
        process, url = start_server(Path(runs))
        try:
            pages = [httpx.Client() for _ in range(args.clients)]  # the open tabs
            one_training(url, args.workload, [], -1)  # warm-up: imports, first allocations
            alone, watched, events = [], [], 0
            cpu: dict[int, list[float]] = {0: [], args.clients: []}
            for round_ in range(args.rounds):
                order = (0, args.clients) if round_ % 2 == 0 else (args.clients, 0)
                for clients in order:
                    before = cpu_seconds(process.pid), time.process_time()
                    seconds, count = one_training(url, args.workload, pages[:clients], round_)
                    after = cpu_seconds(process.pid), time.process_time()
                    cpu[clients].append((after[0] - before[0], after[1] - before[1]))
                    (watched if clients else alone).append(seconds)
                    events = max(events, count)
                print(
                    f"round {round_ + 1}: alone {alone[-1]:.3f} s, {args.clients} clients "
                    f"{watched[-1]:.3f} s ({watched[-1] / alone[-1]:.3f}x)",
                    flush=True,
                )
        finally:
            process.terminate()
            process.wait(30)
    ratio = statistics.median(watched) / statistics.median(alone)
    result = {
        "workload": args.workload,
        "epochs": args.epochs if args.workload == "playground" else TRAIN["epochs"],
        "clients": args.clients,
        "rounds": args.rounds,
        "events_per_client": events,
        "median_alone_s": round(statistics.median(alone), 3),
        "median_watched_s": round(statistics.median(watched), 3),
        "ratio": round(ratio, 3),
        "per_round": [round(w / a, 3) for w, a in zip(watched, alone, strict=True)],
        # CPU seconds of the lab's process per training (the training and the serving) and of
        # the clients' process: what watching costs, whatever else the machine is doing.
        "server_cpu_alone_s": round(statistics.median(c[0] for c in cpu[0]), 3),
        "server_cpu_watched_s": round(statistics.median(c[0] for c in cpu[args.clients]), 3),
        "clients_cpu_s": round(statistics.median(c[1] for c in cpu[args.clients]), 3),
        "target": "<= 1.10",
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
