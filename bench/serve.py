"""`make bench-serve`: the service against FastAPI on the booster, a bare ASGI app and the model in-process.

One load generator for every HTTP target (Debian's `wrk`, C, one thread: a Python client would compete with
the server for the 2 cores), bounded in time, all on 127.0.0.1, one worker per server. The three servers run
side by side and the cells are interleaved (each round measures every target at every concurrency), so a
neighbour's burst on a shared machine hits all targets alike; a cell's number is the median of its rounds. Then
`/score_batch` with 256-row bodies, a soak of `/score` at c=64 counting errors, and the model in-process.
Prints a markdown table with every ratio and the load average, and writes it to <work_dir>/reports/bench-serve.md
(and .json). Needs a built workspace (`make demo KEEP_SERVING=0`).
Environment: BENCH_DURATION_S (per cell, default 10), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default
"1,32"), BENCH_SOAK_S (default 60), BENCH_BATCH_CONCURRENCY (default "1,2").
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipelines.config import load_config
from pipelines.ml.register import MODEL_FILE, use_bentoml_home
from pipelines.ml.registry import serving_tag
from pipelines.ml.scorer import load_scorer
from service.guard import API_KEYS_ENV
from service.runner import start_background, stop_process, wait_ready

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,32").split(",")]
SOAK_S = int(os.environ.get("BENCH_SOAK_S", "60"))
SOAK_CONCURRENCY = 64
BATCH_CONCURRENCY = [int(c) for c in os.environ.get("BENCH_BATCH_CONCURRENCY", "1,2").split(",")]
BATCH_ROWS = 256
IN_PROCESS_S = 3.0
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
UVICORN_QUIET = ("--no-access-log", "--log-level", "warning")
SERVICE, FASTAPI, CEILING = "(a) this service /score", "(b) FastAPI + booster", "(c) bare ASGI constant"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, body_file: Path, connections: int, api_key: str = "", duration_s: int = DURATION_S) -> dict:
    """One bounded wrk run: req/s, p50/p99 in ms, and every error (non-2xx and socket errors)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            HERE / "score.lua",
            url,
        ],
        env={**os.environ, "BODY_FILE": str(body_file), "API_KEY": api_key},
        capture_output=True,
        text=True,
        check=True,
        timeout=duration_s + 60,
    ).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": errors,
    }


def cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time the server has used so far, its worker processes included."""
    import psutil

    root = psutil.Process(process.pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def measured(process: subprocess.Popen, url: str, body_file: Path, connections: int, api_key: str = "") -> dict:
    """`wrk` plus the server's CPU microseconds per request: on a shared machine the server gets a varying share
    of the cores, so req/s moves with the neighbours while CPU per request stays the server's own cost."""
    before = cpu_seconds(process)
    result = wrk(url, body_file, connections, api_key)
    requests = result["rps"] * DURATION_S
    return {**result, "cpu_us": (cpu_seconds(process) - before) * 1e6 / requests if requests else float("nan")}


def median_cell(runs: list[dict]) -> dict:
    medians = {key: statistics.median(r[key] for r in runs) for key in ("rps", "p50_ms", "p99_ms", "cpu_us")}
    return {**medians, "errors": sum(r["errors"] for r in runs), "rounds": len(runs)}


def wait_port(port: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s}s")


