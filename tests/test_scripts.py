"""The benchmark scripts run end to end on small inputs and end with one JSON line."""

import json
import subprocess
import sys

import pytest

import tfrec
from tests.conftest import REPO


def _last_json_line(args):
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=REPO, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_bench_training_small():
    figures = _last_json_line(
        [
            "scripts/bench_training.py",
            "--ratings",
            "20000",
            "--users",
            "500",
            "--items",
            "400",
            "--epochs",
            "2",
        ]
    )
    assert figures["tfrec_examples_per_s"] > 0 and figures["epochs"] == 2
    assert ("ratio" in figures) and ("surprise_examples_per_s" in figures)


def test_bench_retrieval_steps_small():
    settings = ['{"stride": 1}', '{"stride": 8, "negatives": 256}']
    args = ["scripts/bench_retrieval_steps.py", "two_tower", *settings, "--steps", "5"]
    figures = _last_json_line(args)
    assert [r["stride"] for r in figures["settings"]] == [1, 8]
    assert all(r["ms_per_step"] > 0 and r["us_per_example"] > 0 for r in figures["settings"])


def test_bench_size_defaults_small():
    args = ["scripts/bench_size_defaults.py", "two_tower", "{}", '{"negatives": 8}']
    figures = _last_json_line([*args, "--ratings", "3000", "--epochs", "2"])
    first, second = figures["settings"]
    assert first["used"]["stride"] == 8 and second["used"]["negatives"] == 8
    assert all(0 < s["best_val_ndcg@10"] <= 1 and len(s["epoch_s"]) <= 2 for s in (first, second))


def test_bench_context_small():
    args = ["scripts/bench_context.py", "--users", "200", "--interactions", "6000"]
    figures = _last_json_line([*args, "--epochs", "2", "--models", "dcn,dcn_no_features"])
    kinds = [(r["model"], r["context"]) for r in figures["rows"]]
    assert kinds == [("dcn", "without"), ("dcn", "with"), ("dcn_no_features", "without")]
    assert all(0 <= r["hr@10"] <= 1 and r["requests"] > 0 for r in figures["rows"])


def test_bench_ease_small():
    args = ["scripts/bench_ease.py", "--users", "60", "--items", "400", "--pairs", "3000"]
    figures = _last_json_line([*args, "--weighting", "log"])
    assert figures["n_items"] > 100 and figures["l2"] > 0 and 0 < figures["val_ndcg@10"] <= 1
    assert figures["fit_s"] > 0 and figures["peak_rss_gb"] > 0


def test_bench_quality_small():
    figures = _last_json_line(
        [
            "scripts/bench_quality.py",
            "--dataset",
            "synthetic-tiny",
            "--models",
            "bias,mf",
            "--protocols",
            "train,refit",
        ]
    )
    assert [(r["model"], r["protocol"]) for r in figures["rows"]] == [
        ("bias", "train"),
        ("mf", "train"),
        ("bias", "refit"),
        ("mf", "refit"),
    ]
    assert all(0 < r["rmse"] < 2 for r in figures["rows"])


def test_bench_ranking_small():
    figures = _last_json_line(
        [
            "scripts/bench_ranking.py",
            "--dataset",
            "synthetic-tiny",
            "--models",
            "popularity,two_tower",
            "--seeds",
            "0,1",
            "--protocols",
            "train,validation",
            "--set",
            "two_tower.epochs=2",
        ]
    )
    assert [(r["model"], r["protocol"], r["seed"]) for r in figures["rows"]] == [
        (model, protocol, seed)
        for model in ("popularity", "two_tower")
        for protocol in ("train", "validation")
        for seed in (0, 1)
    ]
    # The validation protocol scores the validation part (popularity has no seed).
    parts = tfrec.split(tfrec.load_dataset("synthetic-tiny"), "temporal")
    expected = tfrec.evaluate(tfrec.get_model("popularity").fit(parts), parts, part="validation")
    for row in figures["rows"][2:4]:
        assert row["ndcg@10"] == pytest.approx(expected.metrics["ndcg@10"])
        assert row["users"] == expected.metrics["n_users_ranked"]
    mean = figures["means"][2]
    assert 0 < mean["hr@10_min"] <= mean["hr@10"] <= mean["hr@10_max"] <= 1
    # 80 items leave fewer than the sampled protocol's 100 negatives: no figure, not a crash.
    assert "sampled_hr@10" in mean


def _example(*args):
    """Runs an example script of this tree (PYTHONPATH: the repository) and parses its last line."""
    import os

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=REPO, check=True, env=env
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_train_eval_example_on_the_synthetic_default():
    figures = _example("scripts/train_eval.py")
    assert (
        figures["n_users_ranked"] == 1000 and 0 < figures["ndcg@10"] < 1 and figures["rmse"] < 1.5
    )


def test_compare_models_example():
    rows = _example("scripts/compare_models.py", "--models", "popularity,svd")
    assert {r["model"] for r in rows} == {"popularity", "svd"}
    assert rows[0]["ndcg@10"] >= rows[1]["ndcg@10"] and rows[1]["rmse"] is not None


def test_export_and_query_example(tmp_path):
    figures = _example("scripts/export_and_query.py", "--export-root", str(tmp_path))
    assert figures["agree"] and figures["export_path"] == str(tmp_path / "svd" / "1")
    assert len(figures["item_ids"]) == 3 and len(figures["item_ids"][0]) == 5
