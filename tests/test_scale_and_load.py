"""The scale benchmark and the server load test run end to end at small sizes."""

import pytest

from tests.test_scripts import _last_json_line


def test_bench_scale_small():
    args = ["--ratings", "30000", "--skip", "strings", "--set", "two_tower:stride=4"]
    figures = _last_json_line(["scripts/bench_scale.py", *args])
    assert 25_000 <= figures["ratings"] <= 35_000
    positive = (
        "load_split_s",
        "mf_epoch_s",
        "mf_examples_per_s",
        "eval_s",
        "peak_rss_gb",
        "two_tower_epoch_s",
        "two_tower_examples_per_s",
        "lstm_retrieval_epoch_s",
    )
    for key in positive:
        assert figures[key] > 0, key
    models = ["mf", "two_tower", "lstm_retrieval"] + (["als"] if "als_fit_s" in figures else [])
    for model in models:
        assert 0 <= figures[f"{model}_ndcg@10"] <= figures[f"{model}_hr@10"] <= 1, model


@pytest.mark.slow
def test_bench_scale_prepared_path_gives_the_in_memory_split(tmp_path):
    args = ["--prepared", "--compare", "--ratings", "20000", "--eval-users", "300"]
    args += ["--set", "two_tower:stride=4", "--scratch", str(tmp_path)]
    figures = _last_json_line(["scripts/bench_scale.py", *args])
    assert figures["train"] + figures["validation"] + figures["test"] == figures["n_interactions"]
    for model in ("mf", "two_tower"):
        assert figures[f"{model}_same_split"] is True
        assert figures[f"{model}_peak_rss_gb"] > 0 and figures[f"{model}_epoch_s"] > 0
        assert figures[f"{model}_fit_peak_rss_gb"] <= figures[f"{model}_peak_rss_gb"]
        assert 0 < figures[f"{model}_eval_users"] <= 300  # sampled users with a known item


@pytest.mark.slow
def test_load_test_keeps_serving_through_bad_requests_and_a_version_switch():
    figures = _last_json_line(["scripts/load_test.py", "--seconds", "16", "--clients", "4"])
    assert figures["valid_failed"] == 0 and figures["invalid_not_400"] == 0
    assert figures["answers"]["valid ok"] > 0 and figures["answers"]["invalid 400"] > 0
    assert figures["version2_served_after_export_s"] is not None
