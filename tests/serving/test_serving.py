"""Serving: warm-up records, TF Serving configs, the REST and gRPC clients, and
``tfrec serve`` run as a real subprocess against freshly exported models; a
string-ID model built by hand, served by an in-process LocalServer."""

import contextlib
import json
import re
import select
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

import tfrec
from tests.conftest import REPO
from tfrec.cli import main
from tfrec.errors import ConfigError, ServingError
from tfrec.serving import Batching, Client, GrpcClient, LocalServer, read_warmup, write_configs
from tfrec.serving.warmup import write_warmup

_MODELS = {"mf": {"n_factors": 8, "epochs": 5}, "popularity": {}}


@pytest.fixture(scope="module")
def exports(tmp_path_factory, small_split):
    """An export root with version 1 of each model; the fitted models."""
    root = tmp_path_factory.mktemp("serving") / "saved_models"
    models = {
        name: tfrec.get_model(name, options).fit(small_split) for name, options in _MODELS.items()
    }
    for model in models.values():
        model.export(root)
    return root, models


@pytest.fixture(scope="module")
def server(exports, tmp_path_factory):
    """``tfrec serve`` on a free loopback port, as a subprocess; yields (url, stderr file)."""
    root, _ = exports
    log = tmp_path_factory.mktemp("server") / "stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tfrec.cli", "serve", "--export-root", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=REPO,
        )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        match = re.search(r"serving 2 models on (http://127\.0\.0\.1:\d+): mf \(version 1\)", line)
        assert match, f"no start line ({line!r}); stderr: {log.read_text()[-2000:]}"
        Client(match[1]).wait_until_available("mf", timeout=30)
        yield match[1], log
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


def _inputs(model, signature_specs, rows=3):
    """Columnar inputs for a signature: known users and items, an unknown user, k=5,
    candidate rows (an unknown item in the last), and histories (a new user's items,
    padded with -1; the last one empty)."""
    users = [int(u) for u in model.user_ids[: rows - 1]] + [-5]
    items = [int(i) for i in model.item_ids[:rows]]
    values = {
        "user_id": users,
        "item_id": items,
        "k": [5] * rows,
        "history": [items[:2], [items[2], -1]] + [[-1, -1]] * (rows - 2),
        "item_ids": [items[:2], items[1:3]] + [[items[0], -1]] * (rows - 2),
    }
    return {name: values[name] for name in signature_specs}


def _rows_to_columns(predictions, output_names):
    if len(output_names) == 1:
        return {output_names[0]: np.array(predictions)}
    return {name: np.array([row[name] for row in predictions]) for name in output_names}


def _assert_same(got, want, context):
    assert sorted(got) == sorted(want), context
    for name, value in want.items():
        value = value.numpy()
        if value.dtype.kind == "f":
            np.testing.assert_allclose(got[name], value, atol=1e-5, equal_nan=True, err_msg=context)
        else:
            np.testing.assert_array_equal(got[name], value, err_msg=context)


def test_every_signature_answers_as_the_in_process_model(exports, server):
    root, models = exports
    client = Client(server[0])
    for name, model in models.items():
        loaded = tf.saved_model.load(str(root / name / "1"))
        assert {"recommend", "predict", "serving_default"} <= set(loaded.signatures)
        for signature, function in loaded.signatures.items():
            _, specs = function.structured_input_signature
            inputs = _inputs(model, specs)
            want = function(**{key: tf.constant(v, specs[key].dtype) for key, v in inputs.items()})
            context = f"{name} {signature}"
            rows = [
                dict(zip(inputs, values, strict=True))
                for values in zip(*inputs.values(), strict=True)
            ]
            predictions = client.predict(name, rows, signature_name=signature)
            _assert_same(_rows_to_columns(predictions, sorted(want)), want, context + " instances")
            columns = {**inputs, **({"k": [5]} if "k" in inputs else {})}
            outputs = client.predict(name, inputs=columns, signature_name=signature, version=1)
            if len(want) == 1:
                outputs = {next(iter(want)): outputs}
            _assert_same(
                {key: np.array(v) for key, v in outputs.items()}, want, context + " inputs"
            )


