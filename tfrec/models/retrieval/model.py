"""The TFRS model of ``two_tower`` and ``lstm_retrieval``: two towers and a loss.

:func:`retrieval_model` builds it from a :class:`TwoTowerConfig`; the towers
(:mod:`~tfrec.models.retrieval.towers`) and the loss
(:mod:`~tfrec.models.retrieval.losses`) are separate objects, composed here.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfrec.models.retrieval.losses import SampledSoftmax, Triplet
from tfrec.models.retrieval.towers import CandidateTower, QueryTower

EXPORT_USERS = 8192  # users whose query vectors are computed at once


class RetrievalModel(tfrs.Model):
    """Scores ``q(u) · c(i)``; trains ``loss`` on (user, position, item) positives.

    Args:
        query_tower: A :class:`QueryTower`.
        candidate_tower: A :class:`CandidateTower`.
        loss: ``loss(items, queries, candidates, windows)``, e.g. :class:`SampledSoftmax`.
        task: ``tfrs.tasks.Retrieval`` with the validation metrics
            (``FactorizedTopK`` over the catalogue).
        row_l2: L2 weight on the embedding rows each batch reads (for a sparse
            optimizer; 0 when the tables carry whole-table L2).
        window_stride: Targets per training window (None: one query per
            positive, read from the ``user``/``position`` columns).
        bag: Each positive's query reads the user's bag (the ``end`` column)
            without the positive (its ``position``).
        sequence_weights: (n,) example weight of each sequence position (the
            interaction's confidence), or None: all 1.
    """

    def __init__(
        self,
        query_tower,
        candidate_tower,
        loss,
        task,
        row_l2: float,
        window_stride,
        bag=False,
        sequence_weights=None,
    ):
        super().__init__()
        self.bag = bag
        self.sequence_weights = (
            None if sequence_weights is None else tf.constant(sequence_weights, tf.float32)
        )
        self.query_tower, self.candidate_tower = query_tower, candidate_tower
        self.training_loss, self.task = loss, task
        self.row_l2, self.window_stride = row_l2, window_stride

    def compute_loss(self, batch, training=False):
        if not training:  # validation pairs: in-batch softmax loss and FactorizedTopK
            queries = self.query_tower(batch["user"], batch["position"], batch["start"])
            return self.task(queries, self.candidate_tower(batch["item"]), compute_metrics=True)
        if self.window_stride:
            queries, items, positions, windows, read = self.query_tower.windows(
                batch, self.window_stride
            )
        else:
            positions, items, windows = batch["position"], batch["item"], None
            read_to, leave_out = (batch["end"], positions) if self.bag else (positions, None)
            queries, read = self.query_tower.with_rows(
                batch["user"], read_to, batch["start"], leave_out, positions, training=True
            )
        weights = None
        if self.sequence_weights is not None:
            weights = tf.gather(self.sequence_weights, positions)
        candidates, item_rows = self.candidate_tower.with_rows(items, training=True)
        loss = self.training_loss(items, queries, candidates, windows, weights)
        if not self.row_l2:
            return loss
        read.append((item_rows, None))
        squares = [
            tf.reduce_sum(tf.reduce_sum(tf.square(rows), -1) * (1.0 if mask is None else mask))
            for rows, mask in read
        ]
        return loss + self.row_l2 * tf.add_n(squares)

    def train_step(self, inputs):
        # The task's FactorizedTopK metrics are computed on validation pairs only;
        # in training logs (and on the progress bar) they would read 0.
        logs = super().train_step(inputs)
        return {k: v for k, v in logs.items() if not k.startswith("factorized_top_k")}

    def build_variables(self):
        """Creates every variable now: checkpoints and early stopping copy them
        before the first step."""
        zero = tf.zeros([1], tf.int64)
        self.query_tower.with_rows(zero, zero, zero, context_at=zero)
        self.candidate_tower(zero)
        self.built = True

    def export_vectors(self, sequences, normalize: bool):
        """(user vectors, item vectors), cosine-normalised when ``normalize``; users
        in blocks, so that their history embeddings never exist for all at once."""
        n_users = self.query_tower.users.input_dim
        ends, starts = sequences.ends.astype(np.int64), sequences.starts.astype(np.int64)
        users = np.concatenate(
            [
                self.query_tower(
                    tf.range(first, min(first + EXPORT_USERS, n_users), dtype=tf.int64),
                    tf.constant(ends[first : first + EXPORT_USERS]),
                    tf.constant(starts[first : first + EXPORT_USERS]),
                ).numpy()
                for first in range(0, n_users, EXPORT_USERS)
            ]
        )
        n_items = self.candidate_tower.items.input_dim
        items = self.candidate_tower(tf.range(n_items, dtype=tf.int64)).numpy()
        if normalize:
            users = users / np.maximum(np.linalg.norm(users, axis=1, keepdims=True), 1e-12)
            items = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)
        return users.astype(np.float32), items.astype(np.float32)


def retrieval_model(
    config,
    n_users,
    n_items,
    genres,
    popularity,
    sequences,
    sequence_weights=None,
    features=None,
    validation_metrics: bool = True,
) -> RetrievalModel:
    """The two towers, the loss and the metrics that ``config`` asks for.

    Args:
        config: A :class:`~tfrec.models.retrieval.config.TwoTowerConfig`.
        n_users: Users (rows of the user table).
        n_items: Items.
        genres: (n_items, n_genres) multi-hot for the candidate tower, or None.
        popularity: (n_items,) training counts (the log-q correction).
        sequences: The users' training sequences (the query's history).
        sequence_weights: (n,) example weight of each sequence position, or None.
        features: ``{"user" | "context" | "item": FeatureProjection}``, the
            feature terms of the towers (:mod:`tfrec.features.projection`).
        validation_metrics: Whether the task computes ``FactorizedTopK`` on
            validation pairs (False when the fit passes Keras none: under a
            tf.distribute strategy).
    """
    c = config
    features = features or {}
    # adam: L2 on whole tables (Keras layer losses); lazy_adam: on the rows each
    # batch reads, since whole-table L2 would make every embedding gradient dense.
    table_l2 = c.l2 if c.l2 > 0 and c.optimizer == "adam" else None
    query_tower = QueryTower(
        n_users,
        n_items,
        sequences.items,
        dim=c.embedding_dim,
        history=c.history,
        history_decay=c.history_decay,
        encoder=c.history_encoder,
        user_embedding=c.user_embedding,
        l2=table_l2,
        seed=c.seed,
        bag=c.history_order == "bag",
        user_features=features.get("user"),
        context=features.get("context"),
    )
    candidate_tower = CandidateTower(
        n_items,
        genres,
        dim=c.embedding_dim,
        l2=table_l2,
        seed=c.seed,
        id_dropout=c.id_dropout,
        item_features=features.get("item"),
    )
    # Streams every candidate through the tower at each validation batch; counts a
    # hit when the true item is in the top k among all items (seen ones included).
    metrics = None
    if validation_metrics:
        metrics = tfrs.metrics.FactorizedTopK(
            tf.data.Dataset.range(n_items).batch(4096).map(candidate_tower), ks=(10, 50)
        )
    task = tfrs.tasks.Retrieval(metrics=metrics)
    if c.loss == "triplet":
        loss = Triplet(candidate_tower, n_items, c.margin)
    else:
        loss = SampledSoftmax(popularity, c.logq, c.negatives, c.uniform_negatives, candidate_tower)
    row_l2 = c.l2 if c.optimizer != "adam" else 0.0
    return RetrievalModel(
        query_tower,
        candidate_tower,
        loss,
        task,
        row_l2,
        c.window_stride if c.windowed else None,
        bag=bool(c.history) and c.history_order == "bag",
        sequence_weights=sequence_weights,
    )
