"""The contract every Recommender passes; each model's test module subclasses it.

Subclasses set ``model_name`` and optionally ``options`` (config overrides),
``learns_checkerboard`` (recommends the user's own taste group first),
``board_options`` (overrides for the 8 x 8 checkerboard) and
``feature_options`` (overrides for the two groups with features).
"""

import numpy as np
import pytest

from tfrec.errors import ConfigError, NotSupportedError, TfrecError
from tfrec.models import get_model, load_model


class RecommenderContract:
    model_name: str = ""
    options: dict = {}
    learns_checkerboard: bool = True
    board_options: dict = {}
    feature_options: dict = {}

    def make(self, **extra):
        return get_model(self.model_name, **{**self.options, **extra})

    @pytest.fixture(scope="class")
    def fitted(self, small_split):
        return self.make().fit(small_split)

    def test_fit_returns_self_and_catalogue(self, small_split):
        model = self.make()
        assert model.fit(small_split) is model
        assert set(model.item_ids) == set(small_split.train["item_id"])
        assert set(model.user_ids) == set(small_split.train["user_id"])

    def test_recommend_shapes_order_and_excludes_seen(self, fitted, small_split):
        users = small_split.train["user_id"].unique()[:5]
        items, scores = fitted.recommend(users, k=7)
        assert items.shape == scores.shape == (5, 7)
        assert np.all(np.diff(scores, axis=1) <= 1e-6), "scores must be best first"
        for user, row in zip(users, items, strict=True):
            seen = small_split.train.loc[small_split.train.user_id == user, "item_id"]
            assert not set(row) & set(seen)
            assert set(row) <= set(fitted.item_ids)
            assert len(set(row)) == len(row)

    def test_recommend_including_seen_can_return_seen(self, fitted):
        items, _ = fitted.recommend(fitted.user_ids[:3], k=len(fitted.item_ids), exclude_seen=False)
        assert items.shape[1] == len(fitted.item_ids)
        assert set(items[0]) == set(fitted.item_ids)

    def test_unknown_ids_fall_back(self, fitted):
        items, scores = fitted.recommend([-42], k=5)
        popular = fitted.item_ids[np.argsort(-fitted.popularity_, kind="stable")[:5]]
        assert list(items[0]) == list(popular)
        pred = fitted.predict([-42, fitted.user_ids[0]], [fitted.item_ids[0], -7])
        assert np.all(np.isfinite(pred))
        if fitted.predicts_ratings:
            assert pred == pytest.approx([fitted.global_mean_] * 2, abs=1e-5)

    def test_predict_matches_score(self, fitted):
        users = np.repeat(fitted.user_ids[:4], 3)
        items = np.tile(fitted.item_ids[:3], 4)
        scores = fitted.score(fitted.user_ids[:4])[:, :3].ravel()
        predicted = fitted.predict(users, items)
        if not fitted.scores_are_predictions:
            pytest.skip(f"{self.model_name}'s ranking scores are not its predictions")
        if fitted.predicts_ratings:
            scores = np.clip(scores, *fitted.rating_scale_)
        assert predicted == pytest.approx(scores, rel=1e-4, abs=1e-4)

    def test_config_round_trip(self):
        config = self.make().config
        assert type(config).from_json(config.to_json()) == config

    def test_unknown_option_is_named(self):
        with pytest.raises(ConfigError, match="no_such_option"):
            self.make(no_such_option=1)

    def test_save_load_gives_equal_outputs(self, fitted, tmp_path):
        fitted.save(tmp_path / "m")
        loaded = load_model(tmp_path / "m")
        users = list(fitted.user_ids[:6]) + [-1]
        np.testing.assert_array_equal(
            loaded.recommend(users, k=5)[0], fitted.recommend(users, k=5)[0]
        )
        np.testing.assert_allclose(loaded.score(users), fitted.score(users), rtol=1e-6)
        assert loaded.config == fitted.config
        # --refit settings (the epochs early stopping chose) outlive the save
        assert loaded.refit_options() == fitted.refit_options()

    def test_savedmodel_reload_gives_equal_outputs(self, fitted, tmp_path):
        import tensorflow as tf

        path = fitted.export(tmp_path / "export")
        assert path == tmp_path / "export" / self.model_name / "1"
        assert (path / "saved_model.pb").exists()
        assert (path / "assets.extra" / "tfrec.json").exists()
        served = tf.saved_model.load(str(path))
        users = np.array([*fitted.user_ids[:6], -1], dtype=np.int64)
        out = served.signatures["recommend"](user_id=tf.constant(users), k=tf.constant([5]))
        items, scores = fitted.recommend(users, k=5)
        np.testing.assert_array_equal(out["item_ids"].numpy(), items)
        np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)
        pair_users = np.array([*fitted.user_ids[:4], -1, fitted.user_ids[0]], dtype=np.int64)
        pair_items = np.array([*fitted.item_ids[:4], fitted.item_ids[0], -9], dtype=np.int64)
        inputs = {"user_id": tf.constant(pair_users), "item_id": tf.constant(pair_items)}
        times = None
        if fitted.uses_timestamps:
            times = np.full(len(pair_users), 1_500_000_000, dtype=np.int64)
            inputs["timestamp"] = tf.constant(times)
        result = served.signatures["predict"](**inputs)
        value = result["rating" if fitted.predicts_ratings else "score"].numpy()
        np.testing.assert_allclose(
            value, fitted.predict(pair_users, pair_items, times), rtol=1e-5, atol=1e-5
        )
        assert fitted.export(tmp_path / "export").name == "2"  # next version, old one kept
        assert path.exists()

    def test_deterministic(self, small_split, fitted):
        again = self.make().fit(small_split)
        np.testing.assert_allclose(
            again.score(fitted.user_ids[:10]),
            fitted.score(fitted.user_ids[:10]),
            rtol=1e-4,
            atol=1e-5,
        )

    def test_similar_items_excludes_itself_or_says_unsupported(self, fitted):
        if not fitted.similar_items_supported:
            with pytest.raises(NotSupportedError, match="no item similarity"):
                fitted.similar_items(fitted.item_ids[:3], k=4)
            return
        items, scores = fitted.similar_items(fitted.item_ids[:3], k=4)
        assert items.shape == (3, 4) and np.isfinite(scores).all()
        for query, row in zip(fitted.item_ids[:3], items, strict=True):
            assert query not in row

    def test_checkerboard_known_answer(self, board_split):
        if not self.learns_checkerboard:
            pytest.skip(f"{self.model_name} does not model user preferences")
        model = self.make(**self.board_options).fit(board_split)
        users = model.user_ids
        top, _ = model.recommend(users, k=1)
        half_items = len(model.item_ids) // 2
        own_group = (users <= len(users) // 2) == (top[:, 0] <= half_items)
        assert own_group.all(), f"top items {top[:, 0]} for users {users}"

    # ---- new users: fold-in from the items they bring, or a one-line refusal -----------------

    def test_new_users_served_or_refused(self, small_data, fitted):
        from tfrec.evaluation import evaluate
        from tfrec.splits import split

        parts = split(small_data, "cold-users", seed=0, history=5)
        model = self.make()
        if not model.serves_new_users:
            with pytest.raises(NotSupportedError, match="cannot score users absent from training"):
                model.fit(parts)
            with pytest.raises(NotSupportedError, match="serves new users"):
                fitted.recommend_history([list(fitted.item_ids[:2])])
            return
        result = evaluate(model.fit(parts), parts).metrics
        assert result["n_users_ranked"] > 0 and 0 <= result["ndcg@10"] <= 1

    def test_new_user_fold_in_known_answer(self, group_split):
        """A new user who brings two items of one taste group gets that group's items."""
        model = self.make(**self.board_options)
        if not model.serves_new_users or not self.learns_checkerboard:
            pytest.skip(f"{self.model_name} does not fold new users in from their items")
        model.fit(group_split)
        items, _ = model.recommend_history([["a1", "a2"], ["b3", "b4"], []], k=3)
        assert all(i.startswith("a") for i in items[0]), items[0]
        assert all(i.startswith("b") for i in items[1]), items[1]
        assert not {"a1", "a2"} & set(items[0])  # the given items are excluded
        assert set(items[2]) <= set(model.item_ids)  # no history: popular items

    def test_savedmodel_recommend_history_equal(self, group_split, tmp_path):
        import tensorflow as tf

        model = self.make(**self.board_options)
        if not model.serves_new_users:
            pytest.skip(f"{self.model_name} does not serve new users")
        model.fit(group_split)
        served = tf.saved_model.load(str(model.export(tmp_path / "export")))
        assert "recommend_history" in served.signatures
        histories = [["a1", "a2", "unknown"], ["b3", "", ""], ["", "", ""]]
        out = served.signatures["recommend_history"](
            history=tf.constant(histories), k=tf.constant([4])
        )
        items, scores = model.recommend_history(histories, k=4)
        np.testing.assert_array_equal(out["item_ids"].numpy().astype(str), items)
        np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)

    # ---- user, item and context features -----------------------------------------------------

    @pytest.fixture(scope="class")
    def features_fitted(self, features_split):
        model = self.make(**self.feature_options)
        if model.needs_ratings():
            pytest.skip(f"{self.model_name} predicts ratings; the two groups are implicit")
        return model.fit(features_split)

    def test_reads_the_features_it_declares(self, features_fitted):
        """A log with typed features fits every model; each reads what it declares."""
        schema = features_fitted.feature_schema_
        read = {f.source for f in schema.features} | ({"context"} if schema.context_time else set())
        assert read == set(features_fitted.reads_features)
        items, _ = features_fitted.recommend(["u0", "unknown"], k=3)
        assert items.shape == (2, 3)

    def _reads_user_features(self, model):
        if not (model.serves_new_users and "user" in model.reads_features):
            pytest.skip(f"{self.model_name} does not serve new users from their features")

    def test_user_features_known_answer(self, features_fitted):
        """A new user without items yet gets their country's items, from the features alone."""
        self._reads_user_features(features_fitted)
        features = {"country": ["fr", "de"], "age": [30, None]}
        items, _ = features_fitted.recommend_history([[], []], k=3, features=features)
        assert all(i.startswith("a") for i in items[0]), items[0]
        assert all(i.startswith("b") for i in items[1]), items[1]

    def test_savedmodel_recommend_history_takes_raw_features(self, features_fitted, tmp_path):
        """The SavedModel takes raw feature values (missing and unseen ones too) and
        answers as the Python model does."""
        import tensorflow as tf

        self._reads_user_features(features_fitted)
        served = tf.saved_model.load(str(features_fitted.export(tmp_path / "export")))
        histories = [["a1", "a2", "unknown"], ["", "", ""], ["b3", "", ""]]
        features = {
            "country": ["fr", "de", "never seen"],
            "age": [31.0, np.nan, 50.0],
            "device": ["tv", "", "phone"],
            "timestamp": [1_650_000_000, -1, 1_650_003_600],
        }
        out = served.signatures["recommend_history"](
            history=tf.constant(histories),
            k=tf.constant([4]),
            user_country=tf.constant(features["country"]),
            user_age=tf.constant(features["age"], tf.float32),
            context_device=tf.constant(features["device"]),
            timestamp=tf.constant(features["timestamp"], tf.int64),
        )
        items, scores = features_fitted.recommend_history(histories, k=4, features=features)
        np.testing.assert_array_equal(out["item_ids"].numpy().astype(str), items)
        np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)

    def test_savedmodel_recommend_context_equal(self, features_fitted, tmp_path):
        """Known users with the request's context: the SavedModel's ``recommend_context``
        answers as ``recommend(..., context=...)`` does."""

        if "context" not in features_fitted.reads_features:
            pytest.skip(f"{self.model_name} reads no request context")
        assert_recommend_context_served(features_fitted, tmp_path)

    def test_unknown_feature_is_named(self, features_fitted):
        self._reads_user_features(features_fitted)
        with pytest.raises(TfrecError, match="reads no feature height"):
            features_fitted.recommend_history([[]], features={"height": [180]})

    # ---- the same contract on a user's own data: string IDs, implicit feedback ------------

    @pytest.fixture(scope="class", params=["string_split", "implicit_split"])
    def own_split(self, request):
        return request.getfixturevalue(request.param)

    @pytest.fixture(scope="class")
    def own_fitted(self, own_split):
        model = self.make()
        if own_split.dataset.implicit and model.needs_ratings():
            pytest.skip(f"{self.model_name} predicts ratings: refuses implicit data (tested)")
        model.fit(own_split)
        expected = type(model).predicts_ratings and not own_split.dataset.implicit
        assert model.predicts_ratings == expected
        return model

    def test_rating_models_refuse_implicit_data(self, implicit_split):
        model = self.make()
        if not model.needs_ratings():
            pytest.skip(f"{self.model_name} ranks implicit data (the own-data tests fit it)")
        with pytest.raises(NotSupportedError, match="implicit feedback"):
            model.fit(implicit_split)

    def test_own_data_recommends_raw_ids(self, own_fitted, own_split):
        data = own_split.dataset
        train = own_split.train
        users = data.raw_user_ids(train["user_id"].unique()[:4])
        assert set(own_fitted.user_ids) == set(data.raw_user_ids(train["user_id"]))
        items, scores = own_fitted.recommend(users, k=5)
        assert items.dtype == own_fitted.item_ids.dtype and items.shape == (4, 5)
        assert np.all(np.diff(scores, axis=1) <= 1e-6)
        for user, row in zip(users, items, strict=True):
            mine = (
                train["user_id"] == data.user_vocab.encode([user])[0]
                if data.user_vocab
                else (train["user_id"] == user)
            )
            seen = data.raw_item_ids(train.loc[mine, "item_id"])
            assert not set(row) & set(seen) and set(row) <= set(own_fitted.item_ids)

    def test_own_data_unknown_ids_fall_back(self, own_fitted):
        nobody = "nobody" if own_fitted.users_.is_string else -42
        items, _ = own_fitted.recommend([nobody], k=5)
        popular = own_fitted.item_ids[np.argsort(-own_fitted.popularity_, kind="stable")[:5]]
        assert list(items[0]) == list(popular)
        missing = "no-such-item" if own_fitted.items_.is_string else -7
        pred = own_fitted.predict(
            [nobody, own_fitted.user_ids[0]], [own_fitted.item_ids[0], missing]
        )
        assert np.all(np.isfinite(pred))

    def test_own_data_save_load_and_savedmodel_equal(self, own_fitted, own_split, tmp_path):
        import tensorflow as tf

        string_users = own_fitted.users_.is_string
        users = [*own_fitted.user_ids[:5], "nobody" if string_users else -1]
        own_fitted.save(tmp_path / "m")
        loaded = load_model(tmp_path / "m")
        items, scores = own_fitted.recommend(users, k=5)
        np.testing.assert_array_equal(loaded.recommend(users, k=5)[0], items)
        np.testing.assert_array_equal(loaded.item_ids, own_fitted.item_ids)
        assert loaded.predicts_ratings == own_fitted.predicts_ratings
        if own_split.dataset.implicit and not own_fitted.fits_implicit:
            return  # int64 signatures of a ranking model: the SavedModel test above covers them

        served = tf.saved_model.load(str(own_fitted.export(tmp_path / "export")))
        dtype = tf.string if string_users else tf.int64
        out = served.signatures["recommend"](user_id=tf.constant(users, dtype), k=tf.constant([5]))
        got = out["item_ids"].numpy()
        if own_fitted.items_.is_string:
            got = got.astype(str)
        np.testing.assert_array_equal(got, items)
        np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)
        pair_items = own_fitted.item_ids[: len(users)]
        inputs = {
            "user_id": tf.constant(users, dtype),
            "item_id": tf.constant(
                pair_items,
                served.signatures["predict"].structured_input_signature[1]["item_id"].dtype,
            ),
        }
        if own_fitted.uses_timestamps:
            inputs["timestamp"] = tf.constant(np.full(len(users), 1_500_000_000, np.int64))
        result = served.signatures["predict"](**inputs)
        value = result["rating" if own_fitted.predicts_ratings else "score"].numpy()
        times = inputs["timestamp"].numpy() if own_fitted.uses_timestamps else None
        np.testing.assert_allclose(
            value, own_fitted.predict(users, pair_items, times), rtol=1e-5, atol=1e-5
        )

    def test_cold_items_served_or_refused(self, small_data):
        from tfrec.evaluation import evaluate
        from tfrec.splits import split

        parts = split(small_data, "cold-items", seed=0)
        model = self.make()
        if not model.serves_new_items:
            with pytest.raises(NotSupportedError, match="cannot score items absent from training"):
                model.fit(parts)
            return
        metrics = evaluate(model.fit(parts), parts).metrics
        assert metrics["n_cold_items"] == len(parts.cold_items["test"])
        assert metrics["n_users_ranked"] > 0 and 0 <= metrics["ndcg@10"] <= 1

    def test_new_items_added_score_as_from_content(self, small_data, tmp_path):
        from tfrec.splits import split

        model = self.make()
        if not model.serves_new_items:
            return
        parts = split(small_data, "cold-items", seed=0)
        model.fit(parts)
        cold = parts.cold_items["test"]
        items = parts.dataset.items.set_index("item_id").loc[cold].reset_index()
        users = model.user_ids[:4]
        expected = model.new_item_scorer(items)(model.users_.encode(users))
        vocab = parts.dataset.item_vocab
        extended = model.with_new_items(cold if vocab is None else vocab.decode(cold), items)
        n_old = len(model.item_ids)
        assert len(extended.item_ids) == n_old + len(cold)
        np.testing.assert_allclose(extended.score(users)[:, n_old:], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(  # what was learned of the known items stays
            extended.score(users)[:, :n_old], model.score(users), rtol=1e-5, atol=1e-5
        )
        extended.save(tmp_path / "extended")
        np.testing.assert_allclose(
            load_model(tmp_path / "extended").score(users), extended.score(users), rtol=1e-5
        )


def assert_recommend_context_served(model, tmp_path):
    """Known users with the request's context (the two-groups log with
    features): the SavedModel's ``recommend_context`` answers as
    ``recommend(..., context=...)`` does, an unknown user gets the popular
    items, and the context changes known users' scores."""
    import tensorflow as tf

    users = ["u0", "v3", "unknown"]
    context = {"device": ["tv", "", "never seen"], "timestamp": [1_650_000_000, -1, 7_200]}
    items, scores = model.recommend(users, k=4, context=context)
    plain, plain_scores = model.recommend(users, k=4)
    np.testing.assert_array_equal(items[2], plain[2])  # an unknown user: popular items
    assert not np.array_equal(scores[:2], plain_scores[:2])
    served = tf.saved_model.load(str(model.export(tmp_path / "export")))
    out = served.signatures["recommend_context"](
        user_id=tf.constant(users),
        k=tf.constant([4]),
        context_device=tf.constant(context["device"]),
        timestamp=tf.constant(context["timestamp"], tf.int64),
    )
    np.testing.assert_array_equal(out["item_ids"].numpy().astype(str), items)
    np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)
