"""TF Serving's REST JSON formats for ``:predict``, on numpy arrays.

A request names a signature (``signature_name``, default ``serving_default``)
and carries its inputs either in the row format, ``"instances"``: a list with
one object per row (or, for a one-input signature, one value per row), or in
the columnar format, ``"inputs"``: an object of named tensors (or the one
tensor). The answer is ``{"predictions": ...}`` in the row format (a list of
objects per row when the signature has several outputs, of values when it has
one) or ``{"outputs": ...}`` in the columnar format. NaN is written as the
bare token ``NaN``, as TF Serving does.

IDs follow the export: integer inputs take JSON integers (or strings of
decimal digits, ``"42"``), string inputs take JSON strings (or integers, as
their decimal text), and string outputs are written as JSON strings. Every
input but ``k`` has one row per batch row; ``k`` has one or one per row.

Everything a client can get wrong raises :class:`~tfrec.errors.ServingError`
with status 400 and a message naming the input and what was expected.
"""

from __future__ import annotations

import json
import re
from operator import itemgetter

import numpy as np

from tfrec.errors import ServingError
from tfrec.serving.rest_client import json_value

DEFAULT_SIGNATURE = "serving_default"
# Inputs holding one value for the whole request (the signatures use the
# largest k) or one per row; every other input has one row per batch row.
_PER_REQUEST = frozenset({"k"})
# The JSON values each kind of input takes as they are; _leaf converts the others.
_PLAIN_TYPES = {"i": {int}, "u": {int}, "f": {int, float}, "b": {bool}, "O": {str}}
_INTEGER = re.compile(r"-?[0-9]{1,20}")  # longer is out of any integer range


def decode_request(body: bytes) -> tuple[str, object, bool]:
    """Parses a ``:predict`` body.

    Returns:
        ``(signature name, instances or inputs, True for the row format)``.
    """
    try:
        request = json.loads(body)
    except ValueError as e:  # not UTF-8, not JSON, a number of over 4300 digits
        raise ServingError(f"JSON Parse error: {e}", 400) from None
    except RecursionError:
        raise ServingError(
            "JSON Parse error: arrays or objects nested too deeply; "
            "an input is a list (of lists) of values",
            400,
        ) from None
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
        ``{input name: numpy array}``; string inputs are object arrays of
        UTF-8 ``bytes``, as TensorFlow gives them.
    """
    columns = _columns(payload, row_format, specs, signature)
    arrays = {name: _array(columns[name], spec, name, signature) for name, spec in specs.items()}
    _check_batch(arrays, signature)
    for name, array in arrays.items():
        if array.ndim and array.shape[0] > max_batch:
            raise ServingError(
                f"input {name!r} has a batch of {array.shape[0]} rows, more than this "
                f"server's limit of {max_batch} (--max-batch); split the request",
                400,
            )
    return arrays


def encode_response(outputs: dict, row_format: bool) -> bytes:
    """The JSON body answering a request, from ``{output name: numpy array}``;
    string outputs (``bytes``) are written as the JSON strings they encode."""
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
    return json.dumps(answer, default=json_value).encode()


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


def _check_batch(arrays: dict, signature: str) -> None:
    """A 400 unless the inputs agree on the batch size (``k`` may have one row)."""
    rows = {name: len(array) for name, array in arrays.items() if array.ndim}
    batch = [(name, n) for name, n in rows.items() if name not in _PER_REQUEST]
    if not batch:
        return
    first, size = batch[0]
    for name, n in batch[1:]:
        if n != size:
            raise ServingError(
                f"inputs {first!r} and {name!r} of signature {signature!r} have different "
                f"batch sizes: {size} and {n} rows; send one value per row in each",
                400,
            )
    for name, n in rows.items():
        if name in _PER_REQUEST and n not in (1, size):
            raise ServingError(
                f"input {name!r} of signature {signature!r} takes 1 value or one per row "
                f"({size}, as {first!r}); got {n}",
                400,
            )


def _array(values, spec, name: str, signature: str) -> np.ndarray:
    """``values`` as an array of the spec's dtype and shape, or a 400 saying why not."""
    where = f"input {name!r} of signature {signature!r}"
    rank = spec.shape.rank
    if rank is not None and _depth(values, rank + 1) > rank:
        raise ServingError(
            f"{where} has shape {_shape(spec)}; got lists nested more than {rank} deep", 400
        )
    try:
        array = np.asarray(values)
    except ValueError:
        raise ServingError(f"{where}: rows of different lengths; pad them", 400) from None
    if not spec.shape.is_compatible_with(array.shape):
        raise ServingError(f"{where} has shape {_shape(spec)}; got shape {list(array.shape)}", 400)
    target = np.dtype(spec.dtype.as_numpy_dtype)
    leaves = np.asarray(values, dtype=object).ravel()  # as parsed: numpy reads [1, true] as [1, 1]
    if array.size and not _exact(leaves, array, target):
        converted = [_leaf(value, target, spec.dtype.name, where) for value in leaves]
        array = np.array(converted, object).reshape(array.shape)
    if target.kind == "O":
        try:
            return np.char.encode(array.astype(str), "utf-8").astype(object)
        except UnicodeEncodeError as e:
            raise ServingError(f"{where} takes strings; got {_text(e.object)}", 400) from None
    return array.astype(target)


def _depth(value, limit: int) -> int:
    """How many lists deep the first elements of ``value`` go, counted up to ``limit``."""
    depth = 0
    while isinstance(value, list) and depth < limit:
        depth += 1
        value = value[0] if value else None
    return depth


def _exact(leaves: np.ndarray, array: np.ndarray, target: np.dtype) -> bool:
    """Whether numpy's reading of the values is already right for ``target``."""
    if not set(map(type, leaves)) <= _PLAIN_TYPES[target.kind]:
        return False
    if target.kind in "iu":
        info = np.iinfo(target)
        return array.dtype.kind in "iu" and array.min() >= info.min and array.max() <= info.max
    return True


def _leaf(value, target: np.dtype, dtype: str, where: str):
    """One value converted for ``target``, or a 400 naming it."""
    integer = isinstance(value, int) and not isinstance(value, bool)
    if target.kind in "iu" and isinstance(value, str) and _INTEGER.fullmatch(value):
        value, integer = int(value), True
    if target.kind in "iu" and integer:
        info = np.iinfo(target)
        if info.min <= value <= info.max:
            return value
        raise ServingError(f"{where} takes {dtype} integers; got {value}, out of range", 400)
    if target.kind == "O" and (integer or isinstance(value, str)):
        return str(value)
    if target.kind == "f" and (integer or isinstance(value, float)):
        return value
    if target.kind == "b" and isinstance(value, bool):
        return value
    expected = {"O": "strings", "f": f"{dtype} numbers", "b": "booleans"}
    what = expected.get(target.kind, f"{dtype} integers")
    raise ServingError(f"{where} takes {what}; got {_text(value)}", 400)


def _text(value) -> str:
    """A JSON value as a message quotes it: shortened, objects not written out."""
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape(spec) -> str:
    if spec.shape.rank is None:
        return "[any shape]"
    dims = [
        "batch" if i == 0 and d is None else "n" if d is None else str(d)
        for i, d in enumerate(spec.shape.as_list())
    ]
    return f"[{', '.join(dims)}]"
