"""Cyclic time features of a Unix timestamp, computed in TensorFlow.

    [sin, cos](2 pi * seconds_of_day / 86400), [sin, cos](2 pi * day_of_year / 365.25)

Computed inside the model from the raw ``timestamp`` input, so a serving
client sends the timestamp itself.
"""

from __future__ import annotations

import math

import tensorflow as tf

_DAY = 86_400.0
_YEAR = 365.25 * _DAY


def cyclic_time(timestamp):
    """(batch, 4) float32 features of an int64 (batch,) timestamp tensor."""
    seconds = tf.cast(timestamp, tf.float64)
    day = tf.math.floormod(seconds, _DAY) / _DAY * 2.0 * math.pi
    year = tf.math.floormod(seconds, _YEAR) / _YEAR * 2.0 * math.pi
    features = tf.stack([tf.sin(day), tf.cos(day), tf.sin(year), tf.cos(year)], axis=-1)
    return tf.cast(features, tf.float32)