def test_status_and_metadata(server):
    client = Client(server[0])
    status = client.status("popularity")
    assert status == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    metadata = client.metadata("popularity", version=1)
    assert metadata["model_spec"] == {"name": "popularity", "signature_name": "", "version": "1"}
    recommend = metadata["metadata"]["signature_def"]["signature_def"]["recommend"]
    assert recommend["inputs"]["user_id"]["dtype"] == "DT_INT64"
    assert recommend["inputs"]["k"]["dtype"] == "DT_INT32"
    assert recommend["inputs"]["k"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert set(recommend["outputs"]) == {"item_ids", "scores"}
    assert recommend["method_name"] == "tensorflow/serving/predict"


DEEP = 100_000


def _nested(depth, leaf=b""):
    return b"[" * depth + leaf + b"]" * depth


def _raw(url, path, body=None):
    request = urllib.request.Request(url + path, data=body, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        ("/v1/models/mf:predict", b"{not json", 400, "JSON Parse error"),
        (
            "/v1/models/mf:predict",
            b'{"instances": [{"user": 1, "k": 5}], "signature_name": "recommend"}',
            400,
            "unknown input 'user'",
        ),
        (
            "/v1/models/mf:predict",
            b'{"instances": [{"user_id": "a", "k": 5}], "signature_name": "recommend"}',
            400,
            "input 'user_id' of signature 'recommend' takes int64 integers; got \"a\"",
        ),
        (
            "/v1/models/mf:predict",
            b'{"inputs": {"user_id": [1.5], "item_id": [2]}}',
            400,
            "takes int64 integers; got 1.5",
        ),
        ("/v1/models/mf:predict", b'{"inputs": {"user_id": [1]}}', 400, "missing input 'item_id'"),
        (
            "/v1/models/mf:predict",
            b'{"instances": [1], "signature_name": "nope"}',
            400,
            'Serving signature name: "nope" not found',
        ),
        ("/v1/models/mf:predict", b'{"instances": [1], "inputs": [1]}', 400, "exactly one"),
        (
            "/v1/models/mf:predict",
            b'{"inputs": {"user_id": [1], "k": [-3]}, "signature_name": "recommend"}',
            400,
            "Need k >= 0, got -3",  # the op's own message, without the graph preamble
        ),
        (
            "/v1/models/mf:predict",
            json.dumps(
                {"signature_name": "recommend", "inputs": {"user_id": list(range(1025)), "k": [5]}}
            ).encode(),
            400,
            "limit of 1024",
        ),
        # issue 19: bodies nested past the JSON parser's limit, or not as deep, and
        # inputs of different batch sizes
        pytest.param(
            "/v1/models/mf:predict", _nested(DEEP), 400, "nested too deeply", id="deep body"
        ),
        pytest.param(
            "/v1/models/mf:predict",
            b'{"instances": ' + _nested(DEEP) + b"}",
            400,
            "nested too deeply",
            id="deep instances",
        ),
        pytest.param(
            "/v1/models/mf:predict",
            b'{"inputs": {"item_id": [1], "user_id": ' + _nested(DEEP, b"1") + b"}}",
            400,
            "nested too deeply",
            id="deep inputs",
        ),
        pytest.param(
            "/v1/models/mf:predict",
            b'{"inputs": {"item_id": [1], "user_id": ' + _nested(500, b"1") + b"}}",
            400,
            "input 'user_id' of signature 'serving_default' has shape [batch]; "
            "got lists nested more than 1 deep",
            id="nested inputs",
        ),
        (
            "/v1/models/mf:predict",
            b'{"instances": [{"user_id": [1, 2], "item_id": 3}]}',
            400,
            "input 'user_id' of signature 'serving_default' has shape [batch]; got lists nested",
        ),
        (
            "/v1/models/mf:predict",
            b'{"inputs": {"user_id": [1, 2, 3], "item_id": [1, 2]}}',
            400,
            "inputs 'item_id' and 'user_id' of signature 'serving_default' have different "
            "batch sizes: 2 and 3 rows",
        ),
        (
            "/v1/models/mf:predict",
            b'{"inputs": {"user_id": [1, 2, 3], "k": [5, 5]}, "signature_name": "recommend"}',
            400,
            "input 'k' of signature 'recommend' takes 1 value or one per row (3, as 'user_id'); "
            "got 2",
        ),
        pytest.param(
            "/v1/models/mf:predict",
            b'{"inputs": [' + b"1" * 5000 + b"]}",
            400,
            "JSON Parse error: Exceeds the limit",
            id="long number",
        ),
        ("/v1/models/nope:predict", b'{"instances": [1]}', 404, "Servable not found"),
        ("/v1/models/mf/versions/7:predict", b'{"instances": [1]}', 404, "Specific(mf, 7)"),
        ("/v1/models/nope", None, 404, "Could not find any versions of model nope"),
        ("/v1/models/mf:classify", b'{"examples": []}', 400, ":predict only"),
        ("/v2/other", None, 404, "no endpoint"),
    ],
)
def test_bad_requests_get_an_error_and_the_server_keeps_serving(server, path, body, code, message):
    url = server[0]
    status, answer = _raw(url, path, body)
    assert status == code and message in answer["error"], answer
    assert _raw(url, "/v1/models/mf")[0] == 200


