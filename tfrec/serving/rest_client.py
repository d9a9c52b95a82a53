"""A client for TF Serving's REST API (and ``tfrec serve``), standard library only.

client = Client("http://127.0.0.1:8501")
client.predict("mf", [{"user_id": 1, "k": 10}], signature_name="recommend")
# -> [{"item_ids": [...], "scores": [...]}]
client.predict("mf", inputs={"user_id": [1, 2], "k": [10]}, signature_name="recommend")
# -> {"item_ids": [[...], [...]], "scores": [[...], [...]]}

IDs are sent and answered as JSON numbers for a model exported from integer
IDs and as JSON strings for one exported from string IDs (``""`` pads
``item_ids`` where fewer than k items are left, as -1 does for integers).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request

from tfrec.errors import ServingError


class Client:
    """Calls one model server's REST endpoints.

    Args:
        url: The server's REST address, e.g. ``http://127.0.0.1:8501``.
        timeout: Seconds to wait for an answer.
    """

    def __init__(self, url: str = "http://127.0.0.1:8501", timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def predict(
        self,
        model: str,
        instances=None,
        *,
        inputs=None,
        signature_name: str | None = None,
        version: int | None = None,
    ):
        """Runs a signature.

        Args:
            model: The model's name.
            instances: Row format: a list of ``{input name: value}`` objects,
                one per row (or of values, for a one-input signature).
            inputs: Columnar format: ``{input name: list or numpy array}``.
                Values may be numpy arrays and scalars, and string IDs ``str``
                or UTF-8 ``bytes``.
            signature_name: Defaults to the server's ``serving_default``.
            version: A version number; defaults to the newest served.

        Returns:
            ``predictions`` for ``instances`` (a list, of objects per row when
            the signature has several outputs) or ``outputs`` for ``inputs``
            (an object of named outputs, or the one output).
        """
        if (instances is None) == (inputs is None):
            raise ServingError("pass exactly one of instances (rows) and inputs (columns)")
        request = {"instances": instances} if inputs is None else {"inputs": inputs}
        if signature_name is not None:
            request["signature_name"] = signature_name
        body = json.dumps(request, default=json_value).encode()
        answer = self._call(model, version, ":predict", body, signature_name)
        return answer["predictions"] if inputs is None else answer["outputs"]

    def status(self, model: str, version: int | None = None) -> dict:
        """``GET /v1/models/NAME[/versions/N]``: ``{"model_version_status": [...]}``."""
        return self._call(model, version, "", None, None)

    def metadata(self, model: str, version: int | None = None) -> dict:
        """``GET /v1/models/NAME[/versions/N]/metadata``: the model's signature defs."""
        return self._call(model, version, "/metadata", None, None)

    def wait_until_available(self, model: str, version: int | None = None, timeout=60.0) -> dict:
        """Polls :meth:`status` until a version is AVAILABLE; returns that status.

        Raises:
            ServingError: if none is available within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.status(model, version)
                if any(s["state"] == "AVAILABLE" for s in status["model_version_status"]):
                    return status
                problem = f"no version of {model} is AVAILABLE"
            except ServingError as e:
                problem = str(e)
            if time.monotonic() > deadline:
                raise ServingError(f"gave up after {timeout:g} s: {problem}")
            time.sleep(0.1)

    def _call(self, model, version, tail, body, signature_name) -> dict:
        path = f"/v1/models/{model}" + (f"/versions/{version}" if version is not None else "")
        url = self.url + path + tail
        request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise _refusal(e, model, version, signature_name) from None
        except urllib.error.URLError as e:
            reason = getattr(e.reason, "strerror", None) or str(e.reason)
            raise ServingError(
                f"cannot reach {self.url}: {reason.lower()}; is the server running?"
            ) from None
        except TimeoutError:
            raise ServingError(f"no answer from {self.url} within {self.timeout:g} s") from None


def _refusal(error: urllib.error.HTTPError, model, version, signature_name) -> ServingError:
    """A ServingError quoting the server's ``{"error": ...}`` text."""
    text = error.read().decode(errors="replace")
    with contextlib.suppress(ValueError, KeyError, TypeError):
        text = json.loads(text)["error"]
    what = model if version is None else f"{model} version {version}"
    if error.code == 404:
        message = f'model {what} not found: "{text}"'
    elif error.code == 400:
        signature = signature_name or "serving_default"
        message = f'bad request to {what} (signature {signature}): "{text}"'
    else:
        message = f"HTTP {error.code} from {error.url}: {text!r}"
    return ServingError(message, error.code)


def json_value(value):
    """``json.dumps``'s ``default``: numpy arrays and scalars as lists and numbers,
    ``bytes`` (numpy's form of TensorFlow strings) as the text they encode in UTF-8."""
    if isinstance(value, bytes):
        return value.decode()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
