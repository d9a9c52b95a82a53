"""The two towers of the retrieval models, as Keras layers.

Query tower, for user ``u`` before position ``t`` of their sequence::

    q(u, t) = e_u + Σ_j d^j h_{i(t-1-j)} / Σ_j d^j        (encoder "mean", j < history)
    q(u, t) = e_u + W · RNN(h_{i(t-history)}, ..., h_{i(t-1)})   (encoder "lstm" / "gru")

On a log without time order (``bag``) a position says nothing about what
came before, so every query reads the same items, the user's last
``history`` training items as stored, and a training positive ``i`` leaves
itself out:

    q(u, i) = [e_u +] Σ_{j ∈ B_u, j ≠ i} h_j / |B_u - {i}|      (encoder "mean", d = 1)

the query that serving computes from all of ``B_u`` (two_tower leaves ``e_u``
out by default then: the item-based query of FISM, Kabbur et al. 2013).

With user features ``f_u`` and a request context ``x`` (device, hour of
day; :mod:`tfrec.features.projection`), the query adds their terms:

    q(u, t) + U φ(f_u) + X ψ(x_t)

``x_t`` being the context of the interaction at ``t``; each term is dropped
from a training row with probability ``feature_dropout``, so that a request
without it (a new user, no context) is a query training has seen.

Candidate tower, for item ``i`` with genre multi-hot ``g_i`` and item
features ``f_i``::

    c(i) = v_i + G g_i + I χ(f_i)      (an item seen in training)
    c(i) = G g_i + I χ(f_i)            (a new item: its content alone)

With ``id_dropout`` p, each training positive drops ``v_i`` with probability
p, so that the content path learns to stand alone.

``e``, ``h`` and ``v`` are ID embeddings (user, history item, candidate item),
``d`` the history decay, ``W``, ``G``, ``U``, ``X`` and ``I`` dense
projections, ``φ``, ``ψ`` and ``χ`` the feature layer
(:mod:`tfrec.features.layer`).

Training reads a user's positives in windows of ``stride`` consecutive
targets (:meth:`QueryTower.windows`). The mean encoder then gathers the
``history + stride - 1`` items before a window once and gives each of its
targets the exact query above, as a banded weighted sum over the window, so
the embedding rows read (and their gradients) drop from
``stride * history`` to ``history + stride - 1`` per window. Either tower's
``with_rows`` also returns the embedding rows it read, for the L2 penalty a
sparse optimizer puts on the rows of a batch only.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfrec.sequences import history_window, target_windows


def embedding_table(rows: int, dim: int, name: str, seed: int, l2: float | None):
    """An embedding table with its own seeded initializer (and whole-table L2, when given)."""
    return keras.layers.Embedding(
        rows,
        dim,
        name=name,
        embeddings_initializer=keras.initializers.TruncatedNormal(0.0, 0.05, seed=seed),
        embeddings_regularizer=keras.regularizers.l2(l2) if l2 else None,
    )


class QueryTower(keras.layers.Layer):
    """A user's query vector from their ID and their last ``history`` items.

    Args:
        n_users: Rows of the user table.
        n_items: Rows of the history-item table.
        sequence_items: Every user's training items in time order, concatenated
            (:attr:`tfrec.sequences.UserSequences.items`).
        dim: Embedding size.
        history: Items read before each position (0: the user ID only).
        history_decay: ``d`` of the mean encoder.
        encoder: ``mean``, ``lstm`` or ``gru``.
        user_embedding: Whether ``e_u`` is part of the query.
        l2: Whole-table L2 weight (None: none).
        seed: Seed of the tables' initializers.
        bag: Read the history as an unordered bag (``d`` = 1): training
            passes the user's end as the position and the target's position
            as ``leave_out``.
        user_features: The user features' term
            (:class:`~tfrec.features.projection.FeatureProjection` over the
            user rows), or None.
        context: The context's term (over the sequence positions), or None.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        sequence_items,
        *,
        dim: int,
        history: int,
        history_decay: float,
        encoder: str,
        user_embedding: bool,
        l2: float | None,
        seed: int,
        bag: bool = False,
        user_features=None,
        context=None,
    ):
        super().__init__(name="query_tower")
        self.user_features, self.context = user_features, context
        self.history, self.history_decay = history, 1.0 if bag else history_decay
        self.users = embedding_table(n_users, dim, "user_embedding", seed + 1, l2)
        self.use_user_embedding = user_embedding
        self.history_items = None
        if history:
            self.history_items = embedding_table(n_items, dim, "history_embedding", seed + 3, l2)
            # int32: half the memory of the log's length; windows widen what they read
            self.sequence_items = tf.constant(np.asarray(sequence_items, np.int32))
        self.encoder = None
        if history and encoder != "mean":
            cell = keras.layers.LSTM if encoder == "lstm" else keras.layers.GRU
            self.encoder = keras.Sequential(
                [cell(dim, return_sequences=True), keras.layers.Dense(dim)],
                name="history_encoder",
            )

    def call(self, users, positions=None, starts=None):
        """Query vectors of ``users`` reading items ``positions - history .. positions - 1``
        (not before ``starts``, the users' first positions)."""
        return self.with_rows(users, positions, starts)[0]

    def with_rows(self, users, positions, starts, leave_out=None, context_at=None, training=False):
        """The query vectors, and the embedding rows they read as (rows, mask) pairs.

        ``leave_out``: (batch,) a position each query does not read (a bag's target), or None.
        ``context_at``: (batch,) the sequence position whose context the query
        reads (the training positive's), or None: no context.
        """
        parts, read = self._feature_terms(users, context_at, training), []
        if self.use_user_embedding:
            rows = self.users(users)
            parts.append(rows)
            read.append((rows, None))
        if self.history_items is not None:
            items, mask = history_window(self.sequence_items, positions, starts, self.history)
            if leave_out is not None:
                read_at = positions[:, None] + tf.range(-self.history, 0, dtype=positions.dtype)
                mask *= tf.cast(read_at != leave_out[:, None], mask.dtype)
            embedded = self.history_items(items)
            read.append((embedded, mask))
            if self.encoder is not None:
                parts.append(self.encoder(embedded, mask=mask > 0)[:, -1, :])
            else:
                age = tf.range(self.history - 1, -1, -1, dtype=tf.float32)  # newest item last
                weights = mask * tf.pow(self.history_decay, age)[None, :]
                total = tf.reduce_sum(embedded * weights[:, :, None], axis=1)
                count = tf.maximum(tf.reduce_sum(weights, axis=1, keepdims=True), 1.0)
                parts.append(total / count)
        return tf.add_n(parts), read

    def encode_windows(self, windows):
        """The history part of new users' queries from their item windows ((batch,
        history) item column + 1, left-padded with 0): the recurrent encoder's
        last state (the lstm / gru encoders; the mean encoder's is in numpy)."""
        mask = windows > 0
        embedded = self.history_items(tf.maximum(windows - 1, 0))
        return self.encoder(embedded, mask=mask)[:, -1, :]

    def _feature_terms(self, users, context_at, training) -> list:
        """The user features' and the context's terms of the queries."""
        terms = []
        if self.user_features is not None:
            terms.append(self.user_features.rows(users, training))
        if self.context is not None and context_at is not None:
            terms.append(self.context.rows(context_at, training))
        return terms

    def windows(self, batch, stride: int):
        """Training windows: the query of each target (the encoder's state at each
        weighted position, or the mean encoder's exact q(u, t); + the user
        embedding), the target items, their sequence positions, the window
        each target belongs to, and the embedding rows read as (rows, mask)
        pairs."""
        if self.encoder is None:
            return self._mean_windows(batch, stride)
        items, mask, targets, weights = target_windows(
            self.sequence_items,
            batch["last"],
            batch["start"],
            self.history,
            stride,
            first_targets=True,
        )
        embedded = self.history_items(items)
        queries = self.encoder(embedded, mask=mask > 0)
        positions = (
            batch["last"][:, None] + 1 - self.history + tf.range(self.history, dtype=tf.int64)
        )
        return self._window_queries(
            batch, queries, targets, positions, weights > 0, [(embedded, mask)]
        )

    def _mean_windows(self, batch, stride: int):
        """The mean encoder's windows: window target k (of ``stride``, position
        ``last - stride + 1 + k``) reads window items k .. k + history - 1 of
        the ``history + stride - 1`` items before the window's newest target."""
        length = self.history + stride - 1
        last, start = batch["last"], batch["start"]
        items, mask = history_window(self.sequence_items, last, start, length)
        targets, valid = history_window(self.sequence_items, last + 1, start, stride)
        embedded = self.history_items(items)
        target = tf.range(stride, dtype=tf.float32)[:, None]
        item = tf.range(length, dtype=tf.float32)[None, :]
        age = target + self.history - 1 - item  # of item m for target k; in [0, history)
        band = tf.where((age >= 0) & (age < self.history), tf.pow(self.history_decay, age), 0.0)
        weights = band[None, :, :] * mask[:, None, :]  # (windows, stride, length)
        total = tf.einsum("wsl,wld->wsd", weights, embedded)
        queries = total / tf.maximum(tf.reduce_sum(weights, -1, keepdims=True), 1.0)
        positions = last[:, None] + 1 - stride + tf.range(stride, dtype=tf.int64)
        return self._window_queries(
            batch, queries, targets, positions, valid > 0, [(embedded, mask)]
        )

    def _window_queries(self, batch, queries, targets, positions, keep, read):
        """The kept (window, position) queries + user embeddings, their targets,
        the targets' positions and windows."""
        windows = tf.broadcast_to(tf.range(tf.shape(keep)[0])[:, None], tf.shape(keep))
        queries = tf.boolean_mask(queries, keep)
        users = tf.boolean_mask(tf.broadcast_to(batch["user"][:, None], tf.shape(keep)), keep)
        kept = [tf.boolean_mask(values, keep) for values in (targets, positions, windows)]
        for term in self._feature_terms(users, kept[1], training=True):
            queries += term
        if self.use_user_embedding:
            rows = self.users(users)
            queries += rows
            read.append((rows, None))
        return queries, *kept, read


