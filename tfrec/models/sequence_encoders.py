"""The Keras next-item network of :mod:`tfrec.models.sequence`, and its export scorer."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras


def build_next_item_model(config, n_items: int, vectors: np.ndarray | None) -> keras.Model:
    """history (batch, max_len) of item column + 1 (0 pads) -> logits (batch, n_items)."""
    c = config
    history = keras.Input(shape=(c.max_len,), dtype="int64", name="history")
    x = keras.layers.Embedding(
        n_items + 1,
        c.embedding_dim,
        mask_zero=True,
        embeddings_initializer=keras.initializers.RandomNormal(0.0, 0.05, seed=c.seed),
        name="item_embedding",
    )(history)
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
    if c.encoder == "transformer":
        h = _self_attention(x, history, c)
    else:
        cell = keras.layers.LSTM if c.encoder == "lstm" else keras.layers.GRU
        h = cell(c.units, name=c.encoder)(x)
    h = keras.layers.Dropout(c.dropout, seed=c.seed)(h)
    logits = keras.layers.Dense(n_items, name="logits")(h)
    return keras.Model(history, logits, name=f"next_item_{c.encoder}")


def _self_attention(x, history, c):
    """SASRec-style causal self-attention blocks; returns the newest position's state."""
    x = keras.layers.Dense(c.units, name="input_projection")(x)
    positions = keras.layers.Embedding(c.max_len, c.units, name="position_embedding")(
        tf.range(c.max_len)
    )
    x = x + positions[None, :, :]
    padding = keras.layers.Lambda(lambda h: tf.cast(h > 0, tf.bool)[:, None, :])(history)
    for block in range(c.blocks):
        attention = keras.layers.MultiHeadAttention(
            c.heads, c.units // c.heads, dropout=c.dropout, name=f"attention_{block}"
        )(x, x, attention_mask=padding, use_causal_mask=True)
        x = keras.layers.LayerNormalization(name=f"norm_a{block}")(x + attention)
        forward = keras.layers.Dense(c.units, activation="relu", name=f"forward_{block}")(x)
        forward = keras.layers.Dropout(c.dropout, seed=c.seed)(forward)
        x = keras.layers.LayerNormalization(name=f"norm_f{block}")(x + forward)
    return x[:, -1, :]


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
