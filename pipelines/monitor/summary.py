"""A monitoring run as console lines: the drift table, the A/B verdict, the retrain decision, where the files are.

Shared by `mlrig monitor | retrain` and the demo's feedback loop, so both say the same thing the same way.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pipelines.console import console
from pipelines.monitor.run import MonitorResult


def print_result(result: MonitorResult, out: Console = console) -> None:
    table = Table(title="monitor: drift against the training reference", title_justify="left")
    for header in ("feature", "PSI", "KS / JS", "drifted"):
        table.add_column(header)
    for f in result.drift.features:
        second = f.statistics.get("ks", f.statistics.get("js", 0.0))
        table.add_row(f.feature, f"{f.statistics['psi']:.3f}", f"{second:.3f}", "DRIFT" if f.drifted else "")
    out.print(table)
    if result.performance is not None and result.performance.height:
        latest = result.performance.row(-1, named=True)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in latest.items() if isinstance(v, float))
        out.print(f"monitor: late outcomes, latest window: {shown} ({latest.get('outcomes', 0)} outcomes)")
    if result.residual_ks is not None:
        out.print(f"monitor: residual drift: KS {result.residual_ks:.3f} against the model's test residuals")
    if result.verdict is not None:
        out.print(f"A/B verdict: {result.verdict.sentence()}")
    decision = "; ".join(result.decision.reasons) if result.decision.retrain else "no drift, no performance breach"
    out.print(f"monitor: {'RETRAIN — ' if result.decision.retrain else ''}{decision}")
    out.print(
        f"monitor: drift report {result.report}\nmonitor: dashboard    {result.dashboard}\n"
        f"monitor: metrics      {result.metrics}"
    )
