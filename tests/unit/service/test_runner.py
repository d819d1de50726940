from __future__ import annotations

from pipelines.config import WORK_DIR_ENV, load_config
from service.runner import serve_env
from tests.conftest import PROJECT_ROOT


def test_the_served_process_is_told_this_projects_work_folder(monkeypatch):
    """`bentoml serve` runs from the Bento's src/: without this its lake and PII key land inside the Bento."""
    monkeypatch.delenv(WORK_DIR_ENV, raising=False)
    config = load_config(PROJECT_ROOT / "mlrig.toml")
    env = serve_env(config)
    assert env[WORK_DIR_ENV] == str(config.work_dir) == str(PROJECT_ROOT / ".mlrig")
    assert env["BENTOML_HOME"] == str(config.bentoml_home)
