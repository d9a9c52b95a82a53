"""The Keras next-item network of :mod:`tfrec.models.sequence.lstm`, and its export scorer."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras


def build_next_item_model(
    config, n_items: int, vectors: np.ndarray | None, categories: np.ndarray | None
) -> keras.Model:
    """history (batch, max_len) of item column + 1 (0 pads) -> logits (batch, n_items).

    The logits are those of the newest position. The encoder's state at every
    position is the layer ``states``'s output, which
    :class:`NextItemTrainer` trains on.

    Args:
        config: The :class:`~tfrec.models.sequence.lstm.SequenceConfig`.
        n_items: Catalogue size.
        vectors: Optional (n_items, dim) content vectors of the items.
        categories: Optional (n_items, width) category IDs + 1 of the items.
    """
    c = config
    history = keras.Input(shape=(c.max_len,), dtype="int64", name="history")
    embedding = keras.layers.Embedding(
        n_items + 1,
        c.embedding_dim,
        mask_zero=True,
        embeddings_initializer=keras.initializers.RandomNormal(0.0, 0.05, seed=c.seed),
        name="item_embedding",
    )
    x = embedding(history)
    if vectors is not None:
        table = np.vstack([np.zeros((1, vectors.shape[1])), vectors]).astype(np.float32)
        content = keras.layers.Embedding(
            n_items + 1,
            table.shape[1],
            mask_zero=True,
            embeddings_initializer=keras.initializers.Constant(table),
            trainable=False,
            name="item_vectors",
        )(history)
        x = keras.layers.Concatenate()([x, content])
    if categories is not None:
        bag = CategoryBag(categories, c.embedding_dim, c.seed, name="item_categories")(history)
        x = keras.layers.Concatenate()([x, bag])
    x = keras.layers.Dropout(c.embedding_dropout, seed=c.seed + 3, name="input_dropout")(x)
    if c.encoder == "transformer":
        h = _self_attention(x, history, c)
    else:
        cell = keras.layers.LSTM if c.encoder == "lstm" else keras.layers.GRU
        h = cell(c.units, return_sequences=True, name=c.encoder)(x)
    if c.tied_output:
        h = keras.layers.Dense(c.embedding_dim, name="state_projection")(h)
    states = keras.layers.Dropout(c.dropout, seed=c.seed, name="states")(h)
    if c.tied_output:
        output = TiedLogits(embedding, name="logits")
    else:
        output = keras.layers.Dense(n_items, name="logits")
    logits = output(NewestState()(states))
    return keras.Model(history, logits, name=f"next_item_{c.encoder}")


class NewestState(keras.layers.Layer):
    """(batch, length, units) -> (batch, units): the newest position's state."""

    def call(self, states):
        return states[:, -1, :]

    def compute_mask(self, inputs, mask=None):
        return None


class TiedLogits(keras.layers.Layer):
    """logits = h E^T + b over the input item embeddings E (the pad row left out).

    ``kernel`` is E^T, as a Dense layer's, for the sampled softmax.
    """

    def __init__(self, embedding: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        rows = self.embedding.input_dim - 1
        self.bias = self.add_weight("bias", (rows,), initializer="zeros")

    @property
    def kernel(self):
        return tf.transpose(self.embedding.embeddings[1:])

    def call(self, hidden):
        return tf.matmul(hidden, self.embedding.embeddings[1:], transpose_b=True) + self.bias


class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per history position."""

    def __init__(self, seed: int, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed

    def build(self, input_shape):
        self.positions = self.add_weight(
            "positions",
            tuple(int(d) for d in input_shape[1:]),
            initializer=keras.initializers.RandomNormal(0.0, 0.05, seed=self.seed + 2),
        )

    def call(self, x):
        return x + self.positions


class CategoryBag(keras.layers.Layer):
    """Mean embedding of each history item's categories (0 pads, 0 for no item)."""

    def __init__(self, categories: np.ndarray, dim: int, seed: int, **kwargs):
        super().__init__(**kwargs)
        padded = np.vstack([np.zeros((1, categories.shape[1]), np.int32), categories])
        self.table = tf.constant(padded, tf.int64)
        self.embedding = keras.layers.Embedding(
            int(padded.max()) + 1,
            dim,
            embeddings_initializer=keras.initializers.RandomNormal(0.0, 0.05, seed=seed + 1),
        )

    def call(self, history):
        ids = tf.gather(self.table, history)
        present = tf.cast(ids > 0, self.compute_dtype)[..., None]
        total = tf.reduce_sum(self.embedding(ids) * present, axis=-2)
        return total / tf.maximum(tf.reduce_sum(present, axis=-2), 1.0)


def future_targets(sequence_items, lasts, ends, length: int, horizon: int, decay: float):
    """The next ``horizon`` items after each position of training windows.

    Args:
        sequence_items: 1-D tensor, :attr:`tfrec.sequences.UserSequences.items`.
        lasts: (batch,) int64 newest target position of each window (its
            inputs are the items at ``lasts - length .. lasts - 1``).
        ends: (batch,) int64 one past the last position of each window's user.
        length: Window length.
        horizon: Future items per position.
        decay: Weight ratio of consecutive future items.

    Returns:
        (items, weights), each (batch, length, horizon): the item columns at
        positions ``p + 1 .. p + horizon`` after each input position p, and
        their weights, ``decay**j`` where the item belongs to the user (else
        0), normalised to sum to 1 over a position's targets (0 where it has
        none).
    """
    offsets = tf.range(-length + 1, 1, dtype=tf.int64)[:, None] + tf.range(horizon, dtype=tf.int64)
    positions = lasts[:, None, None] + offsets[None]
    valid = (positions < ends[:, None, None]) & (positions >= 0)
    last = tf.cast(tf.size(sequence_items), tf.int64) - 1
    items = tf.gather(sequence_items, tf.clip_by_value(positions, 0, last))
    decays = tf.constant([decay**j for j in range(horizon)], tf.float32)
    weights = tf.cast(valid, tf.float32) * decays
    weights = tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=-1, keepdims=True))
    return tf.cast(items, tf.int64), weights


