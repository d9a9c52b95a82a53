"""New items at export: `tfrec export --items` adds items nobody rated, from their content."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tfrec.api import load_model
from tfrec.cli import main
from tfrec.data.interaction_log import read_items
from tfrec.errors import NotSupportedError

# Shop items: c* are comedies, h* horror, all of the 1990s; users rate within one genre.
ITEMS = "sku,name,category\nc1,Alpha (1991),Comedy\nc2,Bravo (1992),Comedy\n" \
    "c3,Charlie (1993),Comedy\nh1,Delta (1994),Horror\nh2,Echo (1995),Horror\n" \
    "h3,Foxtrot (1996),Horror\n"  # fmt: skip
LOG = "customer,sku,ts\nann,c1,1\nann,c2,2\nbob,h1,3\nbob,h2,4\ncid,c3,5\ncid,h3,6\n" \
    "dan,c3,7\ndan,h3,8\n"  # fmt: skip
NEW = "sku,name,category\nc9,Golf (1997),Comedy\nh9,Hotel (1998),Horror\nc1,Alpha (1991),Comedy\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shop")
    (folder / "log.csv").write_text(LOG)
    (folder / "items.csv").write_text(ITEMS)
    (folder / "new.csv").write_text(NEW)
    columns = "item=sku,title=name,genres=category"
    args = ["train", "--model", "content_knn", "--dataset", str(folder / "log.csv"), "--items",
            str(folder / "items.csv"), "--item-columns", columns, "--split", "none",
            "--out", str(folder / "run"), "--no-export", "--quiet"]  # fmt: skip
    assert main(args) == 0
    return folder


def test_export_with_new_items_serves_them_in_a_fresh_process(run, capsys):
    columns = "item=sku,title=name,genres=category"
    args = ["export", "--model-dir", str(run / "run"), "--export-root", str(run / "exp"),
            "--items", str(run / "new.csv"), "--item-columns", columns]  # fmt: skip
    assert main(args) == 0
    assert "2 new items" in capsys.readouterr().out
    code = (
        "import json, sys, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(run / 'exp' / 'log-content_knn' / '1')!r})\n"
        "out = m.signatures['recommend'](user_id=tf.constant(['ann', 'bob']), k=tf.constant([2]))\n"
        "print(json.dumps(out['item_ids'].numpy().astype(str).tolist()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ann, bob = json.loads(done.stdout.strip().splitlines()[-1])
    assert ann == ["c3", "c9"]  # the unseen comedy, then the new one (tied, lower index first)
    assert bob == ["h3", "h9"]


def test_new_items_extend_the_catalogue_after_the_known_ones(run):
    model = load_model(run / "run")
    _, items, _ = read_items(run / "new.csv", "item=sku,title=name,genres=category")
    raw = np.array(["c9", "h9", "c1"])
    extended = model.with_new_items(raw, items)
    assert list(extended.item_ids) == [*model.item_ids, "c9", "h9"]
    assert extended.items_.encode(["h9", "c1", "nope"]).tolist() == [7, 0, -1]
    assert model.with_new_items(["c1"], items.iloc[2:]) is model
    scores = extended.score(["ann"])[0]
    assert scores[6] > scores[7]  # the new comedy above the new horror for a comedy fan


def test_models_without_content_refuse_new_items(run, tmp_path):
    args = ["train", "--model", "popularity", "--dataset", str(run / "log.csv"),
            "--split", "none", "--out", str(tmp_path / "p"), "--no-export", "--quiet"]  # fmt: skip
    assert main(args) == 0
    with pytest.raises(NotSupportedError, match="cannot score items absent from training"):
        load_model(tmp_path / "p").with_new_items(["x"], None)
