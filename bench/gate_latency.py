"""How the gate's latency rule behaves on a loaded machine: wall-clock p99 vs thread-CPU-time p99 of the same
serving scorer, idle and beside busy processes (as on a shared CI runner).

A LightGBM model of the demo's size (200 trees, 31 leaves, 18 features) is compiled into the serving scorer and
timed one row per call, both clocks around the same calls, first alone and then with `2 × cores` processes
spinning at the same priority. Prints one line per condition and the ratio loaded / idle for each clock: the rule
should move with the model, not with the load, so the ratio that stays near 1 is the clock to judge by.

    .venv/bin/python -m bench.gate_latency          # about 20 s
"""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipelines.ml.scorer import compile_pipeline

CALLS = 3000
FEATURES = 18


def _spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def _scorer():
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(FEATURES)]
    frame = pd.DataFrame(rng.normal(size=(5000, FEATURES)), columns=names)
    labels = (frame.sum(axis=1) + rng.normal(size=5000) > 0).astype(int)
    prepare = ColumnTransformer([("numbers", "passthrough", names)], verbose_feature_names_out=False)
    types = FunctionTransformer(lambda f: f, feature_names_out="one-to-one")
    model = LGBMClassifier(n_estimators=200, num_leaves=31, verbose=-1, n_jobs=1)
    pipeline = Pipeline(
        [
            ("types", types.set_output(transform="pandas")),
            ("prepare", prepare.set_output(transform="pandas")),
            ("classify", model),
        ]
    ).fit(frame, labels)
    rows = [{n: [v] for n, v in zip(names, row, strict=True)} for row in frame.to_numpy()[:500]]
    return compile_pipeline(pipeline), rows


def _p99s(scorer, rows) -> tuple[float, float]:
    wall, cpu = [], []
    for i in range(CALLS):
        w, c = time.perf_counter_ns(), time.thread_time_ns()
        scorer.predict(rows[i % len(rows)], 1)
        cpu.append(time.thread_time_ns() - c)
        wall.append(time.perf_counter_ns() - w)
    return float(np.percentile(wall, 99)) / 1e6, float(np.percentile(cpu, 99)) / 1e6


def main() -> None:
    scorer, rows = _scorer()
    _p99s(scorer, rows)  # warm-up
    idle = _p99s(scorer, rows)
    spinners = 2 * (os.cpu_count() or 1)
    stop_at = time.time() + 30
    procs = [multiprocessing.Process(target=_spin, args=(stop_at,)) for _ in range(spinners)]
    for proc in procs:
        proc.start()
    try:
        time.sleep(1)
        loaded = _p99s(scorer, rows)
    finally:
        for proc in procs:
            proc.terminate()
            proc.join()
    print(f"one-row p99 over {CALLS} calls, ms   wall      thread CPU")
    print(f"idle                              {idle[0]:8.3f}  {idle[1]:8.3f}")
    print(f"beside {spinners} spinning processes     {loaded[0]:8.3f}  {loaded[1]:8.3f}")
    print(f"loaded / idle                     {loaded[0] / idle[0]:8.1f}× {loaded[1] / idle[1]:8.1f}×")


if __name__ == "__main__":
    main()