def test_oversized_bodies_are_refused_unread(server):
    import http.client
    from urllib.parse import urlparse

    address = urlparse(server[0])
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.putrequest("POST", "/v1/models/mf:predict")
    connection.putheader("Content-Length", str(2**40))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "limit is" in json.loads(response.read())["error"]
    connection.close()
    assert _raw(server[0], "/v1/models/mf")[0] == 200


def test_client_errors_quote_the_server(server):
    client = Client(server[0])
    with pytest.raises(ServingError, match=r"model nope not found: \"Servable not found") as caught:
        client.predict("nope", [1])
    assert caught.value.status == 404
    with pytest.raises(ServingError, match=r"bad request to mf \(signature recommend\): \"unknown"):
        client.predict("mf", [{"users": 1, "k": 1}], signature_name="recommend")
    with pytest.raises(ServingError, match="exactly one of instances"):
        client.predict("mf")


def test_unreachable_server_is_one_clear_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    message = f"cannot reach {url}: connection refused; is the server running?"
    with pytest.raises(ServingError, match=re.escape(message)):
        Client(url, timeout=2).status("mf")


def test_warmup_requests_parse_and_replay(exports):
    root, models = exports
    for name, model in models.items():
        loaded = tf.saved_model.load(str(root / name / "1"))
        logs = read_warmup(root / name / "1")
        assert [log.predict_log.request.model_spec.signature_name for log in logs] == sorted(
            loaded.signatures
        )
        for log in logs:
            request = log.predict_log.request
            assert request.model_spec.name == name
            function = loaded.signatures[request.model_spec.signature_name]
            _, specs = function.structured_input_signature
            inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
            assert set(inputs) == set(specs)
            assert all(inputs[key].dtype == specs[key].dtype.as_numpy_dtype for key in specs)
            if "user_id" in inputs:
                assert inputs["user_id"][0] in model.user_ids
            if "history" in inputs:
                assert set(inputs["history"][0]) - {-1} <= set(model.item_ids)
            if "k" in inputs:
                assert inputs["k"].tolist() == [10]
            function(**inputs)  # replays as TF Serving does on load


def test_warmup_pads_histories(tmp_path):
    history = tf.function(
        lambda history, k: {"n": tf.reduce_sum(tf.cast(history >= 0, tf.int32), 1) + k},
        input_signature=[
            tf.TensorSpec([None, None], tf.int64, name="history"),
            tf.TensorSpec([None], tf.int32, name="k"),
        ],
    ).get_concrete_function()
    sample = {"history": [[5, 7, -1, -1]], "k": [10], "user_id": [1]}
    write_warmup(tmp_path, "lstm", {"recommend_history": history}, sample)
    (log,) = read_warmup(tmp_path)
    assert tf.make_ndarray(log.predict_log.request.inputs["history"]).tolist() == [[5, 7, -1, -1]]
    with pytest.raises(ValueError, match="no warm-up value for input 'history'"):
        write_warmup(tmp_path, "lstm", {"recommend_history": history}, {"k": [1]})


def _batching_message():
    """BatchingParameters (tensorflow_serving/servables/tensorflow/session_bundle_config.proto),
    which tensorflow-serving-api does not ship, built from its field numbers."""
    from google.protobuf import wrappers_pb2

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(
        name="batching.proto", package="t", dependency=["google/protobuf/wrappers.proto"]
    )
    message = proto.message_type.add(name="BatchingParameters")
    fields = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads")
    for number, name in enumerate(fields, 1):
        message.field.add(
            name=name, number=number, type=11, label=1, type_name=".google.protobuf.Int64Value"
        )
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("t.BatchingParameters"))


