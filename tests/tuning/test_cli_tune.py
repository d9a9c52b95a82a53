"""tfrec train --tune / --tune-budget / --model auto on the command line."""

import json
from pathlib import Path

import pytest

import tfrec.tuning.auto
from tfrec.cli import main


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_help_names_auto_and_the_budget(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "or auto: every model that fits the data" in text
    assert "--tune-budget DURATION" in text and "--tune " in text


def test_a_bad_budget_is_one_line(capsys):
    code = main(["train", "--model", "itemknn", "--tune", "--tune-budget", "abc", "--out", "x"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--tune-budget takes a duration such as 90s, 10m or 1h; got 'abc'" in err


def test_tune_writes_the_search_and_prints_a_line_per_trial(capsys):
    argv = ["train", "--model", "itemknn", "--dataset", "synthetic-tiny", "--no-export"]
    code = main([*argv, "--tune", "--tune-budget", "2m", "--out", "run"])
    out, err = capsys.readouterr()
    tuning = json.loads(Path("run/metrics.json").read_text())["tuning"]
    assert code == 0 and tuning["metric"] == "validation rmse"  # a rating model on ratings
    # the whole grid of n_neighbors; weighting is not searched: the data has no strengths
    assert err.count("tune itemknn: trial ") == tuning["n_trials"] == 3
    assert "  tuned: {'n_neighbors'" in out
    config = json.loads(Path("run/config.json").read_text())["config"]
    assert {k: config[k] for k in tuning["chosen"]} == tuning["chosen"]


def test_model_auto_says_which_model_won(capsys, monkeypatch):
    monkeypatch.setattr(tfrec.tuning.auto, "RATING", ("bias", "itemknn"))
    argv = ["train", "--model", "auto", "--dataset", "synthetic-tiny", "--no-export"]
    code = main([*argv, "--tune-budget", "20s", "--out", "run"])
    out, err = capsys.readouterr()
    metrics = json.loads(Path("run/metrics.json").read_text())
    assert code == 0 and metrics["model"] == metrics["auto"]["winner"]
    assert "auto: validation leaderboard (rmse):" in err
    assert f"  {metrics['auto']['winner']} won: validation rmse" in out
