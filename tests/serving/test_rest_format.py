"""The REST JSON decoder and encoder (tfrec.serving.rest_format), without a server:
every malformed body is a 400 naming the problem, IDs follow the signature's dtypes."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf

from tfrec.errors import ServingError
from tfrec.serving.rest_client import json_value
from tfrec.serving.rest_format import decode_request, encode_response, to_arrays

DEEP = 100_000


def _specs(**dtypes):
    """``{name: TensorSpec}``: [batch] inputs, ``history`` [batch, n]."""
    return {
        name: tf.TensorSpec([None, None] if name == "history" else [None], dtype, name=name)
        for name, dtype in sorted(dtypes.items())
    }


RECOMMEND = _specs(user_id=tf.int64, k=tf.int32)
PREDICT = _specs(user_id=tf.int64, item_id=tf.int64, timestamp=tf.int64)
HISTORY = _specs(history=tf.int64, k=tf.int32)
STRING_RECOMMEND = _specs(user_id=tf.string, k=tf.int32)
STRING_PREDICT = _specs(user_id=tf.string, item_id=tf.string)
STRING_HISTORY = _specs(history=tf.string, k=tf.int32)


def _arrays(inputs, specs, signature="sig"):
    return to_arrays(inputs, False, specs, signature, 1024)


def _refused(inputs, specs, message, signature="sig"):
    with pytest.raises(ServingError, match=re.escape(message)) as caught:
        _arrays(inputs, specs, signature)
    assert caught.value.status == 400


def _nested(depth, leaf=b"1", open_=b"[", close=b"]"):
    return open_ * depth + leaf + close * depth


@pytest.mark.parametrize(
    "body",
    [
        _nested(DEEP, b""),
        _nested(DEEP, b"1", b'{"a": ', b"}"),
        b'{"instances": ' + _nested(DEEP, b"") + b"}",
        b'{"inputs": {"user_id": ' + _nested(DEEP) + b', "k": [1]}}',
        b'{"signature_name": "recommend", "instances": [{"user_id": 1, "k": '
        + _nested(DEEP)
        + b"}]}",
    ],
    ids=["list", "object", "instances", "inputs", "row value"],
)
def test_bodies_nested_past_the_parser_limit_are_a_400(body):
    with pytest.raises(ServingError, match="JSON Parse error: arrays or objects nested too deeply"):
        decode_request(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff{}", "JSON Parse error: 'utf-8' codec can't decode"),
        (b'{"inputs": [' + b"1" * 5000 + b"]}", "JSON Parse error: Exceeds the limit"),
        (b"[1]", "the request body must be a JSON object"),
    ],
)
def test_unparsable_bodies_are_a_400(body, message):
    with pytest.raises(ServingError, match=re.escape(message)) as caught:
        decode_request(body)
    assert caught.value.status == 400


def _deep_list(depth):
    value = [1]
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [2, 65, 900])
def test_values_nested_deeper_than_the_signature_are_a_400(depth):
    message = "input 'user_id' of signature 'sig' has shape [batch]; got lists nested more than 1"
    _refused({"user_id": _deep_list(depth), "k": [1]}, RECOMMEND, message)
    rows = [{"user_id": _deep_list(depth), "k": 1}]
    with pytest.raises(ServingError, match=re.escape(message)):
        to_arrays(rows, True, RECOMMEND, "sig", 1024)
    _refused(
        {"history": [_deep_list(depth)], "k": [1]},
        HISTORY,
        "has shape [batch, n]; got lists nested more than 2 deep",
    )


def test_inputs_must_agree_on_the_batch_size():
    _refused(
        {"user_id": [1, 2, 3], "item_id": [1, 2]},
        _specs(user_id=tf.int64, item_id=tf.int64),
        "inputs 'item_id' and 'user_id' of signature 'predict' have different batch sizes: "
        "2 and 3 rows",
        "predict",
    )
    _refused(
        {"user_id": [1, 2], "item_id": [1, 2], "timestamp": [0]},
        PREDICT,
        "inputs 'item_id' and 'timestamp' of signature 'sig' have different batch sizes: 2 and 1",
    )
    _refused(
        {"user_id": ["a"], "item_id": ["b", "c"]},
        STRING_PREDICT,
        "inputs 'item_id' and 'user_id' of signature 'sig' have different batch sizes: 2 and 1",
    )


def test_k_takes_one_value_or_one_per_row():
    for k in ([10], [10, 10, 10], [3, 10, 1]):
        arrays = _arrays({"user_id": [1, 2, 3], "k": k}, RECOMMEND)
        assert arrays["k"].tolist() == k and arrays["k"].dtype == np.int32
    assert _arrays({"history": [[1, -1]] * 2, "k": [5]}, HISTORY)["history"].shape == (2, 2)
    message = "input 'k' of signature 'sig' takes 1 value or one per row (3, as 'user_id'); got"
    _refused({"user_id": [1, 2, 3], "k": [10, 10]}, RECOMMEND, message + " 2")
    _refused({"user_id": [1, 2, 3], "k": []}, RECOMMEND, message + " 0")
    _refused({"history": [[1]], "k": [5, 5]}, HISTORY, "(1, as 'history'); got 2")


def test_row_format_inputs_share_the_batch():
    rows = [{"user_id": "u1", "k": 3}, {"user_id": 7, "k": 5}]
    arrays = to_arrays(rows, True, STRING_RECOMMEND, "recommend", 1024)
    assert arrays["user_id"].tolist() == [b"u1", b"7"] and arrays["k"].tolist() == [3, 5]
    with pytest.raises(ServingError, match="must name all inputs"):
        to_arrays([{"user_id": "u1", "k": 3}, {"user_id": "u2"}], True, STRING_RECOMMEND, "s", 9)


def test_integer_inputs_take_integers_and_strings_of_digits():
    arrays = _arrays({"user_id": ["42", -7, "-3", 2**62], "k": ["5"]}, RECOMMEND)
    assert arrays["user_id"].tolist() == [42, -7, -3, 2**62]
    assert arrays["user_id"].dtype == np.int64 and arrays["k"].dtype == np.int32
    where = "input 'user_id' of signature 'sig' takes int64 integers; got "
    for value, shown in [
        ("x", '"x"'),
        ("1.5", '"1.5"'),
        (" 4", '" 4"'),
        ("4_2", '"4_2"'),
        ("+3", '"+3"'),
        ("", '""'),
        (1.5, "1.5"),
        (2.0, "2.0"),
        (True, "true"),
        (None, "null"),
        ({"id": 1}, "an object"),
        ("9" * 30, '"' + "9" * 30 + '"'),
    ]:
        _refused({"user_id": [1, value], "k": [1]}, RECOMMEND, where + shown)
    _refused({"user_id": ["99999999999999999999"], "k": [1]}, RECOMMEND, "out of range")
    _refused({"user_id": [2**70], "k": [1]}, RECOMMEND, f"got {2**70}, out of range")
    _refused(
        {"user_id": [1], "k": [2**40]},
        RECOMMEND,
        "input 'k' of signature 'sig' takes int32 integers; got 1099511627776, out of range",
    )


def test_string_inputs_take_strings_and_integers_as_their_decimal_text():
    arrays = _arrays({"user_id": ["u1", "café", "", 7, 2**70], "k": [3]}, STRING_RECOMMEND)
    assert arrays["user_id"].dtype == object
    assert arrays["user_id"].tolist() == [b"u1", "café".encode(), b"", b"7", str(2**70).encode()]
    assert _arrays({"user_id": [7, 8], "k": [3]}, STRING_RECOMMEND)["user_id"].tolist() == [
        b"7",
        b"8",
    ]
    assert _arrays({"user_id": [], "k": [3]}, STRING_RECOMMEND)["user_id"].dtype == object
    history = _arrays({"history": [["a", "b", ""], ["c", "", ""]], "k": [5]}, STRING_HISTORY)
    assert history["history"].tolist() == [[b"a", b"b", b""], [b"c", b"", b""]]
    where = "input 'user_id' of signature 'sig' takes strings; got "
    for values, shown in [
        ([1.5], "1.5"),
        (["a", 1.5], "1.5"),
        (["a", True], "true"),
        ([7, True], "true"),
        ([False], "false"),
        (["a", None], "null"),
        ([{"id": "a"}], "an object"),
        (["\ud800"], '"\\ud800"'),
    ]:
        _refused({"user_id": values, "k": [1]}, STRING_RECOMMEND, where + shown)
    _refused(
        {"history": [["a"], ["b", "c"]], "k": [1]},
        STRING_HISTORY,
        "input 'history' of signature 'sig': rows of different lengths; pad them",
    )


def test_string_outputs_are_written_as_json_strings():
    outputs = {
        "item_ids": np.array([["café".encode(), b"b"], [b"c", b""]], object),
        "scores": np.array([[0.5, 0.25], [1.0, np.nan]], np.float32),
    }
    columns = encode_response(outputs, row_format=False)
    assert b"b'" not in columns and b"NaN" in columns
    assert json.loads(columns)["outputs"]["item_ids"] == [["café", "b"], ["c", ""]]
    rows = json.loads(encode_response(outputs, row_format=True))["predictions"]
    assert [row["item_ids"] for row in rows] == [["café", "b"], ["c", ""]]
    single = encode_response({"item_ids": outputs["item_ids"]}, row_format=True)
    assert json.loads(single) == {"predictions": [["café", "b"], ["c", ""]]}
    ints = encode_response({"item_ids": np.array([[3, -1]], np.int64)}, row_format=False)
    assert json.loads(ints) == {"outputs": [[3, -1]]}


def test_json_value_writes_numpy_and_bytes():
    body = {"a": np.array([b"x", b""], object), "b": np.int64(3), "c": np.array(["y"])}
    assert json.loads(json.dumps(body, default=json_value)) == {"a": ["x", ""], "b": 3, "c": ["y"]}
    with pytest.raises(TypeError, match="set is not JSON serialisable"):
        json.dumps({1}, default=json_value)


def test_request_arrays_follow_the_signature():
    rows = [{"history": [1, 2, -1], "k": 5}, {"history": [3, -1, -1], "k": 5}]
    arrays = to_arrays(rows, True, HISTORY, "recommend_history", 1024)
    assert arrays["history"].dtype == np.int64 and arrays["history"].shape == (2, 3)
    assert arrays["k"].dtype == np.int32 and arrays["k"].tolist() == [5, 5]
    problems = [
        ({"history": [[1, 2], [3]], "k": [5]}, "rows of different lengths"),
        ({"history": [[1]], "k": [2**40]}, "takes int32 integers; got 1099511627776, out of range"),
        ({"history": [[1]], "k": 5}, "has shape [batch]; got shape []"),
        ({"history": [1, 2], "k": [5]}, "has shape [batch, n]; got shape [2]"),
    ]
    for inputs, message in problems:
        _refused(inputs, HISTORY, message, "recommend_history")
