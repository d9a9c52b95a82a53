"""Keras' ``verbose`` for each place a fit prints to."""

import io
import types

import pytest

from tfrec.models.training import keras_fit


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _options(verbose, strategy=None):
    return types.SimpleNamespace(verbose=verbose, strategy=strategy)


@pytest.mark.parametrize(
    ("terminal", "parameter_server", "expected"),
    [
        (True, False, 1),  # the progress bar
        (False, False, 2),  # a line per epoch in a log file
        (True, True, 2),  # parameter-server refuses the progress bar, even on a terminal
    ],
)
def test_keras_verbosity(monkeypatch, terminal, parameter_server, expected):
    monkeypatch.setattr(keras_fit.sys, "stdout", _Terminal() if terminal else io.StringIO())
    monkeypatch.setattr(keras_fit, "is_parameter_server", lambda strategy: parameter_server)
    assert keras_fit.keras_verbosity(_options(True)) == expected


def test_keras_verbosity_quiet_unless_verbose(monkeypatch):
    monkeypatch.setattr(keras_fit.sys, "stdout", _Terminal())
    assert keras_fit.keras_verbosity(_options(False)) == 0
