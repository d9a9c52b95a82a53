"""The retrieval models' training losses, as objects a :class:`RetrievalModel` calls.

Sampled softmax (``softmax``), as TFRS ``Retrieval`` with the log-q
correction: for a batch of (query ``q_b``, positive ``c_b``) pairs and a set
``N`` of negatives shared by the batch,

    L = -Σ_b log [ e^{s_b(b)} / (e^{s_b(b)} + Σ_{n ∈ N, n ≠ b} e^{s_b(n)}) ],
    s_b(n) = q_b · c_n - log Q(n)

where ``Q(n)`` is the expected count of ``n`` among the sampled candidates,
so popular items are not over-penalised for appearing as negatives more
often (Yi et al. 2019). ``N`` is every other positive of the batch (the
in-batch softmax, default), or the batch's first ``negatives`` positives
(cost ``batch x negatives`` instead of ``batch²``), plus, with
``uniform_negatives`` M, M items drawn uniformly from the catalogue (mixed
negative sampling, Yang et al. 2020): in-batch candidates have ``Q(i) = k
p(i)`` (``k`` of them, ``p`` the training popularity), uniform ones ``M /
n_items``. A query's own positive, its window's other targets (one user's
items, when positives come in windows) and uniform draws equal to its
positive are left out of its negatives.

Triplet (``triplet``), a margin loss on cosine similarity against one
uniformly drawn item ``n_b`` per positive:

    L = mean_b max(0, m - cos(q_b, c_b) + cos(q_b, c(n_b)))
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class SampledSoftmax:
    """Softmax over a positive and shared sampled negatives, log-q corrected
    (``logq``), summed over the batch (TFRS ``Retrieval``'s reduction).

    Args:
        popularity: (n_items,) training counts.
        logq: Whether to correct for the candidates' sampling probability.
        negatives: In-batch negatives: the batch's first ``negatives``
            positives (0: all of them).
        uniform_negatives: Items drawn uniformly per batch as extra negatives.
        candidate_tower: Embeds the uniform draws.
    """

    def __init__(
        self,
        popularity: np.ndarray,
        logq: bool,
        negatives: int = 0,
        uniform_negatives: int = 0,
        candidate_tower=None,
    ):
        probability = popularity / max(float(popularity.sum()), 1.0)
        self.logq, self.negatives, self.uniform = logq, negatives, uniform_negatives
        self.n_items, self.candidate_tower = len(popularity), candidate_tower
        self.log_probability = tf.constant(np.log(np.maximum(probability, 1e-12)), tf.float32)

    def __call__(self, items, queries, candidates, windows=None):
        n = tf.shape(items)[0]
        k = n if not self.negatives else tf.minimum(n, self.negatives)
        log_k = tf.math.log(tf.cast(k, tf.float32))
        positive = tf.reduce_sum(queries * candidates, -1)
        in_batch = tf.matmul(queries, candidates[:k], transpose_b=True)
        if self.logq:
            positive -= tf.gather(self.log_probability, items) + log_k
            in_batch -= tf.gather(self.log_probability, items[:k])[None, :] + log_k
        rows, columns = tf.range(n)[:, None], tf.range(k)[None, :]
        excluded = tf.equal(rows, columns)
        if windows is not None:
            excluded |= tf.equal(windows[:, None], windows[None, :k])
        parts = [positive[:, None], tf.where(excluded, tf.float32.min, in_batch)]
        if self.uniform:
            drawn = tf.random.uniform([self.uniform], 0, self.n_items, dtype=items.dtype)
            uniform = tf.matmul(queries, self.candidate_tower(drawn), transpose_b=True)
            if self.logq:
                uniform -= float(np.log(self.uniform / self.n_items))
            hits = tf.equal(items[:, None], drawn[None, :])
            parts.append(tf.where(hits, tf.float32.min, uniform))
        logits = tf.concat(parts, axis=1)
        return tf.reduce_sum(
            tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.zeros([n], tf.int32), logits=logits
            )
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
