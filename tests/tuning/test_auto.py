"""--model auto: candidates fitted with defaults first, the best on validation wins."""

import pytest

import tfrec
import tfrec.api
import tfrec.tuning.auto
from tests.tuning.planted import two_groups
from tfrec.evaluation import evaluate
from tfrec.tuning.auto import candidates, select


@pytest.fixture(scope="module")
def groups():
    return two_groups()


def test_auto_picks_itemknn_over_popularity_on_taste_groups(groups):
    lines = []
    selection = select(groups, budget_seconds=60, names=["popularity", "itemknn"], say=lines.append)
    board = selection.leaderboard()
    assert selection.winner.name == "itemknn" and selection.model.name == "itemknn"
    assert [row["model"] for row in board] == ["itemknn", "popularity"]
    assert board[0]["validation"] > 1.5 * board[1]["validation"]
    assert selection.reason.startswith("itemknn won: validation ndcg@10")
    assert "runner-up popularity" in selection.reason
    # every candidate's defaults come before any tuning trial
    defaults = [i for i, line in enumerate(lines) if "trial 0 " in line]
    tuned = [i for i, line in enumerate(lines) if "trial 1 " in line]
    assert len(defaults) == 2 and max(defaults) < min(tuned)


def test_a_failing_candidate_is_reported_and_skipped(groups):
    lines = []
    selection = select(groups, budget_seconds=5, names=["svd", "popularity"], say=lines.append)
    assert selection.winner.name == "popularity"
    assert "svd" in selection.failed and "predicts ratings" in selection.failed["svd"]
    assert any(line.startswith("auto: skipped svd:") for line in lines)


def test_candidates_follow_the_data(groups, small_split):
    implicit = candidates(groups, "ndcg@10")
    assert {"popularity", "itemknn", "ease", "two_tower"} <= set(implicit)
    assert "lstm_retrieval" not in implicit  # no time order
    assert set(candidates(small_split, "rmse")) >= {"bias", "svd", "mf"}
    assert "lstm_retrieval" in candidates(small_split, "ndcg@10")


def test_train_auto_exports_the_winner_scored_once_on_test(groups, tmp_path, monkeypatch):
    monkeypatch.setattr(tfrec.tuning.auto, "RANKING", ("popularity", "itemknn"))
    tested = []

    def counted(model, split, k=10, *, part="test", **kwargs):
        tested.append((model.name, part))
        return evaluate(model, split, k, part=part, **kwargs)

    monkeypatch.setattr(tfrec.api, "evaluate", counted)
    result = tfrec.train("auto", groups.dataset, groups, out=tmp_path / "run", tune_budget="20s")
    assert tested == [("itemknn", "test")]
    assert result.metrics["model"] == "itemknn"
    auto = result.metrics["auto"]
    assert auto["winner"] == "itemknn" and auto["leaderboard"][1]["model"] == "popularity"
    assert result.metrics["tuning"]["model"] == "itemknn"


def test_auto_refuses_options_for_one_model(groups):
    with pytest.raises(tfrec.errors.ConfigError, match="name the model"):
        tfrec.train("auto", groups.dataset, groups, config={"n_neighbors": 5})
