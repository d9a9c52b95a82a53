"""tfrec benchmark: statistics, leaderboard, peers, tuning and the command end to end."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tfrec import metrics, models
from tfrec.benchmark import catalog, stats, tune
from tfrec.benchmark.leaderboard import build_leaderboard
from tfrec.benchmark.plots import write_plots
from tfrec.benchmark.report import markdown, write_reports
from tfrec.cli import main
from tfrec.errors import ConfigError
from tfrec.evaluation import evaluate, ranked_top_k
from tfrec.models import get_model, model_names, peers

# ---- statistics ------------------------------------------------------------------------------


def test_bootstrap_interval_is_seeded_and_covers_the_mean():
    rng = np.random.default_rng(1)
    values = rng.random((2, 500))
    first = stats.mean_ci_over_users(values, n_boot=500, seed=3)
    assert first == stats.mean_ci_over_users(values, n_boot=500, seed=3)
    mean, low, high = first
    assert mean == pytest.approx(values.mean())
    assert low < mean < high
    # The interval's width is about 2 * 1.96 standard errors of the mean.
    se = values.mean(axis=0).std(ddof=1) / np.sqrt(500)
    assert (high - low) == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_rmse_interval_over_users_pools_their_pairs():
    sse = np.array([[1.0, 4.0, 9.0], [2.0, 4.0, 8.0]])
    counts = np.array([1.0, 2.0, 3.0])
    mean, low, high = stats.error_ci_over_users(sse, counts, root=True, n_boot=200)
    expected = np.mean([np.sqrt(14 / 6), np.sqrt(14 / 6)])
    assert mean == pytest.approx(expected)
    assert low <= mean <= high


def test_seed_interval_is_a_t_interval():
    mean, low, high = stats.ci_over_seeds([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert high - mean == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)
    assert np.isnan(stats.ci_over_seeds([5.0])[1])


def test_paired_test_separates_a_real_difference_from_noise():
    rng = np.random.default_rng(0)
    base = rng.random(400)
    clear = stats.paired_test(base + 0.05, base + rng.normal(0, 0.01, 400), n_boot=1000)
    assert clear["diff"] > 0 and clear["low"] > 0 and clear["p"] < 0.01
    null = stats.paired_test(base, base[rng.permutation(400)], n_boot=1000)
    assert null["p"] > 0.05


def test_holm_adjustment():
    adjusted = stats.holm([0.01, 0.04, 0.03, np.nan])
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[3])


def test_ndcg_curve_equals_ndcg_at_each_k():
    rng = np.random.default_rng(2)
    hits, n_relevant = rng.random((50, 20)) < 0.2, rng.integers(1, 15, 50)
    curve = metrics.ndcg_curve(hits, n_relevant)
    for k in (1, 7, 20):
        np.testing.assert_allclose(
            curve[:, k - 1], metrics.ranking_metrics(hits[:, :k], n_relevant)["ndcg"]
        )


# ---- evaluation additions --------------------------------------------------------------------


def test_ranked_top_k_and_rating_sums_agree_with_evaluate(small_split):
    model = get_model("svd", k=5).fit(small_split)
    result = evaluate(model, small_split)
    top = ranked_top_k(model, small_split, k=50)
    np.testing.assert_array_equal(top.user_ids, result.per_user["user_id"])
    curve = metrics.ndcg_curve(top.hits, top.n_relevant)
    assert curve[:, 9].mean() == pytest.approx(result.metrics["ndcg@10"])
    seen = pd.concat([small_split.train, small_split.validation])
    first_user_seen = seen[seen.user_id == top.user_ids[0]].item_id
    assert set(model.item_ids[top.items[0]]).isdisjoint(first_user_seen)
    per_user = result.rating_per_user
    rmse = np.sqrt(per_user["sse"].sum() / per_user["n_pairs"].sum())
    assert rmse == pytest.approx(result.metrics["rmse"])
    assert per_user["n_pairs"].sum() == result.metrics["n_rating_pairs"]


# ---- leaderboard, report and plots on made-up runs -------------------------------------------


def _fake_run(model, seed, ndcg, n_items=30, rating=True):
    users = np.arange(1, len(ndcg) + 1)
    arrays = {
        "user_ids": users,
        "hr": (ndcg > 0).astype(float),
        "precision": ndcg / 2,
        "recall": ndcg,
        "ndcg": ndcg,
        "ap": ndcg / 3,
        "recommended": np.arange(n_items)[::-1].copy(),
        "popularity": np.arange(n_items, dtype=float),
    }
    if rating:
        arrays.update(
            rating_user_ids=users,
            rating_n=np.full(len(users), 2.0),
            rating_sse=np.full(len(users), 1.0 + seed),
            rating_sae=np.full(len(users), 1.2),
        )
    return {
        "model": model,
        "seed": seed,
        "config": {"seed": seed},
        "metrics": {
            "ndcg@10": float(ndcg.mean()),
            "hr@10": float((ndcg > 0).mean()),
            "precision@10": float(ndcg.mean() / 2),
            "recall@10": float(ndcg.mean()),
            "map@10": float(ndcg.mean() / 3),
            "coverage@10": 0.5,
            **({"rmse": float(np.sqrt((1 + seed) / 2)), "mae": 0.6} if rating else {}),
        },
        "predicts_ratings": rating,
        "train_seconds": 1.0 + seed,
        "eval_seconds": 0.1,
        "peak_rss_mb": 100.0,
        "export_mb": None if model == "ranker" else 2.0,
        "best_epoch": 3,
        "history": [{"loss": 1.0 / (e + 1), "val_rmse": 1.0 - e / 10} for e in range(4)],
        "ndcg_curve": np.linspace(0, ndcg.mean(), 50).tolist(),
        "arrays": arrays,
    }


def _fake_board(tmp_path=None):
    rng = np.random.default_rng(0)
    good = rng.random(300)
    runs = []
    for seed in (0, 1):
        runs.append(_fake_run("strong", seed, good + 0.01 * seed))
        twin = good[np.random.default_rng(5).permutation(300)] - 1e-6  # same values, shuffled
        runs.append(_fake_run("twin", seed, twin + 0.01 * seed))
        runs.append(_fake_run("weak", seed, good * 0.5, rating=False))
    runs.append({"model": "broken", "seed": 0, "error": "ValueError: boom"})
    board = build_leaderboard(runs, n_boot=300, seed=0)
    board.update(
        settings={
            "dataset": "fake",
            "split": "temporal",
            "seeds": [0, 1],
            "sizes": {"train": 10, "validation": 2, "test": 2},
            "n_boot": 300,
            "command": "tfrec benchmark --dataset fake --out x",
            "cpus": 2,
            "tfrec_version": "0",
            "configs": {},
        },
        tuning={},
        wall_seconds=1.0,
    )
    return board


def test_leaderboard_ranks_marks_and_keeps_failures_apart(tmp_path):
    board = _fake_board()
    rows = {r["model"]: r for r in board["rows"]}
    assert [r["model"] for r in board["rows"]][0] == "strong"
    assert rows["weak"]["worse_than_best"] and rows["weak"]["p_holm"] < 0.05
    assert not rows["twin"]["worse_than_best"]
    assert rows["weak"]["ndcg@10_vs_best"] < 0
    strong = rows["strong"]
    assert strong["ndcg@10_users_low"] < strong["ndcg@10"] < strong["ndcg@10_users_high"]
    assert strong["ndcg@10_seeds_low"] < strong["ndcg@10"] < strong["ndcg@10_seeds_high"]
    assert strong["rmse"] == pytest.approx(np.mean([np.sqrt(1 / 2), np.sqrt(2 / 2)]))
    assert rows["weak"]["rmse"] is None and rows["weak"]["export_mb"] is not None
    assert "broken" not in rows and any("broken" in note for note in board["notes"])
    text = markdown(board)
    assert "| 1 | **strong** |" in text and "weak ▼" in text and "twin ▼" not in text


def test_reports_and_plots_are_written(tmp_path):
    board = _fake_board()
    board["plots"] = [str(p.relative_to(tmp_path)) for p in write_plots(tmp_path / "plots", board)]
    write_reports(tmp_path, board)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "ndcg_at_k.png",
        "popularity_bias.png",
        "ranking_metrics.png",
        "rating_metrics.png",
        "training_curves.png",
    ]
    table = pd.read_csv(tmp_path / "leaderboard.csv")
    assert list(table["model"]) == [r["model"] for r in board["rows"]]
    assert json.loads((tmp_path / "leaderboard.json").read_text())["rows"][0]["model"] == "strong"
    assert (
        "![Top-N metrics](plots/ranking_metrics.png)" in (tmp_path / "leaderboard.md").read_text()
    )


# ---- models, seeds, grids, peers -------------------------------------------------------------


def test_all_means_every_registered_model_and_unknown_names_are_refused():
    names, notes = catalog.resolve_models("all", use_peers=False)
    assert names == model_names(peers=False) and notes == []
    assert "implicit_als" in model_names() and "implicit_als" not in names
    with pytest.raises(ConfigError, match="unknown model.*nope.*accepted: all, popularity"):
        catalog.resolve_models("svd,nope", use_peers=False)
    assert (
        not catalog.is_seeded("itemknn") and catalog.is_seeded("mf") and catalog.is_seeded("blend")
    )
    blend = catalog.seeded_config("blend", {}, 2)["component_options"]
    assert blend["mf"] == {"seed": 2} and "itemknn" not in blend


def test_every_search_space_is_counted_and_options_given_are_not_searched(monkeypatch):
    # Every registered model, a peer's adapter too whether or not its library is installed.
    monkeypatch.setattr(models, "is_available", lambda name: True)
    tuned = [name for name in models.model_names() if tune.space(name)]
    assert {"svd", "mf", "two_tower", "implicit_als"} <= set(tuned)
    for name in tuned:
        grid = models.model_class(name).Config.tuning_grid
        if tune.space(name).keys() == grid.keys():  # a grid alone: every point is tried
            assert tune.n_trials(name) == int(np.prod([len(v) for v in grid.values()]))
        else:
            assert tune.n_trials(name) == tune.TRIALS
    assert tune.space("itemknn", {"n_neighbors": 7, "weighting": "log"}) == {}
    assert tune.n_trials("itemknn", {"n_neighbors": 7, "weighting": "log"}) == 1


def test_tuning_reads_validation_only(small_split):
    from tfrec.benchmark.worker import tune as tune_job

    job = {"model": "svd", "seed": 0, "config": {}, "verbose": False}
    result = tune_job(job, small_split, None)
    garbled = type(small_split)(
        small_split.dataset,
        small_split.train,
        small_split.validation,
        small_split.test.assign(item_id=small_split.test.item_id[::-1].to_numpy(), rating=0.5),
        small_split.method,
    )
    again = tune_job(job, garbled, None)
    assert [p["validation"] for p in result["points"]] == [p["validation"] for p in again["points"]]
    assert result["points"][0]["config"]["k"] == 50  # the defaults first
    assert len(result["points"]) == tune.n_trials("svd")


def test_missing_peers_give_a_one_line_note(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "implicit" else real(name, *a)
    )
    names, note = models.available_peers()
    assert "implicit_als" not in names
    assert note.startswith("peers skipped (implicit_als, implicit_bpr): implicit not installed")
    assert 'pip install "tfrec[peers]"' in note
    with pytest.raises(ConfigError, match="needs implicit"):
        catalog.resolve_models("implicit_als", use_peers=False)


@pytest.mark.skipif(importlib.util.find_spec("surprise") is None, reason="scikit-surprise missing")
def test_surprise_adapters_predict_what_surprise_predicts(small_split):
    import surprise

    from tfrec.models.base import Interactions

    data = Interactions.from_ratings(small_split.train)
    frame = pd.DataFrame({"u": data.users, "i": data.items, "r": data.ratings})
    trainset = surprise.Dataset.load_from_df(
        frame, surprise.Reader(rating_scale=small_split.dataset.rating_scale)
    ).build_full_trainset()
    users, items = np.arange(20), np.arange(20, 40)
    for adapter, algorithm in (
        (peers.SurpriseSVDpp(n_epochs=3), surprise.SVDpp(n_epochs=3, random_state=0)),
        (peers.SurpriseBaseline(), surprise.BaselineOnly({"method": "als"}, verbose=False)),
    ):
        adapter.fit(small_split)
        algorithm.fit(trainset)
        theirs = [algorithm.predict(int(u), int(i)).est for u, i in zip(users, items, strict=True)]
        ours = adapter.predict(data.user_ids[users], data.item_ids[items])
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("implicit") is None, reason="implicit missing")
def test_implicit_adapters_rank_like_their_factors(small_split):
    for cls in (peers.ImplicitALS, peers.ImplicitBPR):
        model = cls(factors=8, iterations=5).fit(small_split)
        scores = model.score(model.user_ids[:3])
        expected = model.user_factors_[:3] @ model.item_factors_.T
        np.testing.assert_allclose(scores, expected, rtol=1e-5)
        assert not model.predicts_ratings
        assert 0 <= evaluate(model, small_split).metrics["ndcg@10"] <= 1


# ---- the command, end to end -----------------------------------------------------------------


def test_benchmark_command_writes_the_leaderboard_and_plots(tmp_path, capsys):
    out = tmp_path / "bench"
    argv = [
        "benchmark",
        "--dataset",
        "synthetic-tiny",
        "--models",
        "popularity,bias,mf",
        "--seeds",
        "2",
        "--tune",
        "--set",
        "mf.epochs=3",
        "--set",
        "mf.n_factors=8",
        "--bootstrap",
        "200",
        "--jobs",
        "2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "6 jobs, 2 at a time" in printed
    assert "tune bias on validation ..." in printed and "left" in printed
    assert "] mf seed 1: NDCG@10" in printed and "[6/6] " in printed
    assert "[mf seed 1] epoch 1/3" in captured.err  # workers' lines carry their job's name

    assert {p.name for p in out.iterdir()} >= {
        "leaderboard.md",
        "leaderboard.json",
        "leaderboard.csv",
        "plots",
    }
    board = json.loads((out / "leaderboard.json").read_text())
    assert [r["model"] for r in board["rows"]] == [
        r["model"] for r in sorted(board["rows"], key=lambda r: -r["ndcg@10"])
    ]
    rows = {r["model"]: r for r in board["rows"]}
    assert rows["mf"]["fits"] == 2 and rows["popularity"]["fits"] == 1  # popularity has no seed
    assert rows["mf"]["config"]["epochs"] == 3 and rows["mf"]["config"]["seed"] == 0
    assert set(board["tuning"]) == {"bias", "mf"} and board["settings"]["jobs"] == 2
    assert board["tuning"]["mf"]["chosen"]["n_factors"] == 8  # set by hand: not searched
    assert len(board["tuning"]["bias"]["points"]) == tune.TRIALS  # bias has ranges
    assert rows["bias"]["config"]["reg_user"] == board["tuning"]["bias"]["chosen"]["reg_user"]
    for row in board["rows"]:
        assert row["train_seconds"] >= 0 and row["peak_rss_mb"] > 50 and row["export_mb"] > 0
    assert len(board["ndcg_curves"]["mf"]) == 50 and "mf" in board["histories"]

    table = pd.read_csv(out / "leaderboard.csv")
    for metric in ("rmse", "mae", "hr@10", "precision@10", "recall@10", "ndcg@10", "map@10"):
        for suffix in ("", "_users_low", "_users_high", "_seeds_low", "_seeds_high"):
            assert metric + suffix in table.columns, metric + suffix
    for column in (
        "coverage@10",
        "train_seconds",
        "peak_rss_mb",
        "export_mb",
        "worse_than_best",
        "p_holm",
    ):
        assert column in table.columns
    mf = table.set_index("model").loc["mf"]
    assert mf["ndcg@10_users_low"] <= mf["ndcg@10"] <= mf["ndcg@10_users_high"]
    assert mf["ndcg@10_seeds_low"] <= mf["ndcg@10"] <= mf["ndcg@10_seeds_high"]
    assert np.isnan(table.set_index("model").loc["popularity", "ndcg@10_seeds_low"])

    text = (out / "leaderboard.md").read_text()
    assert "tfrec benchmark --dataset synthetic-tiny --models popularity,bias,mf" in text
    assert "## Tuning" in text and "## Cost" in text
    pngs = sorted((out / "plots").glob("*.png"))
    assert [p.name for p in pngs] == [
        "ndcg_at_k.png",
        "popularity_bias.png",
        "ranking_metrics.png",
        "rating_metrics.png",
        "training_curves.png",
    ]
    for png in pngs:
        with Image.open(png) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 300
    assert any((out / "logs" / "mf" / "seed-0").rglob("events.out.tfevents*"))
    assert (out / "logs" / "mf" / "seed-1" / "projector" / "item_metadata.tsv").exists()
    assert not list(tmp_path.glob(".bench.tmp-*"))  # the staging directory was renamed

    # An existing, non-empty output directory is refused unless --overwrite.
    assert main(argv) == 2
    assert "exists and is not empty; pass --overwrite" in capsys.readouterr().err


def test_benchmark_command_refuses_bad_arguments(tmp_path, capsys):
    base = ["benchmark", "--dataset", "synthetic-tiny", "--out", str(tmp_path / "b")]
    assert main([*base, "--seeds", "0"]) == 2
    assert "tfrec: error: seeds must be a positive integer; got 0" in capsys.readouterr().err
    assert main([*base, "--jobs", "0"]) == 2
    assert "tfrec: error: jobs must be a positive integer; got 0" in capsys.readouterr().err
    assert main([*base, "--models", "svd,nope"]) == 2
    assert "unknown model(s) nope" in capsys.readouterr().err
    assert main([*base, "--models", "svd", "--set", "svd.nope=1"]) == 2
    assert "unknown option(s) nope" in capsys.readouterr().err
    assert main([*base, "--models", "svd", "--set", "mf.k=1"]) == 2
    assert "options given for 'mf', which is not benchmarked" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_tensorflow_start_up_lines_are_kept_off_the_terminal():
    from tfrec.tf_logging import STARTUP_LINE

    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796040864.621370   17736 port.cc:153] oneDNN custom operations are on.",
        "E0000 00:00:1796040866.368347   17736 cuda_platform.cc:52] failed call to cuInit",
        "W1130 12:00:01.123456    1234 cpu_feature_guard.cc:227] This TensorFlow binary",
        "To enable the following instructions: AVX2 AVX512F, in other operations, rebuild",
    ]
    kept = ["Epoch 1/20", "epoch 1/3 - train_rmse 0.9", "tfrec: benchmark: mf seed 0 failed: x"]
    assert all(STARTUP_LINE.match(line) for line in noise)
    assert not any(STARTUP_LINE.match(line) for line in kept)


def test_benchmark_cold_items_runs_the_models_that_serve_new_items(tmp_path, capsys):
    out = tmp_path / "cold"
    models = "popularity,content_knn"
    args = ["benchmark", "--dataset", "synthetic-tiny", "--split", "cold-items", "--seeds", "1",
            "--models", models, "--bootstrap", "20", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "left out the models that cannot score new items: popularity" in capsys.readouterr().out
    board = json.loads((out / "leaderboard.json").read_text())
    assert [row["model"] for row in board["rows"]] == ["content_knn"]
    assert board["settings"]["split"] == "cold-items"


@pytest.mark.skipif(importlib.util.find_spec("implicit") is None, reason="implicit missing")
def test_peers_are_registered_models_without_an_export(tmp_path):
    import tfrec
    from tfrec.errors import NotSupportedError

    model = tfrec.get_model("implicit_als", factors=8, iterations=3)
    assert not model.exportable
    result = tfrec.train(model, "synthetic-tiny", export_root=tmp_path / "exports")
    assert result.metrics["hr@10"] >= 0 and not (tmp_path / "exports").exists()
    with pytest.raises(NotSupportedError, match="cannot be exported"):
        result.model.export(tmp_path / "exports")
