"""The CLI contract, run in-process (fast) and once as a real subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.movielens_files import write_1m, write_100k
from tfrec.cli import main
from tfrec.tf_logging import HIDING, STARTUP_LINE


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    """Commands that write relative paths (saved_models/) write them here."""
    monkeypatch.chdir(tmp_path)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def svd_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "svd"
    assert (
        main(
            [
                "train",
                "--model",
                "svd",
                "--dataset",
                "synthetic-tiny",
                "--set",
                "k=5",
                "--out",
                str(run_dir),
                "--export-root",
                str(run_dir / "exports"),
                "--quiet",
            ]
        )
        == 0
    )
    return run_dir


def test_train_writes_metrics_and_config(svd_run):
    metrics = json.loads((svd_run / "metrics.json").read_text())
    for key in (
        "model",
        "dataset",
        "split",
        "rmse",
        "mae",
        "n_rating_pairs",
        "hr@10",
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
        "coverage@10",
        "n_users_ranked",
        "train_seconds",
    ):
        assert key in metrics, key
    assert metrics["model"] == "svd" and metrics["split"] == "temporal"
    config = json.loads((svd_run / "config.json").read_text())
    assert config["config"]["k"] == 5
    assert metrics["protocol"] == "train"
    assert metrics["export_path"] == str(svd_run / "exports" / "svd" / "1")
    assert (svd_run / "exports" / "svd" / "1" / "saved_model.pb").exists()


def test_recommend_json_and_explain(svd_run, capsys):
    code, out, _ = _run(
        capsys,
        "recommend",
        "--model-dir",
        str(svd_run),
        "--user-id",
        "1",
        "-k",
        "4",
        "--json",
        "--explain",
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4
    assert set(rows[0]) == {"item_id", "title", "score", "reason"}
    assert rows[0]["title"].startswith("Synthetic Movie")
    assert rows[0]["reason"].startswith(("because you rated", "rated "))


def test_similar(svd_run, capsys):
    code, out, _ = _run(
        capsys, "similar", "--model-dir", str(svd_run), "--item-id", "1", "-k", "3", "--json"
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 3 and all(r["item_id"] != 1 for r in rows)


def test_export(svd_run, tmp_path, capsys):
    args = (
        "export",
        "--model-dir",
        str(svd_run),
        "--export-root",
        str(tmp_path),
        "--name",
        "movies",
    )
    code, _, _ = _run(capsys, *args)
    assert code == 0 and (tmp_path / "movies" / "1" / "saved_model.pb").exists()
    code, _, err = _run(capsys, *args, "--version", "1")
    assert code == 2 and "version 1 already exists" in err
    assert [p.name for p in (tmp_path / "movies").iterdir()] == ["1"]


def test_popularity_has_no_similarity(tmp_path, capsys):
    main(
        [
            "train",
            "--model",
            "popularity",
            "--dataset",
            "synthetic-tiny",
            "--out",
            str(tmp_path / "pop"),
            "--quiet",
        ]
    )
    code, _, err = _run(capsys, "similar", "--model-dir", str(tmp_path / "pop"), "--item-id", "1")
    assert code == 2 and "no item similarity" in err
    metrics = json.loads((tmp_path / "pop" / "metrics.json").read_text())
    assert "rmse" not in metrics and "hr@10" in metrics


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "nope", "--out", "x"], "unknown model 'nope'; accepted: popularity"),
        (
            ["train", "--model", "svd", "--dataset", "ml-9m", "--out", "x"],
            "unknown dataset 'ml-9m'",
        ),
        (["train", "--model", "svd", "--set", "k", "--out", "x"], "--set takes KEY=VALUE"),
        (
            ["train", "--model", "svd", "--set", "k=-3", "--out", "x"],
            "k must be a positive integer; got -3",
        ),
        (
            ["recommend", "--model-dir", "/nonexistent", "--user-id", "1"],
            "holds no saved tfrec model",
        ),
    ],
)
def test_bad_input_is_one_line(capsys, argv, message):
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("tfrec: error: ") and message in err and err.count("\n") == 1


def test_unknown_user_gets_popular_items_and_a_non_integer_id_is_refused(svd_run, capsys):
    code, out, err = _run(capsys, "recommend", "--model-dir", str(svd_run), "--user-id", "99999")
    assert code == 0 and len(out.splitlines()) == 11
    note = f"user 99999 is not in the training data of {svd_run}: the most popular items"
    assert err == f"note: {note}\n"
    code, _, err = _run(capsys, "recommend", "--model-dir", str(svd_run), "--user-id", "abc")
    assert code == 2 and "user id 'abc' is not an integer, and this run's user IDs are" in err


@pytest.mark.parametrize("writer, name", [(write_100k, "ml-100k"), (write_1m, "ml-1m")])
def test_official_formats_through_the_cli(tmp_path, capsys, writer, name):
    writer(tmp_path)
    code, out, _ = _run(
        capsys, "data", "info", "--dataset", name, "--data-dir", str(tmp_path), "--json"
    )
    info = json.loads(out)
    assert code == 0 and info["n_users"] == 5 and info["n_items"] == 10 and info["n_ratings"] == 50
    code, out, _ = _run(
        capsys,
        "train",
        "--model",
        "svd",
        "--set",
        "k=2",
        "--dataset",
        name,
        "--data-dir",
        str(tmp_path),
        "--out",
        str(tmp_path / "run"),
    )
    assert code == 0 and "rmse" in out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["n_rating_pairs"] > 0


def test_split_none_skips_evaluation(tmp_path):
    assert (
        main(
            [
                "train",
                "--model",
                "itemknn",
                "--dataset",
                "synthetic-tiny",
                "--split",
                "none",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "hr@10" not in metrics and metrics["n_train"] > 1000


def test_console_script_exits_nonzero_without_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfrec.cli",
            "data",
            "info",
            "--dataset",
            "ml-1m",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "tfrec data fetch ml-1m" in result.stderr


def _cli(*argv, env=None):
    command = [sys.executable, "-m", "tfrec.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True)


def _startup_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if STARTUP_LINE.match(line)]


def test_tensorflow_startup_lines_hidden_unless_verbose(tmp_path):
    # as a user's shell: neither the level nor the marker of an earlier in-process main()
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", HIDING)}
    train = ["train", "--model", "gmf", "--dataset", "synthetic-tiny", "--set", "epochs=1"]
    train += ["--export-root", str(tmp_path / "exports")]
    quiet = _cli(*train, "--quiet", "--out", str(tmp_path / "a"), env=env)
    assert quiet.stdout == "" and not _startup_lines(quiet.stderr), quiet.stderr
    verbose = _cli(*train, "--quiet", "--verbose", "--out", str(tmp_path / "b"), env=env)
    own_level = {**env, "TF_CPP_MIN_LOG_LEVEL": "0"}
    users_level = _cli(*train, "--quiet", "--out", str(tmp_path / "c"), env=own_level)
    assert _startup_lines(verbose.stderr) and _startup_lines(users_level.stderr)


def test_light_imports_do_not_load_tensorflow():
    code = (
        "import sys, tfrec, tfrec.data, tfrec.splits, tfrec.evaluation, tfrec.cli; "
        "import tfrec.models.baselines.svd, tfrec.models.baselines.itemknn; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
        "import os; assert os.environ['TF_USE_LEGACY_KERAS'] == '1'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_refit_protocol_is_recorded(tmp_path):
    assert (
        main(
            [
                "train",
                "--model",
                "mf",
                "--dataset",
                "synthetic-tiny",
                "--refit",
                "--set",
                "epochs=4",
                "--set",
                "n_factors=8",
                "--out",
                str(tmp_path / "r"),
                "--quiet",
                "--no-export",
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["protocol"] == "refit" and 1 <= metrics["epochs"] <= 4
    assert (tmp_path / "r" / "logs").is_dir()


def test_train_refuses_an_existing_run_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--model", "popularity", "--dataset", "synthetic-tiny", "--no-export"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    first = (out / "metrics.json").read_text()
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (out / "metrics.json").read_text() == first  # nothing lost
    assert main([*argv, "--seed", "1", "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert '"seed": 1' in (out / "metrics.json").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_train_logs_item_embeddings_for_the_projector(tmp_path):
    import tensorflow as tf

    import tfrec
    from tfrec.projector import CHECKPOINT, METADATA

    result = tfrec.train("mf", "synthetic-tiny", out=tmp_path / "run", config={"epochs": 2})
    logs = tmp_path / "run" / "logs" / "projector"
    rows = (logs / METADATA).read_text().splitlines()
    titles = result.split.dataset.items.set_index("item_id")["title"]
    assert rows[0] == "item_id\ttitle" and len(rows) == len(result.model.item_ids) + 1
    item_id, title = rows[1].split("\t")
    assert title == titles[int(item_id)]
    config = (logs / "projector_config.pbtxt").read_text()
    assert f'metadata_path: "{METADATA}"' in config
    saved = tf.train.load_checkpoint(str(logs / f"{CHECKPOINT}-1"))
    vectors = saved.get_tensor("item_embeddings/.ATTRIBUTES/VARIABLE_VALUE")
    np.testing.assert_array_equal(vectors, result.model.item_embeddings())

    plain = tfrec.train("popularity", "synthetic-tiny", out=tmp_path / "pop")
    assert plain.model.item_embeddings() is None
    assert not (tmp_path / "pop" / "logs" / "projector").exists()


def test_models_lists_every_model_with_its_capabilities(capsys):
    assert main(["models", "--names"]) == 0
    names = capsys.readouterr().out.split()
    assert names[:3] == ["popularity", "bias", "svd"] and "implicit_als" in names
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(rows) == set(names)
    assert rows["mf"].endswith("mirrored, multi-worker, parameter-server")
    assert "yes" in rows["content_knn"] and rows["svd"].split()[1] == "ratings"
    assert "user, item, context" in rows["two_tower"] and "user" not in rows["ease"]


def test_verbose_after_hiding_shows_the_lines_and_a_users_level_stays(monkeypatch):
    from tfrec import tf_logging

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv(HIDING, raising=False)
    tf_logging.hide_startup_lines()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and tf_logging.hidden()
    tf_logging.show_startup_lines()  # e.g. a later in-process main(["...", "--verbose"])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" and tf_logging.shown()
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    tf_logging.hide_startup_lines()
    tf_logging.show_startup_lines()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1" and not tf_logging.hidden()


@pytest.mark.parametrize(
    "model, options, procedure",
    [
        ("popularity", {}, "fit on train"),
        ("itemknn", {}, "fit on train"),
        ("ease", {}, "fit on train (l2 chosen on validation)"),
        ("ease", {"l2": 100.0}, "fit on train"),
        ("mf", {}, "fit on train (early stopping on validation)"),
        ("mf", {"patience": 0}, "fit on train"),
        (
            "two_tower",
            {},
            "fit on train (early stopping on validation; popularity_weight chosen on validation)",
        ),
    ],
)
def test_run_header_describes_each_models_procedure(model, options, procedure):
    from tfrec.api import fit_procedure
    from tfrec.models import get_model

    assert fit_procedure(get_model(model, options)) == procedure


def test_train_prints_the_procedure_in_its_header(tmp_path, capsys):
    argv = ["train", "--model", "popularity", "--dataset", "synthetic-tiny", "--no-export"]
    code, out, _ = _run(capsys, *argv, "--out", str(tmp_path / "r"))
    assert code == 0
    assert (
        out.splitlines()[0]
        == "popularity on synthetic-tiny (temporal split; fit on train; metrics on test)"
    )


def test_cold_users_run_and_a_new_users_recommendations(tmp_path, capsys):
    run_dir = tmp_path / "knn"
    argv = ["train", "--model", "itemknn", "--dataset", "synthetic-tiny", "--split", "cold-users"]
    assert main([*argv, "--history", "3", "--out", str(run_dir), "--no-export", "--quiet"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "cold-users" and metrics["n_users_ranked"] > 0
    code, out, err = _run(
        capsys,
        "recommend",
        "--model-dir",
        str(run_dir),
        "--history",
        "1,2,99999",
        "-k",
        "3",
        "--json",
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 3 and {1, 2}.isdisjoint(r["item_id"] for r in rows)
    assert "item '99999' is not in the training data" in err and "left out of the history" in err
    code, _, err = _run(capsys, *argv, "--model", "svd", "--out", str(tmp_path / "svd"))
    assert code == 2 and "svd cannot score users absent from training" in err
    assert "models that can: popularity, itemknn, ease" in err


def test_recommend_history_refused_by_a_model_without_fold_in(svd_run, capsys):
    code, _, err = _run(capsys, "recommend", "--model-dir", str(svd_run), "--history", "1,2")
    assert code == 2 and "'svd' cannot score users absent from training" in err
    code, _, err = _run(capsys, "train", "--model", "svd", "--history", "3", "--out", "x")
    assert code == 2 and "history applies to split 'cold-users' only" in err


def test_set_takes_several_pairs_in_one_argument():
    from tfrec.cli._common import parse_options

    assert parse_options(
        ["retrieval=two_tower,ranking=dcn,candidates=200", "hidden_units=[64,32]"]
    ) == {"retrieval": "two_tower", "ranking": "dcn", "candidates": 200, "hidden_units": [64, 32]}
    assert parse_options(["components=mf,svd"]) == {"components": "mf,svd"}
