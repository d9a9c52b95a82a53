"""Training streamed from a prepared directory's shards: the in-memory path's
batches with one shard, every row once per epoch with several, and each
worker's own shards."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import tfrec
from tfrec.data.prepare import PrepareOptions, prepare
from tfrec.data.prepare.load import load_prepared
from tfrec.data.prepare.stream import code_rows
from tfrec.errors import ConfigError

MF = {"n_factors": 8, "epochs": 4, "patience": 0, "batch_size": 64, "seed": 5}


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A seeded ratings log with string IDs, written as CSV."""
    rng = np.random.default_rng(0)
    n = 3000
    log = pd.DataFrame(
        {
            "customer": [f"c{u}" for u in rng.integers(0, 90, n)],
            "sku": [f"S{i}" for i in rng.integers(0, 120, n)],
            "stars": rng.integers(1, 6, n),
            "when": 1_500_000_000 + rng.integers(0, 10**6, n),
        }
    )
    path = tmp_path_factory.mktemp("stream") / "log.csv"
    log.to_csv(path, index=False)
    return path


def _prepared(log, shards):
    out = log.parent / f"p{shards}"
    if not out.exists():
        prepare(log, out, PrepareOptions(split="random", shards=shards), verbose=False)
    return load_prepared(out)


def test_one_shard_streams_the_in_memory_batches(log):
    split = _prepared(log, 1)
    assert split.train_shards.total_rows == len(split.train)
    streamed = tfrec.get_model("mf", **MF).fit(split)
    in_memory = tfrec.get_model("mf", **MF).fit(dataclasses.replace(split, train_shards=None))
    for a, b in zip(streamed.history_, in_memory.history_, strict=True):
        assert a["train_rmse"] == pytest.approx(b["train_rmse"], rel=1e-6)
        assert a["val_rmse"] == pytest.approx(b["val_rmse"], rel=1e-6)
    np.testing.assert_allclose(streamed.user_factors_, in_memory.user_factors_, rtol=1e-5)
    np.testing.assert_allclose(streamed.item_bias_, in_memory.item_bias_, rtol=1e-5, atol=1e-7)


def _epoch_rows(split, seed, epoch, worker=0, workers=1):
    """(shard sizes, user rows, item rows) of one streamed epoch, in stream order."""
    from tfrec.models.base import Interactions

    data = Interactions.from_ratings(split.train)
    codes = {"user": code_rows(data.user_ids), "item": code_rows(data.item_ids)}
    stream = split.train_shards.epoch(["user", "item"], codes, seed, epoch, worker, workers)
    sizes, users, items = [], [], []
    for order, user, item in stream:
        order = order.numpy()
        assert sorted(order) == list(range(len(order)))  # each row of the shard once
        sizes.append(len(order))
        users.append(user.numpy()[order])
        items.append(item.numpy()[order])
    return sizes, np.concatenate(users), np.concatenate(items), data


def test_an_epoch_of_several_shards_visits_every_row_once(log):
    split = _prepared(log, 3)
    sizes, users, items, data = _epoch_rows(split, seed=1, epoch=0)
    assert sorted(sizes) == sorted(split.train_shards.rows) and len(sizes) == 3
    pairs = np.sort(users.astype(np.int64) * 10**6 + items)
    np.testing.assert_array_equal(pairs, np.sort(data.users * 10**6 + data.items))
    again, other = _epoch_rows(split, 1, 0)[1], _epoch_rows(split, 1, 1)[1]
    np.testing.assert_array_equal(users, again)  # seeded
    assert not np.array_equal(users, other)  # a fresh order each epoch


def test_each_worker_reads_only_its_own_shards_whole_users(log):
    split = _prepared(log, 3)
    seen = []
    for worker in range(2):
        sizes, users, _, _ = _epoch_rows(split, 0, 0, worker, 2)
        owned = split.train_shards.owned(worker, 2)
        assert sorted(sizes) == sorted(split.train_shards.rows[s] for s in owned)
        seen.append(set(users.tolist()))
    assert not seen[0] & seen[1]  # a user's rows sit in one shard
    assert len(seen[0] | seen[1]) == split.train["user_id"].nunique()
    with pytest.raises(ConfigError, match="worker must be in"):
        split.train_shards.owned(2, 2)


