"""A failing build names the step that failed and shows its output."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.images.base import ensure_base_image
from infra.images.build import build_image
from infra.images.errors import ImageError
from pipelines.config import Config

pytestmark = pytest.mark.integration


def test_a_failing_step_is_named_with_its_output(engine, config: Config, tmp_path: Path):
    ensure_base_image(engine, config.images)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {config.images.base_image}\nRUN echo preparing\nRUN echo 'no such wheel: lightgbm' && exit 3\n"
    )
    with pytest.raises(ImageError) as failure:
        build_image(engine, tmp_path, "mlrig-broken:itest", labels={}, buildargs={})
    message = str(failure.value)
    assert "building mlrig-broken:itest failed at" in message
    assert "RUN echo 'no such wheel: lightgbm' && exit 3" in message.splitlines()[0]
    assert "no such wheel: lightgbm" in message.split("last build output:")[1]
