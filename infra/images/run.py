"""Runs the images: the serving container on 127.0.0.1 (start, wait for readiness, smoke-test, stop) and one
pipeline stage in the pipeline container on a mounted work folder.

A busy port is named before anything starts; a container that exits or never turns ready is reported with its
last log lines, and is removed either way.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
from docker.models.containers import Container

from infra.images.build import LABEL_MODEL
from infra.images.errors import ImageError
from service.runner import port_is_free

SERVING_PORT = 3000  # where the image's `bentoml serve` listens inside the container
READY_TIMEOUT_S = 120
LOG_LINES = 25


@dataclass(frozen=True)
class SmokeResult:
    url: str
    answer: dict
    expected_probability: float
    seconds_to_ready: float


def logs_tail(container: Container, lines: int = LOG_LINES) -> str:
    try:
        return container.logs(tail=lines).decode(errors="replace").rstrip() or "(no output)"
    except docker.errors.APIError as err:
        return f"(logs unavailable: {err})"


# The service requires API keys (serving.auth); these are the variables it reads them from.
AUTH_ENV = ("MLRIG_API_KEYS", "MLRIG_API_KEYS_FILE", "MLRIG_SERVING_AUTH")


def start_serving(
    client: docker.DockerClient,
    image: str,
    port: int,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Container:
    """Start `image` with its port 3000 on 127.0.0.1:`port` (never on every interface). The service's key
    settings are passed through from this environment unless `env` names them."""
    if not port_is_free("127.0.0.1", port):
        raise ImageError(f"port {port} on 127.0.0.1 is in use: stop what holds it or pick another with --port")
    environment = {name: os.environ[name] for name in AUTH_ENV if name in os.environ} | (env or {})
    try:
        return client.containers.run(
            image,
            command=command,
            detach=True,
            environment=environment,
            ports={f"{SERVING_PORT}/tcp": ("127.0.0.1", port)},
        )
    except docker.errors.ImageNotFound as err:
        raise ImageError(f"no image {image} in the engine: build it first (`mlrig image build serving`)") from err


def wait_ready(container: Container, url: str, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Seconds until /readyz answered 200; ImageError with the container's last logs if it exits or times out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        container.reload()
        if container.status in ("exited", "dead"):
            code = container.attrs.get("State", {}).get("ExitCode")
            raise ImageError(
                f"container {container.short_id} exited with code {code} before it was ready. "
                f"Last log lines:\n{logs_tail(container)}"
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ImageError(
        f"container {container.short_id} was not ready at {url}/readyz after {timeout_s:.0f}s. "
        f"Last log lines:\n{logs_tail(container)}"
    )


def stop(container: Container) -> None:
    try:
        container.stop(timeout=5)
    finally:
        container.remove(force=True)


def expected_answer(model_tag: str, record: dict) -> tuple[str, float]:
    """The same record scored by the model in this process, from the host's model store: (the answer's field that
    holds the model's number, that number): a binary model's probability, a regressor's prediction."""
    import bentoml
    import joblib
    import pandas as pd

    from pipelines.ml.register import MODEL_FILE
    from pipelines.tasks import get_task

    stored = bentoml.models.get(model_tag)
    task = get_task(stored.info.metadata.get("task", "binary"))  # a model from before tasks was binary
    model = joblib.load(stored.path_of(MODEL_FILE))
    return task.score_column, float(task.predict(model, pd.DataFrame([record]))[0])


def expected_probability(model_tag: str, record: dict) -> float:
    """The model's number for `record` in this process (a probability for a binary model)."""
    return expected_answer(model_tag, record)[1]


def smoke(
    client: docker.DockerClient, image: str, port: int, record: dict, timeout_s: float = READY_TIMEOUT_S
) -> SmokeResult:
    """Serve `image`, score `record` over HTTP, check the answer equals the in-process model's, stop."""
    model_tag = client.images.get(image).labels.get(LABEL_MODEL, "")
    if not model_tag or "," in model_tag:
        raise ImageError(f"{image} has no single model in its {LABEL_MODEL} label ({model_tag!r}): not a serving image")
    key = secrets.token_urlsafe(24)  # a throwaway key: the smoke goes through the real authentication path
    container = start_serving(client, image, port, env={"MLRIG_API_KEYS": key})
    url = f"http://127.0.0.1:{port}"
    try:
        seconds = wait_ready(container, url, timeout_s)
        response = httpx.post(f"{url}/score", json=record, headers={"authorization": f"Bearer {key}"}, timeout=30)
        if response.status_code != 200:
            raise ImageError(f"{url}/score answered {response.status_code}: {response.text}")
        answer = response.json()
    finally:
        stop(container)
    field, expected = expected_answer(model_tag, record)
    served = answer.get(field)
    if (
        answer.get("model_version") != model_tag
        or not isinstance(served, int | float)
        or not math.isclose(served, expected, rel_tol=1e-9, abs_tol=1e-9)
    ):
        raise ImageError(f"{image} answered {answer}, but {model_tag} in this process gives {field} {expected}")
    return SmokeResult(url, answer, expected, seconds)


def run_stage(client: docker.DockerClient, image: str, stage: list[str], work_dir: Path, env: dict[str, str]) -> str:
    """Run `mlrig <stage>` in the pipeline image with `work_dir` mounted as its /work; returns its output."""
    container = client.containers.run(
        image,
        command=stage,
        detach=True,
        environment=env,
        volumes={str(work_dir.resolve()): {"bind": "/work", "mode": "rw"}},
    )
    try:
        code = container.wait(timeout=600).get("StatusCode")
        output = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    if code != 0:
        tail = "\n".join(output.rstrip().splitlines()[-LOG_LINES:])
        raise ImageError(f"`mlrig {' '.join(stage)}` in {image} exited with code {code}. Last log lines:\n{tail}")
    return output
