"""The ML sections of mlrig.toml: a typo in a slice column fails at load, a gate metric the task does not have fails
when the task is asked for (every stage and the CLI's config loading do), naming the key."""

from __future__ import annotations

import re

import pytest

from pipelines.config import ConfigError
from pipelines.config import load_config as load_only
from pipelines.tasks import task_of
from tests.conftest import PROJECT_ROOT


def _config_with(tmp_path, key: str, value: str):
    text = (PROJECT_ROOT / "mlrig.toml").read_text(encoding="utf-8")
    text, found = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert found == 1
    path = tmp_path / "mlrig.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_config(path):
    config = load_only(path)
    task_of(config)
    return config


def test_project_config_has_gate_and_tuning_sections(config):
    assert config.gate.min_metrics and config.gate.max_p99_row_ms > 0
    assert config.tuning.search_space and config.model.slices


def test_slice_that_is_not_a_category_column_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"model.slices: 'tenure_months'"):
        load_config(_config_with(tmp_path, "slices", '["tenure_months"]'))


def test_unknown_gate_metric_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"gate.max_regression: unknown metric\(s\) \['auc'\]"):
        load_config(_config_with(tmp_path, "max_regression", "{ auc = 0.01 }"))


def test_a_lift_needs_a_trivial_baseline_and_confidences_name_lifted_metrics(tmp_path):
    with pytest.raises(ConfigError, match=r"gate.min_lift: \['recall'\] has no trivial baseline"):
        load_config(_config_with(tmp_path, "max_regression", "{ roc_auc = 0.01 }\nmin_lift = { recall = 0.0 }"))
    stray = "{ roc_auc = 0.01 }\nmin_lift = { roc_auc = 0.0 }\nlift_confidence = { f1 = 0.5 }"
    with pytest.raises(ConfigError, match=r"gate.lift_confidence: \['f1'\]"):
        load_config(_config_with(tmp_path, "max_regression", stray))
    loaded = load_config(_config_with(tmp_path, "max_regression", "{}\nmin_lift = { roc_auc = 0.0, f1 = 0.0 }"))
    assert loaded.gate.lift_confidences() == {"roc_auc": 0.95, "f1": 0.95}


def test_a_floor_on_a_lower_is_better_metric_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"gate.min_metrics: \['log_loss'\] is lower-is-better; .*max_metrics"):
        load_config(_config_with(tmp_path, "min_metrics", "{ log_loss = 0.5 }"))
    assert load_config(_config_with(tmp_path, "min_metrics", "{ roc_auc = 0.5 }\nmax_metrics = { log_loss = 0.5 }"))
