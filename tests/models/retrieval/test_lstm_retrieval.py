"""lstm_retrieval: the shared contract and the next item on a cycle."""

import numpy as np
import pandas as pd
import pytest

from tests.recommender_contract import RecommenderContract
from tfrec.errors import ConfigError


class TestLSTMRetrieval(RecommenderContract):
    model_name = "lstm_retrieval"
    options = {"embedding_dim": 8, "epochs": 3, "batch_size": 256, "history": 5}
    learns_checkerboard = False  # implicit: every checkerboard item was watched by both groups
    feature_options = {**options, "epochs": 20, "batch_size": 32, "patience": 20}

    @pytest.mark.parametrize("stride", [1, 3])
    def test_learns_the_next_item(self, cycle_split, stride):
        """With the train items excluded only the validation (next) and test
        items remain; the model must put the next one first."""
        options = {**self.options, "epochs": 40, "history": 3, "patience": 0, "stride": stride}
        model = self.make(**options, learning_rate=0.02).fit(cycle_split)
        top, _ = model.recommend(model.user_ids, k=1)
        following = cycle_split.validation.set_index("user_id").loc[model.user_ids, "item_id"]
        assert np.mean(top[:, 0] == following.to_numpy()) >= 0.9

    def test_query_needs_some_input(self):
        with pytest.raises(ConfigError, match="user_embedding=true or history > 0"):
            self.make(history=0)

    def test_windows_of_targets_only_on_large_data(self):
        from tfrec.models.retrieval.config import LARGE_DATA_INTERACTIONS
        from tfrec.models.retrieval.lstm_retrieval import LSTMRetrievalConfig

        config = LSTMRetrievalConfig()
        small = config.for_interactions(LARGE_DATA_INTERACTIONS - 1, 10)
        large = config.for_interactions(LARGE_DATA_INTERACTIONS, 10)
        assert (small.embedding_dim, small.stride, small.batch_size, small.negatives) == (
            128, 1, 1024, 0
        )  # fmt: skip
        assert (large.embedding_dim, large.stride, large.batch_size, large.negatives) == (
            64, 20, 4096, 256
        )  # fmt: skip

    def test_a_log_without_timestamps_is_read_as_a_bag(self):
        from tfrec.data.interaction_log import read_interactions
        from tfrec.splits import split

        rng = np.random.default_rng(0)
        log = pd.DataFrame({"user": rng.integers(0, 20, 200), "item": rng.integers(0, 30, 200)})
        data = read_interactions(log, duplicates="count")
        model = self.make(epochs=1).fit(split(data, "none"))
        assert (model.config.history_order, model.config.windowed) == ("bag", False)
        items, _ = model.recommend(model.user_ids[:3], k=4)
        assert items.shape == (3, 4)
