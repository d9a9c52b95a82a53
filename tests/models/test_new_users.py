"""New users: the stage prior, and its place in recommend_history and the SavedModel."""

import numpy as np
import pandas as pd
import pytest

from tfrec.data.interaction_log import read_interactions
from tfrec.evaluation import evaluate
from tfrec.models import get_model, load_model
from tfrec.models.stage_prior import N_STAGES, WINDOW, stage_prior, with_prior
from tfrec.splits import split


def test_stage_prior_counts_the_items_of_each_stage():
    # One user takes items 1..60 in time order: stage n counts items n+1..n+WINDOW.
    items = np.arange(60, 0, -1)  # the frame's order is not the time order
    frame = pd.DataFrame({"user_id": 1, "item_id": items, "timestamp": items * 10})
    table = stage_prior(frame, np.arange(1, 61))
    assert table.shape == (N_STAGES, 60)
    expected = np.zeros((N_STAGES, 60))
    for n in range(N_STAGES):
        expected[n, n : n + WINDOW] = np.log(2.0)
    np.testing.assert_allclose(table, expected, rtol=1e-6)


def test_with_prior_scales_each_row_then_adds_its_stage():
    table = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]], np.float32)
    scores = np.array([[4.0, 2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.5]], np.float32)
    out = with_prior(scores, table, np.array([0, 1, 7]), beta=0.5)
    np.testing.assert_allclose(out, [[1.0, 1.0, -0.25], [1.0, 0.0, 0.0], [2.0, 0.0, 0.5]])


@pytest.fixture(scope="module")
def stage_split():
    """Every user starts with 10 of 15 "early" items, then takes 30 of 30 "late"
    ones, which are the popular ones overall: what a new user takes next is
    told by their stage, not by popularity or co-occurrence."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(200):
        early = rng.choice(15, 10, replace=False)
        late = 100 + rng.permutation(30)
        for position, item in enumerate([*early, *late]):
            rows.append((user, item, position))
    frame = pd.DataFrame(rows, columns=["user", "item", "when"])
    data = read_interactions(frame, columns="user=user,item=item,timestamp=when", name="stages")
    return split(data, "cold-users", seed=0, history=2)


def test_the_stage_prior_is_chosen_on_validation_where_stages_matter(stage_split):
    model = get_model("ease", l2=10.0).fit(stage_split)
    assert model.stage_weight_ > 0
    with_stage = evaluate(model, stage_split).metrics["ndcg@10"]
    model.stage_weight_ = 0.0
    plain = evaluate(model, stage_split).metrics["ndcg@10"]
    assert with_stage > plain + 0.1, (with_stage, plain)


def test_no_prior_without_cold_validation_users(small_split):
    model = get_model("itemknn").fit(small_split)
    assert model.stage_weight_ == 0 and model.stage_prior_ is None


@pytest.mark.parametrize("name", ["ease", "itemknn"])
def test_stage_prior_saved_and_exported_with_equal_outputs(stage_split, name, tmp_path):
    import tensorflow as tf

    model = get_model(name).fit(stage_split)
    model.stage_weight_ = 0.5  # whatever was chosen: the outputs must match
    histories = [[0, 1], [3], []]
    items, scores = model.recommend_history(histories, k=5)
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m").recommend_history(histories, k=5)
    np.testing.assert_array_equal(again[0], items)
    np.testing.assert_allclose(again[1], scores, rtol=1e-6)
    served = tf.saved_model.load(str(model.export(tmp_path / "export")))
    padded = np.array([[0, 1], [3, -1], [-1, -1]], np.int64)
    out = served.signatures["recommend_history"](history=tf.constant(padded), k=tf.constant([5]))
    np.testing.assert_array_equal(out["item_ids"].numpy(), items)
    np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-6)
