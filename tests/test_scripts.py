"""The benchmark scripts run end to end on small inputs and end with one JSON line."""

import json
import subprocess
import sys

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
