"""The cascade: the shared contract, candidates from the retriever, one SavedModel."""

import numpy as np
import pytest

from tests.recommender_contract import RecommenderContract, assert_recommend_context_served
from tfrec.errors import ConfigError
from tfrec.models.ranking.cascade import CascadeConfig

_RANKER = {"epochs": 3, "embedding_dim": 8, "hidden_units": (8,), "batch_size": 128}


class TestCascade(RecommenderContract):
    model_name = "cascade"
    options = {
        "retrieval": "itemknn",
        "ranking": "dcn",
        "candidates": 20,
        "ranking_options": _RANKER,
        "signal_options": {"two_tower": {"embedding_dim": 8, "epochs": 3, "batch_size": 256}},
    }
    learns_checkerboard = False  # the dcn ranker: too little data on the 8 x 8 board

    def test_top_k_is_the_rankers_order_of_the_retrievers_unseen_candidates(self, small_split):
        fitted = self.make(combiner="weight", retrieval_weight=0.0).fit(small_split)
        users = fitted.user_ids[:6]
        rows = fitted.users_.encode(users)
        items, _ = fitted.recommend(users, k=5)
        retrieval = fitted.retrieval_._score(rows)
        for row, top in zip(rows, items, strict=True):
            scores = retrieval[np.flatnonzero(rows == row)[0]].copy()
            seen = fitted.seen_[row].indices
            scores[seen] = -np.inf
            candidates = fitted.item_ids[np.argsort(-scores, kind="stable")[:20]]
            assert set(top) <= set(candidates) and not set(top) & set(fitted.item_ids[seen])
            ranked = fitted.ranking_.predict(np.repeat(fitted.user_ids[row], 20), candidates)
            assert list(top) == list(candidates[np.argsort(-ranked, kind="stable")[:5]])

    def test_a_heavy_retrieval_weight_keeps_the_retrievers_order(self, fitted, small_split):
        heavy = self.make(combiner="weight", retrieval_weight=1000.0).fit(small_split)
        users = fitted.user_ids[:6]
        retrieval, _ = heavy.retrieval_.recommend(users, k=5)
        np.testing.assert_array_equal(heavy.recommend(users, k=5)[0], retrieval)

    def test_retrieval_weight_is_chosen_on_validation(self, small_split):
        from tfrec.models.ranking.cascade import RETRIEVAL_WEIGHTS

        fitted = self.make(combiner="weight").fit(small_split)
        assert fitted.retrieval_weight_ in RETRIEVAL_WEIGHTS
        assert fitted.refit_options()["retrieval_weight"] == fitted.retrieval_weight_
        np.testing.assert_array_equal(
            fitted.combiner_weights_, [1.0, 0.0, fitted.retrieval_weight_, 0.0]
        )

    def test_the_combiner_is_chosen_on_validation_and_refit_keeps_it(self, fitted, small_split):
        from tfrec.models.ranking.cascade import RETRIEVAL_WEIGHTS
        from tfrec.models.ranking.stacking import FEATURES, L2_PENALTIES

        assert fitted.config.combiner == "auto"
        assert (fitted.stacking_l2_ in L2_PENALTIES) != (
            fitted.retrieval_weight_ in RETRIEVAL_WEIGHTS
        )
        assert fitted.combiner_weights_.shape == (len(FEATURES) + len(fitted.signals_),)
        given = fitted.refit_options()["stacking_weights"]
        np.testing.assert_allclose(given, fitted.combiner_weights_)
        again = self.make(stacking_weights=given).fit(small_split)
        np.testing.assert_array_equal(again.combiner_weights_, fitted.combiner_weights_)

    def test_stacked_weights_are_fitted_on_validation(self, small_split):
        from tfrec.models.ranking.stacking import L2_PENALTIES

        stacked = self.make(combiner="stacked").fit(small_split)
        assert stacked.stacking_l2_ in L2_PENALTIES and stacked.retrieval_weight_ is None
        assert np.any(stacked.combiner_weights_[1:] != 0)

    def test_the_score_is_theta_times_the_candidates_features(self, fitted):
        from tfrec.models.ranking import stacking

        rows = fitted.users_.encode(fitted.user_ids[:4])
        retrieval, candidates, masked, ranked = fitted._stages(rows)
        signals = fitted._signal_scores(rows, candidates)  # those θ weighs
        x = stacking.features(ranked, np.take_along_axis(masked, candidates, 1), signals)
        expected = (x.astype(np.float64) @ fitted.combiner_weights_).astype(np.float32)
        got = np.take_along_axis(fitted._score(rows), candidates, 1)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)

    def test_savedmodel_recommend_reads_every_stacked_feature(self, small_split, tmp_path):
        import tensorflow as tf

        model = self.make(stacking_weights=[0.5, 1.0, -0.3, 0.2, 0.4, -0.6]).fit(small_split)
        assert list(model.signals_) == ["two_tower", "ease"]  # itemknn retrieves
        served = tf.saved_model.load(str(model.export(tmp_path / "export")))
        users = np.array([*model.user_ids[:8], -1], np.int64)
        out = served.signatures["recommend"](user_id=tf.constant(users), k=tf.constant([6]))
        items, scores = model.recommend(users, k=6)
        np.testing.assert_array_equal(out["item_ids"].numpy(), items)
        np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)

    def test_stacking_weights_must_match_the_features(self):
        with pytest.raises(ConfigError, match="stacking_weights must hold 6 weights"):
            self.make(stacking_weights=[1.0, 2.0])
        config = self.make(signals=(), signal_options={}, stacking_weights=[1.0] * 4).config
        assert len(config.stacking_weights) == 4

    def test_ranker_is_trained_for_ranking(self, fitted):
        assert fitted.ranking_.task_ == "ranking" and not fitted.predicts_ratings

    def test_savedmodel_rank_is_the_rankers_predict(self, fitted, tmp_path):
        import tensorflow as tf

        served = tf.saved_model.load(str(fitted.export(tmp_path / "export")))
        users = np.array([*fitted.user_ids[:3], -1], np.int64)
        candidates = np.stack([fitted.item_ids[i : i + 5] for i in range(4)]).astype(np.int64)
        out = served.signatures["rank"](
            user_id=tf.constant(users), item_ids=tf.constant(candidates)
        )
        expected = fitted.predict(np.repeat(users, 5), candidates.ravel()).reshape(4, 5)
        np.testing.assert_allclose(out["scores"].numpy(), expected, rtol=1e-5, atol=1e-5)

    def test_the_ranker_reads_the_trend_where_there_are_timestamps(self):
        from tfrec.models.ranking.cascade import TIMED_RANKING

        timed = self.make()._stage("ranking", timed=True).config
        assert timed.trend_windows == TIMED_RANKING["trend_windows"]
        assert timed.negative_power == TIMED_RANKING["negative_power"]
        untimed = self.make()._stage("ranking", timed=False).config
        assert untimed.trend_windows == () and untimed.negative_power == 0.0
        mine = self.make(ranking_options={**_RANKER, "trend_windows": [7]})
        assert mine._stage("ranking", timed=True).config.trend_windows == (7.0,)

    def test_a_cascade_of_cascades_is_refused(self):
        with pytest.raises(ConfigError, match="ranking must name another model than cascade"):
            self.make(ranking="cascade")

    def test_unknown_stage_is_named(self):
        with pytest.raises(ConfigError, match="unknown model 'bm25'"):
            self.make(retrieval="bm25")

    def test_hard_negatives_come_from_the_retrievers_candidates(self, small_split):
        model = self.make(hard_negatives=0.5).fit(small_split)
        candidates = model.ranking_.hard_candidates_
        assert candidates.shape == (len(model.user_ids), 20)
        rows = model.users_.encode(model.user_ids[:3])
        np.testing.assert_array_equal(
            candidates[rows], model._candidates(rows, model.retrieval_._score(rows))[0]
        )
        assert model.ranking_.hard_share_ == 0.5

    def test_hard_negatives_need_a_sampling_ranker(self, small_split):
        with pytest.raises(ConfigError, match="ranker 'mf' samples no negatives"):
            self.make(ranking="mf", ranking_options={}, hard_negatives=0.5).fit(small_split)


