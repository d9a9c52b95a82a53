"""Every CLI message that names models, in an install without the peers (no ``.[peers]``)."""

import sys

import pytest

from tfrec.cli import main
from tfrec.models import is_available, peer_names


@pytest.fixture(autouse=True)
def _no_peers(tmp_path, monkeypatch):
    """scikit-surprise and implicit absent: importing either fails, find_spec finds neither."""
    monkeypatch.chdir(tmp_path)
    for module in ("surprise", "implicit"):
        monkeypatch.setitem(sys.modules, module, None)
    assert not any(is_available(name) for name in peer_names())


@pytest.fixture
def implicit_log(tmp_path):
    rows = [f"u{u},i{(u * 3 + j) % 7}" for u in range(8) for j in range(4)]
    path = tmp_path / "clicks.csv"
    path.write_text("user,item\n" + "\n".join(rows) + "\n")
    return str(path)


def _error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfrec: error: ") and err.count("\n") == 1, err
    return err


def test_rating_model_on_implicit_data_names_the_installed_ranking_models(capsys, implicit_log):
    argv = ["train", "--model", "mf", "--dataset", implicit_log, "--split", "random"]
    err = _error(capsys, *argv, "--quiet", "--out", "r")
    assert "use a ranking model: popularity" in err and "two_tower" in err
    assert "surprise" not in err and "implicit_" not in err


def test_unknown_model_lists_the_installed_ones_and_what_the_peers_add(capsys):
    err = _error(capsys, "train", "--model", "nope", "--out", "r")
    accepted, _, after = err.partition(" (after ")
    assert "accepted: popularity" in accepted and "implicit_als" not in accepted
    assert 'pip install "tfrec[peers]"' in after and "implicit_als" in after


def test_a_missing_peer_says_how_to_install_it(capsys):
    err = _error(capsys, "train", "--model", "implicit_als", "--out", "r")
    assert "needs implicit, which is not installed" in err
    err = _error(capsys, "benchmark", "--models", "surprise_svd", "--out", "b")
    assert "needs scikit-surprise, which is not installed" in err


def test_cold_items_names_the_installed_models_that_serve_new_items(capsys):
    argv = ["train", "--model", "svd", "--dataset", "synthetic-tiny", "--split", "cold-items"]
    err = _error(capsys, *argv, "--out", "r")
    assert "models that can: content_knn" in err and "surprise" not in err


def test_models_lists_the_peers_as_not_installed(capsys):
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert all("not installed" in rows[name] for name in peer_names())
    assert "not installed" not in rows["ease"]
