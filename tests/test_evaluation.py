"""The protocol: exclusions, relevant sets and the sampled NCF variant."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from tfrec.errors import TfrecError
from tfrec.evaluation import evaluate, sample_negatives
from tfrec.models.base import ModelConfig, Recommender, encode


@dataclasses.dataclass
class _NoConfig(ModelConfig):
    pass


class Oracle(Recommender):
    """Knows the test set: scores a user's test items 1, everything else 0."""

    name = "oracle"
    Config = _NoConfig
    predicts_ratings = False

    def __init__(self, test, shuffle_seed=None):
        super().__init__()
        self.test, self.shuffle_seed = test, shuffle_seed

    def _fit(self, data, split, options):
        users = encode(data.user_ids, self.test.user_id)
        items = encode(data.item_ids, self.test.item_id)
        ok = (users >= 0) & (items >= 0)
        self.truth = sp.csr_matrix(
            (np.ones(ok.sum()), (users[ok], items[ok])),
            shape=(len(data.user_ids), len(data.item_ids)),
        )

    def _score(self, users):
        scores = np.asarray(self.truth[users].todense(), dtype=np.float32)
        if self.shuffle_seed is not None:  # an uninformed ranker
            scores = np.random.default_rng(self.shuffle_seed).random(scores.shape, dtype=np.float32)
        return scores


def test_oracle_gets_perfect_scores(small_split):
    result = evaluate(Oracle(small_split.test).fit(small_split), small_split, sampled=True)
    m = result.metrics
    assert m["hr@10"] == 1.0 and m["ndcg@10"] == pytest.approx(1.0)
    assert m["recall@10"] == pytest.approx(1.0) and m["map@10"] == pytest.approx(1.0)
    assert m["sampled_hr@10"] == 1.0
    assert "rmse" not in m
    assert m["n_users_ranked"] == len(result.per_user)
    in_catalog = small_split.test[small_split.test.item_id.isin(small_split.train.item_id)]
    assert m["n_users_ranked"] == in_catalog.user_id.nunique()


def test_random_ranker_is_near_chance(small_split):
    m = evaluate(
        Oracle(small_split.test, shuffle_seed=0).fit(small_split), small_split, sampled=True
    ).metrics
    assert m["hr@10"] < 0.5
    assert m["sampled_hr@10"] == pytest.approx(10 / 101, abs=0.08)


def test_validation_items_are_excluded_from_test_candidates(small_split):
    # A model that puts each user's validation items first must gain nothing.
    class ValidationFirst(Oracle):
        pass

    model = ValidationFirst(small_split.validation).fit(small_split)
    m = evaluate(model, small_split).metrics
    cheat = evaluate(model, small_split, part="validation").metrics
    assert cheat["hr@10"] == 1.0
    assert m["hr@10"] < 0.6


def test_sample_negatives_are_distinct_and_unseen():
    rng = np.random.default_rng(0)
    seen = sp.random(50, 300, density=0.3, random_state=1, format="csr")
    negatives = sample_negatives(seen, 100, rng)
    assert negatives.shape == (50, 100)
    for row in range(50):
        assert len(set(negatives[row])) == 100
        assert not set(negatives[row]) & set(seen[row].indices)
    assert len(np.unique(negatives)) > 250  # uniform over the unseen, not the low IDs


def test_k_must_be_positive(small_split):
    from tfrec.errors import ConfigError

    model = Oracle(small_split.test).fit(small_split)
    with pytest.raises(ConfigError, match="k must be a positive integer; got 0"):
        evaluate(model, small_split, k=0)


def test_semantic_hits_count_near_items_and_stay_apart(small_split):
    model = Oracle(small_split.test, shuffle_seed=0).fit(small_split)
    n_items = len(model.item_ids)
    identical = np.ones((n_items, 3), np.float32)  # every item is every other's twin
    distinct = np.eye(n_items, dtype=np.float32)  # only the item itself is near
    exact = evaluate(model, small_split).metrics
    loose = evaluate(model, small_split, semantic_vectors=identical).metrics
    strict = evaluate(model, small_split, semantic_vectors=distinct).metrics
    assert loose["semantic_hr@10"] == 1.0 and loose["hr@10"] == exact["hr@10"]
    assert strict["semantic_hr@10"] == pytest.approx(exact["hr@10"])
    assert "semantic_hr@10" not in exact
    with pytest.raises(TfrecError, match="one row per catalogue item"):
        evaluate(model, small_split, semantic_vectors=distinct[:5])


def test_validation_ranking_samples_users_beyond_its_cap(small_split, monkeypatch):
    from tfrec.models.training import ranking_stopping as validation

    oracle = Oracle(small_split.validation).fit(small_split)
    everyone = validation.ValidationRanking(oracle, small_split.validation, None, None)
    monkeypatch.setattr(validation, "VALIDATION_USERS", 10)
    sample = validation.ValidationRanking(oracle, small_split.validation, None, None)
    assert len(everyone.rows) > 10 and len(sample.rows) == 10
    assert set(sample.rows) < set(everyone.rows)
    # Each sampled user keeps their own validation items: the oracle stays perfect.
    assert sample.measure(oracle._score)["val_ndcg@10"] == pytest.approx(1.0)
    again = validation.ValidationRanking(oracle, small_split.validation, None, None)
    np.testing.assert_array_equal(again.rows, sample.rows)  # seeded