class TestCascadeWithASignal(RecommenderContract):
    """The contract with popularity's scores as a fifth feature of θ, weighted."""

    model_name = "cascade"
    options = {
        **TestCascade.options,
        "signals": ("popularity",),
        "signal_options": {},
        "stacking_weights": (0.5, 1.0, -0.3, 0.2, 0.7),
    }
    learns_checkerboard = False

    def test_the_signals_scores_are_a_feature_of_theta(self, fitted):
        from tfrec.models.ranking import stacking

        assert list(fitted.signals_) == ["popularity"]
        rows = fitted.users_.encode(fitted.user_ids[:4])
        retrieval, candidates, masked, ranked = fitted._stages(rows)
        popular = np.take_along_axis(fitted.signals_["popularity"]._score(rows), candidates, 1)
        x = stacking.features(ranked, np.take_along_axis(masked, candidates, 1), [popular])
        assert x.shape[2] == 5
        expected = (x.astype(np.float64) @ fitted.combiner_weights_).astype(np.float32)
        got = np.take_along_axis(fitted._score(rows), candidates, 1)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        without = fitted._combine(retrieval, candidates, masked, ranked, [0.5, 1.0, -0.3, 0.2])
        assert not np.allclose(np.take_along_axis(without, candidates, 1), got)

    def test_a_signal_without_weight_is_dropped(self, small_split):
        model = self.make(stacking_weights=(0.5, 1.0, -0.3, 0.2, 0.0)).fit(small_split)
        assert model.signals_ == {} and model.combiner_weights_.shape == (4,)
        options = model.refit_options()
        assert options["signals"] == [] and len(options["stacking_weights"]) == 4
        assert self.make(**options).config.feature_names() == stacking_features()

    def test_auto_tries_theta_without_the_signals(self, small_split, capsys):
        model = self.make(stacking_weights=None).fit(small_split, verbose=True)
        printed = capsys.readouterr().out
        assert "L2 0.001 without signals" in printed and "weighted sum" in printed
        assert model.combiner_weights_.shape == (4 + len(model.signals_),)
        again = self.make(**model.refit_options())
        assert again.config.feature_names()[4:] == tuple(model.signals_)

    def test_a_signal_beyond_its_memory_limit_is_left_out(self, small_split, capsys):
        tiny = {"ease": {"max_memory_gb": 1e-9}}
        model = self.make(
            signals=("popularity", "ease"), signal_options=tiny, stacking_weights=None
        )
        model.fit(small_split)
        assert "ease" not in model.signals_
        assert "cascade: the signal ease is left out: ease needs about" in capsys.readouterr().err
        fixed = self.make(
            signals=("popularity", "ease"), signal_options=tiny, stacking_weights=(1.0,) * 6
        )
        with pytest.raises(ConfigError, match="stacking_weights weigh the signal ease, which"):
            fixed.fit(small_split)
        unweighted = self.make(
            signals=("popularity", "ease"),
            signal_options=tiny,
            stacking_weights=(1.0,) * 5 + (0.0,),
        )
        assert list(unweighted.fit(small_split).signals_) == ["popularity"]  # ease not fitted

    def test_signals_read_from_text_and_none_under_the_weighted_sum(self):
        text = self.make(signals="ease, popularity", stacking_weights=None)
        assert text.config.signals == ("ease", "popularity")
        weight = self.make(combiner="weight", stacking_weights=None)
        assert weight.config.feature_names() == stacking_features()

    def test_a_cascade_saved_before_signals_loads_without_them(self, small_split, tmp_path):
        import json

        from tfrec.models import load_model

        old = self.make(signals=(), stacking_weights=(0.5, 1.0, -0.3, 0.2)).fit(small_split)
        path = old.save(tmp_path / "old")
        meta = json.loads((path / "model.json").read_text())
        for key in ("signals", "signal_options"):
            del meta["config"][key]
        (path / "model.json").write_text(json.dumps(meta))
        loaded = load_model(path)
        assert loaded.signals_ == {} and loaded.config.signals == ()
        users = old.user_ids[:5]
        np.testing.assert_array_equal(loaded.recommend(users, k=4)[0], old.recommend(users, k=4)[0])

    def test_a_signal_that_names_a_stage_is_left_out(self):
        config = self.make(signals=("itemknn", "popularity")).config  # itemknn retrieves
        assert config.used_signals() == ("popularity",)
        # the default signals: the retrievers that are not the stage
        assert CascadeConfig().used_signals() == ("itemknn", "ease")
        assert CascadeConfig(retrieval="ease").used_signals() == ("two_tower", "itemknn")
        with pytest.raises(ConfigError, match="stacking_weights must hold 5 weights"):
            self.make(signals=("itemknn", "popularity"), stacking_weights=(1.0,) * 6)

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"signals": ("bm25",)}, "unknown model 'bm25'"),
            ({"signals": ("popularity", "popularity")}, "signals must name each model once"),
            ({"signals": ("cascade",)}, "signals must name other models than cascade"),
            ({"signal_options": {"ease": {"l2": 10.0}}}, "names 'ease', which is not among"),
            ({"signal_options": {"popularity": 3}}, r"signal_options\['popularity'\] must be"),
            ({"signals": None}, "signals must be model names"),
            ({"signals": ("implicit_als",)}, "signal 'implicit_als' has no SavedModel"),
        ],
    )
    def test_bad_signals_are_named(self, options, message):
        with pytest.raises(ConfigError, match=message):
            self.make(**options)


