"""--tune: the budgeted search on validation (known answers on planted data)."""

import json

import pytest

import tfrec
import tfrec.api
import tfrec.models
import tfrec.tuning.search
from tests.tuning.planted import two_groups
from tfrec.errors import ConfigError
from tfrec.tuning.budget import parse_budget
from tfrec.tuning.search import tune


@pytest.fixture
def peek(monkeypatch):
    """Registers the planted model as ``peek``."""
    monkeypatch.setitem(tfrec.models._MODELS, "peek", "tests.tuning.planted:Peek")
    return "peek"


@pytest.fixture(scope="module")
def groups():
    return two_groups()


def test_the_chosen_value_is_the_one_best_on_validation(peek, groups):
    lines = []
    search = tune(peek, groups, n_trials=12, seed=0, say=lines.append)
    assert search.trials[0].params == {"peek": False, "blur": 0.5}  # the defaults first
    assert search.best.params["peek"] is True
    assert search.best.score == max(t.score for t in search.trials)
    assert search.best_model.config.peek is True
    assert len(lines) == 13  # a line per trial, and the choice
    assert lines[0].startswith("tune peek: trial 0  peek=False blur=0.5 (defaults)")


def test_options_the_user_set_are_not_searched(peek, groups):
    search = tune(peek, groups, n_trials=4, config={"peek": False}, say=lambda line: None)
    assert all(t.params.keys() == {"blur"} for t in search.trials)
    assert search.best_model.config.peek is False


def test_a_finite_space_stops_when_every_setting_is_tried(groups):
    search = tune("itemknn", groups, config={"weighting": "binary"}, say=lambda line: None)
    assert sorted(t.params["n_neighbors"] for t in search.trials) == [10, 20, 50]
    assert search.stopped == "every setting tried"


def test_the_budget_stops_the_search(peek, groups):
    search = tune(peek, groups, budget_seconds=1e-6, say=lambda line: None)
    assert len(search.trials) == 1  # the defaults run, however short the budget
    assert search.stopped == "budget spent"


def test_train_tune_scores_test_once_and_writes_the_choice(peek, groups, tmp_path, monkeypatch):
    parts = []

    def spy(evaluate):
        def counted(model, split, k=10, *, part="test", **kwargs):
            parts.append(part)
            return evaluate(model, split, k, part=part, **kwargs)

        return counted

    monkeypatch.setattr(tfrec.api, "evaluate", spy(tfrec.api.evaluate))
    monkeypatch.setattr(tfrec.tuning.search, "evaluate", spy(tfrec.tuning.search.evaluate))
    result = tfrec.train(
        peek, groups.dataset, groups, out=tmp_path / "run", config={"blur": 0.0}, tune=True
    )
    tuning = result.metrics["tuning"]
    assert parts.count("test") == 1 and parts[-1] == "test"
    assert parts.count("validation") == tuning["n_trials"] == 2  # peek False, True
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["peek"] is True and config["peek"] == tuning["chosen"]["peek"]
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())["tuning"]
    assert written["best_validation"] == max(t["score"] for t in written["trials"])
    assert written["budget_seconds"] == 600.0 and written["fixed"]["blur"] == 0.0


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h", 3600), (45, 45)])
def test_budget_durations(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["abc", "10 minutes", "0m", "-5s", ""])
def test_a_bad_budget_names_the_text_and_the_form(text):
    with pytest.raises(ConfigError) as error:
        parse_budget(text)
    assert str(error.value) == (
        f"--tune-budget takes a duration such as 90s, 10m or 1h; got {text!r}"
    )


def test_train_refuses_a_bad_budget_before_reading_data():
    with pytest.raises(ConfigError, match="got 'abc'"):
        tfrec.train("itemknn", "no-such-dataset", tune=True, tune_budget="abc")


def test_a_budget_without_a_search_is_refused():
    with pytest.raises(ConfigError, match="add one of them"):
        tfrec.train("itemknn", "no-such-dataset", tune_budget="10m")
