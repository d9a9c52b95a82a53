"""The feature layer: raw values in, a vector out; missing and unseen values never fail."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfrec.data.feature_schema import Feature
from tfrec.features.layer import FeatureEncoder, embedding_size, hour_and_weekday, input_specs
from tfrec.features.raw import missing_values, raw_values

FEATURES = [
    Feature("age", "user", "numeric"),
    Feature("country", "user", "category"),
    Feature("interests", "user", "multi"),
    Feature("bio", "user", "text"),
]
FRAME = pd.DataFrame(
    {
        "age": [20.0, 30.0, np.nan, 50.0],
        "country": ["fr", "de", "", "fr"],
        "interests": ["jazz|rock", "", "folk", "jazz"],
        "bio": ["likes red cars", "", "blue sky", "red"],
        "timestamp": [0, 3_600, 3 * 86_400, 5],
    }
)


def _encoder():
    values = raw_values(FEATURES, FRAME, time=True)
    return FeatureEncoder.adapt(FEATURES, values, time=True, name="user_features"), values


def _tensors(values):
    return {key: tf.constant(value) for key, value in values.items()}


def test_output_width_and_values():
    encoder, values = _encoder()
    out = encoder(_tensors(values)).numpy()
    assert out.shape == (4, encoder.width)
    assert np.isfinite(out).all()
    assert out[2, 1] == 1.0 and out[0, 1] == 0.0  # age's missing flag
    assert out[0, 0] < out[1, 0] < out[3, 0]  # age's z-score keeps the order


def test_missing_and_unseen_values_do_not_fail():
    encoder, _ = _encoder()
    request = missing_values(FEATURES, 2, time=True)
    request["user_country"][1] = "never seen"
    request["user_interests"][1] = "polka|jazz"
    request["user_bio"][1] = "unheard words"
    out = encoder(_tensors(request)).numpy()
    assert np.isfinite(out).all()
    known = encoder(_tensors(raw_values(FEATURES, FRAME.iloc[[2]], time=True))).numpy()
    # A missing country and an unseen one share the out-of-vocabulary row.
    start = 2 + encoder.parts["user_age"]["n_bins"]
    country = slice(start, start + embedding_size(2))
    assert np.array_equal(out[0, country], out[1, country])
    assert np.array_equal(out[0, country], known[0, country])
    assert not np.array_equal(
        out[0, country],
        encoder(_tensors(raw_values(FEATURES, FRAME.iloc[[0]], time=True))).numpy()[0, country],
    )


def test_savedmodel_takes_raw_values_with_equal_outputs(tmp_path):
    encoder, values = _encoder()
    module = tf.Module()
    module.encoder = encoder

    @tf.function(input_signature=[input_specs(FEATURES, time=True)])
    def encode(inputs):
        return {"vector": encoder(inputs)}

    module.encode = encode
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": encode})
    reloaded = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    out = reloaded(**_tensors(values))["vector"].numpy()
    np.testing.assert_allclose(out, encoder(_tensors(values)).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [(0, [0.0, 1.0, 0.0, 1.0]), (6 * 3_600, [1.0, 0.0, np.sin(np.pi / 14), np.cos(np.pi / 14)])],
)
def test_hour_and_weekday(timestamp, expected):
    np.testing.assert_allclose(hour_and_weekday(tf.constant([timestamp]))[0], expected, atol=1e-6)


def test_unknown_time_is_zeros():
    assert not hour_and_weekday(tf.constant([-1], tf.int64)).numpy().any()
