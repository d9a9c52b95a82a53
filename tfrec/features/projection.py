"""One source's features as a term of a tower: ``W · encoder(raw values)``.

A tower adds :class:`FeatureProjection` terms to its ID embeddings: the user
features and the request context to the query, the item features to the
candidate. The projection has no bias, and with ``dropout`` p a training row
drops the whole term with probability p, so that a request without the
features (a ``recommend`` call that sends no context) is a row the tower has
seen: its term is 0.

:func:`projection_module` holds the fitted projections as functions of raw
values, to save as a SavedModel and load back (:func:`load_module`), so that a
saved tfrec model scores new users and items without its training graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfrec.features.layer import FeatureEncoder, input_specs


class FeatureProjection(keras.layers.Layer):
    """``W · encoder(raw)`` for one source (user, item or context).

    Args:
        encoder: An adapted :class:`~tfrec.features.layer.FeatureEncoder`.
        dim: Output size (the towers' embedding size).
        table: Raw values of every row the tower indexes (users, items or
            sequence positions), ``{feature key: array}``, or None.
        dropout: Probability that a training row drops the term.
        seed: Seed of ``W``'s initializer.
    """

    def __init__(self, encoder: FeatureEncoder, dim: int, table=None, dropout=0.0, seed=0):
        super().__init__(name=f"{encoder.name}_projection")
        self.encoder, self.dropout = encoder, dropout
        self.project = keras.layers.Dense(
            dim,
            use_bias=False,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            name=f"{encoder.name}_weights",
        )
        self.table = None
        if table is not None:
            self.table = {key: tf.constant(_tensor_values(value)) for key, value in table.items()}

    def call(self, inputs: dict, training=False):
        out = self.project(self.encoder(inputs))
        if training and self.dropout:
            keep = tf.random.uniform(tf.shape(out)[:1]) >= self.dropout
            out *= tf.cast(keep, out.dtype)[:, None]
        return out

    def rows(self, rows, training=False):
        """The term of rows of ``table``."""
        return self({key: tf.gather(value, rows) for key, value in self.table.items()}, training)

    def specs(self) -> dict[str, tf.TensorSpec]:
        """Its raw inputs' signature."""
        return input_specs(self.encoder.features, self.encoder.time)


def _tensor_values(values: np.ndarray) -> np.ndarray:
    return values.astype(str) if values.dtype == object else values


def projection_module(projections: dict, module: tf.Module | None = None) -> tf.Module:
    """A ``tf.Module`` with one function of raw inputs per ``{name: FeatureProjection}``,
    to save with ``tf.saved_model.save`` and restore with ``tf.saved_model.load``
    (the restored module has the same functions); added to ``module`` when given."""
    module = module if module is not None else tf.Module()
    for name, projection in projections.items():
        setattr(module, f"{name}_layer", projection)
        setattr(module, name, _raw_function(projection))
    return module


def _raw_function(projection: FeatureProjection):
    """``projection`` as a tf.function of its raw inputs."""
    return tf.function(lambda inputs: projection(inputs), input_signature=[projection.specs()])


def load_module(path) -> tf.Module:
    """The module :func:`projection_module` made, saved at ``path``."""
    return tf.saved_model.load(str(Path(path)))


def project(function, values: dict, specs: dict) -> np.ndarray:
    """A projection (live or loaded) applied to raw numpy ``values``, as numpy."""
    inputs = {
        key: tf.constant(_tensor_values(np.asarray(values[key])), spec.dtype)
        for key, spec in specs.items()
    }
    return function(inputs).numpy()
