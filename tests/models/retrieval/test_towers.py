"""The towers and the in-batch softmax, against direct computations."""

import numpy as np
import tensorflow as tf

from tfrec.models.retrieval.losses import InBatchSoftmax
from tfrec.models.retrieval.towers import QueryTower
from tfrec.sequences import UserSequences

# Three users with 7, 1 and 4 training items, in time order.
ITEMS = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
STARTS, ENDS = np.array([0, 7, 8]), np.array([7, 8, 12])


def _sequences():
    users = np.repeat(np.arange(3), ENDS - STARTS)
    return UserSequences(users, ITEMS, STARTS, ENDS)


def _tower(history):
    tower = QueryTower(3, 10, ITEMS, dim=4, history=history, history_decay=0.7,
                       encoder="mean", user_embedding=True, l2=None, seed=0)  # fmt: skip
    tower(tf.zeros([1], tf.int64), tf.zeros([1], tf.int64), tf.zeros([1], tf.int64))
    return tower


def test_mean_windows_give_each_target_its_own_query():
    sequences, tower = _sequences(), _tower(history=3)
    columns = sequences.columns()
    user, position, start = (tf.constant(columns[k]) for k in ("user", "position", "start"))
    expected = tower(user, position, start).numpy()
    for stride in (1, 2, 3, 5):
        windows = {k: tf.constant(v) for k, v in sequences.windows(stride, True).items()}
        queries, targets, groups, _ = tower.windows(windows, stride)
        # Windows run oldest first per user, so the kept targets are every position in order.
        np.testing.assert_array_equal(targets.numpy(), ITEMS)
        np.testing.assert_allclose(queries.numpy(), expected, rtol=1e-5, atol=1e-6)
        sizes = np.bincount(groups.numpy())
        assert sizes.max() <= stride and sizes.sum() == len(ITEMS)


def test_in_batch_softmax_known_answer_and_window_mask():
    queries = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    candidates = tf.constant([[2.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    items = tf.constant([0, 1, 2])
    popularity = np.array([2.0, 1.0, 1.0])
    logits = queries.numpy() @ candidates.numpy().T - np.log(popularity / 4)[None, :]

    def loss(mask):
        z = np.where(mask, -np.inf, logits)
        return -sum(z[b, b] - np.log(np.exp(z[b]).sum()) for b in range(3))

    softmax = InBatchSoftmax(popularity, logq=True)
    none = np.zeros((3, 3), bool)
    np.testing.assert_allclose(softmax(items, queries, candidates).numpy(), loss(none), rtol=1e-5)
    windows = tf.constant([0, 0, 1])  # rows 0 and 1: one user's window, not each other's negatives
    mask = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], bool)
    np.testing.assert_allclose(softmax(items, queries, candidates, windows).numpy(), loss(mask),
                               rtol=1e-5)  # fmt: skip
