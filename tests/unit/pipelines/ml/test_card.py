"""The model card: one self-contained HTML file with the numbers, plots, verdict and lineage."""

from __future__ import annotations

import base64
import re

from pipelines.ml.card import write_card
from pipelines.ml.register import load_model, register
from pipelines.ml.train import train


def test_card_is_self_contained_and_carries_metrics_lineage_and_slices(ml_lake, config):
    tag = register(train(ml_lake, config), config)
    path = write_card(config, tag)
    html = path.read_text(encoding="utf-8")
    _, _, metadata = load_model(tag)
    assert path.parent == config.reports_dir and tag.split(":")[1] in path.name
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 5 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert 'src="http' not in html and "<script" not in html  # nothing fetched when opened offline
    assert f"{metadata['metrics']['roc_auc']:.4f}" in html
    assert metadata["contract_hash"] in html and metadata["code_version"] in html
    assert all(f"by {column}" in html for column in config.model.slices)
    assert "Not gated yet" in html
