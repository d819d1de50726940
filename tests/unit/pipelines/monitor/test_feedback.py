"""The feedback demo's planted price rise moves the column the config names, never one written in the code."""

from __future__ import annotations

import pytest

from pipelines.monitor.feedback import FeedbackError, price_column


def test_the_price_rise_moves_the_configured_value_column(config):
    assert price_column(config) == config.business.value_column


@pytest.mark.parametrize("value_column", [None, "country", "no_such_column"])
def test_without_a_numeric_value_column_the_demo_says_which_setting_to_add(config, value_column):
    other = config.model_copy(update={"business": config.business.model_copy(update={"value_column": value_column})})
    with pytest.raises(FeedbackError, match=r"\[business\] value_column"):
        price_column(other)
