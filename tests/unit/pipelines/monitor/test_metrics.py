from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import polars as pl
from prometheus_client.parser import text_string_to_metric_families

from pipelines.config import MonitoringSettings
from pipelines.monitor.drift import detect_drift
from pipelines.monitor.metrics import PUSHGATEWAY_ENV, drift_registry, publish
from pipelines.monitor.trigger import decide


def _drift(contract, sampler):
    window = sampler(2000, 2).with_columns(pl.col("support_calls_90d") * 4)
    drift = detect_drift(sampler(2000, 1), window, contract, MonitoringSettings())
    return drift, decide(drift, None, MonitoringSettings(), None)


def test_textfile_carries_each_feature_statistic_and_the_verdict(contract, sampler, tmp_path, monkeypatch):
    monkeypatch.delenv(PUSHGATEWAY_ENV, raising=False)
    drift, decision = _drift(contract, sampler)
    path = tmp_path / "drift.prom"
    assert publish(drift_registry(drift, decision, "churn"), path) is None
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }
    assert samples[("mlrig_feature_drifted", (("feature", "support_calls_90d"), ("model", "churn")))] == 1
    assert samples[("mlrig_feature_drifted", (("feature", "plan"), ("model", "churn")))] == 0
    assert samples[("mlrig_retrain_needed", (("model", "churn"),))] == 1
    psi = samples[
        ("mlrig_drift_statistic", (("feature", "support_calls_90d"), ("model", "churn"), ("statistic", "psi")))
    ]
    assert psi == next(f.statistics["psi"] for f in drift.features if f.feature == "support_calls_90d")


def test_push_reaches_a_gateway(contract, sampler, tmp_path, monkeypatch):
    received: list[bytes] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self):  # the http.server API
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    monkeypatch.setenv(PUSHGATEWAY_ENV, f"http://127.0.0.1:{server.server_port}")
    drift, decision = _drift(contract, sampler)
    publish(drift_registry(drift, decision, "churn"), tmp_path / "drift.prom")
    thread.join(10)
    server.server_close()
    assert b"mlrig_retrain_needed" in received[0]
