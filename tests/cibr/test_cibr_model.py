"""open_clip's "initialised randomly" warning is dropped only where we build untrained models."""

from __future__ import annotations

import logging

from cibr_lab.cibr.model import UNTRAINED_MESSAGE, create_model


def test_untrained_tiny_model_logs_no_warning_and_the_filter_is_removed(caplog):
    caplog.set_level(logging.WARNING)
    create_model("cibr-tiny")
    assert not [r for r in caplog.records if UNTRAINED_MESSAGE in r.getMessage()]
    assert not logging.getLogger().filters
    logging.warning(f"{UNTRAINED_MESSAGE} 'other'. Model initialized randomly.")
    assert [r for r in caplog.records if UNTRAINED_MESSAGE in r.getMessage()]