def test_configs_parse_as_tf_serving_protos(exports, tmp_path):
    from tensorflow_serving.config import model_server_config_pb2

    root, _ = exports
    staging = root / "mf" / ".tmp-5-abc"  # an export in progress: not a version
    shutil.copytree(root / "mf" / "1", staging)
    (root / "half").mkdir()
    (root / "half" / "3").mkdir()  # no saved_model.pb: not a version, not a model
    try:
        out, batching_out = write_configs(
            root,
            tmp_path / "models.config",
            tmp_path / "batching.config",
            versions="all",
            base_path_root="/models",
            batching=Batching(batch_timeout_micros=500, num_batch_threads=2),
        )
    finally:
        shutil.rmtree(staging)
        shutil.rmtree(root / "half")
    config = text_format.Parse(out.read_text(), model_server_config_pb2.ModelServerConfig())
    entries = config.model_config_list.config
    assert [(c.name, c.base_path, c.model_platform) for c in entries] == [
        ("mf", "/models/mf", "tensorflow"),
        ("popularity", "/models/popularity", "tensorflow"),
    ]
    assert entries[0].model_version_policy.WhichOneof("policy_choice") == "all"
    batching = text_format.Parse(batching_out.read_text(), _batching_message()())
    assert (batching.max_batch_size.value, batching.batch_timeout_micros.value) == (1024, 500)
    assert (batching.num_batch_threads.value, batching.max_enqueued_batches.value) == (2, 2)


def test_serving_config_command(exports, tmp_path, capsys):
    from tensorflow_serving.config import model_server_config_pb2

    root, _ = exports
    out = tmp_path / "m.config"
    argv = ["serving", "config", "--export-root", str(root), "--out", str(out), "--versions", "1"]
    assert main([*argv, "--batching-out", str(tmp_path / "b.config")]) == 0
    assert "mf, popularity; versions: 1" in capsys.readouterr().out
    config = text_format.Parse(out.read_text(), model_server_config_pb2.ModelServerConfig())
    entry = config.model_config_list.config[0]
    assert entry.base_path == str((root / "mf").resolve())
    assert list(entry.model_version_policy.specific.versions) == [1]
    assert main([*argv[:-1], "newest"]) == 2
    assert "versions must be latest, all or comma-separated" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no exported models"):
        write_configs(tmp_path)


def test_tfserving_engine_execs_the_model_server(exports, tmp_path):
    root, _ = exports
    fake = tmp_path / "bin" / "tensorflow_model_server"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/argv\n')
    fake.chmod(0o755)
    command = [sys.executable, "-m", "tfrec.cli", "serve", "--engine", "tfserving"]
    command += ["--export-root", str(root), "--port", "8601", "--batching"]
    found = subprocess.run(command, env={"PATH": str(fake.parent)}, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    argv = dict(arg.split("=", 1) for arg in (tmp_path / "argv").read_text().split() if "=" in arg)
    assert argv["--rest_api_port"] == "8601" and argv["--port"] == "8500"
    assert "--enable_batching" in (tmp_path / "argv").read_text()
    assert 'name: "popularity"' in Path(argv["--model_config_file"]).read_text()
    missing = subprocess.run(command, env={"PATH": str(tmp_path)}, capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "tensorflow_model_server is not on PATH" in missing.stderr


@contextlib.contextmanager
def _prediction_service(models):
    """An in-process PredictionService running ``{name: loaded SavedModel}`` (no TF
    Serving binary here); yields its port."""
    from concurrent import futures

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            if request.model_spec.name not in models:
                context.abort(grpc.StatusCode.NOT_FOUND, "Servable not found")
            loaded = models[request.model_spec.name]
            function = loaded.signatures[request.model_spec.signature_name]
            inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
            response = predict_pb2.PredictResponse()
            for key, value in function(**inputs).items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    try:
        yield port
    finally:
        grpc_server.stop(None)


def test_grpc_client_round_trip(exports):
    """GrpcClient against an in-process PredictionService backed by the SavedModel:
    the request it builds, the answer it decodes, its errors."""
    root, models = exports
    loaded = tf.saved_model.load(str(root / "mf" / "1"))
    users = np.array(models["mf"].user_ids[:3])
    with (
        _prediction_service({"mf": loaded}) as port,
        GrpcClient(f"127.0.0.1:{port}") as client,
    ):
        request = client.request("mf", {"user_id": users, "k": [4, 4, 4]}, "recommend", version=1)
        assert request.model_spec.version.value == 1
        assert tf.make_ndarray(request.inputs["k"]).dtype == np.int32
        got = client.predict("mf", {"user_id": users, "k": [4, 4, 4]}, "recommend")
        want = loaded.signatures["recommend"](
            user_id=tf.constant(users, tf.int64), k=tf.constant([4, 4, 4], tf.int32)
        )
        _assert_same(got, want, "grpc recommend")
        with pytest.raises(ServingError, match="model nope not found"):
            client.predict("nope", {"user_id": users})
    with (
        GrpcClient(f"127.0.0.1:{port}", timeout=5) as client,
        pytest.raises(ServingError, match="is the server running?"),
    ):
        client.predict("mf", {"user_id": users})


def test_integer_models_take_ids_as_strings_of_digits(exports, server):
    _, models = exports
    client = Client(server[0])
    user = int(models["mf"].user_ids[0])
    as_number = client.predict(
        "mf", inputs={"user_id": [user], "k": [3]}, signature_name="recommend"
    )
    as_text = client.predict(
        "mf", inputs={"user_id": [str(user)], "k": ["3"]}, signature_name="recommend"
    )
    assert as_text == as_number and len(as_text["item_ids"][0]) == 3


# A model over string IDs, as an export from a dataset with string IDs looks to a
# client: "ann" has seen "café" and "b", "bob" nothing; other users get the
# popularity order (café, b, c). Scores rows: ann, bob, unknown.
_STRING_ITEMS = ["café", "b", "c"]
_STRING_SCORES = [[-np.inf, -np.inf, 0.5], [0.2, 0.9, 0.4], [3.0, 2.0, 1.0]]
_STRING_SAMPLE = {"user_id": ["ann"], "item_id": ["café"], "k": [10], "history": [["café", ""]]}


def _string_table(keys):
    init = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys), tf.range(len(keys), dtype=tf.int64)
    )
    return tf.lookup.StaticHashTable(init, default_value=-1)


