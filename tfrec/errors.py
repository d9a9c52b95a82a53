"""Errors that tfrec reports to users, and small argument checks.

Every error a user can cause by their input is a :class:`TfrecError`. Its
message names the bad value and the fix; the CLI prints it on one line without
a traceback and exits non-zero.
"""


class TfrecError(Exception):
    """Base class of the errors caused by user input or environment."""


class DataError(TfrecError):
    """A dataset is missing, malformed or invalid."""


class ConfigError(TfrecError, ValueError):
    """A model, split or command option has an invalid value."""


class MemoryLimitError(ConfigError):
    """A fit would hold an array larger than its memory limit
    (:func:`tfrec.models.memory.check_memory`)."""


class NotSupportedError(TfrecError):
    """The model does not offer the requested operation."""


class ServingError(TfrecError):
    """A model server could not be reached, or refused or failed a request.

    Attributes:
        status: The HTTP status code of the refusal (or the gRPC status name),
            or None when no server answered.
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def check_positive_int(name, value):
    """Returns ``value`` if it is a positive integer, else raises ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | _np_integer()) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def check_non_negative(name, value):
    """Returns ``value`` as float if it is a number >= 0, else raises ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{name} must be a number >= 0; got {value!r}")
    return float(value)


def check_positive(name, value):
    """Returns ``value`` as float if it is a number > 0, else raises ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name} must be a number > 0; got {value!r}")
    return float(value)


def check_choice(name, value, choices):
    """Returns ``value`` if it is one of ``choices``, else raises ConfigError."""
    if value not in choices:
        accepted = ", ".join(str(c) for c in choices)
        raise ConfigError(f"{name} must be one of {accepted}; got {value!r}")
    return value


def _np_integer():
    import numpy as np

    return np.integer