class CandidateTower(keras.layers.Layer):
    """An item's candidate vector from its ID and, when given, its genres.

    Args:
        n_items: Rows of the item table.
        genres: (n_items, n_genres) float32 multi-hot, or None.
        dim: Embedding size.
        l2: Whole-table L2 weight (None: none).
        seed: Seed of the table's initializer.
        id_dropout: Probability that a training positive drops its ID embedding.
        item_features: The item features' term (over the item rows), or None.
    """

    def __init__(
        self,
        n_items: int,
        genres,
        *,
        dim: int,
        l2: float | None,
        seed: int,
        id_dropout: float = 0.0,
        item_features=None,
    ):
        super().__init__(name="candidate_tower")
        self.id_dropout, self.item_features = id_dropout, item_features
        self.items = embedding_table(n_items, dim, "item_embedding", seed + 2, l2)
        self.genres = None
        if genres is not None:
            self.genre_table = tf.constant(genres)
            self.genres = keras.layers.Dense(dim, use_bias=False, name="genre_projection")

    def call(self, items):
        return self.with_rows(items)[0]

    def with_rows(self, items, training: bool = False):
        """The candidate vectors, and the item-embedding rows they read."""
        rows = self.items(items)
        vectors = rows
        if training and self.id_dropout:
            keep = tf.random.uniform(tf.shape(items)) >= self.id_dropout
            vectors = rows * tf.cast(keep, rows.dtype)[:, None]
        if self.genres is not None:
            vectors = vectors + self.genres(tf.gather(self.genre_table, items))
        if self.item_features is not None:
            vectors = vectors + self.item_features.rows(items, training)
        return vectors, rows
