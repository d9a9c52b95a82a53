"""The user and item features of the rating models, read inside the network.

``dnn`` and ``hybrid`` read a dataset's typed user features (columns of
``Dataset.users``) and item features (extra columns of ``Dataset.items``;
:mod:`tfrec.data.feature_schema`). Each source gets one
:class:`~tfrec.features.layer.FeatureEncoder`, adapted on the training split
(the rows of the training users, of the training items), and a
:class:`FeatureRows` layer holding the raw values of every row the model
indexes as constant tables: called on the ``user`` (or ``item``) index input
it gathers that row's raw values and encodes them. The tf.data pipeline
stays (user, item) pairs, and the SavedModel's ``predict`` and
``recommend`` read the stored features without new inputs.

Save and load: the raw tables and the number of rows the encoders were
adapted on are arrays of the saved model (:func:`feature_arrays`); loading
adapts the encoders again on the same rows (the adaptation is deterministic:
sorted vocabularies, quantiles, TF-IDF over the same texts), so the rebuilt
network has the same preprocessing layers and takes the saved weights.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfrec.data.feature_schema import FeatureSchema
from tfrec.features.layer import FeatureEncoder
from tfrec.features.raw import raw_values, values_of

SOURCES = ("user", "item")
_ID_COLUMNS = {"user": "user_id", "item": "item_id"}
_SEED_OFFSETS = {"user": 101, "item": 202}  # the encoders' seeds, apart from the network's


class FeatureRows(keras.layers.Layer):
    """``encoder(table[rows])``: one source's encoded features of the rows a model indexes.

    Args:
        encoder: An adapted :class:`~tfrec.features.layer.FeatureEncoder`.
        table: Raw values of every row, ``{feature key: array}`` (strings or float32).
        name: Layer name (``user_features`` or ``item_features``).
    """

    def __init__(self, encoder: FeatureEncoder, table: dict, name: str):
        super().__init__(name=name)
        self.encoder = encoder
        self.table = {key: tf.constant(_tensor_values(value)) for key, value in table.items()}

    @property
    def non_trainable_weights(self):
        # Variables only: a lookup's vocabulary handler is state ``adapt`` rebuilds,
        # which the weight copies (early stopping, ``set_weights``, HDF5) cannot hold.
        return [w for w in super().non_trainable_weights if isinstance(w, tf.Variable)]

    def call(self, rows):
        return self.encoder({key: tf.gather(value, rows) for key, value in self.table.items()})


def read_features(dataset, data) -> tuple[FeatureSchema, dict[str, dict]]:
    """The user and item features ``dataset`` has, over the training rows.

    Args:
        dataset: The split's :class:`~tfrec.data.schema.Dataset`.
        data: The training :class:`~tfrec.models.base.Interactions`.

    Returns:
        The schema of the features read (user and item only; no context) and
        ``{"user" | "item": {feature key: raw values}}``, one row per training
        user (``data.user_ids`` order) or item; missing values for users the
        users table lacks.
    """
    schema, tables = dataset.features, {}
    if schema.of("user") and dataset.users is not None:
        tables["user"] = values_of(schema.of("user"), dataset.users, "user_id", data.user_ids)
    if schema.of("item"):
        tables["item"] = values_of(schema.of("item"), dataset.items, "item_id", data.item_ids)
    read = tuple(f for f in schema.features if f.source in tables)
    return FeatureSchema(read), tables


def new_item_values(schema: FeatureSchema, items) -> dict | None:
    """The item-feature rows of new items (an items frame), or None without item features."""
    if not schema.of("item"):
        return None
    return raw_values(schema.of("item"), items.reset_index(drop=True))


def feature_layers(schema, tables, adapt_rows, seed, item_table=None) -> dict[str, FeatureRows]:
    """``{"user" | "item": FeatureRows}``, encoders adapted on the first ``adapt_rows``.

    Args:
        schema: The features read (:func:`read_features`).
        tables: Their raw tables.
        adapt_rows: ``{source: n}``: the training rows heading each table.
        seed: The model's seed.
        item_table: The item table to index instead of ``tables["item"]``
            (the catalogue plus new items), or None.
    """
    layers = {}
    for source, table in tables.items():
        adapt = {key: value[: adapt_rows[source]] for key, value in table.items()}
        encoder = FeatureEncoder.adapt(
            schema.of(source),
            adapt,
            name=f"{source}_feature_encoder",
            seed=seed + _SEED_OFFSETS[source],
        )
        rows = item_table if source == "item" and item_table is not None else table
        layers[source] = FeatureRows(encoder, rows, f"{source}_features")
    return layers


def describe(schema: FeatureSchema) -> str:
    """``"user: country (category), age (numeric); item: brand (category)"``."""
    parts = []
    for source in SOURCES:
        if schema.of(source):
            names = ", ".join(f"{f.name} ({f.type})" for f in schema.of(source))
            parts.append(f"{source}: {names}")
    return "; ".join(parts)


# ---- persistence ---------------------------------------------------------------------------


def feature_arrays(schema: FeatureSchema, tables: dict, adapt_rows: dict) -> dict:
    """What :func:`load_feature_arrays` restores, as arrays for ``np.savez`` (no pickles)."""
    arrays = {"feature_schema": np.asarray(json.dumps(schema.to_dict()))}
    for source, table in tables.items():
        arrays[f"feature_rows_{source}"] = np.int64(adapt_rows[source])
        for key, value in table.items():
            arrays[f"feature_table_{key}"] = _tensor_values(value)
    return arrays


def load_feature_arrays(arrays: dict) -> tuple[FeatureSchema, dict, dict]:
    """The schema, raw tables and adapted row counts :func:`feature_arrays` stored
    (an empty schema for models saved before features)."""
    if "feature_schema" not in arrays:
        return FeatureSchema(), {}, {}
    schema = FeatureSchema.from_dict(json.loads(str(arrays["feature_schema"])))
    tables, adapt_rows = {}, {}
    for source in SOURCES:
        if not schema.of(source):
            continue
        adapt_rows[source] = int(arrays[f"feature_rows_{source}"])
        tables[source] = {
            f.key: _raw_values(arrays[f"feature_table_{f.key}"], f.type) for f in schema.of(source)
        }
    return schema, tables, adapt_rows


def _tensor_values(values: np.ndarray) -> np.ndarray:
    """Strings as a numpy unicode array (for TensorFlow and ``np.savez``), numbers as they are."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype == object else values


def _raw_values(values: np.ndarray, kind: str) -> np.ndarray:
    """A stored column back in the raw convention (object strings or float32)."""
    return values.astype(np.float32) if kind == "numeric" else values.astype(object)
