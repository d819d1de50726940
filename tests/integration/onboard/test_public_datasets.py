"""Public datasets nobody here wrote, exported as three dirty daily drops with contact columns: `mlrig init` →
ingest → refine → features → train → gate → build → a served prediction over HTTP, with no edit to the config.

Then: quarantine and duplicate counts equal the planted dirt, and no planted PII value is anywhere past bronze
(silver, quarantine, gold, lineage, predictions, the model exports, the model store, the Bento, logs, reports),
byte for byte, inside compressed files and tables, or as a plain unkeyed hash.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import ahocorasick
import httpx
import polars as pl
import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import CONFIG_ENV, WORK_DIR_ENV, load_config
from pipelines.data.features import features_table_name
from pipelines.lake import Lake
from pipelines.ml import registry
from pipelines.ml.register import load_model
from service.runner import DEMO_ENV, serving
from tests.byod import public
from tests.byod.drops import SPECS, export_drops
from tests.conftest import TEST_PII_KEY, explain
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"mlrig {' '.join(args)}:\n{explain(result)}"
    return result.output


def _needles(values: set[str]) -> ahocorasick.Automaton:
    """Every planted value as UTF-8 bytes and as md5/sha1/sha256 hex, searched in latin-1 text (byte for byte)."""
    automaton = ahocorasick.Automaton()
    for value in values:
        if len(value) < 6:  # a two-digit day of a date is everywhere; it identifies nobody
            continue
        forms = [value, *(getattr(hashlib, h)(value.encode()).hexdigest() for h in ("md5", "sha1", "sha256"))]
        for form in forms:
            automaton.add_word(form.encode().decode("latin-1"), value)
    automaton.make_automaton()
    return automaton


def _texts(path: Path):
    """The bytes of a file as stored, and of what it holds when it is compressed (tar, gzip) or a table."""
    data = path.read_bytes()
    yield data
    if path.suffix == ".parquet":
        frame = pl.read_parquet(io.BytesIO(data))
        yield "\n".join(str(v) for c in frame.columns for v in frame[c].to_list()).encode()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
        yield data
    if tarfile.is_tarfile(io.BytesIO(data)):
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    yield archive.extractfile(member).read()


def _leaks(roots: list[Path], automaton: ahocorasick.Automaton) -> list[str]:
    found = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            for text in _texts(path):
                for _, value in automaton.iter(text.decode("latin-1")):
                    found.append(f"{path}: {value!r}")
                    break
    return found


def _onboard(exports: Path, spec, tmp_path: Path, monkeypatch, stages: tuple[str, ...]) -> tuple[list[str], object]:
    """`mlrig init` on the exports, then each stage on the config it wrote, unedited: (CLI output, that config)."""
    config_path = tmp_path / f"{spec.name}.toml"
    monkeypatch.setenv(CONFIG_ENV, str(config_path))
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path / "work"))
    monkeypatch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
    logs = [_run("init", "--from", str(exports), "--target", spec.target, "--config", str(config_path))]
    config = load_config()
    shutil.copytree(exports, config.raw_dir)
    logs += [_run(stage) for stage in stages]
    return logs, config


@pytest.mark.parametrize("dataset", list(SPECS))
def test_a_public_dataset_goes_from_init_to_a_served_prediction_without_hand_edits(dataset, tmp_path, monkeypatch):
    spec = SPECS[dataset]
    truth = export_drops(spec, public.load(spec.source), tmp_path / "exports")
    stages = ("ingest", "refine", "features", "train", "gate", "build")
    logs, config = _onboard(tmp_path / "exports", spec, tmp_path, monkeypatch, stages)

    lake = Lake(config.lake_url)
    runs = lake.table("lineage", "runs").read().filter(pl.col("stage") == "refine")
    counts = runs.row(-1, named=True)["counts"] if "counts" in runs.columns else None
    quarantined = lake.table("quarantine", config.contract.dataset).read().height
    silver = lake.table("silver", config.contract.dataset).read().height
    assert quarantined == truth.quarantined_total, (counts, truth.planted)
    assert silver == truth.clean_rows, (silver, truth.clean_rows)
    print(f"{dataset}: {quarantined} quarantined = planted {truth.quarantined}; {truth.duplicates} re-exported rows")

    record = (
        lake.table("gold", features_table_name(config.contract))
        .scan()
        .select(config.contract.feature_names)
        .head(1)
        .collect()
        .row(0, named=True)
    )
    port = free_port()
    log_path = config.work_dir / "logs" / "serve.log"
    with serving(config, port, log_path, env=DEMO_ENV) as url:
        answer = httpx.post(f"{url}/score", json=record, timeout=30)
    assert answer.status_code == 200, answer.text
    served = answer.json()
    threshold = load_model(registry.champion_tag(config))[2]["threshold"]["value"]  # chosen on validation rows
    assert served["prediction"] in config.contract.columns[spec.target].allowed
    positive = served["prediction"] == config.contract.positive_class
    assert positive == (served["probability"] >= threshold), (served, threshold)  # the model's own threshold

    (config.work_dir / "logs" / "cli.log").write_text("\n".join(logs), encoding="utf-8")
    lake_root = Path(config.lake_url)
    places = [p for p in lake_root.iterdir() if p.name != "bronze"]
    places += [config.bentoml_home, config.work_dir / "logs", config.reports_dir]
    leaks = _leaks([p for p in places if p.exists()], _needles(truth.pii_values()))
    assert not leaks, leaks[:5]


def test_a_model_with_no_signal_is_refused_by_the_gate_init_proposed_with_advice(tmp_path, monkeypatch):
    """The lending book with its outcome shuffled across rows: the features say nothing about it any more. The
    gate `init` wrote (lift over chance, bootstrap lower bound) must refuse the model and say what to check."""
    spec = SPECS["lending"]
    table = public.load(spec.source)
    shuffled = table.with_columns(pl.col(spec.target).shuffle(seed=7))
    export_drops(spec, shuffled, tmp_path / "exports")
    _, config = _onboard(tmp_path / "exports", spec, tmp_path, monkeypatch, ("ingest", "refine", "features", "train"))

    result = CliRunner().invoke(app, ["gate"])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "roc_auc lift over trivial, 95% lower bound" in output and "(failed: roc_auc lift" in output
    assert "try: ranking: ROC AUC" in output and "should not serve" in output
    assert registry.champion_tag(config) is None
