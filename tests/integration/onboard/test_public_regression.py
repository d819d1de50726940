"""A public regression table nobody here wrote (ggplot2's diamonds: the price each stone sold for), exported as
three dirty daily drops with buyer contact columns: `mlrig init` proposes a regression, and ingest → refine →
features → train → tune → gate → card → build → a served price over HTTP from the real service → late outcomes
→ a monitoring report with RMSE on them and residual drift, with no edit to the config.

Then the outcomes come back inflated by a third (prices moved after training): monitoring must see RMSE rise and
the residuals drift away from the test residuals, and ask for a retrain.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import CONFIG_ENV, WORK_DIR_ENV, load_config
from pipelines.lake import Lake
from pipelines.ml import registry
from pipelines.ml.register import load_model, use_bentoml_home
from pipelines.monitor.run import monitor
from pipelines.pii import pii_key, pseudonymize_value
from service.runner import DEMO_ENV, serving
from tests.byod import public
from tests.byod.drops import REGRESSION_SPECS, export_drops
from tests.conftest import TEST_PII_KEY, explain
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

ROWS = 8_000  # of 53,940 stones: a shop's year of sales, and a test that trains in seconds
SERVED = 300  # /score requests, each for one sold stone (≥ monitoring.min_window_rows)
INFLATION = 1.35  # the late outcomes of the second round: prices rose after training


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"mlrig {' '.join(args)}:\n{explain(result)}"
    return result.output


def _sold_stones(config, exports, spec, key: str) -> pl.DataFrame:
    """Stones as the shop knows them (raw sale id) joined to their clean silver rows (typed features, true price):
    the requests to send and the outcomes that come back later."""
    raw = pl.concat([pl.read_csv(p, infer_schema=False) for p in sorted(exports.glob("*.csv"))], how="vertical")
    raw = raw.select(spec.key).unique().drop_nulls()
    raw = raw.with_columns(
        pl.col(spec.key).map_elements(lambda v: pseudonymize_value(v, key), return_dtype=pl.String).alias("_hashed")
    )
    silver = Lake(config.lake_url).table("silver", config.contract.dataset).read()
    joined = raw.join(silver, left_on="_hashed", right_on=config.contract.entity_key, how="inner")
    return joined.sample(n=SERVED, seed=5, shuffle=True)


def test_a_public_regression_table_goes_from_init_to_a_served_price_and_a_monitoring_report(tmp_path, monkeypatch):
    spec = REGRESSION_SPECS["diamonds"]
    table = public.load(spec.source).sample(n=ROWS, seed=3)
    truth = export_drops(spec, table, tmp_path / "exports")
    config_path = tmp_path / f"{spec.name}.toml"
    monkeypatch.setenv(CONFIG_ENV, str(config_path))
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path / "work"))
    monkeypatch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)

    proposed = _run("init", "--from", str(tmp_path / "exports"), "--target", spec.target, "--config", str(config_path))
    config = load_config()
    assert config.contract.task == "regression" and config.contract.positive_class is None, proposed
    assert config.contract.columns["price"].dtype in ("int", "float")
    assert config.contract.entity_key == spec.key  # sale ids: requests and outcomes join on them
    shutil.copytree(tmp_path / "exports", config.raw_dir)
    for stage in ("ingest", "refine", "features", "train"):
        _run(stage)
    _run("tune", "--trials", "3")
    _run("train", "--tuned")
    gate = _run("gate")
    assert "gate PASSED" in gate and "rmse lift over" in gate, gate
    card = _run("card")
    _run("build")

    lake = Lake(config.lake_url)
    assert lake.table("quarantine", config.contract.dataset).read().height == truth.quarantined_total
    champion = registry.champion_tag(config)
    use_bentoml_home(config.bentoml_home)
    _, pipeline, metadata = load_model(champion)
    assert metadata["task"] == "regression" and "threshold" not in metadata
    rules = {rule["name"]: rule for rule in metadata["gate"]["rules"]}
    assert rules["rmse lift over trivial, 95% lower bound"]["passed"], rules
    metrics = metadata["metrics"]
    assert metrics["r2"] > 0.8, metrics  # carat, cut, colour and clarity price a diamond well
    assert metrics["rmse"] < np.std(table["price"].cast(pl.Float64).to_numpy()) / 2
    html = next(config.reports_dir.glob(f"{champion.replace(':', '-')}.html")).read_text(encoding="utf-8")
    # the binary plots' figures must be absent (by their alt text: a bare "ROC" also turns up inside base64 PNG data)
    assert 'alt="Predicted vs actual"' in html and 'alt="Residuals"' in html and 'alt="ROC"' not in html, card

    stones = _sold_stones(config, tmp_path / "exports", spec, pii_key(config.work_dir)[0])
    features = config.contract.feature_names
    port = free_port()
    log_path = config.work_dir / "logs" / "serve.log"
    answers = []
    with serving(config, port, log_path, env=DEMO_ENV) as url, httpx.Client(base_url=url, timeout=30) as client:
        for stone in stones.iter_rows(named=True):
            record = {name: stone[name] for name in features}
            answer = client.post("/score", json=record, headers={"X-Request-Key": stone[spec.key]})
            assert answer.status_code == 200, answer.text
            answers.append(answer.json())
    served = np.array([a["prediction"] for a in answers])
    assert all(set(a) == {"prediction", "model_version", "variant"} for a in answers)
    assert {a["model_version"] for a in answers} == {champion}
    expected = pipeline.predict(stones.select(features).to_pandas())
    assert np.allclose(served, expected, rtol=1e-9), "the served price is the model's own"

    prices = stones["price"].cast(pl.Float64).to_numpy()
    labels = tmp_path / "outcomes.csv"
    stones.select(spec.key, "price").write_csv(labels)
    _run("outcomes", "--from", str(labels))
    result = monitor(config, champion)
    assert result.outcomes == SERVED
    window = result.performance.row(-1, named=True)
    assert window["rmse"] == pytest.approx(math.sqrt(np.mean((prices - served) ** 2)), rel=1e-9)
    assert window["mae"] == pytest.approx(np.mean(np.abs(prices - served)), rel=1e-9)
    assert result.residual_ks is not None and not any("RMSE" in r for r in result.decision.reasons)
    report = result.report.read_text(encoding="utf-8")
    assert "Residual drift" in report and "rmse" in report
    printed = " ".join(_run("monitor").split())
    assert "residual drift: KS" in printed and "rmse" in printed, printed

    # the other world: the same sales' outcomes came back a third higher (a fresh labels table, not a second
    # label per sale: which of two labels for one key the join keeps is not what this test is about)
    shutil.rmtree(Path(lake.table("monitoring", f"{config.contract.dataset}_labels").uri))
    stones.select(spec.key, (pl.col("price").cast(pl.Float64) * INFLATION).alias("price")).write_csv(labels)
    _run("outcomes", "--from", str(labels))
    inflated = monitor(config, champion)
    reasons = " ".join(inflated.decision.reasons)
    assert inflated.decision.retrain and "RMSE" in reasons and "residual drift" in reasons, reasons
    assert inflated.residual_ks > result.residual_ks
