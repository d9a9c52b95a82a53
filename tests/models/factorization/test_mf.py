"""mf: the shared contract, small and fast."""

import numpy as np

from tests.recommender_contract import RecommenderContract
from tfrec.evaluation import evaluate


class TestMF(RecommenderContract):
    model_name = "mf"
    options = {"n_factors": 8, "epochs": 15, "batch_size": 512}
    board_options = {
        "n_factors": 2,
        "epochs": 200,
        "batch_size": 16,
        "l2": 0.01,
        "learning_rate": 0.1,
    }

    def test_early_stopping_keeps_the_best_epoch(self, fitted):
        val = [r["val_rmse"] for r in fitted.history_]
        assert fitted.best_epoch_ == int(np.argmin(val)) + 1
        assert fitted.refit_options() == {"epochs": fitted.best_epoch_, "patience": 0}

    def test_learns_better_than_the_mean(self, small_split):
        model = self.make(epochs=40).fit(small_split)
        test = small_split.test
        baseline = np.sqrt(np.mean((test.rating - small_split.train.rating.mean()) ** 2))
        assert evaluate(model, small_split).metrics["rmse"] < baseline - 0.05
