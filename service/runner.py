"""Runs the packaged service: `bentoml serve` of the latest Bento, in the foreground or left in the background.

Used by `mlrig serve | demo | stop` and by tests. A service that never turns ready is reported with the
tail of its log, and a busy port is named before anything starts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console

from pipelines.config import READINESS_PATH, WORK_DIR_ENV, Config
from pipelines.ml.register import BENTOML_HOME_ENV
from service.guard import AUTH_ENV
from service.prediction_log import CLOSE_TIMEOUT_S

READY_TIMEOUT_S = 120
CLIENT_KEY_ENV = "MLRIG_API_KEY"  # the key `mlrig predict` sends; the server's keys are $MLRIG_API_KEYS
# The demo is the one place authentication is off: a laptop, 127.0.0.1, no keys to hand out.
DEMO_ENV = {AUTH_ENV: "disabled"}
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ServingError(RuntimeError):
    """The service could not start, did not turn ready, or refused a request."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve_command(config: Config, host: str, port: int, target: str | None = None) -> list[str]:
    """`bentoml serve` of `target`: the latest Bento unless told otherwise (tests serve `service.service:Scorer`
    from the project folder to try configs the Bento was not built with)."""
    bentoml_cli = Path(sys.executable).with_name("bentoml")
    return [
        str(bentoml_cli),
        "serve",
        target or f"{config.serving.service_name}:latest",
        "--host",
        host,
        "--port",
        str(port),
    ]


def serve_env(config: Config, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        **(extra or {}),
        BENTOML_HOME_ENV: str(config.bentoml_home),
        # the service runs from the Bento's src/, so it must be told where this project's work folder is,
        # or its lake (prediction log) and demo PII key would land inside the Bento store
        WORK_DIR_ENV: str(config.work_dir),
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }


def _check_port(host: str, port: int) -> None:
    if not port_is_free(host, port):
        raise ServingError(
            f"port {port} on {host} is in use (a service from an earlier demo? `make stop` ends it); "
            "or pick another port with `--port` / `make demo PORT=3001`."
        )


def serve_foreground(config: Config, host: str, port: int) -> int:
    _check_port(host, port)
    return subprocess.call(serve_command(config, host, port), env=serve_env(config))


def start_background(
    config: Config,
    host: str,
    port: int,
    log_path: Path,
    env: dict[str, str] | None = None,
    target: str | None = None,
) -> subprocess.Popen:
    """Start the server detached from this terminal, logging to `log_path`; `env` adds to the environment."""
    _check_port(host, port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            serve_command(config, host, port, target),
            env=serve_env(config, env),
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _log_tail(log_path: Path, lines: int = 25) -> str:
    if not log_path.exists():
        return "(no log)"
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(base_url: str, process: subprocess.Popen, log_path: Path, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServingError(
                f"the service exited with code {process.returncode} before it was ready. "
                f"Last log lines ({log_path}):\n{_log_tail(log_path)}"
            )
        try:
            if httpx.get(f"{base_url}{READINESS_PATH}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServingError(
        f"the service was not ready after {timeout_s:.0f}s. Last log lines ({log_path}):\n{_log_tail(log_path)}"
    )


def stop_process(process: subprocess.Popen, timeout_s: float = CLOSE_TIMEOUT_S + 15) -> None:
    """Stop the server and its workers (its whole process group). The grace period outlasts the prediction
    log's shutdown flush: a kill before it ends loses the last batch of logged predictions."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def serving(
    config: Config,
    port: int,
    log_path: Path,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    target: str | None = None,
) -> Iterator[str]:
    """The service running in the background for the `with` block: its base URL once it is ready; stopped (its
    whole process group) however the block ends, so no server outlives a test or a failed call."""
    process = start_background(config, host, port, log_path, env=env, target=target)
    try:
        wait_ready(f"http://{host}:{port}", process, log_path)
        yield f"http://{host}:{port}"
    finally:
        stop_process(process)


def post_prediction(base_url: str, record: dict) -> dict:
    """POST one record to /score, with the bearer key from $MLRIG_API_KEY when it is set."""
    key = os.environ.get(CLIENT_KEY_ENV)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.post(f"{base_url}/score", json=record, headers=headers, timeout=30)
    except httpx.HTTPError as err:
        raise ServingError(f"no answer from {base_url}: {err}. Is the service running (`mlrig serve`)?") from err
    if response.status_code == 401:
        raise ServingError(f"{base_url}/score wants an API key: set ${CLIENT_KEY_ENV} to one of the service's keys.")
    if response.status_code != 200:
        raise ServingError(f"{base_url}/score answered {response.status_code}: {response.text}")
    return response.json()


def _pid_file(config: Config) -> Path:
    return config.work_dir / "serve.pid"


def stop_background(config: Config) -> str:
    pid_file = _pid_file(config)
    if not pid_file.exists():
        return "no background service recorded; nothing to stop"
    pid = int(pid_file.read_text().split()[0])
    try:
        os.killpg(pid, signal.SIGTERM)
        message = f"stopped the service (process group {pid})"
    except ProcessLookupError:
        message = f"the service (pid {pid}) had already stopped"
    pid_file.unlink()
    return message


def _demo_record(config: Config) -> dict:
    """A real record from the gold table (features only): the demo scores data like what the model learned from."""
    from pipelines.data.features import features_table_name
    from pipelines.lake import Lake

    gold = Lake(config.lake_url).table("gold", features_table_name(config.contract))
    return gold.scan().select(config.contract.feature_names).head(1).collect().row(0, named=True)


def run_demo(
    config: Config, port: int, keep_serving: bool, console: Console, then: Callable[[str], object] | None = None
) -> int:
    """Serve, predict once, run `then(base_url)` (the demo's feedback loop) while the service is up."""
    host = config.serving.host
    base_url = f"http://{host}:{port}"
    log_path = config.work_dir / "logs" / "serve.log"
    try:
        process = start_background(config, host, port, log_path, env=DEMO_ENV)
        try:
            with console.status(f"starting the service on {base_url}"):
                wait_ready(base_url, process, log_path)
            record = _demo_record(config)
            answer = post_prediction(base_url, record)
            console.print(f"POST {base_url}/score\n  {record}\n→ {answer}")
            if then is not None:
                then(base_url)
        except BaseException:
            stop_process(process)
            raise
    except ServingError as err:
        console.print(f"[red]serve failed:[/] {err}")
        return 1
    if keep_serving:
        _pid_file(config).write_text(f"{process.pid} {port}\n")
        console.print(
            f"\nThe service is running at {base_url} (log: {log_path}).\n"
            f"  Score a record:  .venv/bin/mlrig predict --url {base_url}\n"
            f"  API docs:        {base_url}/ (OpenAPI: {base_url}/docs.json)\n"
            f"  Stop it:         make stop"
        )
    else:
        stop_process(process)
        console.print("service stopped (--no-keep-serving)")
    return 0
