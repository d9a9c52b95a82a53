"""The towers and the in-batch softmax, against direct computations."""

import numpy as np
import tensorflow as tf

from tfrec.models.retrieval.losses import SampledSoftmax
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
        queries, targets, positions, groups, _ = tower.windows(windows, stride)
        # Windows run oldest first per user, so the kept targets are every position in order.
        np.testing.assert_array_equal(targets.numpy(), ITEMS)
        np.testing.assert_array_equal(positions.numpy(), np.arange(len(ITEMS)))
        np.testing.assert_allclose(queries.numpy(), expected, rtol=1e-5, atol=1e-6)
        sizes = np.bincount(groups.numpy())
        assert sizes.max() <= stride and sizes.sum() == len(ITEMS)


def test_bag_query_is_the_mean_of_the_users_other_items():
    # No time order: every query reads the user's last 5 items as stored, unweighted
    # (the decay is ignored), and a training target leaves itself out.
    tower = QueryTower(3, 10, ITEMS, dim=4, history=5, history_decay=0.7, encoder="mean",
                       user_embedding=False, l2=None, seed=0, bag=True)  # fmt: skip
    tower(tf.zeros([1], tf.int64), tf.zeros([1], tf.int64), tf.zeros([1], tf.int64))
    table = tower.history_items.embeddings.numpy()
    user = np.array([0, 0, 1, 2])
    position = np.array([6, 1, 7, 9])  # user 0's newest and an item outside its last 5
    ends, starts = ENDS[user], STARTS[user]
    user, ends, starts, position = (
        tf.constant(v, tf.int64) for v in (user, ends, starts, position)
    )
    got = tower.with_rows(user, ends, starts, leave_out=position)[0]
    bags = [[4, 1, 5, 9], [4, 1, 5, 9, 2], [], [5, 5, 8]]  # user 2 without its item 3
    expected = [table[bag].mean(0) if bag else np.zeros(4) for bag in bags]
    np.testing.assert_allclose(got.numpy(), np.array(expected), rtol=1e-5, atol=1e-7)


def _softmax_loss(logits, excluded):
    z = np.where(excluded, -np.inf, logits)
    return -sum(z[b, 0] - np.log(np.exp(z[b]).sum()) for b in range(len(z)))


QUERIES = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
CANDIDATES = tf.constant([[2.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
POSITIVES = tf.constant([0, 1, 2])
POPULARITY = np.array([2.0, 1.0, 1.0, 4.0])
LOG_P = np.log(POPULARITY / POPULARITY.sum())


def test_in_batch_softmax_known_answer_and_window_mask():
    q, c = QUERIES.numpy(), CANDIDATES.numpy()
    # Column 0: each row's positive; then the in-batch candidates 0..2.
    logits = np.hstack([np.sum(q * c, 1)[:, None], q @ c.T]) - np.hstack(
        [LOG_P[:3, None], np.tile(LOG_P[:3], (3, 1))]
    )
    own = np.hstack([np.zeros((3, 1), bool), np.eye(3, dtype=bool)])
    softmax = SampledSoftmax(POPULARITY, logq=True)
    np.testing.assert_allclose(
        softmax(POSITIVES, QUERIES, CANDIDATES).numpy(), _softmax_loss(logits, own), rtol=1e-5
    )
    windows = tf.constant([0, 0, 1])  # rows 0 and 1: one user's window, not each other's negatives
    window = own.copy()
    window[0, 2] = window[1, 1] = True
    np.testing.assert_allclose(
        softmax(POSITIVES, QUERIES, CANDIDATES, windows).numpy(), _softmax_loss(logits, window),
        rtol=1e-5,
    )  # fmt: skip


def test_sampled_softmax_with_fewer_and_uniform_negatives():
    q, c = QUERIES.numpy(), CANDIDATES.numpy()
    # Two in-batch negatives (k = 2: Q(i) = 2 p(i)), two uniform draws from a
    # one-item catalogue (always item 0: Q = 2 / 1), left out where item 0 is the positive.
    single = np.array([3.0])
    tower = lambda ids: tf.gather(CANDIDATES, ids)  # noqa: E731
    softmax = SampledSoftmax(single, logq=False, negatives=2, uniform_negatives=2,
                             candidate_tower=tower)  # fmt: skip
    logits = np.hstack([np.sum(q * c, 1)[:, None], q @ c[:2].T, np.tile(q @ c[:1].T, (1, 2))])
    excluded = np.zeros((3, 5), bool)
    excluded[0, 1] = excluded[1, 2] = True  # own positives among the in-batch negatives
    excluded[0, 3:] = True  # row 0's positive is item 0, the uniform draws
    np.testing.assert_allclose(
        softmax(POSITIVES, QUERIES, CANDIDATES).numpy(), _softmax_loss(logits, excluded), rtol=1e-5
    )


def test_sampled_softmax_gradient_equals_autodiff_of_its_formula():
    # The hand-written gradient against TensorFlow's gradient of the same scores,
    # on random embeddings, with log-q, a window mask, uniform draws and example weights.
    rng = np.random.default_rng(0)
    queries, candidates = (tf.constant(rng.normal(size=(6, 3)), tf.float32) for _ in range(2))
    items, windows = tf.constant([0, 2, 1, 3, 0, 1]), tf.constant([0, 0, 1, 1, 1, 2])
    tower = lambda ids: tf.gather(candidates, ids)  # noqa: E731
    softmax = SampledSoftmax(POPULARITY, logq=True, negatives=4, uniform_negatives=3,
                             candidate_tower=tower)  # fmt: skip
    log_p = tf.constant(LOG_P, tf.float32)

    weights = tf.constant([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])

    def reference(queries, candidates, drawn):
        bias = tf.gather(log_p, items) + np.log(4.0)
        positive = tf.reduce_sum(queries * candidates, 1) - bias
        in_batch = queries @ tf.transpose(candidates[:4]) - bias[None, :4]
        uniform = queries @ tf.transpose(tf.gather(candidates, drawn)) - np.log(3 / 4)
        excluded = tf.concat([windows[:, None] == windows[None, :4],
                              items[:, None] == drawn[None, :]], 1)  # fmt: skip
        logits = tf.where(excluded, -1e30, tf.concat([in_batch, uniform], 1))
        logits = tf.concat([positive[:, None], logits], 1)
        return tf.reduce_sum(weights * (tf.reduce_logsumexp(logits, 1) - positive))

    tf.random.set_seed(7)
    with tf.GradientTape() as tape:
        tape.watch([queries, candidates])
        loss = softmax(items, queries, candidates, windows, weights)
    tf.random.set_seed(7)
    drawn = tf.random.uniform([3], 0, 4, dtype=items.dtype)  # the draws the loss made
    with tf.GradientTape() as reference_tape:
        reference_tape.watch([queries, candidates])
        expected = reference(queries, candidates, drawn)
    np.testing.assert_allclose(loss.numpy(), expected.numpy(), rtol=1e-5)
    gradients = tape.gradient(loss, [queries, candidates])
    expected_gradients = reference_tape.gradient(expected, [queries, candidates])
    for got, want in zip(gradients, expected_gradients, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-6)
