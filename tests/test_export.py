"""Exports reload in a fresh process with equal outputs; the layout TF Serving expects."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tfrec

_MODELS = {
    "popularity": {},
    "bias": {},
    "svd": {"k": 6},
    "itemknn": {"n_neighbors": 5},
    "mf": {"n_factors": 8, "epochs": 5},
    "gmf": {"embedding_dim": 8, "epochs": 2},
    "two_tower": {"embedding_dim": 8, "epochs": 2},
    "hybrid": {"epochs": 2, "embedding_dim": 8, "hidden_units": [8], "text_dim": 4},
    "blend": {"components": ["bias", "svd"], "component_options": {"svd": {"k": 4}}},
}

_LOADER = """
import json, sys
import numpy as np
import tensorflow as tf
cases = json.load(open(sys.argv[1]))
out = {}
for name, case in cases.items():
    served = tf.saved_model.load(case["path"])
    rec = served.signatures["recommend"](user_id=tf.constant(case["users"], tf.int64),
                                         k=tf.constant([5], tf.int32))
    inputs = {k: tf.constant(v, tf.int32 if k == "k" else tf.int64)
              for k, v in case["default_inputs"].items()}
    default = served.signatures["serving_default"](**inputs)
    out[name] = {"item_ids": rec["item_ids"].numpy().tolist(),
                 "scores": np.nan_to_num(rec["scores"].numpy(), nan=-1.0).tolist(),
                 "default": {k: v.numpy().tolist() for k, v in default.items()}}
json.dump(out, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory, small_split):
    root = tmp_path_factory.mktemp("exports")
    cases, expected = {}, {}
    for name, options in _MODELS.items():
        model = tfrec.get_model(name, options).fit(small_split)
        path = model.export(root)
        users = [int(u) for u in model.user_ids[:4]] + [-5]
        pairs = {"user_id": users, "item_id": [int(i) for i in model.item_ids[:4]] + [7]}
        if model.uses_timestamps:
            pairs["timestamp"] = [1_400_000_000 + 86_400 * d for d in range(5)]
        default_inputs = pairs if model.predicts_ratings else {"user_id": users, "k": [5]}
        cases[name] = {"path": str(path), "users": users, "default_inputs": default_inputs}
        items, scores = model.recommend(users, k=5)
        value = model.predict(pairs["user_id"], pairs["item_id"], pairs.get("timestamp"))
        key = "rating" if model.predicts_ratings else "item_ids"
        expected[name] = {
            "item_ids": items,
            "scores": np.nan_to_num(scores, nan=-1.0),
            "default_key": key,
            "default": value if model.predicts_ratings else items,
        }
    return root, cases, expected


def test_exports_reload_in_a_fresh_process(exported, tmp_path):
    root, cases, expected = exported
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    subprocess.run(
        [sys.executable, "-c", _LOADER, str(tmp_path / "cases.json"), str(tmp_path / "out.json")],
        check=True,
        capture_output=True,
    )
    served = json.loads((tmp_path / "out.json").read_text())
    for name, want in expected.items():
        got = served[name]
        np.testing.assert_array_equal(got["item_ids"], want["item_ids"], err_msg=name)
        np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(
            got["default"][want["default_key"]], want["default"], atol=1e-5, err_msg=name
        )


def test_layout_and_metadata(exported):
    root, cases, _ = exported
    for name, case in cases.items():
        version = root / name / "1"
        assert case["path"] == str(version)
        assert (version / "saved_model.pb").exists() and (version / "variables").is_dir()
        meta = json.loads((version / "assets.extra" / "tfrec.json").read_text())
        assert meta["model"] == name and "config" in meta
    assert not [p for p in root.rglob(".tmp-*")], "no half-written versions left behind"


@pytest.mark.skipif(shutil.which("saved_model_cli") is None, reason="saved_model_cli not found")
def test_saved_model_cli_lists_named_tensors(exported):
    root, cases, _ = exported
    shown = subprocess.run(
        ["saved_model_cli", "show", "--dir", cases["hybrid"]["path"], "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in (
        "signature_def['recommend']",
        "signature_def['serving_default']",
        "user_id",
        "item_id",
        "timestamp",
        "item_ids",
        "scores",
        "rating",
    ):
        assert name in shown, name


def test_failed_export_leaves_previous_versions(exported, monkeypatch):
    import tensorflow as tf

    root, _, _ = exported
    model = tfrec.get_model("bias").fit(tfrec.split(tfrec.load_dataset("synthetic-tiny")))

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        model.export(root)
    assert sorted(p.name for p in (root / "bias").iterdir()) == ["1"]