class _StringIds(tf.Module):
    def __init__(self):
        super().__init__()
        self.users = _string_table(["ann", "bob"])
        self.items = _string_table(_STRING_ITEMS)
        self.item_ids = tf.constant(_STRING_ITEMS)
        self.scores = tf.constant(_STRING_SCORES, tf.float32)
        k = tf.TensorSpec([None], tf.int32, name="k")
        user_id = tf.TensorSpec([None], tf.string, name="user_id")
        item_id = tf.TensorSpec([None], tf.string, name="item_id")
        history = tf.TensorSpec([None, None], tf.string, name="history")
        self.recommend = tf.function(self._recommend, input_signature=[user_id, k])
        self.predict = tf.function(self._predict, input_signature=[user_id, item_id])
        self.recommend_history = tf.function(self._history, input_signature=[history, k])

    def _top(self, scores, k):
        """Top k item IDs and scores; "" and NaN where no item is left."""
        top = tf.math.top_k(scores, tf.minimum(tf.reduce_max(k), len(_STRING_ITEMS)))
        empty = tf.math.is_inf(top.values)
        return {
            "item_ids": tf.where(empty, "", tf.gather(self.item_ids, top.indices)),
            "scores": tf.where(empty, tf.constant(np.nan, tf.float32), top.values),
        }

    def _recommend(self, user_id, k):
        rows = self.users.lookup(user_id)
        unknown = tf.constant(len(_STRING_SCORES) - 1, tf.int64)
        return self._top(tf.gather(self.scores, tf.where(rows < 0, unknown, rows)), k)

    def _predict(self, user_id, item_id):
        users, items = self.users.lookup(user_id), self.items.lookup(item_id)
        pairs = tf.stack([tf.maximum(users, 0), tf.maximum(items, 0)], axis=1)
        known = (users >= 0) & (items >= 0)
        return {"score": tf.where(known, tf.gather_nd(self.scores, pairs), 0.0)}

    def _history(self, history, k):
        seen = tf.reduce_max(tf.one_hot(self.items.lookup(history), len(_STRING_ITEMS)), 1) > 0
        return self._top(tf.where(seen, -np.inf, self.scores[-1:]), k)

    def signatures(self):
        recommend = self.recommend.get_concrete_function()
        return {
            "recommend": recommend,
            "serving_default": recommend,
            "predict": self.predict.get_concrete_function(),
            "recommend_history": self.recommend_history.get_concrete_function(),
        }


