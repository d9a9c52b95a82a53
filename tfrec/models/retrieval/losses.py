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

Either loss takes per-positive example weights ``w_b`` (the confidence of
the interaction, :func:`tfrec.models.weighting.confidence`): each term of
the sum (or mean) over ``b`` is multiplied by ``w_b``.
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

    def __call__(self, items, queries, candidates, windows=None, weights=None):
        n = tf.shape(items)[0]
        k = n if not self.negatives else tf.minimum(n, self.negatives)
        bias = tf.zeros([n])
        if self.logq:
            bias = tf.gather(self.log_probability, items) + tf.math.log(tf.cast(k, tf.float32))
        # A row's own positive is in its window, so the windows mask covers it.
        owners = tf.range(n) if windows is None else windows
        negatives, negative_bias = candidates[:k], bias[:k]
        excluded = tf.equal(owners[:, None], owners[None, :k])
        if self.uniform:
            drawn = tf.random.uniform([self.uniform], 0, self.n_items, dtype=items.dtype)
            negatives = tf.concat([negatives, self.candidate_tower(drawn)], 0)
            uniform_bias = float(np.log(self.uniform / self.n_items)) if self.logq else 0.0
            negative_bias = tf.concat([negative_bias, tf.fill([self.uniform], uniform_bias)], 0)
            excluded = tf.concat([excluded, tf.equal(items[:, None], drawn[None, :])], 1)
        return shared_negatives_softmax(
            queries, candidates, negatives, bias, negative_bias, excluded, weights
        )


def shared_negatives_softmax(
    queries, positives, negatives, positive_bias, negative_bias, excluded, weights=None
) -> tf.Tensor:
    """``Σ_b -w_b log softmax`` of each query's positive against negatives shared by the batch.

    Scores are ``q_b · c_b - positive_bias_b`` for the positive and ``q_b · n_j
    - negative_bias_j`` for negative ``j``, which is left out where
    ``excluded[b, j]``. The gradient is written out (``p = softmax``, ``dq_b =
    Σ_j p_bj n_j + (p_b(b) - 1) c_b``, ...): autodiff of the same formula
    makes about twice as many passes over the ``batch x negatives`` scores,
    which cost more than the matrix products at ML-25M scale
    (docs/scaling.md).

    Args:
        queries: (n, d) query embeddings.
        positives: (n, d) their positives' embeddings.
        negatives: (k, d) embeddings of the shared negatives.
        positive_bias: (n,) subtracted from the positives' scores (log-q).
        negative_bias: (k,) subtracted from the negatives' scores.
        excluded: (n, k) bool, the negatives each query leaves out.
        weights: (n,) example weights ``w_b``, or None: all 1.

    Returns:
        The summed loss, a scalar.
    """

    @tf.custom_gradient
    def loss(queries, positives, negatives):
        positive = tf.reduce_sum(queries * positives, -1) - positive_bias
        scores = tf.matmul(queries, negatives, transpose_b=True) - negative_bias[None, :]
        scores = tf.where(excluded, tf.float32.min, scores)
        top = tf.maximum(tf.reduce_max(scores, 1), positive)
        exp_scores = tf.exp(scores - top[:, None])
        exp_positive = tf.exp(positive - top)
        total = tf.reduce_sum(exp_scores, 1) + exp_positive

        losses = tf.math.log(total) + top - positive

        def gradient(upstream):
            upstream = upstream if weights is None else upstream * weights
            scale = upstream / total
            softmax = exp_scores * scale[:, None]
            d_positive = (exp_positive * scale - upstream)[:, None]
            return (
                tf.matmul(softmax, negatives) + d_positive * positives,
                d_positive * queries,
                tf.matmul(softmax, queries, transpose_a=True),
            )

        return tf.reduce_sum(losses if weights is None else losses * weights), gradient

    return loss(queries, positives, negatives)


class Triplet:
    """Margin ranking loss against one uniformly drawn negative per positive.

    Args:
        candidate_tower: Embeds the drawn negatives.
        n_items: Items to draw from.
        margin: ``m``.
    """

    def __init__(self, candidate_tower, n_items: int, margin: float):
        self.candidate_tower, self.n_items, self.margin = candidate_tower, n_items, margin

    def __call__(self, items, queries, candidates, windows=None, weights=None):
        negatives = tf.random.uniform(tf.shape(items), 0, self.n_items, dtype=items.dtype)
        q = tf.math.l2_normalize(queries, -1)
        positive = tf.reduce_sum(q * tf.math.l2_normalize(candidates, -1), -1)
        negative = tf.reduce_sum(q * tf.math.l2_normalize(self.candidate_tower(negatives), -1), -1)
        losses = tf.nn.relu(self.margin - positive + negative)
        return tf.reduce_mean(losses if weights is None else losses * weights)
