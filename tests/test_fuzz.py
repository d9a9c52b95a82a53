"""Property-based tests: random and malformed input gets tfrec's own errors, never a crash.

Each property runs ``FUZZ_EXAMPLES`` generated cases (hypothesis, derandomised
so CI is repeatable); ``HYPOTHESIS_PROFILE=thorough`` runs ten times as many.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.movielens_files import write_latest
from tfrec.data import load_dataset
from tfrec.data.schema import Dataset, make_items
from tfrec.errors import ConfigError, DataError, ServingError
from tfrec.splits import SPLIT_METHODS, split

FUZZ_EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 100
fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

_numbers = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-1", "0", "5.5", "2147483648", "x", "1e309", "3,5"]),
)
_rows = st.lists(st.lists(_numbers, min_size=0, max_size=6).map(",".join), min_size=0, max_size=30)
_separators = st.sampled_from([",", ";", "\t", "::", "|"])


@pytest.fixture(scope="module")
def movielens_dir():
    root = Path(tempfile.mkdtemp(prefix="tfrec-fuzz-"))
    write_latest(root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _load_with_ratings(root: Path, content: bytes):
    (root / "ml-latest-small" / "ratings.csv").write_bytes(content)
    return load_dataset("ml-latest-small", root)


def _check_loaded(data):
    r = data.ratings
    assert r["rating"].between(*data.rating_scale).all()
    assert np.isfinite(r["rating"]).all()
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert r["user_id"].dtype == np.int32 and r["item_id"].dtype == np.int32


@fuzz
@given(rows=_rows, separator=_separators, header=st.booleans())
def test_ratings_csv_rows_load_or_raise_data_error(movielens_dir, rows, separator, header):
    lines = ([("userId,movieId,rating,timestamp").replace(",", separator)] if header else []) + [
        row.replace(",", separator) for row in rows
    ]
    try:
        data = _load_with_ratings(movielens_dir, ("\n".join(lines) + "\n").encode())
    except DataError as e:
        assert "ratings.csv" in str(e) or "ml-latest-small" in str(e)
        return
    _check_loaded(data)


@fuzz
@given(content=st.binary(max_size=400), cut=st.integers(0, 400))
def test_ratings_csv_bytes_and_truncation_load_or_raise_data_error(movielens_dir, content, cut):
    valid = (movielens_dir / "ml-latest-small" / "ratings.csv").read_bytes()
    try:
        for body in (content, b"userId,movieId,rating,timestamp\n" + content, valid[:cut]):
            try:
                data = _load_with_ratings(movielens_dir, body)
            except DataError:
                continue
            _check_loaded(data)
    finally:  # the next example starts from the valid file, whatever this one raised
        (movielens_dir / "ml-latest-small" / "ratings.csv").write_bytes(valid)


def test_bytes_that_are_not_utf8_after_a_bad_value_raise_data_error(movielens_dir):
    # The typed read stops at "x"; the untyped one that finds it meets \xa6.
    body = b"userId,movieId,rating,timestamp\nx,1,3.0,5\n1,2,\xa6,7\n"
    valid = (movielens_dir / "ml-latest-small" / "ratings.csv").read_bytes()
    try:
        with pytest.raises(DataError, match=r"ratings.csv: not utf-8 text"):
            _load_with_ratings(movielens_dir, body)
    finally:
        (movielens_dir / "ml-latest-small" / "ratings.csv").write_bytes(valid)


_frames = st.lists(
    st.tuples(st.integers(1, 12), st.integers(1, 15), st.integers(0, 50)),
    min_size=0,
    max_size=80,
)


@fuzz
@given(rows=_frames, method=st.sampled_from(SPLIT_METHODS), seed=st.integers(0, 2**31))
def test_every_split_partitions_any_ratings(rows, method, seed):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    frame = frame.drop_duplicates(["user_id", "item_id"])
    ratings = pd.DataFrame(
        {
            "user_id": frame.user_id.astype(np.int32),
            "item_id": frame.item_id.astype(np.int32),
            "rating": np.full(len(frame), 4.0, np.float32),
            "timestamp": frame.timestamp.astype(np.int64),
        }
    )
    data = Dataset("fuzz", ratings, make_items(np.arange(1, 16)))
    try:
        parts = split(data, method, seed=seed)
    except ConfigError as e:  # too few items with 5 ratings (users) to hold some out
        assert method in ("cold-items", "cold-users") and "needs at least 10" in str(e)
        return
    frames = [parts.train, parts.validation, parts.test]
    if parts.given is not None:  # cold users: later interactions and new items are dropped
        frames += [parts.given["validation"], parts.given["test"]]
    sizes = sum(len(f) for f in frames)
    assert sizes == len(ratings) or (method == "cold-users" and sizes <= len(ratings))
    keys = [set(zip(f.user_id, f.item_id, strict=True)) for f in frames]
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            assert not keys[a] & keys[b]


@fuzz
@given(k=st.one_of(st.integers(-(2**63), 0), st.floats(), st.text(max_size=3), st.none()))
def test_bad_k_is_a_config_error(fitted_popularity, k):
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        fitted_popularity.recommend(fitted_popularity.user_ids[:1], k=k)


def test_huge_k_returns_the_whole_catalogue(fitted_popularity):
    items, _ = fitted_popularity.recommend(fitted_popularity.user_ids[:2], k=2**40)
    assert items.shape[1] <= len(fitted_popularity.item_ids)


@pytest.fixture(scope="module")
def fitted_popularity():
    from tfrec.models import get_model

    return get_model("popularity").fit(split(load_dataset("synthetic-tiny"), "temporal"))


@pytest.fixture(scope="module")
def recommend_specs():
    import tensorflow as tf

    return {
        "user_id": tf.TensorSpec([None], tf.int64, name="user_id"),
        "k": tf.TensorSpec([None], tf.int32, name="k"),
    }


_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.text(max_size=5),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_request_objects = st.dictionaries(
    st.sampled_from(["instances", "inputs", "signature_name", "user_id", "k", "x"]),
    _json_values,
    max_size=3,
)


@fuzz
@given(
    body=st.one_of(
        st.binary(max_size=200),
        _json_values.map(lambda v: json.dumps(v).encode()),
        _request_objects.map(lambda v: json.dumps(v).encode()),
    )
)
def test_rest_request_decoder_answers_400_or_valid_arrays(recommend_specs, body):
    from tfrec.serving.rest_format import decode_request, to_arrays

    try:
        signature, payload, row_format = decode_request(body)
        arrays = to_arrays(payload, row_format, recommend_specs, signature, max_batch=64)
    except ServingError as e:
        assert e.status == 400 and str(e)
        return
    assert arrays["user_id"].dtype == np.int64 and arrays["k"].dtype == np.int32
    assert len(arrays["user_id"]) <= 64
