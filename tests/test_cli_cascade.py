"""``tfrec cascade``: two trained runs chained into one model, the stages not
refitted."""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfrec
from tfrec.cli import main
from tfrec.errors import ConfigError


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An itemknn run (retrieval) and an mf run (ranking) on the same split, and
    an mf run with another seed."""
    root = tmp_path_factory.mktemp("cascade_runs")
    tfrec.train("itemknn", "synthetic", out=root / "knn")
    tfrec.train("mf", "synthetic", out=root / "mf", config={"epochs": 3})
    tfrec.train("mf", "synthetic", out=root / "mf_seed1", seed=1, config={"epochs": 3})
    return root


def test_cascade_of_two_runs_uses_their_models_and_exports_one(runs, tmp_path, capsys):
    args = ["cascade", "--retrieval", str(runs / "knn"), "--ranking", str(runs / "mf")]
    args += ["--set", "candidates=50", "--out", str(tmp_path / "c")]
    assert main([*args, "--export-root", str(tmp_path / "exports")]) == 0
    assert "ndcg@10" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert metrics["model"] == "cascade" and 0 < metrics["ndcg@10"] <= 1
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["config"]["retrieval"] == "itemknn" and config["config"]["candidates"] == 50
    assert config["config"]["ranking_options"]["epochs"] == 3  # the run's options, recorded

    cascade = tfrec.load_model(tmp_path / "c")
    ranker = tfrec.load_model(runs / "mf")
    users, items = cascade.user_ids[:5], cascade.item_ids[:5]
    # The ranking stage is the run's model as it was saved, not a refit.
    np.testing.assert_allclose(cascade.predict(users, items), ranker.predict(users, items))
    loaded = tf.saved_model.load(metrics["export_path"])
    top = loaded.signatures["recommend"](
        user_id=tf.constant(users, tf.int64), k=tf.constant([10], tf.int32)
    )
    expected, _ = cascade.recommend(users, k=10)
    np.testing.assert_array_equal(top["item_ids"].numpy(), expected)


def test_runs_of_other_seeds_are_refused(runs, tmp_path):
    with pytest.raises(ConfigError, match="differ in seed: 0 against 1; train both stages"):
        tfrec.cascade(runs / "knn", runs / "mf_seed1", tmp_path / "c")
    settled = r"cascade option\(s\) hard_negatives are settled by the runs' own fits"
    with pytest.raises(ConfigError, match=settled):
        tfrec.cascade(runs / "knn", runs / "mf", tmp_path / "c", config={"hard_negatives": 0.5})
    with pytest.raises(ConfigError, match="is not a run directory"):
        tfrec.cascade(runs / "knn", tmp_path, tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_a_stage_fitted_on_other_training_data_is_refused(runs):
    split = tfrec.split(tfrec.load_dataset("synthetic"), "random", seed=3)
    model = tfrec.get_model("cascade", retrieval="itemknn", ranking="mf").with_stages(
        tfrec.load_model(runs / "knn"), tfrec.load_model(runs / "mf")
    )
    with pytest.raises(ConfigError, match="fitted on other training interactions"):
        model.fit(split)
