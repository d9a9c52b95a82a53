"""Keras' warnings that tell a tfrec user nothing to act on stay out of a fit's output."""

import logging
import time

import pytest

from tfrec.models import get_model
from tfrec.models.training.keras_fit import Throughput


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("dcn", {"task": "ranking"}),  # the ranking models' fit (early stopping on NDCG@10)
        ("dnn", {}),  # the rating models' fit
    ],
)
def test_no_slow_callback_warning(name, options, small_split, monkeypatch, caplog):
    """Keras times the callbacks of the first batches and calls them slow when
    they outlast the batch (a busy host); the fit drops that warning."""
    step = Throughput.on_train_batch_end

    def slow(self, batch, logs=None):
        time.sleep(0.05)  # longer than a batch of 32 examples
        step(self, batch, logs)

    monkeypatch.setattr(Throughput, "on_train_batch_end", slow)
    small = {"epochs": 1, "embedding_dim": 8, "hidden_units": (8,), "batch_size": 32}
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        get_model(name, **small, **options).fit(small_split)
    assert "slow compared to the batch time" not in caplog.text
