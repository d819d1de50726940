"""Bench: bronze → gold on N generated rows, the pipeline beside a hand-written single polars query, same run.

`make bench-data` (or `python -m pipelines.data.bench --rows 1000000`) prints wall time and peak RSS of each,
and their ratio. Each side runs in its own child process that reports its own peak RSS (getrusage), so the
parent's generated data never counts. The raw drop is a demo drop tiled with distinct customer ids: the demo
generator builds Python rows (fine for 20k, slow for 1M); tiling keeps its dirt mix at polars speed.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import polars_hash as plh
import typer

from pipelines.config import Contract, load_config
from pipelines.contract import cast_from_text
from pipelines.lake import Lake
from pipelines.tasks import get_task

TILE_ROWS = 50_000
FILES = 4  # one drop per day, like the demo
app = typer.Typer(add_completion=False)


def _make_raw(raw_dir: Path, rows: int, contract: Contract) -> int:
    """Write `rows` raw records (+ planted dirt) as FILES CSV drops; return the rows written."""
    from pipelines.demo import generate_raw_drops

    seed_dir = raw_dir.parent / "seed"
    report = generate_raw_drops(contract, seed_dir, rows=min(rows, TILE_ROWS), days=1, seed=99)
    tile = pl.read_csv(report.files[0], infer_schema=False, truncate_ragged_lines=True)
    copies = -(-rows // TILE_ROWS)
    frame = pl.concat(
        tile.with_columns(pl.col(contract.entity_key) + f"-{k}", pl.lit(k % FILES).alias("_file"))
        for k in range(copies)
    )
    raw_dir.mkdir(parents=True, exist_ok=True)
    for part, drop in frame.partition_by("_file", as_dict=True, include_key=False).items():
        drop.write_csv(raw_dir / f"{contract.dataset}_bench_{part[0]}.csv")
    return frame.height


def _baseline(lake_url: str, pii_key: str, contract: Contract) -> int:
    """The same bronze → gold features by hand, as one lazy polars query: cast, check, dedupe, hash, label."""
    lake = Lake(lake_url)
    typed = (
        lake.table("bronze", contract.dataset).scan().with_columns(cast_from_text(c) for c in contract.columns.values())
    )
    valid = [pl.col(c.name).is_not_null() for c in contract.columns.values() if not c.nullable]
    for c in contract.columns.values():
        if c.min is not None:
            valid.append(pl.col(c.name).ge(c.min) | pl.col(c.name).is_null())
        if c.max is not None:
            valid.append(pl.col(c.name).le(c.max) | pl.col(c.name).is_null())
        if c.allowed:
            valid.append(pl.col(c.name).is_in(list(c.allowed)) | pl.col(c.name).is_null())
    gold = (
        typed.filter(pl.all_horizontal(valid))
        .filter(pl.struct(contract.duplicate_key).is_first_distinct())
        .select(
            plh.col(contract.entity_key).chash.hmac_sha256(key=pii_key).alias(contract.entity_key),
            contract.event_time,
            *contract.feature_names,
            get_task(contract.task).label(contract).alias("label"),
        )
        .collect()
    )
    gold.write_delta(f"{lake_url}/baseline/features", mode="overwrite")
    return gold.height


@app.command("child", hidden=True)
def child(side: str, lake_url: str) -> None:
    """Run one side in this process and print {rows, wall_s, peak_rss_mib} as JSON."""
    key = "bench-only-pii-key-0123456789abcdef"
    contract = load_config().contract
    start = time.perf_counter()
    if side == "pipeline":
        from pipelines.data.features import build_gold
        from pipelines.data.refine import refine

        refine(Lake(lake_url), contract, key)
        rows = build_gold(Lake(lake_url), contract).rows
    else:
        rows = _baseline(lake_url, key, contract)
    wall_s = time.perf_counter() - start
    print(json.dumps({"rows": rows, "wall_s": round(wall_s, 2), "peak_rss_mib": round(_peak_rss_mib())}))


def _peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent
    (here, the one holding 1M generated rows), which would charge the parent's memory to the child."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # macOS reports bytes


def _measure(side: str, lake_url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.data.bench", "child", side, lake_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@app.command()
def main(rows: int = typer.Option(1_000_000, help="Raw records to generate.")) -> None:
    """Generate, ingest, then time bronze → gold: the pipeline and the hand-written baseline."""
    from pipelines.data.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="mlrig-bench-") as tmp:
        work = Path(tmp)
        contract = load_config().contract
        written = _make_raw(work / "raw", rows, contract)
        lake_url = str(work / "lake")
        start = time.perf_counter()
        ingest(work / "raw", Lake(lake_url), contract)
        ingest_s = time.perf_counter() - start
        pipeline, baseline = _measure("pipeline", lake_url), _measure("baseline", lake_url)
    print(f"bench-data: {written} raw rows; ingest (raw → bronze) {ingest_s:.1f} s")
    for name, result in (("pipeline", pipeline), ("baseline", baseline)):
        print(
            f"  {name:9} bronze → gold: {result['wall_s']:6.1f} s, peak RSS {result['peak_rss_mib']:5d} MiB, "
            f"{result['rows']} gold rows"
        )
    print(
        f"  ratio pipeline/baseline: time {pipeline['wall_s'] / baseline['wall_s']:.2f}×, "
        f"peak RSS {pipeline['peak_rss_mib'] / baseline['peak_rss_mib']:.2f}×"
    )


if __name__ == "__main__":
    app()