def uvicorn_app(app: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", "1", *UVICORN_QUIET],
            cwd=ROOT,
            env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_port(port, process)
    return process, f"http://127.0.0.1:{port}"


def rate(call, rows: int) -> dict[str, float]:
    """Rows per second of `call()` (wall clock) and its CPU µs per row, best of three runs of IN_PROCESS_S / 3
    each (a burst next door spoils one)."""
    best, cpu_us = 0.0, float("inf")
    for _ in range(3):
        started, cpu_started, n = time.perf_counter(), time.process_time(), 0
        while time.perf_counter() - started < IN_PROCESS_S / 3:
            call()
            n += rows
        best = max(best, n / (time.perf_counter() - started))
        cpu_us = min(cpu_us, (time.process_time() - cpu_started) * 1e6 / n)
    return {"rows_per_s": best, "cpu_us_per_row": cpu_us}


def in_process(scorer, pipeline, records: list[dict], features: list[str]) -> dict[str, dict[str, float]]:
    """The compute floor: the booster on the encoded float matrix (one row, 256 rows), and the training Pipeline."""
    import pandas as pd

    columns = {name: [r[name] for r in records] for name in features}
    matrix = scorer.encode(columns, len(records))
    one, row = matrix[:1].copy(), list(matrix[0])
    frame = pd.DataFrame(records)[features]
    return {
        "booster, one row (Booster.predict)": rate(lambda: scorer.raw_scores(one), 1),
        "booster, one row (fast single-row call)": rate(lambda: scorer.raw_score_row(row), 1),
        f"booster, {BATCH_ROWS} rows": rate(lambda: scorer.raw_scores(matrix), BATCH_ROWS),
        "Pipeline, one row": rate(lambda: pipeline.predict_proba(frame.iloc[:1]), 1),
        f"Pipeline, {BATCH_ROWS} rows": rate(lambda: pipeline.predict_proba(frame), BATCH_ROWS),
    }


def gold_records(config, rows: int) -> list[dict]:
    """Real rows of the gold table the model learned from (features only), repeated up to `rows`."""
    from pipelines.data.features import features_table_name
    from pipelines.lake import Lake

    gold = Lake(config.lake_url).table("gold", features_table_name(config.contract))
    found = gold.scan().select(config.contract.feature_names).head(rows).collect().to_dicts()
    return (found * (rows // len(found) + 1))[:rows]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def measure(config, model_dir: Path, version: str, reports: Path) -> dict:
    records = gold_records(config, BATCH_ROWS)
    one_file, batch_file = reports / "bench-one.json", reports / "bench-batch.json"
    one_file.write_text(json.dumps(records[0]))
    batch_file.write_text(json.dumps({"records": records}))
    key = secrets.token_hex(24)
    log = reports / "bench-bentoml.log"
    service = start_background(config, "127.0.0.1", free_port(), log, env={API_KEYS_ENV: key})
    servers = [service]
    try:
        url = f"http://127.0.0.1:{service.args[service.args.index('--port') + 1]}"
        wait_ready(url, service, log)
        httpx.post(f"{url}/score", json=records[0], headers={"authorization": f"Bearer {key}"}).raise_for_status()
        targets = {SERVICE: (f"{url}/score", key, service)}
        for name, app, env in (
            (
                FASTAPI,
                "bench.baseline_apps:fastapi_app",
                {"MLRIG_MODEL_DIR": str(model_dir), "MLRIG_MODEL_VERSION": version},
            ),
            (CEILING, "bench.baseline_apps:constant_app", {}),
        ):
            process, base = uvicorn_app(app, env, reports / f"bench-{app.rsplit(':', 1)[1]}.log")
            servers.append(process)
            targets[name] = (f"{base}/score", "", process)
        runs: dict[str, dict[int, list]] = {name: {c: [] for c in CONCURRENCY} for name in targets}
        batch_runs: dict[int, list] = {c: [] for c in BATCH_CONCURRENCY}
        load_before = _load()
        for round_ in range(ROUNDS):
            print(f"bench-serve: round {round_ + 1}/{ROUNDS} (load {_load()})", flush=True)
            for c in CONCURRENCY:
                for name, (target, api_key, process) in targets.items():
                    runs[name][c].append(measured(process, target, one_file, c, api_key))
            for c in BATCH_CONCURRENCY:
                batch_runs[c].append(measured(service, f"{url}/score_batch", batch_file, c, key))
        print(f"bench-serve: soak, /score at c={SOAK_CONCURRENCY} for {SOAK_S} s", flush=True)
        soak = wrk(f"{url}/score", one_file, SOAK_CONCURRENCY, key, SOAK_S)
        load_after = _load()
    finally:
        for process in servers:
            stop_process(process)
    return {
        "http": {name: {c: median_cell(r) for c, r in cells.items()} for name, cells in runs.items()},
        "batch": {c: median_cell(r) for c, r in batch_runs.items()},
        "soak": soak,
        "load": {"before": load_before, "after": load_after},
        "records": records,
    }


def report(result: dict, floor: dict[str, float]) -> str:
    http, batch, soak = result["http"], result["batch"], result["soak"]
    top, low = max(CONCURRENCY), min(CONCURRENCY)
    lines = [
        f"wrk -t1, {DURATION_S} s per cell, median of {ROUNDS} interleaved rounds, 127.0.0.1, one worker each, "
        f"OMP_NUM_THREADS=1; load average (1/5/15 min) {result['load']['before']} before, "
        f"{result['load']['after']} after, on {os.cpu_count()} cores\n",
        "| target | " + " | ".join(f"c={c} req/s | p50 ms | p99 ms | CPU µs/req | errors" for c in CONCURRENCY) + " |",
        "|---|" + "---|" * (5 * len(CONCURRENCY)),
    ]
    for name, cells in http.items():
        lines.append(
            f"| {name} | "
            + " | ".join(
                f"{r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.1f} | {r['cpu_us']:.0f} | {r['errors']}"
                for r in cells.values()
            )
            + " |"
        )
    lines.append("")
    for name, value in floor.items():
        lines.append(
            f"- (d) in-process {name}: {value['rows_per_s']:,.0f} rows/s, {value['cpu_us_per_row']:.1f} CPU µs/row"
        )
    ours, fastapi, ceiling = http[SERVICE][top], http[FASTAPI][top], http[CEILING][top]
    batch_floor = floor[f"booster, {BATCH_ROWS} rows"]["rows_per_s"]
    batch_cpu_floor = floor[f"booster, {BATCH_ROWS} rows"]["cpu_us_per_row"]
    checks = [
        (
            f"/score c={top}: {ours['rps'] / fastapi['rps']:.2f}× FastAPI + booster throughput (target ≥ 1.0×), "
            f"{ours['rps'] / ceiling['rps']:.2f}× the bare ASGI ceiling "
            f"(FastAPI: {fastapi['rps'] / ceiling['rps']:.2f}×); server CPU per request {ours['cpu_us']:.0f} µs, "
            f"{ours['cpu_us'] / fastapi['cpu_us']:.2f}× FastAPI's {fastapi['cpu_us']:.0f} µs",
            ours["rps"] >= fastapi["rps"],
        ),
        (
            f"/score c={top}: p99 {ours['p99_ms']:.1f} ms = {ours['p99_ms'] / fastapi['p99_ms']:.2f}× FastAPI's "
            f"{fastapi['p99_ms']:.1f} ms (target ≤ 2×)",
            ours["p99_ms"] <= 2 * fastapi["p99_ms"],
        ),
        (
            f"/score c={low}: p50 {http[SERVICE][low]['p50_ms']:.2f} ms (target ≤ 1 ms)",
            http[SERVICE][low]["p50_ms"] <= 1,
        ),
    ]
    for c, r in batch.items():
        rows = r["rps"] * BATCH_ROWS
        checks.append(
            (
                f"/score_batch {BATCH_ROWS} rows c={c}: {rows:,.0f} rows/s (p99 {r['p99_ms']:.1f} ms, errors "
                f"{r['errors']}) = {rows / batch_floor:.2f}× the in-process booster's batch rate (target ≥ 0.5×); "
                f"CPU per row {r['cpu_us'] / BATCH_ROWS:.1f} µs = {batch_cpu_floor * BATCH_ROWS / r['cpu_us']:.2f}× "
                f"the booster's {batch_cpu_floor:.1f} µs in rate terms",
                rows >= 0.5 * batch_floor,
            )
        )
    checks.append(
        (
            f"soak /score c={SOAK_CONCURRENCY} {SOAK_S} s: {soak['errors']} errors, {soak['rps']:.0f} req/s, "
            f"p99 {soak['p99_ms']:.1f} ms (target 0 errors)",
            soak["errors"] == 0,
        )
    )
    lines.append("")
    lines += [f"- {'met' if ok else 'NOT MET'}: {text}" for text, ok in checks]
    return "\n".join(lines)


def main() -> int:
    if not shutil.which("wrk"):
        print("bench-serve: wrk is not installed; `make bench-serve` installs it (apt-get install -y wrk).")
        return 1
    config = load_config(ROOT / "mlrig.toml")
    use_bentoml_home(config.bentoml_home)
    import bentoml
    import joblib

    stored = bentoml.models.get(serving_tag(config))
    model_dir = Path(stored.path)
    reports = config.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    result = measure(config, model_dir, str(stored.tag), reports)
    scorer = load_scorer(model_dir)
    pipeline = joblib.load(model_dir / MODEL_FILE)
    floor = in_process(scorer, pipeline, result.pop("records"), config.contract.feature_names)
    text = report(result, floor)
    (reports / "bench-serve.md").write_text(text + "\n")
    (reports / "bench-serve.json").write_text(json.dumps({**result, "in_process": floor}, default=float))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