def stacking_features():
    from tfrec.models.ranking.stacking import FEATURES

    return FEATURES


def test_the_request_context_reaches_the_ranker():
    """itemknn retrieves both kinds of items; the dcn ranker, reading the
    device, puts a tv's kind first (the log of tests/models/ranking/test_dcn.py;
    the ranker's order alone, as the combiner is fitted without context)."""
    from tests.models.ranking.test_dcn import context_log
    from tfrec.models import get_model

    parts = context_log(per_user=30, n_items=30)
    ranker = {"epochs": 20, "history": 0, "learning_rate": 3e-3}
    model = get_model(
        "cascade",
        retrieval="itemknn",
        candidates=40,
        ranking_options=ranker,
        combiner="weight",
        retrieval_weight=0.0,
    )
    model.fit(parts)
    assert model.reads_features == ("context",)
    users = ["u0", "u1", "u2", "u3"]
    for device, kind in (("tv", "a"), ("phone", "b")):
        items, _ = model.recommend(users, k=3, context={"device": [device] * len(users)})
        assert all(i.startswith(kind) for i in items.ravel()), (device, items)


def test_a_ranker_without_pair_context_takes_none():
    """two_tower reads context as a query term, not in its pair scores: as a
    ranker it gives the cascade no request context."""
    from tests.models.ranking.test_dcn import context_log
    from tfrec.errors import TfrecError
    from tfrec.models import get_model

    model = get_model(
        "cascade",
        retrieval="itemknn",
        ranking="two_tower",
        candidates=10,
        ranking_options={"epochs": 1},
        combiner="weight",
        retrieval_weight=0.0,
    ).fit(context_log(per_user=10))
    assert model.reads_features == () and not model.feature_schema_
    with pytest.raises(TfrecError, match="model 'cascade' reads no feature device"):
        model.recommend(["u0"], k=3, context={"device": ["tv"]})


