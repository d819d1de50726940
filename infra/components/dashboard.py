"""GrafanaDashboard: a dashboard as a ConfigMap that Grafana's dashboard sidecar picks up by its label.

The kube-prometheus-stack and the Grafana Helm chart both watch for `grafana_dashboard: "1"`; the dashboard
JSON lives in the repository (infra/dashboards/), so it is reviewed and versioned like code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

SIDECAR_LABEL = {"grafana_dashboard": "1"}
# The service's dashboard, found from this package (not from a program's own path, which may be a copy).
MLRIG_DASHBOARD = Path(__file__).resolve().parents[1] / "dashboards" / "mlrig.json"


@dataclass(frozen=True, kw_only=True)
class GrafanaDashboardArgs:
    namespace: pulumi.Input[str]
    dashboard_json: str

    def __post_init__(self) -> None:
        try:
            model = json.loads(self.dashboard_json)
        except json.JSONDecodeError as err:
            raise ValueError(f"GrafanaDashboardArgs.dashboard_json is not JSON: {err}") from err
        if not model.get("uid") or not model.get("panels"):
            raise ValueError("GrafanaDashboardArgs.dashboard_json needs a `uid` and `panels`")


class GrafanaDashboard(pulumi.ComponentResource):
    config_map: k8s.core.v1.ConfigMap

    def __init__(self, name: str, args: GrafanaDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlrig:monitoring:GrafanaDashboard", name, None, opts)
        uid = json.loads(args.dashboard_json)["uid"]
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata={
                "name": f"{name}-dashboard",
                "namespace": args.namespace,
                "labels": {**SIDECAR_LABEL, "app.kubernetes.io/part-of": "mlrig"},
            },
            data={f"{uid}.json": args.dashboard_json},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"config_map": self.config_map.metadata.apply(lambda m: m.name)})
