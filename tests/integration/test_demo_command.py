"""`mlrig demo`'s last step and `mlrig stop`: serve in the background, predict, stop — on the built workspace."""

from __future__ import annotations

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from mlrig_cli.app import app
from service.runner import port_is_free, run_demo
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def test_demo_leaves_a_working_service_that_stop_ends(built_workspace, config):
    port = free_port()
    console = Console(record=True, width=200)
    assert run_demo(config, port, keep_serving=True, console=console) == 0
    output = console.export_text()
    assert "'probability'" in output and "make stop" in output
    assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200

    result = CliRunner().invoke(app, ["stop"])
    assert result.exit_code == 0 and "stopped the service" in result.output
    for _ in range(100):
        if port_is_free("127.0.0.1", port):
            break
        import time

        time.sleep(0.2)
    assert port_is_free("127.0.0.1", port)


def test_demo_refuses_a_busy_port_by_name(built_workspace, config):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        console = Console(record=True, width=200)
        assert run_demo(config, port, keep_serving=False, console=console) == 1
    assert f"port {port}" in console.export_text()
