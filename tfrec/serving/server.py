"""A local server speaking TF Serving's REST API, for machines without TF Serving.

    with LocalServer("saved_models", port=8501) as server:
        Client(server.url).predict("mf", [{"user_id": 1, "k": 10}], signature_name="recommend")

It answers the same endpoints and JSON as ``tensorflow_model_server
--rest_api_port`` (see :mod:`tfrec.serving.rest_format`), so the same client
and curl lines work against both:

* ``POST /v1/models/NAME[/versions/N]:predict``
* ``GET /v1/models/NAME[/versions/N]`` (version status)
* ``GET /v1/models/NAME[/versions/N]/metadata`` (signature defs)

Every export under the root is loaded with ``tf.saved_model.load`` (the newest
version of each by default, as TF Serving's default policy); new versions
are picked up within a second, without restart. A request the server cannot
answer gets ``{"error": ...}`` with 400 (bad request) or 404 (unknown model,
version or endpoint), and the server keeps serving. It is meant for laptops,
CI and tests: it runs each request on its own thread, without TF Serving's
batching or gRPC endpoint.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tfrec.errors import ServingError, check_positive_int
from tfrec.serving.layout import parse_policy
from tfrec.serving.repository import ModelRepository
from tfrec.serving.rest_format import decode_request, encode_response, to_arrays

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<tail>/metadata|:\w+)?$"
)


class LocalServer:
    """Serves every export under a root over TF Serving's REST API.

    Args:
        export_root: Directory holding ``<name>/<version>/saved_model.pb``.
        host: Interface to bind; 127.0.0.1 (this machine only) by default.
        port: TCP port; 0 picks a free one (see :attr:`url`).
        max_batch: Most rows accepted in one request.
        max_body_bytes: Largest request body accepted (413 above it).
        versions: ``"latest"`` (default), ``"all"`` or comma-separated versions.
        poll_interval: Seconds between scans of the export root for new versions.
        log: Called with one line per model load/unload and per server error;
            default stderr.
    """

    def __init__(
        self,
        export_root,
        host: str = "127.0.0.1",
        port: int = 8501,
        *,
        max_batch: int = 1024,
        max_body_bytes: int = 8 * 2**20,
        versions: str = "latest",
        poll_interval: float = 1.0,
        log=None,
    ):
        self.host, self.port = host, port
        self.max_batch = check_positive_int("max_batch", max_batch)
        self.max_body_bytes = check_positive_int("max_body_bytes", max_body_bytes)
        self.poll_interval = poll_interval
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.repository = ModelRepository(export_root, parse_policy(versions), self.log)
        self._httpd = None
        self._thread = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalServer:
        """Loads the exports, binds the port and serves in a background thread."""
        self.repository.refresh()
        try:
            self._httpd = _HTTPServer((self.host, self.port), _Handler)
        except OSError as e:
            raise ServingError(
                f"cannot listen on {self.host}:{self.port}: {e.strerror or e}; pick another --port"
            ) from None
        self._httpd.app = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="tfrec-serve", daemon=True
        )
        self._thread.start()
        self.repository.watch(self.poll_interval)
        return self

    def wait(self) -> None:
        """Blocks until the server stops (Ctrl-C interrupts it)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        """Stops serving and watching; idempotent."""
        self.repository.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
            self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def describe(self) -> str:
        """``serving 2 models on http://127.0.0.1:8501: mf (version 1), ...``."""
        models = self.repository.models()
        listed = ", ".join(
            f"{name} (version{'s' if len(v) > 1 else ''} {', '.join(map(str, v))})"
            for name, v in models.items()
        )
        noun = "model" if len(models) == 1 else "models"
        where = listed or f"none yet; waiting for exports under {self.repository.export_root}"
        return f"serving {len(models)} {noun} on {self.url}: {where}"

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """Answers one request: ``(HTTP status, JSON body)``."""
        try:
            return 200, self._route(method, path.split("?", 1)[0], body)
        except ServingError as e:
            return e.status or 500, json.dumps({"error": str(e)}).encode()
        except Exception as e:  # a failure inside TensorFlow: answer it and keep serving
            self.log(f"error answering {method} {path}: {e!r}")
            return 500, json.dumps({"error": f"internal error: {e}"}).encode()

    def _route(self, method: str, path: str, body: bytes) -> bytes:
        match = _PATH.match(path)
        if match is None:
            raise ServingError(
                f"no endpoint {method} {path}; the API is /v1/models/NAME[/versions/N]"
                "[/metadata] (GET) and /v1/models/NAME[/versions/N]:predict (POST)",
                404,
            )
        name, tail = match["name"], match["tail"]
        version = int(match["version"]) if match["version"] else None
        if method == "POST" and tail == ":predict":
            return self._predict(name, version, body)
        if method == "GET" and tail is None:
            return self._status(name, version)
        if method == "GET" and tail == "/metadata":
            return self._metadata(name, version)
        if tail and tail.startswith(":") and tail != ":predict":
            raise ServingError(f"tfrec serve answers :predict only; got {tail}", 400)
        raise ServingError(f"Malformed request: {method} {path}", 400)

    def _predict(self, name: str, version: int | None, body: bytes) -> bytes:
        servable = self.repository.get(name, version)
        signature, payload, row_format = decode_request(body)
        if signature not in servable.specs:
            raise ServingError(
                f'Serving signature name: "{signature}" not found in signature def; '
                f"{name} has {', '.join(sorted(servable.specs))}",
                400,
            )
        specs = servable.specs[signature]
        arrays = to_arrays(payload, row_format, specs, signature, self.max_batch)
        return encode_response(servable.run(signature, arrays), row_format)

    def _status(self, name: str, version: int | None) -> bytes:
        statuses = [
            {
                "version": str(v),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for v in self.repository.versions(name, version)
        ]
        return json.dumps({"model_version_status": statuses}).encode()

    def _metadata(self, name: str, version: int | None) -> bytes:
        servable = self.repository.get(name, version)
        answer = {
            "model_spec": {"name": name, "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": servable.signature_defs()}},
        }
        return json.dumps(answer).encode()


class _HTTPServer(ThreadingHTTPServer):
    # The default listen backlog (5) resets connections when many clients
    # connect at once.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for clients that want it
    server_version = "tfrec-serve"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def _answer(self, method: str) -> None:
        app = self.server.app
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not length.isdigit() or int(length) > app.max_body_bytes:
            # The body is not read: answer and drop the connection.
            self.close_connection = True
            status = 413 if length.isdigit() else 400
            what = f"{length} bytes" if length.isdigit() else repr(length)
            message = f"request body of {what} refused; the limit is {app.max_body_bytes} bytes"
            answer = json.dumps({"error": message}).encode()
        else:
            status, answer = app.handle(method, self.path, self.rfile.read(int(length)))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args):  # quiet: errors reach LocalServer.log
        pass
