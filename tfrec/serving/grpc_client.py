"""A client for TF Serving's gRPC ``PredictionService`` (port 8500).

    client = GrpcClient("127.0.0.1:8500")
    client.predict("mf", {"user_id": np.array([1, 2]), "k": np.array([10, 10])},
                   signature_name="recommend")
    # -> {"item_ids": array([[...], [...]]), "scores": array([[...], [...]])}

Integer inputs are cast to the exported dtypes by name (``k`` int32, IDs and
timestamps int64), since a gRPC request must carry them exactly; ``str`` (or
``bytes``) values are sent as strings, for a model exported from string IDs.
String outputs come back as numpy ``str`` arrays (``""`` pads ``item_ids``
where fewer than k items are left, as -1 does for integer IDs). ``tfrec serve``
has no gRPC endpoint: use this client against ``tensorflow_model_server``.
"""

from __future__ import annotations

import numpy as np

from tfrec.errors import ServingError

# Exported integer input dtypes (tfrec.export); other inputs are sent as given.
INPUT_DTYPES = {
    "k": np.int32,
    "user_id": np.int64,
    "item_id": np.int64,
    "timestamp": np.int64,
    "history": np.int64,
}


class GrpcClient:
    """Calls TF Serving's ``PredictionService.Predict``.

    Args:
        target: ``host:port`` of TF Serving's gRPC endpoint.
        timeout: Seconds to wait for an answer.
    """

    def __init__(self, target: str = "127.0.0.1:8500", timeout: float = 10.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.target, self.timeout = target, timeout
        self._channel = grpc.insecure_channel(target)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def request(
        self,
        model: str,
        inputs: dict,
        signature_name: str = "serving_default",
        version: int | None = None,
    ):
        """The ``PredictRequest`` that :meth:`predict` sends."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = model
        request.model_spec.signature_name = signature_name
        if version is not None:
            request.model_spec.version.value = version
        for name, value in inputs.items():
            array = np.asarray(value)
            if name in INPUT_DTYPES and array.dtype.kind in "iu":
                array = array.astype(INPUT_DTYPES[name])
            request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
        return request

    def predict(
        self,
        model: str,
        inputs: dict,
        signature_name: str = "serving_default",
        version: int | None = None,
    ) -> dict:
        """Runs a signature on ``{input name: array}``; returns ``{output name: array}``."""
        import grpc

        request = self.request(model, inputs, signature_name, version)
        try:
            response = self._stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise _refusal(e, self, model, signature_name) from None
        return {name: _array(proto) for name, proto in response.outputs.items()}

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _array(proto) -> np.ndarray:
    """A TensorProto as an array; strings decoded from UTF-8."""
    import tensorflow as tf

    array = tf.make_ndarray(proto)
    if proto.dtype == tf.string.as_datatype_enum:
        return np.char.decode(array.astype(np.bytes_), "utf-8")
    return array


def _refusal(error, client: GrpcClient, model: str, signature_name: str) -> ServingError:
    import grpc

    code, details, target = error.code(), error.details(), client.target
    if code == grpc.StatusCode.UNAVAILABLE:
        message = f"cannot reach {target}: {details}; is the server running?"
    elif code == grpc.StatusCode.NOT_FOUND:
        message = f"model {model} not found: {details!r}"
    elif code == grpc.StatusCode.INVALID_ARGUMENT:
        message = f"bad request to {model} (signature {signature_name}): {details!r}"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"no answer from {target} within {client.timeout:g} s"
    else:
        message = f"{code.name} from {target}: {details!r}"
    return ServingError(message, code.name)
