"""Card plots as base64 PNGs: matplotlib's Figure (not pyplot: no global figure state, no display backend)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable


def png(draw: Callable, width: float = 4.2, height: float = 3.4) -> str:
    # imported here: the tasks are also the service's response models, and the serving image has no matplotlib
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=90)
    draw(figure.subplots())
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
