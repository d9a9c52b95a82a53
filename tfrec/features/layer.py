"""One feature layer: raw typed features in, one dense vector per row out.

Every feature-aware model builds its feature inputs from :class:`FeatureEncoder`,
so the SavedModels take the **raw** values (strings or numbers as in the
data, see :mod:`tfrec.data.feature_schema`) and a missing or unseen value never
fails. Each feature becomes, with Keras preprocessing layers adapted on the
training split:

* ``category``: ``StringLookup`` (missing and unseen values share the
  out-of-vocabulary row) -> an embedding of ``4 + 1.6 n^0.56`` dimensions
  (at most ``MAX_EMBEDDING``; ``n`` values seen in training);
* ``multi``: the values split at ``|``, ``StringLookup`` multi-hot -> a
  projection, divided by the number of values (their mean embedding);
* ``numeric``: ``[z, missing, one-hot of its quantile bin]``: the value
  standardised on training and clipped to ``±Z_LIMIT`` (missing -> 0; a
  column constant in training -> 0), a missing flag,
  and ``Discretization`` into ``BINS`` quantile bins, so that a model can
  learn effects that are not linear (age bands);
* ``text``: ``TextVectorization`` TF-IDF over the ``MAX_TOKENS`` most
  frequent training words -> a projection;
* ``context_time``: ``[sin, cos]`` of the hour of day and of the weekday of
  an int64 ``timestamp`` (missing: negative -> zeros).

The layer's output is the concatenation, (batch, :attr:`FeatureEncoder.width`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras as keras

from tfrec.data.feature_schema import MULTI_SEP, Feature
from tfrec.features.raw import TIME_KEY

BINS = 8  # quantile bins of a numeric feature
Z_LIMIT = 5.0  # a numeric feature's z-score is clipped to [-Z_LIMIT, Z_LIMIT]
MAX_EMBEDDING = 32  # largest embedding of a category
PROJECTION = 16  # width of a multi or text feature's projection
MAX_TOKENS = 5_000  # vocabulary of a text feature
_DAY, _WEEK = 86_400, 7 * 86_400


def embedding_size(n_values: int) -> int:
    """Embedding width of a category with ``n_values`` training values (fast.ai's rule)."""
    return int(min(MAX_EMBEDDING, 4 + round(1.6 * max(n_values, 1) ** 0.56)))


def input_specs(features, time: bool = False) -> dict[str, tf.TensorSpec]:
    """The SavedModel input signature of ``features``: one (batch,) tensor each."""
    specs = {
        f.key: tf.TensorSpec([None], tf.float32 if f.type == "numeric" else tf.string, f.key)
        for f in features
    }
    if time:
        specs[TIME_KEY] = tf.TensorSpec([None], tf.int64, TIME_KEY)
    return specs


def hour_and_weekday(timestamp):
    """(batch, 4) ``[sin, cos]`` of the hour of day and of the weekday; zeros where
    ``timestamp`` < 0 (unknown)."""
    seconds = tf.cast(timestamp, tf.float64)
    day = tf.math.floormod(seconds, _DAY) / _DAY * 2.0 * math.pi
    week = tf.math.floormod(seconds, _WEEK) / _WEEK * 2.0 * math.pi
    cyclic = tf.stack([tf.sin(day), tf.cos(day), tf.sin(week), tf.cos(week)], axis=-1)
    known = tf.cast(timestamp >= 0, tf.float64)[:, None]
    return tf.cast(cyclic * known, tf.float32)


class FeatureEncoder(keras.layers.Layer):
    """Raw typed features -> (batch, ``width``) float32, adapted on training values.

    Build it with :meth:`adapt`; call it on ``{feature.key: (batch,) tensor}``
    (plus ``"timestamp"`` with ``time``).

    Args:
        features: The :class:`~tfrec.data.feature_schema.Feature` list it encodes.
        time: Whether it encodes ``context_time`` from a ``timestamp`` input.
        name: Layer name (one encoder per source: ``user_features``, ...).
        seed: Seed of the embeddings' and projections' initializers.
    """

    def __init__(self, features, time: bool = False, name: str = "features", seed: int = 0):
        super().__init__(name=name)
        self.features, self.time, self.seed = tuple(features), time, seed
        self.parts: dict = {}
        self.width = 4 if time else 0

    @classmethod
    def adapt(cls, features, values: dict, *, time=False, name="features", seed=0):
        """An encoder of ``features`` adapted on training ``values`` (:func:`raw_values`)."""
        encoder = cls(features, time, name, seed)
        for i, feature in enumerate(encoder.features):
            encoder.parts[feature.key] = encoder._part(feature, values[feature.key], seed + i)
        return encoder

    def _part(self, feature: Feature, values: np.ndarray, seed: int) -> dict:
        init = keras.initializers.TruncatedNormal(0.0, 0.05, seed=seed)
        if feature.type == "numeric":
            known = values[~np.isnan(values)].astype(np.float64)
            mean = float(known.mean()) if len(known) else 0.0
            # A constant training column says nothing: scale 0, whatever a request sends.
            scale = 1.0 / float(known.std()) if len(known) > 1 and known.std() > 0 else 0.0
            edges = (
                np.unique(np.quantile(known, np.linspace(0, 1, BINS + 1)[1:-1]))
                if len(known)
                else np.array([0.0])
            )
            bins = keras.layers.Discretization(bin_boundaries=edges.tolist())
            self.width += 2 + len(edges) + 1
            return {"mean": mean, "scale": scale, "bins": bins, "n_bins": len(edges) + 1}
        if feature.type == "text":
            texts = values[values != ""]
            vectorize = keras.layers.TextVectorization(max_tokens=MAX_TOKENS, output_mode="tf_idf")
            vectorize.adapt(texts if len(texts) else np.array(["none"]))
            project = keras.layers.Dense(PROJECTION, use_bias=False, kernel_initializer=init)
            self.width += PROJECTION
            return {"lookup": vectorize, "project": project}
        if feature.type == "multi":
            tokens = pd.Series(values).str.split(MULTI_SEP, regex=False).explode()
            vocabulary = sorted(set(tokens.dropna()) - {""})
            lookup = keras.layers.StringLookup(
                vocabulary=vocabulary or ["<none>"], output_mode="multi_hot"
            )
            project = keras.layers.Dense(PROJECTION, use_bias=False, kernel_initializer=init)
            self.width += PROJECTION
            return {"lookup": lookup, "project": project}
        vocabulary = sorted(set(values.tolist()) - {""})
        lookup = keras.layers.StringLookup(vocabulary=vocabulary or ["<none>"])
        size = embedding_size(len(vocabulary))
        embed = keras.layers.Embedding(len(vocabulary) + 1, size, embeddings_initializer=init)
        self.width += size
        return {"lookup": lookup, "embed": embed}

    def call(self, inputs: dict):
        outputs = []
        for feature in self.features:
            part, value = self.parts[feature.key], inputs[feature.key]
            if feature.type == "numeric":
                value = tf.cast(value, tf.float32)
                missing = tf.math.is_nan(value)
                filled = tf.where(missing, part["mean"], value)
                z = tf.clip_by_value((filled - part["mean"]) * part["scale"], -Z_LIMIT, Z_LIMIT)
                one_hot = tf.one_hot(part["bins"](filled), part["n_bins"])
                one_hot *= 1.0 - tf.cast(missing, tf.float32)[:, None]
                outputs += [z[:, None], tf.cast(missing, tf.float32)[:, None], one_hot]
            elif feature.type == "text":
                outputs.append(part["project"](part["lookup"](value)))
            elif feature.type == "multi":
                tokens = tf.strings.split(value, MULTI_SEP)
                tokens = tf.ragged.boolean_mask(tokens, tokens != "")
                hot = part["lookup"](tokens)
                count = tf.maximum(tf.reduce_sum(hot, axis=1, keepdims=True), 1.0)
                outputs.append(part["project"](hot) / count)
            else:
                outputs.append(part["embed"](part["lookup"](value)))
        if self.time:
            outputs.append(hour_and_weekday(inputs[TIME_KEY]))
        return tf.concat(outputs, axis=-1)
