"""Smoke and latency check of a deployed service: is it ready, does it score, does it refuse bad input, is it fast.

Run by CD after every `pulumi up` (staging, production) and by the kind end-to-end run through the Service;
a failed check triggers the rollback. Reads only the base URL and `[release]` from the config, so the same
command works against a laptop's `mlrig serve`, a port-forward or a public endpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import httpx

from pipelines.config import Config
from pipelines.contract import example_request
from pipelines.tasks import Task, get_task


@dataclass
class SmokeReport:
    url: str
    requests: int
    failures: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    p99_budget_ms: float = 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def too_slow(self) -> bool:
        return bool(self.latencies_ms) and self.p99_ms > self.p99_budget_ms

    @property
    def passed(self) -> bool:
        return not self.failures and not self.too_slow and len(self.latencies_ms) == self.requests

    def summary(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [
            f"smoke {verdict}: {self.url} — {len(self.latencies_ms)}/{self.requests} scored, "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms (budget {self.p99_budget_ms:.0f} ms)"
        ]
        if self.too_slow:
            lines.append(
                f"  p99 {self.p99_ms:.1f} ms is over the budget of {self.p99_budget_ms:.0f} ms "
                "(release.p99_budget_ms in the project config)"
            )
        lines += [f"  {failure}" for failure in self.failures[:10]]
        if len(self.failures) > 10:
            lines.append(f"  … and {len(self.failures) - 10} more failures")
        return "\n".join(lines)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: the p99 of 50 samples is the slowest one, as it should be)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _bad_request(config: Config) -> dict | None:
    """The example request with its first category set outside the contract: the service must answer 400."""
    category = next((c for c in config.contract.features if c.dtype == "category"), None)
    if category is None:
        return None
    return {**example_request(config.contract), category.name: "not-an-allowed-value"}


def run_smoke(config: Config, url: str, requests: int | None = None, p99_budget_ms: float | None = None) -> SmokeReport:
    settings = config.release
    report = SmokeReport(
        url=url.rstrip("/"),
        requests=requests or settings.smoke_requests,
        p99_budget_ms=p99_budget_ms or settings.p99_budget_ms,
    )
    with httpx.Client(base_url=report.url, timeout=settings.request_timeout_s) as client:
        try:
            ready = client.get("/readyz")
        except httpx.HTTPError as err:
            report.failures.append(f"no answer from {report.url}/readyz: {err}")
            return report
        if ready.status_code != 200:
            report.failures.append(f"/readyz answered {ready.status_code}: the service is not ready")
            return report
        _check_rejects_bad_input(client, config, report)
        body = example_request(config.contract)
        task = get_task(config.contract.task)
        warm_up = SmokeReport(url=report.url, requests=1)
        _score_once(client, body, 0, warm_up, task)  # first-call setup is not latency
        for number in range(1, report.requests + 1):
            _score_once(client, body, number, report, task)
    return report


def _check_rejects_bad_input(client: httpx.Client, config: Config, report: SmokeReport) -> None:
    body = _bad_request(config)
    if body is None:  # a contract without categories has no cheap out-of-contract value to send
        return
    try:
        answer = client.post("/score", json=body)
    except httpx.HTTPError as err:
        report.failures.append(f"contract check: no answer: {err}")
        return
    if answer.status_code != 400:
        report.failures.append(f"contract check: a request outside the contract got {answer.status_code}, not 400")


def _score_once(client: httpx.Client, body: dict, number: int, report: SmokeReport, task: Task) -> None:
    started = time.perf_counter()
    try:
        answer = client.post("/score", json=body)
    except httpx.HTTPError as err:
        report.failures.append(f"request {number}: no answer: {err}")
        return
    elapsed_ms = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        report.failures.append(f"request {number}: /score answered {answer.status_code}: {answer.text[:200]}")
        return
    problem = task.answer_problem(answer.json())  # a probability in [0, 1], or a finite number
    if problem:
        report.failures.append(f"request {number}: {problem}")
        return
    report.latencies_ms.append(elapsed_ms)