@pytest.mark.parametrize("ranking", ["dcn", "popularity"])
def test_the_retrievers_context_term_and_the_export(features_split, ranking, tmp_path):
    """A two_tower retriever adds its context term to the candidates' scores (and
    dcn reads the context too; popularity none): ``recommend(..., context=...)`` and
    the export's ``recommend_context`` agree."""
    from tfrec.models import get_model

    small = {"epochs": 2, "embedding_dim": 8}
    ranker = {**_RANKER, "history": 0} if ranking == "dcn" else {}
    model = get_model(
        "cascade",
        retrieval="two_tower",
        ranking=ranking,
        candidates=6,
        retrieval_options=small,
        ranking_options=ranker,
    ).fit(features_split)
    schema = model.feature_schema_
    assert [f.key for f in schema.of("context")] == ["context_device"] and schema.context_time
    assert_recommend_context_served(model, tmp_path)


def test_a_retriever_without_a_context_term_takes_none():
    """dcn reads context inside its network, which a cascade's export cannot add
    to the retrieval scores: as a retriever it gives the cascade no context, in
    Python as in the export."""
    from tests.models.ranking.test_dcn import context_log
    from tfrec.models import get_model

    model = get_model(
        "cascade",
        retrieval="dcn",
        ranking="popularity",
        candidates=10,
        retrieval_options={**_RANKER, "epochs": 1},
    ).fit(context_log(per_user=10))
    assert model.retrieval_.context_ is not None  # the retriever itself reads it
    assert model.reads_features == () and not model.feature_schema_