@pytest.fixture(scope="module")
def string_export(tmp_path_factory):
    """An export root with version 1 of ``strings``, a string-ID model with warm-up records."""
    root = tmp_path_factory.mktemp("string-ids") / "saved_models"
    module = _StringIds()
    version = root / "strings" / "1"
    tf.saved_model.save(module, str(version), signatures=module.signatures())
    write_warmup(version, "strings", module.signatures(), _STRING_SAMPLE)
    return root


@pytest.fixture(scope="module")
def string_server(string_export):
    """The URL of an in-process LocalServer serving ``string_export``."""
    with LocalServer(string_export, port=0, log=lambda line: None) as local:
        yield local.url


def test_string_ids_are_json_strings_both_ways(string_server):
    client = Client(string_server)
    rows = [{"user_id": "ann", "k": 3}, {"user_id": "zoe", "k": 3}]
    answer = client.predict("strings", rows, signature_name="recommend")
    assert [row["item_ids"] for row in answer] == [["c", "", ""], ["café", "b", "c"]]
    assert answer[0]["scores"][0] == 0.5 and np.isnan(answer[0]["scores"][1:]).all()
    # 7 is sent as "7" (an unknown user); bytes as the text they encode
    inputs = {"user_id": np.array([b"bob", 7], object), "k": np.array([2], np.int32)}
    outputs = client.predict("strings", inputs=inputs, signature_name="recommend")
    assert outputs["item_ids"] == [["b", "c"], ["café", "b"]]
    assert client.predict("strings", [{"user_id": "bob", "k": 1}]) == [
        {"item_ids": ["b"], "scores": [pytest.approx(0.9)]}
    ]
    scores = client.predict(
        "strings",
        inputs={"user_id": ["bob", "bob", "zoe"], "item_id": ["b", "nope", "c"]},
        signature_name="predict",
    )
    assert scores == pytest.approx([0.9, 0.0, 0.0])
    history = client.predict(
        "strings",
        inputs={"history": [["café", ""], ["b", "c"]], "k": [3]},
        signature_name="recommend_history",
    )
    assert history["item_ids"] == [["b", "c", ""], ["café", "", ""]]
    status, raw = _raw(
        string_server,
        "/v1/models/strings:predict",
        b'{"signature_name": "recommend", "inputs": {"user_id": ["ann"], "k": [1]}}',
    )
    assert status == 200 and raw == {"outputs": {"item_ids": [["c"]], "scores": [[0.5]]}}
    signature_def = client.metadata("strings")["metadata"]["signature_def"]["signature_def"]
    assert signature_def["recommend"]["inputs"]["user_id"]["dtype"] == "DT_STRING"
    assert signature_def["recommend"]["outputs"]["item_ids"]["dtype"] == "DT_STRING"
    assert signature_def["recommend_history"]["inputs"]["history"]["dtype"] == "DT_STRING"


@pytest.mark.parametrize(
    ("signature", "inputs", "message"),
    [
        ("recommend", {"user_id": [1.5], "k": [1]}, "takes strings; got 1.5"),
        ("recommend", {"user_id": ["ann", True], "k": [1]}, "takes strings; got true"),
        ("recommend", {"user_id": ["ann", None], "k": [1]}, "takes strings; got null"),
        ("recommend", {"user_id": ["\ud800"], "k": [1]}, 'takes strings; got "\\ud800"'),
        ("recommend", {"user_id": ["ann"], "k": ["x"]}, 'takes int32 integers; got "x"'),
        (
            "predict",
            {"user_id": ["ann", "bob"], "item_id": ["b"]},
            "inputs 'item_id' and 'user_id' of signature 'predict' have different batch sizes",
        ),
        (
            "recommend_history",
            {"history": [["b"], ["b", "c"]], "k": [1]},
            "rows of different lengths",
        ),
    ],
)
def test_string_models_refuse_other_values(string_server, signature, inputs, message):
    body = json.dumps({"signature_name": signature, "inputs": inputs}).encode()
    status, answer = _raw(string_server, "/v1/models/strings:predict", body)
    assert status == 400 and message in answer["error"], answer
    assert _raw(string_server, "/v1/models/strings")[0] == 200


