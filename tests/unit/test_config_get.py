"""`mlrig config get KEY`: one config value for scripts; a wrong key exits 2 naming what exists."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mlrig_cli.app import app
from mlrig_cli.config import config_app

runner = CliRunner()


def test_a_scalar_prints_bare_and_a_table_prints_as_json(config):
    port = runner.invoke(app, ["config", "get", "serving.port"])
    assert port.exit_code == 0 and port.stdout.strip() == str(config.serving.port)
    variants = runner.invoke(config_app, ["get", "serving.variants"])
    assert variants.exit_code == 0 and set(json.loads(variants.stdout)) == set(config.serving.variants)
    models = runner.invoke(config_app, ["get", "models_url"])  # a derived property, not only fields
    assert models.stdout.strip() == config.models_url


def test_an_unknown_key_exits_2_and_lists_the_keys_that_exist():
    result = runner.invoke(config_app, ["get", "serving.prot"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "serving has no 'prot'" in result.stderr and "port" in result.stderr