def test_several_shards_train_as_well_as_in_memory(log):
    split = _prepared(log, 3)
    options = {**MF, "epochs": 8}
    streamed = tfrec.get_model("mf", **options).fit(split)
    in_memory = tfrec.get_model("mf", **options).fit(dataclasses.replace(split, train_shards=None))
    # Other batches, the same model: validation RMSE within a few per cent.
    a, b = streamed.history_[-1]["val_rmse"], in_memory.history_[-1]["val_rmse"]
    assert a == pytest.approx(b, rel=0.03)
    assert streamed.history_[-1]["train_rmse"] < streamed.history_[0]["train_rmse"]


def test_refit_trains_on_train_and_validation_not_the_shards(log):
    split = _prepared(log, 3).with_validation_in_train()
    assert split.train_shards is None


DNN = {"epochs": 2, "patience": 0, "batch_size": 128, "seed": 3, "embedding_dim": 8}


def test_keras_rating_models_stream_the_in_memory_batches_from_one_shard(log):
    """dnn (and hybrid, which also reads the row's timestamp) stream their
    epochs from the shards; with one shard the batches, and so the fit, are
    the in-memory ones."""
    split = _prepared(log, 1)
    for name in ("dnn", "hybrid"):
        model = tfrec.get_model(name, **DNN)
        streamed, steps, _ = model._training_batches(
            tfrec.models.base.Interactions.from_ratings(split.train), split, _options()
        )
        in_memory, memory_steps, _ = model._training_batches(
            tfrec.models.base.Interactions.from_ratings(split.train),
            dataclasses.replace(split, train_shards=None),
            _options(),
        )
        assert steps == memory_steps
        batches = list(zip(streamed(), in_memory(), strict=True))
        assert len(batches) == DNN["epochs"] * steps
        for a, b in batches:
            assert sorted(a) == sorted(b)
            for key in a:
                assert a[key].dtype == b[key].dtype
                np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    streamed = tfrec.get_model("dnn", **DNN).fit(split)
    in_memory = tfrec.get_model("dnn", **DNN).fit(dataclasses.replace(split, train_shards=None))
    for a, b in zip(streamed.history_, in_memory.history_, strict=True):
        assert a["val_rmse"] == pytest.approx(b["val_rmse"], rel=1e-5)


