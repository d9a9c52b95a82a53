"""The retrieval models' training losses, as objects a :class:`RetrievalModel` calls.

In-batch softmax (``softmax``), as TFRS ``Retrieval`` with the log-q
correction: for a batch of (query ``q_b``, positive ``c_b``) pairs,

    L = -Σ_b log softmax_b'(q_b · c_b' - log p(c_b'))[b]

where ``p`` is the positive's training popularity, so popular items are not
over-penalised for appearing as negatives more often (Yi et al. 2019). When
positives come in windows of one user's consecutive items, the other
positives of a query's own window are left out of its softmax: they are
that user's items, not negatives.

Triplet (``triplet``), a margin loss on cosine similarity against one
uniformly drawn item ``n_b`` per positive:

    L = mean_b max(0, m - cos(q_b, c_b) + cos(q_b, c(n_b)))
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class InBatchSoftmax:
    """In-batch sampled softmax with the log-q correction (``logq``), summed over
    the batch (TFRS ``Retrieval``'s reduction).

    Args:
        popularity: (n_items,) training counts.
        logq: Whether to correct for the candidates' sampling probability.
    """

    def __init__(self, popularity: np.ndarray, logq: bool):
        probability = popularity / max(float(popularity.sum()), 1.0)
        self.logq = logq
        self.log_probability = tf.constant(np.log(np.maximum(probability, 1e-12)), tf.float32)

    def __call__(self, items, queries, candidates, windows=None):
        logits = tf.matmul(queries, candidates, transpose_b=True)
        if self.logq:
            logits -= tf.gather(self.log_probability, items)[None, :]
        positives = tf.range(tf.shape(items)[0])
        if windows is not None:
            same = tf.equal(windows[:, None], windows[None, :])
            others = same & ~tf.cast(tf.eye(tf.shape(items)[0]), tf.bool)
            logits = tf.where(others, tf.float32.min, logits)
        return tf.reduce_sum(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=positives, logits=logits)
        )


class Triplet:
    """Margin ranking loss against one uniformly drawn negative per positive.

    Args:
        candidate_tower: Embeds the drawn negatives.
        n_items: Items to draw from.
        margin: ``m``.
    """

    def __init__(self, candidate_tower, n_items: int, margin: float):
        self.candidate_tower, self.n_items, self.margin = candidate_tower, n_items, margin

    def __call__(self, items, queries, candidates, windows=None):
        negatives = tf.random.uniform(tf.shape(items), 0, self.n_items, dtype=items.dtype)
        q = tf.math.l2_normalize(queries, -1)
        positive = tf.reduce_sum(q * tf.math.l2_normalize(candidates, -1), -1)
        negative = tf.reduce_sum(q * tf.math.l2_normalize(self.candidate_tower(negatives), -1), -1)
        return tf.reduce_mean(tf.nn.relu(self.margin - positive + negative))
