"""Warm-up requests that TF Serving replays when it loads a version.

``<version>/assets.extra/tf_serving_warmup_requests`` is a TFRecord file of
``tensorflow_serving.apis.prediction_log_pb2.PredictionLog`` protos, one
``PredictRequest`` per signature. TF Serving runs them before the version
takes traffic, so the first real request does not pay for TensorFlow's lazy
initialisation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

WARMUP_FILE = "tf_serving_warmup_requests"


def input_specs(function) -> dict[str, tf.TensorSpec]:
    """``{input name: TensorSpec}`` of a concrete function or a loaded signature."""
    flat = tf.nest.flatten(function.structured_input_signature)
    return {spec.name: spec for spec in flat if isinstance(spec, tf.TensorSpec)}


def warmup_requests(model_name: str, signatures: dict, sample: dict) -> list:
    """One ``PredictionLog`` with a ``PredictRequest`` per signature.

    Args:
        model_name: The model's name under the export root (``model_spec.name``).
        signatures: ``{signature name: concrete function}`` as exported.
        sample: ``{input name: array-like}`` of real inputs (a batch of one),
            ``str`` values for string inputs; each signature takes the inputs
            it names.

    Returns:
        The ``PredictionLog`` protos, in signature name order.
    """
    from tensorflow_serving.apis import prediction_log_pb2

    logs = []
    for signature_name in sorted(signatures):
        log = prediction_log_pb2.PredictionLog()
        request = log.predict_log.request
        request.model_spec.name = model_name
        request.model_spec.signature_name = signature_name
        for name, spec in input_specs(signatures[signature_name]).items():
            if name not in sample:
                raise ValueError(f"no warm-up value for input {name!r} of {signature_name!r}")
            try:
                proto = tf.make_tensor_proto(np.asarray(sample[name], spec.dtype.as_numpy_dtype))
            except (TypeError, ValueError) as e:
                raise ValueError(
                    f"warm-up value {sample[name]!r} for input {name!r} of {signature_name!r} "
                    f"is not {spec.dtype.name}: {e}"
                ) from None
            request.inputs[name].CopyFrom(proto)
        logs.append(log)
    return logs


def write_warmup(version_dir, model_name: str, signatures: dict, sample: dict) -> Path:
    """Writes ``assets.extra/tf_serving_warmup_requests`` into a version directory.

    Args:
        version_dir: The SavedModel directory (an export's staging directory).
        model_name: The model's name under the export root.
        signatures: ``{signature name: concrete function}`` as exported.
        sample: ``{input name: array-like}``, as in :func:`warmup_requests`.

    Returns:
        The file written.
    """
    path = Path(version_dir) / "assets.extra" / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in warmup_requests(model_name, signatures, sample):
            writer.write(log.SerializeToString())
    return path


def read_warmup(path) -> list:
    """The ``PredictionLog`` protos of a warm-up file (a version directory or the file)."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = Path(path)
    if path.is_dir():
        path = path / "assets.extra" / WARMUP_FILE
    records = tf.data.TFRecordDataset(str(path)).as_numpy_iterator()
    return [prediction_log_pb2.PredictionLog.FromString(record) for record in records]
