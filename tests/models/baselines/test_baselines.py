"""Popularity, bias, SVD and ItemKNN: the shared contract plus known answers."""

import numpy as np
import pytest

from tests.recommender_contract import RecommenderContract
from tfrec.errors import ConfigError
from tfrec.evaluation import evaluate
from tfrec.models import get_model


class TestPopularity(RecommenderContract):
    model_name = "popularity"
    learns_checkerboard = False

    def test_ranks_by_count(self, small_split):
        """Every item, most training ratings first; equal counts go to the lower item ID
        (top-k breaks ties to the lower index, and item_ids are sorted)."""
        model = self.make().fit(small_split)
        counts = small_split.train["item_id"].value_counts()
        expected = sorted(counts.index, key=lambda item: (-counts[item], item))
        assert expected != sorted(counts.index)  # ranking by item ID alone would fail
        assert counts.duplicated().any()  # the data has ties, so their order is tested
        expected_counts = counts[expected].to_numpy()
        known_user = small_split.train["user_id"].iloc[0]
        # An unknown user gets the counts scaled to [0, 1]; a known one, the counts.
        for user, exclude_seen, scale in ((-1, True, counts.max()), (known_user, False, 1)):
            items, scores = model.recommend([user], k=len(counts), exclude_seen=exclude_seen)
            assert items[0].tolist() == expected
            assert scores[0] == pytest.approx(expected_counts / scale)


class TestBias(RecommenderContract):
    model_name = "bias"
    learns_checkerboard = False

    def test_biases_recover_a_known_shift(self, small_data):
        from tfrec.splits import split

        data = small_data
        ratings = data.ratings.copy()
        boosted = ratings["item_id"] == ratings["item_id"].iloc[0]
        ratings.loc[boosted, "rating"] = 5.0
        parts = split(type(data)(data.name, ratings, data.items), "none")
        model = self.make().fit(parts)
        item = int(ratings["item_id"].iloc[0])
        assert model.item_bias_[model.item_ids == item][0] > np.percentile(model.item_bias_, 95)

    def test_negative_regularisation_is_refused(self):
        with pytest.raises(ConfigError, match="reg_user must be a number >= 0; got -1"):
            get_model("bias", reg_user=-1)


class TestSVD(RecommenderContract):
    model_name = "svd"
    options = {"k": 8}
    board_options = {"k": 2}

    def test_k_too_large_is_a_clear_error(self, small_split):
        with pytest.raises(ConfigError, match="k must be smaller than"):
            get_model("svd", k=10_000).fit(small_split)

    def test_k_must_be_positive(self):
        with pytest.raises(ConfigError, match="k must be a positive integer; got -3"):
            get_model("svd", k=-3)


class TestItemKNN(RecommenderContract):
    model_name = "itemknn"
    options = {"n_neighbors": 10}

    def test_similar_items_are_exact_cosine(self, fitted):
        matrix = fitted.item_user_.toarray()
        unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        expected = unit[0] @ unit.T
        expected[0] = -np.inf
        items, scores = fitted.similar_items(fitted.item_ids[:1], k=5)
        assert scores[0] == pytest.approx(np.sort(expected)[::-1][:5], abs=1e-5)


def test_models_learn_the_synthetic_structure(small_split):
    """Synthetic ratings have biases and latent factors: the rating models must
    beat predicting the training mean, and item-item neighbours must rank
    better than the non-personalised item-bias order."""
    test = small_split.test
    baseline = float(np.sqrt(np.mean((test["rating"] - small_split.train["rating"].mean()) ** 2)))
    result = {
        name: evaluate(get_model(name).fit(small_split), small_split).metrics
        for name in ("bias", "svd", "itemknn")
    }
    assert result["bias"]["rmse"] < baseline - 0.05, (result, baseline)
    assert result["svd"]["rmse"] < baseline - 0.02, (result, baseline)
    assert result["itemknn"]["ndcg@10"] > 2 * result["bias"]["ndcg@10"], result


@pytest.mark.parametrize(
    ("name", "fix"),
    [("svd", "lower k, keep fewer users or items"), ("itemknn", "keep fewer items or users")],
)
def test_whole_matrix_models_refuse_data_over_their_memory_limit(small_split, name, fix):
    """The estimate is checked before anything is built; the message names the
    size, the limit and the fix."""
    with pytest.raises(ConfigError, match=rf"{name} needs about .* GB .*\(max_memory_gb\); {fix}"):
        get_model(name, max_memory_gb=1e-6).fit(small_split)
    get_model(name, max_memory_gb=2.0).fit(small_split)  # small data fits in 2 GB
    with pytest.raises(ConfigError, match="max_memory_gb must be a number > 0; got -1"):
        get_model(name, max_memory_gb=-1)
