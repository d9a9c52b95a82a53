"""The seed notebook's figures on real ml-latest-small (skipped without the files)."""

import numpy as np
import pytest

import tfrec
from tfrec.evaluation import evaluate

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def ml_small(ml_root):
    return tfrec.load_dataset("ml-latest-small", ml_root)


@pytest.fixture(scope="module")
def ml_split(ml_small):
    return tfrec.split(ml_small, "temporal")


def test_dataset_counts(ml_small):
    info = ml_small.info()
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (610, 9724, 100836)


def test_temporal_split_sizes(ml_split):
    assert ml_split.sizes() == {"train": 81_200, "validation": 9_818, "test": 9_818}


def test_svd_reproduces_the_seed(ml_split):
    m = evaluate(tfrec.get_model("svd", k=50).fit(ml_split), ml_split).metrics
    assert m["n_rating_pairs"] == 8_886
    assert m["rmse"] == pytest.approx(0.9628, abs=0.001)
    assert m["mae"] == pytest.approx(0.7459, abs=0.001)


def test_itemknn_neighbours_of_star_wars(ml_small):
    model = tfrec.get_model("itemknn").fit(tfrec.split(ml_small, "none"))
    items, _ = model.similar_items([260], k=10)
    assert items[0].tolist() == [1196, 1210, 1198, 2571, 1291, 1270, 2628, 1240, 858, 2028]


def test_most_popular_matches_the_peer_figure(ml_split):
    # Issue 5 quotes MostPop HR@10 0.2105 / NDCG@10 0.0472 on exactly this protocol.
    # Items tied on count at the cut-off are ordered by lower item ID here, which
    # moves one or two users' hits (0.2122 / 0.0474 measured); hence the margin.
    m = evaluate(tfrec.get_model("popularity").fit(ml_split), ml_split).metrics
    assert m["n_users_ranked"] == 608
    assert m["hr@10"] == pytest.approx(0.2105, abs=0.003)
    assert m["ndcg@10"] == pytest.approx(0.0472, abs=0.001)


def test_personalised_baselines_beat_popularity(ml_split):
    popularity = evaluate(tfrec.get_model("popularity").fit(ml_split), ml_split).metrics
    knn = evaluate(tfrec.get_model("itemknn").fit(ml_split), ml_split).metrics
    bias = evaluate(tfrec.get_model("bias").fit(ml_split), ml_split).metrics
    assert knn["ndcg@10"] > popularity["ndcg@10"] + 0.01
    assert bias["rmse"] < 0.91
    assert np.isfinite(knn["rmse"])


# Issue 4's rating models. Measured on this split (scripts/bench_quality.py):
# mf 0.872, dnn 0.876, blend 0.865; the margins below allow for seeds and BLAS.
@pytest.mark.parametrize("name, ceiling", [("mf", 0.878), ("dnn", 0.884), ("blend", 0.870)])
def test_rating_models_meet_their_figures(ml_split, name, ceiling):
    model = tfrec.get_model(name).fit(ml_split)
    m = evaluate(model, ml_split).metrics
    assert m["n_rating_pairs"] == 8_886
    assert m["rmse"] <= ceiling, m["rmse"]


def test_gmf_ranks_above_popularity(ml_split):
    # Measured: HR@10 0.2615, NDCG@10 0.0561 (seed 0); MostPop 0.2122 / 0.0473.
    m = evaluate(tfrec.get_model("gmf").fit(ml_split), ml_split, sampled=True).metrics
    assert m["hr@10"] >= 0.235 and m["ndcg@10"] >= 0.050
    assert m["sampled_hr@10"] > 0.55


def test_two_tower_retrieves_above_tuned_als(ml_split):
    # Measured (protocol train, stride 8): HR@10 0.3322 / 0.3569 / 0.3553, NDCG@10 0.0764 /
    # 0.0781 / 0.0776 for seeds 0 / 1 / 2; ALS tuned on test 0.3158 / 0.0682. Seed 0 here.
    m = evaluate(tfrec.get_model("two_tower").fit(ml_split), ml_split).metrics
    assert m["hr@10"] >= 0.31 and m["ndcg@10"] >= 0.071


def test_lstm_predicts_the_next_item_above_the_peers(ml_small):
    # Leave-one-out next item, full ranking; 586 users have a test item in the catalogue.
    # Measured 2026-12-03 (tied output, input dropout 0.5): HR@10 0.0973 / 0.0956 / 0.1075,
    # NDCG@10 0.0495 / 0.0482 / 0.0499 for seeds 0 / 1 / 2. Peers (issue 6): MostPop
    # 0.0427 / 0.0195, item-KNN on the last item 0.0802 / 0.0455 (its last item is the
    # validation item; from the last training item, as lstm reads, 0.0614 / 0.0350).
    parts = tfrec.split(ml_small, "leave-one-out")
    m = evaluate(tfrec.get_model("lstm").fit(parts), parts).metrics
    assert m["n_users_ranked"] == 586
    assert m["hr@10"] >= 0.09 and m["ndcg@10"] >= 0.045


def test_ease_at_its_chosen_l2_beats_the_goal(ml_split):
    # The default fit chooses l2 = 200 on validation (grid 50-2000; tfrec train --model
    # ease measured HR@10 0.3109, NDCG@10 0.0688); fixed here to skip the five other
    # inversions.
    m = evaluate(tfrec.get_model("ease", l2=200.0).fit(ml_split), ml_split).metrics
    assert m["hr@10"] >= 0.305 and m["ndcg@10"] >= 0.067


@pytest.mark.parametrize("name, floor", [("content_knn", 0.18), ("content_pop", 0.20)])
def test_content_models_rank_cold_items(ml_small, name, floor):
    # Seed 0 of NDCG@10 0.190 / 0.145 / 0.181 (content_knn) and 0.214 / 0.161 / 0.231
    # (content_pop) for seeds 0 / 1 / 2; random order gives about 0.04.
    parts = tfrec.split(ml_small, "cold-items", seed=0)
    m = evaluate(tfrec.get_model(name).fit(parts), parts).metrics
    assert m["n_cold_items"] == 730 and m["n_users_ranked"] == 610
    assert m["ndcg@10"] >= floor


def test_new_users_folded_in_with_the_stage_prior(ml_small):
    # Seed 0, H = 5 (docs/evaluation.md): itemknn 0.1363 plain, 0.1523 with the stage
    # prior chosen on the validation cold users; popularity 0.0813.
    parts = tfrec.split(ml_small, "cold-users", seed=0, history=5)
    model = tfrec.get_model("itemknn").fit(parts)
    assert model.stage_weight_ > 0
    with_prior = evaluate(model, parts).metrics
    assert with_prior["n_users_ranked"] == 122 and with_prior["ndcg@10"] >= 0.145
    model.stage_weight_ = 0.0
    assert evaluate(model, parts).metrics["ndcg@10"] >= 0.13
    popularity = evaluate(tfrec.get_model("popularity").fit(parts), parts).metrics
    assert popularity["ndcg@10"] < 0.1


def test_two_tower_serves_new_users_from_their_items(ml_small):
    # Seed 0, H = 5 (docs/evaluation.md): two_tower 0.1884 (mean of seeds 0-2 0.1865,
    # ease 0.1622); trained without the user embedding it cannot use for them.
    parts = tfrec.split(ml_small, "cold-users", seed=0, history=5)
    model = tfrec.get_model("two_tower", seed=0).fit(parts)
    assert model.config.user_embedding is False
    assert evaluate(model, parts).metrics["ndcg@10"] >= 0.165
