from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import load_config
from pipelines.onboard.infer import InferenceError, infer_contract
from pipelines.onboard.sniff import SniffError, read_sample
from tests.conftest import explain
from tests.onboard_datasets import write_loans_csv, write_transactions_ndjson_drops, write_transactions_parquet


def _init(config: Path, source: Path, target: str, *extra: str):
    return CliRunner().invoke(app, ["init", "--from", str(source), "--target", target, "--config", str(config), *extra])


def test_semicolon_cp1252_csv_becomes_a_valid_contract(tmp_path):
    path = write_loans_csv(tmp_path / "drops")
    sample = read_sample([path])
    assert (sample.delimiter, sample.format) == (";", "csv")
    assert sample.encoding == "cp1252"
    assert "voyage d'été" in sample.frame["purpose"].to_list()
    assert any("Núñez" in name for name in sample.frame["applicant"].to_list())

    result = _init(tmp_path / "mlrig.toml", path, "defaulted")
    assert result.exit_code == 0, explain(result)
    contract = load_config(tmp_path / "mlrig.toml").contract
    assert contract.positive_class == "1"
    assert contract.entity_key == "application_id"
    assert contract.columns["account_iban"].pii == "drop"
    assert contract.columns["applicant"].pii == "drop"
    assert contract.columns["application_id"].pii == "pseudonymize"
    assert contract.columns["employment_years"].nullable
    assert contract.columns["purpose"].allowed and "voyage d'été" in contract.columns["purpose"].allowed
    assert {"annual_income", "loan_amount", "term_months", "purpose"} <= set(contract.feature_names)


def test_parquet_with_boolean_text_target_and_card_and_ip_pii(tmp_path):
    path = write_transactions_parquet(tmp_path / "drops")
    result = _init(tmp_path / "mlrig.toml", path, "is_fraud")
    assert result.exit_code == 0, explain(result)
    config = load_config(tmp_path / "mlrig.toml")
    contract = config.contract
    assert contract.positive_class == "true"
    assert contract.columns["card"].pii == "drop"
    assert contract.columns["client_ip"].pii == "drop"
    assert contract.event_time == "booked_at"
    assert contract.columns["amount_eur"].dtype == "float"
    assert "merchant_category" in contract.feature_names
    assert config.model.name  # the rest of the config is kept from the template


def test_folder_of_ndjson_drops_is_read_as_one_sample(tmp_path):
    paths = write_transactions_ndjson_drops(tmp_path / "drops")
    sample = read_sample([tmp_path / "drops"])
    assert sample.format == "ndjson"
    assert sample.files == paths
    assert sample.frame.height == 1500


def test_rerun_reports_changes_and_keeps_the_existing_contract(tmp_path):
    config = tmp_path / "mlrig.toml"
    path = write_loans_csv(tmp_path / "drops")
    assert _init(config, path, "defaulted").exit_code == 0
    before = config.read_text()
    widened = tmp_path / "more"
    widened.mkdir()
    text = path.read_bytes().decode("cp1252").replace(";car;", ";boat;", 40)
    (widened / "loans_2026-11-02.csv").write_bytes(text.encode("cp1252"))
    result = _init(config, widened, "defaulted")
    assert result.exit_code == 0, explain(result)
    assert "new values ['boat']" in result.output
    assert config.read_text() == before
    assert (tmp_path / "mlrig.proposed.toml").exists()
    assert _init(config, widened, "defaulted", "--write").exit_code == 0
    assert "boat" in load_config(config).contract.columns["purpose"].allowed


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        ("a,b\n", "b", "no rows"),
        ("", "b", "empty"),
        ("a,b\n1,x\n2,x\n", "b", "1 class"),
        ("a,b\n1,x\n2,y\n", "missing", "not in the sample"),
    ],
)
def test_bad_samples_get_a_clear_message(tmp_path, content, target, message):
    path = tmp_path / "sample.csv"
    path.write_text(content)
    result = _init(tmp_path / "mlrig.toml", path, target)
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "mlrig.toml").exists()


def test_unparseable_file_is_named(tmp_path):
    path = tmp_path / "blob.parquet"
    path.write_bytes(b"\x00\x01not parquet at all")
    with pytest.raises(SniffError, match=r"blob\.parquet"):
        read_sample([path])


def test_three_class_target_is_refused_with_a_way_out():
    import polars as pl

    with pytest.raises(InferenceError, match="binary"):
        infer_contract(pl.DataFrame({"x": ["1", "2", "3"], "y": ["a", "b", "c"]}), "y", "t")


def test_a_numeric_target_with_many_values_is_proposed_as_a_regression(tmp_path):
    """The loan book's amount as the target: a quantity, not two classes. The config init writes loads, names the
    task, has no positive class, and gates on the regression task's metrics."""
    from pipelines.tasks import task_of

    path = write_loans_csv(tmp_path / "drops")
    result = _init(tmp_path / "mlrig.toml", path, "loan_amount")
    assert result.exit_code == 0, explain(result)
    config = load_config(tmp_path / "mlrig.toml")
    assert config.contract.task == "regression" and config.contract.positive_class is None
    assert config.contract.columns["loan_amount"].role == "target"
    assert config.model.name.endswith("-regressor")
    assert set(config.gate.min_lift) == {"rmse", "mae"} and config.gate.max_regression == {"r2": 0.01}
    assert task_of(config).name == "regression"  # every gate rule names one of its metrics


def test_a_zero_one_target_stays_binary_and_task_can_be_forced():
    import polars as pl

    from pipelines.onboard.infer import propose_task

    assert propose_task(pl.Series(["0", "1", "1", "0"] * 10))[0] == "binary"
    assert propose_task(pl.Series([str(v) for v in range(40)]))[0] == "regression"
    frame = pl.DataFrame({"x": [str(v % 7) for v in range(60)], "y": [str(v) for v in range(60)]})
    assert infer_contract(frame, "y", "t").task == "regression"
    with pytest.raises(InferenceError, match="positive class"):
        infer_contract(frame, "y", "t", positive_class="3", task="regression")
