"""Interaction strengths (counts, hours) as confidence: known answers on tiny logs."""

import numpy as np
import pandas as pd
import pytest

from tfrec.data.interaction_log import read_interactions
from tfrec.errors import ConfigError
from tfrec.models import get_model
from tfrec.models.weighting import confidence
from tfrec.splits import split


def test_confidence_formula():
    w = np.array([0.0, 1.0, 9.0])
    assert confidence(None, 3).tolist() == [1.0, 1.0, 1.0]
    assert confidence(w, 3, "binary").tolist() == [1.0, 1.0, 1.0]
    assert confidence(w, 3, "log", alpha=2.0) == pytest.approx(1 + 2 * np.log1p(w))
    assert confidence(w, 3, "log", eps=10.0) == pytest.approx(1 + np.log1p(w / 10))
    assert confidence(w, 3, "raw", alpha=0.5) == pytest.approx(1 + 0.5 * w)
    with pytest.raises(ConfigError, match="weighting must be one of binary, log, raw; got 'sqrt'"):
        confidence(w, 3, "sqrt")
    with pytest.raises(ConfigError, match="alpha must be a number >= 0; got -1"):
        confidence(w, 3, "log", alpha=-1)


def _fit_all(log: pd.DataFrame, name: str, **options):
    data = read_interactions(log, columns={"weight": "plays"})
    model = get_model(name, **options).fit(split(data, "none"))
    return model


def test_popularity_sums_confidences():
    # p: two users with one play each; q: one user with 100 plays.
    log = pd.DataFrame(
        {"user": ["a", "b", "c", "d"], "item": ["p", "p", "q", "r"], "plays": [1, 1, 100, 1]}
    )
    binary = _fit_all(log, "popularity")
    weighted = _fit_all(log, "popularity", weighting="log")
    assert binary.recommend(["new"], k=1)[0][0][0] == "p"
    assert weighted.recommend(["new"], k=1)[0][0][0] == "q"


def test_itemknn_heavier_interaction_ranks_its_neighbours_higher():
    # x goes with a, y goes with b, symmetrically; user u played a 100 times and b once.
    rows = []
    for k in range(6):
        rows += [(f"s{k}", "a", 1), (f"s{k}", "x", 1), (f"t{k}", "b", 1), (f"t{k}", "y", 1)]
    rows += [("u", "a", 100), ("u", "b", 1)]
    log = pd.DataFrame(rows, columns=["user", "item", "plays"])
    for weighting, expected in (("log", ["x", "y"]), ("binary", None)):
        model = _fit_all(log, "itemknn", weighting=weighting, n_neighbors=3)
        items, scores = model.recommend(["u"], k=2)
        if expected is None:  # binary: a tie
            assert scores[0][0] == pytest.approx(scores[0][1])
        else:
            assert list(items[0]) == expected
            assert scores[0][0] > scores[0][1]


def test_gmf_pipeline_weighs_positives_by_confidence():
    from tfrec.pipelines import implicit_dataset

    users, items = np.array([0, 0, 1]), np.array([0, 1, 2])
    c = np.array([5.0, 1.0, 2.0], np.float32)
    batch = next(iter(implicit_dataset(users, items, 4, 1, 64, 0, 1, c)))
    features, labels, weights = (t.numpy() for t in (batch[0]["item"], batch[1], batch[2]))
    positive = labels == 1
    assert sorted(weights[positive]) == [1.0, 2.0, 5.0]
    assert (weights[~positive] == 1.0).all()
    assert len(next(iter(implicit_dataset(users, items, 4, 1, 64, 0, 1)))) == 2


def test_implicit_als_reads_log_strengths():
    pytest.importorskip("implicit")
    rows = [
        (f"u{u}", f"i{(u * 7 + j) % 12}", 1 + (u * j) % 50) for u in range(30) for j in range(5)
    ]
    log = pd.DataFrame(rows, columns=["user", "item", "plays"])
    binary = _fit_all(log, "implicit_als", factors=4, iterations=3)
    weighted = _fit_all(log, "implicit_als", factors=4, iterations=3, weighting="log")
    assert not np.allclose(binary.score(["u1"]), weighted.score(["u1"]))
    with pytest.raises(ConfigError, match="weighting must be one of"):
        get_model("implicit_als", weighting="loud")


def test_implicit_als_without_strengths_ignores_weighting(small_split):
    pytest.importorskip("implicit")
    binary = get_model("implicit_als", factors=4, iterations=3).fit(small_split)
    log = get_model("implicit_als", factors=4, iterations=3, weighting="log").fit(small_split)
    np.testing.assert_allclose(binary.score([1]), log.score([1]), rtol=1e-5)