def test_keras_rating_epochs_from_several_shards_hold_every_row_once(log):
    split = _prepared(log, 3)
    model = tfrec.get_model("hybrid", **DNN)
    data = tfrec.models.base.Interactions.from_ratings(split.train)
    make, steps, _ = model._training_batches(data, split, _options())
    batches = list(make())
    assert (
        len(batches)
        == DNN["epochs"] * steps
        == DNN["epochs"] * sum(-(-rows // DNN["batch_size"]) for rows in split.train_shards.rows)
    )
    first = batches[:steps]
    users = np.concatenate([b["user"].numpy() for b in first]).astype(np.int64)
    times = np.concatenate([b["timestamp"].numpy() for b in first])
    keys = np.sort(users * 10**10 + times)
    np.testing.assert_array_equal(keys, np.sort(data.users * 10**10 + data.timestamps))


def test_each_worker_streams_its_share_of_every_batch_in_lockstep(log):
    """Under multi-worker a worker's batches hold its share of the global batch,
    from its own shards only, and every worker runs the same steps an epoch."""
    from tfrec.data.prepare.stream import ShardStream

    split = _prepared(log, 3)
    data = tfrec.models.base.Interactions.from_ratings(split.train)
    codes = {"user": code_rows(data.user_ids), "item": code_rows(data.item_ids)}
    batch = DNN["batch_size"]
    steps, users = set(), []
    for worker in range(2):
        stream = ShardStream(split.train_shards, codes, worker, 2)
        assert stream.per_worker and stream.batch_size(batch) == batch // 2
        owned = split.train_shards.owned(worker, 2)
        own_steps = split.train_shards.steps(batch // 2, 1, worker, 2)
        steps.add(stream.steps(batch // 2))
        batches = list(stream.batches(["user", "item", "rating"], batch, 0, 2))
        assert len(batches) == 2 * stream.steps(batch // 2)
        assert max(len(b["user"]) for b in batches) == batch // 2
        first = np.concatenate([b["user"].numpy() for b in batches[:own_steps]])
        assert len(first) == sum(split.train_shards.rows[s] for s in owned)  # every row once
        users.append(set(first.tolist()))
    assert len(steps) == 1  # lockstep
    assert not users[0] & users[1]


def test_multi_worker_streams_only_when_every_worker_owns_shards(log, monkeypatch):
    """A worker without shards would stop while the others wait, and a worker
    with several replicas would take several batches a step: then every
    worker feeds the loaded rows."""
    import types

    import tfrec.distribute
    from tfrec.data.prepare.stream import streamed
    from tfrec.models.options import TrainingOptions

    monkeypatch.setattr(tfrec.distribute, "worker_index", lambda strategy: (1, 2))

    def stream(shards, replicas):
        split = _prepared(log, shards)
        data = tfrec.models.base.Interactions.from_ratings(split.train)
        strategy = types.SimpleNamespace(num_replicas_in_sync=replicas)
        return streamed("dnn", split, data, TrainingOptions(verbose=False, strategy=strategy))

    assert stream(1, 2) is None  # worker 1 of 2 would own no shard
    assert stream(3, 4) is None  # two replicas per worker
    own = stream(3, 2)
    assert (own.worker, own.workers, own.per_worker) == (1, 2, True)


def test_dcn_streams_its_history_positions_from_the_shards(log):
    """dcn's history position of a training row is the row's index in the
    loaded train part (its users' rows as they are), which the shards stream
    as a computed column: one shard gives the in-memory batches, several give
    each row its own position."""
    from tfrec.models.base import Interactions

    def batches(split):
        model = tfrec.get_model("dcn", **DNN, history=4)
        data = Interactions.from_ratings(split.train)
        model._prepare(data, split)
        assert model.row_columns == ("position",)
        return model, data, model._training_batches(data, split, _options())

    split = _prepared(log, 1)
    _, data, (streamed, steps, _) = batches(split)
    model, _, (in_memory, memory_steps, _) = batches(dataclasses.replace(split, train_shards=None))
    assert steps == memory_steps
    pairs = list(zip(streamed(), in_memory(), strict=True))
    assert len(pairs) == DNN["epochs"] * steps
    for a, b in pairs:
        for key in b:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())

    model, data, (make, steps, _) = batches(_prepared(log, 3))
    first = list(make())[:steps]
    position = np.concatenate([b["position"].numpy() for b in first])
    users = np.concatenate([b["user"].numpy() for b in first])
    np.testing.assert_array_equal(np.sort(position), np.arange(len(data.users)))
    np.testing.assert_array_equal(users, data.users[position])  # each row's own


def test_implicit_batches_stream_computed_columns(log):
    """dcn's ranking task: the positives' positions stream with them, and each
    negative takes its positive's."""
    from tfrec.data.prepare.stream import streamed
    from tfrec.models.base import Interactions
    from tfrec.pipelines import implicit_dataset

    split = _prepared(log, 1)
    data = Interactions.from_ratings(split.train)
    extra = {"position": np.arange(len(data.users), dtype=np.int64)}
    args = (data.users, data.items, len(data.item_ids), 3, 64, 7, 2)
    stream = streamed("test", split, data, _options())
    for grouped in (False, True):
        a = implicit_dataset(*args, extra=extra, grouped=grouped, shards=stream)
        b = implicit_dataset(*args, extra=extra, grouped=grouped)
        for (fa, la), (fb, lb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(la.numpy(), lb.numpy())
            for key in ("user", "item", "position"):
                np.testing.assert_array_equal(fa[key].numpy(), fb[key].numpy())


def _options():
    from tfrec.models.options import TrainingOptions

    return TrainingOptions(verbose=False)


@pytest.mark.parametrize("grouped", [False, True])
def test_implicit_batches_stream_from_shards(log, grouped):
    """Positives and sampled negatives (gmf, dcn): one shard gives the in-memory
    batches exactly; several give every positive once per epoch, negatives unseen."""
    from tfrec.data.prepare.stream import streamed
    from tfrec.models.base import Interactions
    from tfrec.pipelines import implicit_dataset

    def batches(split, epochs=2):
        data = Interactions.from_ratings(split.train)
        stream = streamed("test", split, data, _options())
        args = (data.users, data.items, len(data.item_ids), 3, 64, 7, epochs)
        return data, implicit_dataset(*args, grouped=grouped, shards=stream), args

    data, streamed_batches, args = batches(_prepared(log, 1))
    in_memory = implicit_dataset(*args, grouped=grouped)
    pairs = list(zip(streamed_batches, in_memory, strict=True))
    assert len(pairs) > 2
    for (features, label), (memory_features, memory_label) in pairs:
        np.testing.assert_array_equal(label.numpy(), memory_label.numpy())
        for key in ("user", "item"):
            np.testing.assert_array_equal(features[key].numpy(), memory_features[key].numpy())

    data, several, _ = batches(_prepared(log, 3), epochs=1)
    batches_ = [(f["user"].numpy(), f["item"].numpy(), label.numpy()) for f, label in several]
    users, items, labels = (np.concatenate(column) for column in zip(*batches_, strict=True))
    seen = set((data.users * 10**6 + data.items).tolist())
    keys = users * 10**6 + items
    np.testing.assert_array_equal(
        np.sort(keys[labels == 1]), np.sort(data.users * 10**6 + data.items)
    )
    assert (labels == 0).sum() == 3 * len(data.users)
    assert np.mean([k in seen for k in keys[labels == 0]]) < 0.01  # redrawn when seen


def test_gmf_streamed_from_one_shard_fits_as_in_memory(log):
    split = _prepared(log, 1)
    options = {"epochs": 2, "patience": 0, "batch_size": 256, "seed": 2, "embedding_dim": 8}
    streamed = tfrec.get_model("gmf", **options).fit(split)
    in_memory = tfrec.get_model("gmf", **options).fit(dataclasses.replace(split, train_shards=None))
    for a, b in zip(streamed.history_, in_memory.history_, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


# two_tower's windows, its per-interaction examples (bag order) and lstm's windows.
SEQUENCE_EXAMPLES = {
    "windows": (
        lambda s: s.windows(3, first_targets=True),
        lambda s: s.window_counts(3, first_targets=True),
    ),
    "interactions": (
        lambda s: {**s.columns(), "end": s.ends[s.users]},
        lambda s: s.ends - s.starts,
    ),
    "lstm windows": (lambda s: s.windows(2), lambda s: s.window_counts(2)),
}


def _sequence_batches(log, shards, kind, epochs, worker=0, workers=1):
    from tfrec.data.prepare.stream import ShardStream
    from tfrec.models.base import Interactions
    from tfrec.sequences import UserSequences

    examples, counts = SEQUENCE_EXAMPLES[kind]
    split = _prepared(log, shards)
    data = Interactions.from_ratings(split.train)
    sequences = UserSequences.from_interactions(data)
    assert sequences.order is None  # the shards' rows, grouped by user in time order
    codes = {"user": code_rows(data.user_ids), "item": code_rows(data.item_ids)}
    stream = ShardStream(split.train_shards, codes, worker, workers)
    dataset, steps = stream.sequence_batches(examples, counts(sequences), sequences, 32, 7, epochs)
    return examples(sequences), [{k: v.numpy() for k, v in b.items()} for b in dataset], steps


def _rows(columns):
    return sorted(zip(*(np.asarray(columns[k]).tolist() for k in sorted(columns)), strict=True))


@pytest.mark.parametrize("kind", list(SEQUENCE_EXAMPLES))
def test_sequence_examples_stream_from_shards(log, kind):
    """The sequence models' examples, made shard by shard as it is read: one
    shard gives the in-memory batches exactly; three give every example once
    an epoch; two workers share them, in lockstep, without sharing a user."""
    from tfrec.pipelines import training_dataset

    examples, batches, steps = _sequence_batches(log, 1, kind, epochs=2)
    in_memory = [{k: v.numpy() for k, v in b.items()} for b in training_dataset(examples, 32, 7, 2)]
    assert len(batches) == len(in_memory) == 2 * steps > 4
    for streamed_batch, memory_batch in zip(batches, in_memory, strict=True):
        assert streamed_batch.keys() == memory_batch.keys()
        for key, values in streamed_batch.items():
            np.testing.assert_array_equal(values, memory_batch[key])

    examples, batches, steps = _sequence_batches(log, 3, kind, epochs=1)
    assert len(batches) == steps
    assert _rows({k: np.concatenate([b[k] for b in batches]) for k in batches[0]}) == _rows(
        examples
    )

    users, all_steps = [], set()
    for worker in range(2):
        _, batches, steps = _sequence_batches(log, 3, kind, 1, worker, 2)
        assert len(batches) == steps and max(len(b["user"]) for b in batches) <= 16
        all_steps.add(steps)
        users.append(set(np.concatenate([b["user"] for b in batches]).tolist()))
    assert len(all_steps) == 1  # lockstep
    assert not users[0] & users[1]
    assert users[0] | users[1] == set(np.asarray(examples["user"]).tolist())


@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("two_tower", {"embedding_dim": 8, "batch_size": 128}),
        ("two_tower", {"embedding_dim": 8, "batch_size": 128, "history": 0}),
        ("lstm", {"embedding_dim": 8, "batch_size": 128, "max_len": 5}),
    ],
)
def test_sequence_models_streamed_from_one_shard_fit_as_in_memory(log, model, options, monkeypatch):
    from tfrec.data.prepare.stream import ShardStream

    made = []
    original = ShardStream.sequence_batches

    def spy(self, *args):
        made.append(original(self, *args))
        return made[-1]

    monkeypatch.setattr(ShardStream, "sequence_batches", spy)
    split = _prepared(log, 1)
    options = {**options, "epochs": 2, "patience": 0, "seed": 2}
    streamed = tfrec.get_model(model, **options).fit(split)
    assert len(made) == 1  # the fit read its examples from the shard
    in_memory = tfrec.get_model(model, **options).fit(dataclasses.replace(split, train_shards=None))
    for a, b in zip(streamed.history_, in_memory.history_, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["val_ndcg@10"] == pytest.approx(b["val_ndcg@10"], abs=1e-6)


def test_evaluation_ranks_a_prepared_split_shard_by_shard_with_the_same_metrics(log, monkeypatch):
    import tfrec.evaluation

    split = _prepared(log, 3)
    assert split.part_shards["test"] == tuple(
        len(pd.read_parquet(f)) for f in sorted((log.parent / "p3").glob("test/*.parquet"))
    )
    model = tfrec.get_model("mf", **MF).fit(split)
    groups = []
    original = tfrec.evaluation._ranking_frame

    def spy(model, target, *args):
        groups.append(set(target["user_id"]))
        return original(model, target, *args)

    monkeypatch.setattr(tfrec.evaluation, "_ranking_frame", spy)
    for part in ("test", "validation"):
        groups.clear()
        by_shard = tfrec.evaluate(model, split, part=part)
        assert len(groups) == 3 and not (groups[0] & groups[1] or groups[1] & groups[2])
        at_once = tfrec.evaluate(model, dataclasses.replace(split, part_shards=None), part=part)
        assert len(groups) == 4
        assert by_shard.metrics == at_once.metrics
        pd.testing.assert_frame_equal(by_shard.per_user, at_once.per_user)
    groups.clear()  # frames no longer the shards' rows: one group, not wrong slices
    fewer = dataclasses.replace(split, test=split.test.iloc[: len(split.test) // 2])
    assert (
        tfrec.evaluate(model, fewer).metrics
        == tfrec.evaluate(model, dataclasses.replace(fewer, part_shards=None)).metrics
    )
    assert len(groups) == 2


def test_mf_shuffles_a_group_of_shards_together(log, monkeypatch):
    """mf's loop trains up to SHARD_GROUP shards as one shuffled group, so no
    shard's users wait for the others' (ml-latest-small in 4 shards: RMSE
    0.8814 shard after shard, 0.8716 grouped, 0.8715 in memory)."""
    import tfrec.models.factorization.mf_trainer
    from tfrec.models.factorization.mf_trainer import MFTrainer

    sizes = []
    original = MFTrainer._train_order

    def spy(self, order, columns, batch_size):
        sizes.append(int(order.shape[0]))
        return original(self, order, columns, batch_size)

    monkeypatch.setattr(MFTrainer, "_train_order", spy)
    split = _prepared(log, 3)
    options = {**MF, "epochs": 1}
    tfrec.get_model("mf", **options).fit(split)
    assert sizes == [len(split.train)]  # one group of the 3 shards
    sizes.clear()
    monkeypatch.setattr(tfrec.models.factorization.mf_trainer, "SHARD_GROUP", 2)
    tfrec.get_model("mf", **options).fit(split)
    assert len(sizes) == 2 and sum(sizes) == len(split.train)