def test_string_warmup_records_read_back_and_replay(string_export, tmp_path):
    version = string_export / "strings" / "1"
    loaded = tf.saved_model.load(str(version))
    logs = read_warmup(version)
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == sorted(
        loaded.signatures
    )
    for log in logs:
        request = log.predict_log.request
        function = loaded.signatures[request.model_spec.signature_name]
        _, specs = function.structured_input_signature
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        for name, proto in request.inputs.items():
            assert proto.dtype == specs[name].dtype.as_datatype_enum, name
            value = inputs[name]
            if specs[name].dtype == tf.string:
                value = np.char.decode(value.astype(np.bytes_), "utf-8")
            assert value.tolist() == _STRING_SAMPLE[name], name
        function(**inputs)  # replays as TF Serving does on load
    with pytest.raises(ValueError, match="warm-up value \\[5\\] for input 'user_id' of 'predict'"):
        write_warmup(
            tmp_path, "strings", _StringIds().signatures(), {**_STRING_SAMPLE, "user_id": [5]}
        )


def test_grpc_client_sends_and_answers_strings(string_export):
    loaded = tf.saved_model.load(str(string_export / "strings" / "1"))
    with (
        _prediction_service({"strings": loaded}) as port,
        GrpcClient(f"127.0.0.1:{port}") as client,
    ):
        inputs = {"user_id": ["ann", "zoe"], "k": [3, 3]}
        request = client.request("strings", inputs, "recommend")
        assert request.inputs["user_id"].dtype == tf.string.as_datatype_enum
        assert tf.make_ndarray(request.inputs["user_id"]).tolist() == [b"ann", b"zoe"]
        got = client.predict("strings", inputs, "recommend")
        assert got["item_ids"].dtype.kind == "U"
        assert got["item_ids"].tolist() == [["c", "", ""], ["café", "b", "c"]]
        history = client.predict(
            "strings", {"history": np.array([["café", ""]]), "k": [2]}, "recommend_history"
        )
        assert history["item_ids"].tolist() == [["b", "c"]]


def test_serving_config_lists_string_models(string_export, tmp_path, capsys):
    from tensorflow_serving.config import model_server_config_pb2

    out = tmp_path / "models.config"
    argv = ["serving", "config", "--export-root", str(string_export), "--out", str(out)]
    assert main([*argv, "--batching-out", str(tmp_path / "batching.config")]) == 0
    assert "(strings; versions: latest)" in capsys.readouterr().out
    config = text_format.Parse(out.read_text(), model_server_config_pb2.ModelServerConfig())
    assert [entry.name for entry in config.model_config_list.config] == ["strings"]


def test_bench_serving_small():
    result = subprocess.run(
        [
            sys.executable,
            "scripts/bench_serving.py",
            "--models",
            "popularity,mf",
            "--users",
            "100",
            "--items",
            "300",
            "--ratings",
            "3000",
            "--calls",
            "20",
            "--rest-calls",
            "10",
            "--batches",
            "2",
            "--set",
            "mf.epochs=2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["headline"] == "mf" and set(figures["models"]) == {"popularity", "mf"}
    for key in ("inprocess_p50_ms", "inprocess_p99_ms", "rest_p50_ms", "batch256_rows_per_s"):
        assert figures[key] > 0, key


def test_new_versions_are_picked_up_and_staging_directories_ignored(exports, server):
    """Runs last: it adds version 2 of mf under the running server."""
    root, models = exports
    url, log = server
    client = Client(url)
    staging = root / "mf" / ".tmp-3-xyz"  # a complete copy, still under its staging name
    shutil.copytree(root / "mf" / "1", staging)
    assert models["mf"].export(root) == root / "mf" / "2"
    deadline = time.monotonic() + 30
    while client.status("mf")["model_version_status"][0]["version"] != "2":
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)
    assert [s["version"] for s in client.status("mf")["model_version_status"]] == ["2"]
    user = int(models["mf"].user_ids[0])
    answer = client.predict(
        "mf", [{"user_id": user, "k": 3}], signature_name="recommend", version=2
    )
    assert len(answer[0]["item_ids"]) == 3
    with pytest.raises(ServingError, match=r"Specific\(mf, 1\)"):
        client.predict("mf", [{"user_id": user, "k": 3}], signature_name="recommend", version=1)
    time.sleep(1.5)  # another poll or two: the staging copy is still not served
    assert [s["version"] for s in client.status("mf")["model_version_status"]] == ["2"]
    assert ".tmp-" not in log.read_text()
