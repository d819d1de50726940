"""`make bench-serve`: the service against a hand-written FastAPI app, a bare ASGI app and the raw model.

One load generator for every HTTP variant (Debian's `wrk`, C, one thread: a Python client would compete with
the server for the 2 cores), bounded in time, all on 127.0.0.1, one after another in one run. Prints a markdown
table and writes it to <work_dir>/reports/bench-serve.md. Needs a built workspace (`make demo KEEP_SERVING=0`).
Environment: BENCH_DURATION_S (per measurement, default 10), BENCH_CONCURRENCY (default "1,8,32").
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd

from pipelines.config import load_config
from pipelines.ml.register import MODEL_FILE, use_bentoml_home
from pipelines.ml.registry import serving_tag
from service.guard import API_KEYS_ENV
from service.runner import _demo_record, start_background, stop_process, wait_ready

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DURATION_S = int(os.environ.get("BENCH_DURATION_S", "10"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,8,32").split(",")]
BATCH_ROWS = 1000
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, body_file: Path, connections: int, api_key: str = "") -> dict:
    """One bounded wrk run: req/s, p50/p99 in ms, and every error (non-2xx and socket errors)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{DURATION_S}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(HERE / "score.lua"),
            url,
        ],
        env={**os.environ, "BODY_FILE": str(body_file), "API_KEY": api_key},
        capture_output=True,
        text=True,
        check=True,
        timeout=DURATION_S + 60,
    ).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "errors": errors,
    }


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
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_port(port, process)
    return process, f"http://127.0.0.1:{port}"


def in_process(model, records: list[dict], features: list[str]) -> dict[str, float]:
    """The compute floor: rows/s of the model called directly, one row at a time and in batches."""
    one = pd.DataFrame(records[:1])[features]
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < 3:
        model.predict_proba(one)
        n += 1
    rates = {"one row": n / (time.perf_counter() - started)}
    for size in (256, BATCH_ROWS):
        frame = pd.DataFrame((records * (size // len(records) + 1))[:size])[features]
        started, n = time.perf_counter(), 0
        while time.perf_counter() - started < 3:
            model.predict_proba(frame)
            n += size
        rates[f"batches of {size}"] = n / (time.perf_counter() - started)
    return rates


def main() -> int:
    if not shutil.which("wrk"):
        print("bench-serve: wrk is not installed; `make bench-serve` installs it (apt-get install -y wrk).")
        return 1
    config = load_config(ROOT / "mlrig.toml")
    use_bentoml_home(config.bentoml_home)
    import bentoml
    import joblib

    model_path = bentoml.models.get(serving_tag(config)).path_of(MODEL_FILE)
    model = joblib.load(model_path)
    record = _demo_record(config)
    reports = config.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    one_file, batch_file = reports / "bench-one.json", reports / "bench-batch.json"
    one_file.write_text(json.dumps(record))
    batch_file.write_text(json.dumps({"records": [record] * BATCH_ROWS}))

    results: dict[str, dict[int, dict]] = {}
    key = secrets.token_hex(24)
    log = reports / "bench-bentoml.log"
    process = start_background(config, "127.0.0.1", free_port(), log, env={API_KEYS_ENV: key})
    url = f"http://127.0.0.1:{process.args[process.args.index('--port') + 1]}"
    try:
        wait_ready(url, process, log)
        httpx.post(f"{url}/score", json=record, headers={"authorization": f"Bearer {key}"}).raise_for_status()
        results["(a) this service (/score)"] = {c: wrk(f"{url}/score", one_file, c, key) for c in CONCURRENCY}
        batch = {c: wrk(f"{url}/score_batch", batch_file, c, key) for c in (1, 2)}
    finally:
        stop_process(process)
    for name, app, env in (
        ("(b) FastAPI + uvicorn", "bench.baseline_apps:fastapi_app", {"MLRIG_MODEL_PATH": model_path}),
        ("(c) bare ASGI constant", "bench.baseline_apps:constant_app", {}),
    ):
        process, url = uvicorn_app(app, env, reports / f"bench-{app.rsplit(':', 1)[1]}.log")
        try:
            results[name] = {c: wrk(f"{url}/score", one_file, c) for c in CONCURRENCY}
        finally:
            stop_process(process)
    floor = in_process(model, [record], config.contract.feature_names)

    lines = [
        f"wrk -t1, {DURATION_S} s per cell, 127.0.0.1, one worker each, OMP_NUM_THREADS=1\n",
        "| variant | " + " | ".join(f"c={c} req/s | p50 ms | p99 ms | errors" for c in CONCURRENCY) + " |",
        "|---|" + "---|" * (4 * len(CONCURRENCY)),
    ]
    for name, cells in results.items():
        lines.append(
            f"| {name} | "
            + " | ".join(
                f"{r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']}" for r in cells.values()
            )
            + " |"
        )
    lines.append("")
    for name, rate in floor.items():
        lines.append(f"- (d) raw model in-process, {name}: {rate:,.0f} rows/s")
    for c, r in batch.items():
        rows = r["rps"] * BATCH_ROWS
        lines.append(
            f"- /score_batch, {BATCH_ROWS}-row requests, c={c}: {rows:,.0f} rows/s "
            f"(p99 {r['p99_ms']:.0f} ms, errors {r['errors']}) = "
            f"{rows / floor[f'batches of {BATCH_ROWS}']:.2f}× the in-process batched floor"
        )
    top = max(CONCURRENCY)
    ours, fastapi = results["(a) this service (/score)"][top], results["(b) FastAPI + uvicorn"][top]
    lines.append(
        f"- c={top}: this service / FastAPI = {ours['rps'] / fastapi['rps']:.2f}× throughput, "
        f"p99 {ours['p99_ms']:.0f} ms vs {fastapi['p99_ms']:.0f} ms (target ≥ 1.3×, p99 no worse, 0 errors)"
    )
    report = "\n".join(lines)
    (reports / "bench-serve.md").write_text(report + "\n")
    (reports / "bench-serve.json").write_text(json.dumps({"http": results, "batch": batch, "in_process": floor}))
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
