"""TF Serving's REST JSON formats for ``:predict``, on numpy arrays.

A request names a signature (``signature_name``, default ``serving_default``)
and carries its inputs either in the row format, ``"instances"``: a list with
one object per row (or, for a one-input signature, one value per row), or in
the columnar format, ``"inputs"``: an object of named tensors (or the one
tensor). The answer is ``{"predictions": ...}`` in the row format (a list of
objects per row when the signature has several outputs, of values when it has
one) or ``{"outputs": ...}`` in the columnar format. NaN is written as the
bare token ``NaN``, as TF Serving does.

Everything a client can get wrong raises :class:`~tfrec.errors.ServingError`
with status 400 and a message naming the input and what was expected.
"""

from __future__ import annotations

import json
from operator import itemgetter

import numpy as np

from tfrec.errors import ServingError

DEFAULT_SIGNATURE = "serving_default"


def decode_request(body: bytes) -> tuple[str, object, bool]:
    """Parses a ``:predict`` body.

    Returns:
        ``(signature name, instances or inputs, True for the row format)``.
    """
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ServingError(f"JSON Parse error: {e}", 400) from None
    if not isinstance(request, dict):
        raise ServingError("the request body must be a JSON object", 400)
    signature = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature, str):
        raise ServingError("'signature_name' key must be a string value", 400)
    if ("instances" in request) == ("inputs" in request):
        raise ServingError("the request needs exactly one of 'instances' and 'inputs'", 400)
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list) or not instances:
            raise ServingError("'instances' must be a non-empty list", 400)
        return signature, instances, True
    return signature, request["inputs"], False


def to_arrays(payload, row_format: bool, specs: dict, signature: str, max_batch: int) -> dict:
    """The named input arrays of a request, in the signature's dtypes and shapes.

    Args:
        payload: The ``instances`` list or the ``inputs`` value.
        row_format: True for ``instances``.
        specs: ``{input name: tf.TensorSpec}`` of the signature.
        signature: The signature's name, for messages.
        max_batch: Most rows accepted in one request.

    Returns:
        ``{input name: numpy array}``.
    """
    columns = _columns(payload, row_format, specs, signature)
    arrays = {name: _array(columns[name], spec, name, signature) for name, spec in specs.items()}
    for name, array in arrays.items():
        if array.ndim and array.shape[0] > max_batch:
            raise ServingError(
                f"input {name!r} has a batch of {array.shape[0]} rows, more than this "
                f"server's limit of {max_batch} (--max-batch); split the request",
                400,
            )
    return arrays


def encode_response(outputs: dict, row_format: bool) -> bytes:
    """The JSON body answering a request, from ``{output name: numpy array}``."""
    names = sorted(outputs)
    if row_format:
        sizes = {outputs[name].shape[0] if outputs[name].ndim else None for name in names}
        if len(sizes) != 1 or None in sizes:
            raise ServingError(
                "the signature's outputs do not share a batch size; use the 'inputs' format", 400
            )
        if len(names) == 1:
            answer = {"predictions": outputs[names[0]].tolist()}
        else:
            rows = zip(*(outputs[name].tolist() for name in names), strict=True)
            answer = {"predictions": [dict(zip(names, row, strict=True)) for row in rows]}
    elif len(names) == 1:
        answer = {"outputs": outputs[names[0]].tolist()}
    else:
        answer = {"outputs": {name: outputs[name].tolist() for name in names}}
    return json.dumps(answer).encode()


def describe_inputs(specs: dict) -> str:
    """``user_id (int64 [batch]), k (int32 [batch])``."""
    return ", ".join(f"{name} ({spec.dtype.name} {_shape(spec)})" for name, spec in specs.items())


def _columns(payload, row_format: bool, specs: dict, signature: str) -> dict:
    """``{input name: nested list}`` from either format."""
    one_input = len(specs) == 1
    if row_format:
        if one_input and not isinstance(payload[0], dict):
            return {next(iter(specs)): payload}
        if not all(isinstance(row, dict) for row in payload):
            raise ServingError(
                f"each of 'instances' must be an object of named inputs for signature "
                f"{signature!r}: {describe_inputs(specs)}",
                400,
            )
        names = set().union(*map(frozenset, payload))
        _check_names(names, specs, signature)
        if set(map(len, payload)) != {len(specs)}:
            raise ServingError(
                f"every one of 'instances' must name all inputs of {signature!r}: "
                f"{describe_inputs(specs)}",
                400,
            )
        return {name: list(map(itemgetter(name), payload)) for name in specs}
    if one_input and not isinstance(payload, dict):
        return {next(iter(specs)): payload}
    if not isinstance(payload, dict):
        raise ServingError(
            f"'inputs' must be an object of named inputs for signature {signature!r}: "
            f"{describe_inputs(specs)}",
            400,
        )
    _check_names(set(payload), specs, signature)
    return payload


def _check_names(names: set, specs: dict, signature: str) -> None:
    unknown, missing = sorted(names - set(specs)), sorted(set(specs) - names)
    if unknown or missing:
        problem = f"unknown input {unknown[0]!r}" if unknown else f"missing input {missing[0]!r}"
        raise ServingError(
            f"{problem} for signature {signature!r}; it takes {describe_inputs(specs)}", 400
        )


def _array(values, spec, name: str, signature: str) -> np.ndarray:
    """``values`` as an array of the spec's dtype and shape, or a 400 saying why not."""
    where = f"input {name!r} of signature {signature!r}"
    try:
        array = np.asarray(values)
    except ValueError:
        raise ServingError(f"{where}: rows of different lengths; pad them", 400) from None
    dtype = spec.dtype.as_numpy_dtype
    if array.size and not _convertible(array, np.dtype(dtype)):
        raise ServingError(
            f"{where} takes {spec.dtype.name} numbers; got {_kind(array)} {_preview(values)}",
            400,
        )
    array = array.astype(dtype)
    if not spec.shape.is_compatible_with(array.shape):
        raise ServingError(f"{where} has shape {_shape(spec)}; got shape {list(array.shape)}", 400)
    return array


def _convertible(array: np.ndarray, dtype: np.dtype) -> bool:
    if dtype.kind in "iu":
        if array.dtype.kind not in "iu":
            return False
        info = np.iinfo(dtype)
        return bool(array.min() >= info.min and array.max() <= info.max)
    if dtype.kind == "f":
        return array.dtype.kind in "iuf"
    if dtype.kind == "b":
        return array.dtype.kind == "b"
    return array.dtype.kind in "US"


def _kind(array: np.ndarray) -> str:
    names = {"U": "strings", "S": "strings", "f": "decimals", "b": "booleans", "O": "mixed values"}
    return names.get(array.dtype.kind, "out-of-range numbers")


def _preview(values) -> str:
    text = json.dumps(values)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape(spec) -> str:
    if spec.shape.rank is None:
        return "[any shape]"
    dims = [
        "batch" if i == 0 and d is None else "n" if d is None else str(d)
        for i, d in enumerate(spec.shape.as_list())
    ]
    return f"[{', '.join(dims)}]"
