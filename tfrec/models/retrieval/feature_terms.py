"""The feature terms of the retrieval towers, built from a dataset's typed features.

:func:`feature_terms` adapts one :class:`~tfrec.features.layer.FeatureEncoder`
per source on the training split and wraps it in a
:class:`~tfrec.features.projection.FeatureProjection` over the rows the
towers index: the user features over the training users, the item features
over the training items, the context (and ``context_time``) over the
training interactions in sequence order.
"""

from __future__ import annotations

import pandas as pd

from tfrec.features.layer import FeatureEncoder
from tfrec.features.projection import FeatureProjection
from tfrec.features.raw import raw_values, values_of

SOURCES = ("user", "context", "item")


def feature_terms(dataset, train: pd.DataFrame, data, sequences, *, dim, dropout, seed) -> dict:
    """``{"user" | "context" | "item": FeatureProjection}`` for the features ``dataset`` has.

    Args:
        dataset: The split's :class:`~tfrec.data.schema.Dataset`.
        train: The training frame (``data``'s rows, in order).
        data: Its :class:`~tfrec.models.base.Interactions`.
        sequences: Its :class:`~tfrec.sequences.UserSequences`.
        dim: The towers' embedding size.
        dropout: Probability that a training row drops the user or context term.
        seed: Seed of the encoders and projections.
    """
    schema, terms = dataset.features, {}
    if schema.of("user") and dataset.users is not None:
        values = values_of(schema.of("user"), dataset.users, "user_id", data.user_ids)
        terms["user"] = _term(schema.of("user"), values, False, "user_features", dim, dropout, seed)
    if schema.of("context") or schema.context_time:
        values = raw_values(
            schema.of("context"), train, rows=sequences.order, time=schema.context_time
        )
        time = schema.context_time
        terms["context"] = _term(schema.of("context"), values, time, "context", dim, dropout, seed)
    if schema.of("item"):
        values = values_of(schema.of("item"), dataset.items, "item_id", data.item_ids)
        terms["item"] = _term(schema.of("item"), values, False, "item_features", dim, 0.0, seed)
    return terms


def _term(features, values, time, name, dim, dropout, seed) -> FeatureProjection:
    offset = 10 * (1 + SOURCES.index(name.split("_")[0]))
    encoder = FeatureEncoder.adapt(features, values, time=time, name=name, seed=seed + offset)
    return FeatureProjection(encoder, dim, values, dropout, seed + offset + 1)
