"""The request context in a ranker's input: what a pair's interaction came with.

A log's context features (columns of ``Dataset.ratings``: device, country of
the request...) and ``context_time`` (the hour of day and weekday of the
timestamp) describe each interaction, not its user or item. A ranker reads
them as raw inputs, one (batch,) tensor per feature key
(:func:`~tfrec.features.layer.input_specs`), and turns them into

    e_X(x) = [k_x · enc(x) | 1 - k_x]

with ``enc`` a :class:`~tfrec.features.layer.FeatureEncoder` adapted on the
training interactions and k_x = 1 when the request brought any context value
(0 when every value is missing). In training a share ``dropout`` of the rows
is taken as bringing none, so that a request without context (evaluation, a
plain ``recommend``) is one the network has seen: its input is then exactly
``[0 | 1]``. A training pair's negatives take its context: the context of the
moment the user chose the positive over them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfrec.features.layer import FeatureEncoder, input_specs
from tfrec.features.raw import TIME_KEY, missing_values, raw_values

ADAPT_ROWS = 100_000  # training interactions the encoder is adapted on (a seeded sample)
_SEED_OFFSET = 303  # the encoder's seed, apart from the network's and the user and item ones


class ContextTerm(keras.layers.Layer):
    """``[k_x · enc(x) | 1 - k_x]`` of raw context inputs (see the module docstring).

    Args:
        encoder: The adapted :class:`~tfrec.features.layer.FeatureEncoder`.
        dropout: Probability that a training row is taken as bringing no context.
        seed: Seed of the dropout draws.
        group: Rows that share one draw, consecutive in a batch (a positive and
            its negatives under a listwise loss: one request).
    """

    def __init__(self, encoder: FeatureEncoder, dropout: float, seed: int, group: int = 1):
        super().__init__(name="context_term")
        self.encoder, self.dropout, self.seed, self.group = encoder, dropout, seed, group

    def call(self, inputs: dict, training=False):
        known = tf.cast(brought(inputs, self.encoder), tf.float32)
        if training and self.dropout:
            draw = tf.random.uniform(tf.shape(known)[:1] // self.group, seed=self.seed)
            known *= tf.cast(tf.repeat(draw, self.group) >= self.dropout, tf.float32)
        return tf.concat([self.encoder(inputs) * known[:, None], (1.0 - known)[:, None]], -1)


def brought(inputs: dict, encoder: FeatureEncoder):
    """(batch,) bool: the rows with at least one context value (not missing)."""
    flags = []
    for feature in encoder.features:
        value = inputs[feature.key]
        if feature.type == "numeric":
            flags.append(~tf.math.is_nan(tf.cast(value, tf.float32)))
        else:
            flags.append(value != "")
    if encoder.time:
        flags.append(inputs[TIME_KEY] >= 0)
    return tf.reduce_any(tf.stack(flags, axis=1), axis=1)


class RequestContext:
    """The context features a ranker reads, their training values and their encoder.

    Args:
        features: The context :class:`~tfrec.data.feature_schema.Feature` list.
        time: Whether ``context_time`` is read (a ``timestamp`` input).
        adapt_values: The raw values the encoder is adapted on (:meth:`from_split`
            samples them from the training interactions; saved with the model).
    """

    def __init__(self, features, time: bool, adapt_values: dict):
        self.features, self.time, self.adapt_values = tuple(features), bool(time), adapt_values

    @classmethod
    def from_split(cls, split, seed: int) -> RequestContext | None:
        """The split's context, or None when its dataset has none."""
        schema = split.dataset.features
        if not (schema.of("context") or schema.context_time):
            return None
        values = raw_values(schema.of("context"), split.train, time=schema.context_time)
        n = len(split.train)
        rows = np.arange(n)
        if n > ADAPT_ROWS:
            rows = np.sort(np.random.default_rng(seed).choice(n, ADAPT_ROWS, replace=False))
        adapt = {key: value[rows] for key, value in values.items()}
        return cls(schema.of("context"), schema.context_time, adapt)

    def values(self, frame) -> dict:
        """Raw values of each row of ``frame`` (a ratings frame): strings as
        ``object`` arrays ("" missing), numbers float32 (NaN missing)."""
        return raw_values(self.features, frame, time=self.time)

    def missing(self, n: int) -> dict:
        """``n`` rows that bring no context."""
        return missing_values(self.features, n, self.time)

    def specs(self) -> dict[str, tf.TensorSpec]:
        """The raw inputs' signature (``context_device``, ``timestamp``...)."""
        return input_specs(self.features, self.time)

    def term(self, dropout: float, seed: int, group: int = 1) -> tuple[dict, tf.Tensor]:
        """The Keras inputs and the :class:`ContextTerm` tensor of a functional model
        (``group``: see :class:`ContextTerm`)."""
        inputs = {
            key: keras.Input((), dtype=spec.dtype, name=key) for key, spec in self.specs().items()
        }
        encoder = FeatureEncoder.adapt(
            self.features,
            self.adapt_values,
            time=self.time,
            name="context_encoder",
            seed=seed + _SEED_OFFSET,
        )
        return inputs, ContextTerm(encoder, dropout, seed + _SEED_OFFSET, group)(inputs)

    def filled(self, values: dict, n: int) -> dict:
        """A request's ``values`` (:meth:`Recommender._request_features`), the
        features it lacks as missing."""
        missing = self.missing(n)
        return {key: values.get(key, missing[key]) for key in missing}

    # ---- persistence ------------------------------------------------------------------------

    def arrays(self) -> dict:
        """What :meth:`from_arrays` restores (the schema travels in ``feature_schema``)."""
        return {
            f"context_adapt_{key}": (value.astype(str) if value.dtype == object else value)
            for key, value in self.adapt_values.items()
        }

    @classmethod
    def from_arrays(cls, schema, arrays: dict) -> RequestContext | None:
        """The context a model saved with :meth:`arrays`, or None (none read)."""
        if not (schema.of("context") or schema.context_time):
            return None
        features = schema.of("context")
        adapt = {}
        for key in input_specs(features, schema.context_time):
            value = arrays[f"context_adapt_{key}"]
            adapt[key] = value.astype(object) if value.dtype.kind == "U" else value
        return cls(features, schema.context_time, adapt)
