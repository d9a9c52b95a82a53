"""The cascade's listwise combiner: features, fit and cross-fit on known answers."""

import numpy as np
import pytest

from tfrec.metrics import ranking_metrics
from tfrec.models.ranking import stacking


def test_features_are_standardised_over_each_users_candidates():
    ranked = np.array([[1.0, 2.0, 3.0]], np.float32)
    retrieved = np.array([[3.0, 2.0, -np.inf]], np.float32)  # one seen item among them
    x = stacking.features(ranked, retrieved)
    z = np.sqrt(1.5)
    np.testing.assert_allclose(x[0, :, 0], [-z, 0, z], atol=1e-5)
    # -inf is raised to the row's lowest finite score: [3, 2, 2].
    np.testing.assert_allclose(x[0, :, 1], [np.sqrt(2), -1 / np.sqrt(2), -1 / np.sqrt(2)], 1e-5)
    np.testing.assert_allclose(x[0, :, 2], [z, 0, -z], atol=1e-5)
    log_rank = -np.log1p(np.arange(3.0))
    expected = (log_rank - log_rank.mean()) / log_rank.std()
    np.testing.assert_allclose(x[0, :, 3], expected, atol=1e-5)
    assert x.dtype == np.float32 and stacking.FEATURES[0] == "ranker"


def test_each_signal_is_one_more_standardised_feature():
    ranked = np.array([[1.0, 2.0, 3.0]], np.float32)
    retrieved = np.array([[3.0, 2.0, 1.0]], np.float32)
    signal = np.array([[5.0, -np.inf, 1.0]], np.float32)  # -inf raised to 1, as the retriever's
    x = stacking.features(ranked, retrieved, [signal])
    assert x.shape == (1, 3, len(stacking.FEATURES) + 1)
    np.testing.assert_array_equal(x[..., :4], stacking.features(ranked, retrieved))
    np.testing.assert_allclose(x[0, :, 4], [np.sqrt(2), -1 / np.sqrt(2), -1 / np.sqrt(2)], 1e-5)


def test_a_fitter_of_the_first_features_gives_the_others_no_weight():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10, 5))
    relevant = (rng.random((200, 10)) < 0.2).astype(float)
    theta = stacking.listwise_fitter(0.01, 4)(x, relevant, relevant.sum(1))
    assert theta.shape == (5,) and theta[4] == 0
    np.testing.assert_allclose(theta[:4], stacking.fit_listwise(x[..., :4], relevant, 0.01))
    assert stacking.fit_weight(x, relevant, relevant.sum(1), (0.0, 1.0)).shape == (5,)


def test_combine_is_the_weighted_sum():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    np.testing.assert_allclose(stacking.combine(x, [1, 0, 2, -1]), [[1, 9, 17]])


def test_the_listwise_fit_recovers_planted_weights():
    """One relevant item per user, drawn from softmax(θ* · x): the maximum
    likelihood θ (no penalty) is θ* up to sampling error."""
    rng = np.random.default_rng(0)
    users, n, planted = 4000, 20, np.array([1.5, -0.5, 0.8])
    x = rng.normal(size=(users, n, 3))
    logits = x @ planted
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    relevant = np.zeros((users, n))
    relevant[np.arange(users), [rng.choice(n, p=row) for row in p]] = 1
    relevant[:50] = 0  # users without a relevant candidate are left out
    theta = stacking.fit_listwise(x, relevant, 0.0)
    np.testing.assert_allclose(theta, planted, atol=0.1)
    shrunk = stacking.fit_listwise(x, relevant, 1.0)
    assert np.linalg.norm(shrunk) < np.linalg.norm(theta)


def test_two_relevant_items_each_weigh_half_their_user():
    """x = [1] for the two relevant items, 0 for one other: the softmax optimum
    puts 1/2 on each relevant item, e^t / (2 e^t + 1) = 1/2 has no finite t, so a
    penalty keeps θ finite and positive, and a reversed feature gives -θ."""
    x = np.array([[[1.0], [1.0], [0.0]]])
    relevant = np.array([[1, 1, 0]])
    theta = stacking.fit_listwise(x, relevant, 0.01)[0]
    assert theta > 1
    np.testing.assert_allclose(stacking.fit_listwise(-x, relevant, 0.01), [-theta], rtol=1e-4)


def test_ndcg_at_10_is_the_protocols():
    scores = np.array([[0.9, 0.1, 0.5, 0.3]])
    relevant = np.array([[1, 0, 0, 1]])
    # order: columns 0, 2, 3, 1 -> hits at places 0 and 2; 3 held-out items in all.
    expected = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    np.testing.assert_allclose(stacking.ndcg_at_10(scores, relevant, np.array([3])), [expected])
    hits = np.array([[True, False, True, False]])
    np.testing.assert_allclose(expected, ranking_metrics(hits, np.array([3]))["ndcg"])


def test_the_cross_fit_chooses_among_the_penalties():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 15, 4))
    relevant = (x[..., 0] + rng.normal(size=(200, 15)) > 2).astype(float)
    l2, tried = stacking.choose_l2(x, relevant, np.maximum(relevant.sum(1), 1))
    assert l2 in stacking.L2_PENALTIES and set(tried) == set(stacking.L2_PENALTIES)
    assert tried[l2] == max(tried.values()) and tried[l2] > 0.3


@pytest.mark.parametrize("n", [1, 5])
def test_position_features_are_standardised_ranks(n):
    positions = stacking.position_features(n)
    assert positions.shape == (1, n, 2)
    assert np.all(np.diff(positions[0, :, 0]) <= 0) and np.all(np.diff(positions[0, :, 1]) <= 0)


def test_the_weighted_sum_takes_the_best_weight_on_ndcg():
    """The ranker puts the relevant item last, the retriever first: only a
    retrieval weight that outvotes the ranker finds it."""
    ranked = np.array([[0.0, 1.0, 2.0, 3.0]])
    retrieved = np.array([[4.0, 3.0, 2.0, 1.0]])
    x = stacking.features(ranked, retrieved)
    relevant = np.array([[1, 0, 0, 0]])
    theta = stacking.fit_weight(x, relevant, np.array([1]), (0.0, 0.5, 2.0, 4.0))
    np.testing.assert_array_equal(theta, [1, 0, 2, 0])  # the first weight that wins
    assert stacking.ndcg_at_10(stacking.combine(x, theta), relevant, np.array([1]))[0] == 1


def test_the_cross_fit_measures_each_half_with_the_others_fit():
    x = np.zeros((4, 3, 4), np.float32)
    x[..., 0] = [0, 1, 2]
    relevant = np.array([[0, 0, 1]] * 2 + [[1, 0, 0]] * 2)
    n_relevant = np.ones(4)
    # θ (1, 0, 0, 0) puts column 2 first, column 0 third: NDCG 1 and 1 / log2(4).
    fixed = {"fixed": lambda *data: stacking.weight_theta(0.0)}
    assert stacking.cross_fit(x, relevant, n_relevant, fixed) == {"fixed": 0.75}
    # A fit that learns the fitting half's side: each half gets the other's.
    first = np.random.default_rng(0).permutation(4)[:2]
    relevant = np.array([[0, 0, 1]] * 4)
    relevant[first] = [1, 0, 0]  # the halves disagree: each is measured on the other's side
    learned = {"learned": lambda x, r, n: stacking.weight_theta(0.0) * (1 if r[0, 2] else -1)}
    assert stacking.cross_fit(x, relevant, n_relevant, learned) == {"learned": 0.5}