class NextItemTrainer(keras.Model):
    """Trains a next-item model on every weighted position of each window.

    Data are ``(inputs, targets, weights)`` from
    :func:`tfrec.sequences.target_windows`, or ``(inputs, (items,
    item_weights), weights)`` with several future targets per position
    (:func:`future_targets`); the positions with weight 1 are
    gathered once, and only their states meet the output layer, with

    * ``unigrams=None``: softmax cross-entropy over the whole catalogue,
      with ``label_smoothing`` epsilon of the target's mass spread evenly
      over the catalogue: ``(1 - eps) * CE + eps * (logsumexp(z) - mean(z))``;
    * with several future targets, the cross-entropy against their weighted
      distribution, ``logsumexp(z) - sum_j w_j z_j``, smoothed the same way;
    * else sampled softmax over ``num_sampled`` negatives drawn from the
      items' training frequency (``unigrams``, distortion 0.75 as in
      Word2Vec), with the log-q correction of
      :func:`tf.nn.sampled_softmax_loss` and accidental hits removed.

    Called, it gives the model's full logits of the newest position.
    """

    def __init__(
        self,
        model: keras.Model,
        unigrams: np.ndarray | None,
        num_sampled: int,
        label_smoothing: float = 0.0,
    ):
        super().__init__(name=f"{model.name}_trainer")
        self.label_smoothing = float(label_smoothing)
        self.model = model
        self.output_layer = model.get_layer("logits")
        self.states = keras.Model(model.input, model.get_layer("states").output)
        self.unigrams = None if unigrams is None else [float(u) for u in unigrams]
        self.num_sampled = 0 if unigrams is None else min(int(num_sampled), len(unigrams) - 1)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, history, training=False):
        return self.model(history, training=training)

    def train_step(self, data):
        history, targets, weights = keras.utils.unpack_x_y_sample_weight(data)
        keep = weights > 0
        future = None
        if isinstance(targets, (tuple, list)):
            targets, future = targets
            future = tf.boolean_mask(future, keep)
        labels = tf.cast(tf.boolean_mask(targets, keep), tf.int64)
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        with tf.GradientTape() as tape:
            hidden = tf.boolean_mask(self.states(history, training=True), keep)
            # Mean over the batch's targets (0 for a replica that got none).
            losses = self._target_losses(hidden, labels, future)
            loss = tf.math.divide_no_nan(tf.reduce_sum(losses), count)
            # Gradients are summed over replicas; the loss is a mean per replica.
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        self.loss_tracker.update_state(loss, sample_weight=count)
        return {"loss": self.loss_tracker.result()}

    def _target_losses(self, hidden, labels, future=None):
        """The loss of each target (``labels`` (n, horizon) with ``future`` weights)."""
        if self.unigrams is None:
            logits = self.output_layer(hidden)
            if future is None:
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            else:
                picked = tf.gather(logits, labels, batch_dims=1)
                losses = tf.reduce_logsumexp(logits, axis=1) - tf.reduce_sum(future * picked, 1)
            if not self.label_smoothing:
                return losses
            uniform = tf.reduce_logsumexp(logits, axis=1) - tf.reduce_mean(logits, axis=1)
            return (1.0 - self.label_smoothing) * losses + self.label_smoothing * uniform
        sampled = tf.random.fixed_unigram_candidate_sampler(
            labels[:, None],
            1,
            self.num_sampled,
            unique=True,
            range_max=len(self.unigrams),
            distortion=0.75,
            unigrams=self.unigrams,
        )
        return tf.nn.sampled_softmax_loss(
            tf.transpose(self.output_layer.kernel),
            self.output_layer.bias,
            labels[:, None],
            hidden,
            self.num_sampled,
            len(self.unigrams),
            sampled_values=sampled,
        )


def _self_attention(x, history, c):
    """SASRec-style causal self-attention blocks; returns every position's state."""
    x = keras.layers.Dense(c.units, name="input_projection")(x)
    x = PositionEmbedding(c.seed, name="position_embedding")(x)
    padding = keras.layers.Lambda(lambda h: tf.cast(h > 0, tf.bool)[:, None, :])(history)
    for block in range(c.blocks):
        attention = keras.layers.MultiHeadAttention(
            c.heads, c.units // c.heads, dropout=c.dropout, name=f"attention_{block}"
        )(x, x, attention_mask=padding, use_causal_mask=True)
        x = keras.layers.LayerNormalization(name=f"norm_a{block}")(x + attention)
        forward = keras.layers.Dense(c.units, activation="relu", name=f"forward_{block}")(x)
        forward = keras.layers.Dropout(c.dropout, seed=c.seed)(forward)
        x = keras.layers.LayerNormalization(name=f"norm_f{block}")(x + forward)
    return x


class SequenceScorer(tf.Module):
    """score(users) from the users' stored histories; score_history(windows) for any."""

    def __init__(self, model, histories: np.ndarray):
        super().__init__(name="sequence_scorer")
        self.model = model
        self.max_len = int(histories.shape[1])
        self.histories = tf.Variable(histories.astype(np.int64), trainable=False)

    def score_history(self, windows):
        """(batch, max_len) windows of item column + 1, 0-padded on the left -> logits."""
        return self.model(windows, training=False)

    def score(self, users):
        return self.score_history(tf.gather(self.histories, users))

    def predict(self, users, items, extra=None):
        return tf.gather(self.score(users), items[:, None], batch_dims=1)[:, 0]
