"""The SavedModels a local server holds, kept in step with an export root.

:class:`ModelRepository` loads each model's servable versions (see
:mod:`tfrec.serving.layout`) with ``tf.saved_model.load``; :meth:`refresh`
loads versions that appeared and drops versions that left the policy, and
:meth:`watch` calls it from a background thread, so that an export finished
while the server runs is served within a poll interval and a staging
directory is never touched. A version that fails to load (say, copied in by
hand and not complete yet) is retried on the next refresh; the versions
already loaded keep serving meanwhile.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfrec.errors import ServingError, TfrecError
from tfrec.serving.layout import model_versions, select_versions
from tfrec.serving.warmup import input_specs


class Servable:
    """One loaded version of a model.

    Attributes:
        name: The model's name (its base path under the export root).
        version: The version number.
        path: The version directory.
        specs: ``{signature name: {input name: tf.TensorSpec}}``.
    """

    def __init__(self, name: str, version: int, path: Path):
        self.name, self.version, self.path = name, version, path
        self._loaded = tf.saved_model.load(str(path))
        self._signatures = dict(self._loaded.signatures)
        self.specs = {key: input_specs(fn) for key, fn in self._signatures.items()}
        self._metadata = None

    def run(self, signature: str, arrays: dict) -> dict:
        """Runs a signature on ``{input name: array}``; returns ``{output name: array}``
        (string outputs as object arrays of ``bytes``)."""
        function = self._signatures[signature]
        try:
            outputs = function(**{name: tf.constant(value) for name, value in arrays.items()})
        except tf.errors.InvalidArgumentError as e:
            raise ServingError(_op_error_text(e.message), 400) from None
        return {name: np.asarray(tensor) for name, tensor in outputs.items()}

    def signature_defs(self) -> dict:
        """The SavedModel's signature defs as TF Serving's metadata JSON writes them."""
        if self._metadata is None:
            from google.protobuf import json_format
            from tensorflow.core.protobuf import saved_model_pb2

            pb = (self.path / "saved_model.pb").read_bytes()
            saved = saved_model_pb2.SavedModel.FromString(pb)
            self._metadata = {
                key: json_format.MessageToDict(
                    value,
                    preserving_proto_field_name=True,
                    always_print_fields_with_no_presence=True,
                )
                for key, value in saved.meta_graphs[0].signature_def.items()
            }
        return self._metadata


def _op_error_text(message: str) -> str:
    """The cause in a TensorFlow op error (``Need k >= 0, got -3``), without the
    graph-execution preamble and node names around it."""
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[", "\t [[")
    lines = [line.strip() for line in message.splitlines()]
    cause = [line for line in lines if line and not line.startswith(noise)]
    return "; ".join(cause) or message


class ModelRepository:
    """Loaded versions of every model under an export root.

    Args:
        export_root: Directory holding ``<name>/<version>/saved_model.pb``.
        policy: Versions to serve: ``"latest"``, ``"all"`` or a tuple of numbers.
        log: Called with one line per load, unload or failed load; default stderr.
    """

    def __init__(self, export_root, policy="latest", log=None):
        self.export_root = Path(export_root)
        self.policy = policy
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._servables: dict[str, dict[int, Servable]] = {}
        self._failed: set[Path] = set()
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._watcher = None

    def refresh(self) -> None:
        """Loads new servable versions and drops those no longer on disk or in the policy."""
        with self._refreshing:
            wanted = {
                name: select_versions(versions, self.policy)
                for name, versions in model_versions(self.export_root).items()
            }
            current = self._servables
            updated = {}
            for name, versions in wanted.items():
                kept = {v: s for v, s in current.get(name, {}).items() if v in versions}
                for version in versions:
                    if version not in kept:
                        servable = self._load(name, version)
                        if servable is not None:
                            kept[version] = servable
                if kept:
                    updated[name] = kept
            for name, servables in current.items():
                for version in set(servables) - set(updated.get(name, {})):
                    self.log(f"unloaded {name} version {version}")
            with self._lock:
                self._servables = updated

    def _load(self, name: str, version: int) -> Servable | None:
        path = self.export_root / name / str(version)
        try:
            servable = Servable(name, version, path)
        except Exception as e:  # a version being copied in by hand, a corrupt file
            if path not in self._failed:
                self.log(f"could not load {name} version {version} from {path}: {e}")
                self._failed.add(path)
            return None
        self._failed.discard(path)
        self.log(f"loaded {name} version {version} from {path}")
        return servable

    def watch(self, interval: float = 1.0) -> None:
        """Refreshes every ``interval`` seconds in a daemon thread until :meth:`close`."""
        self._stop.clear()

        def loop():
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except (TfrecError, OSError) as e:  # the root went away; keep what is loaded
                    self.log(f"could not scan {self.export_root}: {e}")

        self._watcher = threading.Thread(target=loop, name="tfrec-model-watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stops watching the export root."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None

    def models(self) -> dict[str, list[int]]:
        """``{name: loaded versions}``."""
        with self._lock:
            return {name: sorted(versions) for name, versions in self._servables.items()}

    def versions(self, name: str, version: int | None = None) -> list[int]:
        """The loaded versions of a model (or the one asked for); 404 if none."""
        loaded = self.models().get(name)
        if not loaded:
            raise ServingError(f"Could not find any versions of model {name}", 404)
        if version is None:
            return loaded
        if version not in loaded:
            raise ServingError(f"Could not find version {version} of model {name}", 404)
        return [version]

    def get(self, name: str, version: int | None = None) -> Servable:
        """A loaded version: the newest unless one is asked for; 404 if absent."""
        with self._lock:
            servables = self._servables.get(name, {})
            if version is None and servables:
                return servables[max(servables)]
            if version in servables:
                return servables[version]
        wanted = f"Latest({name})" if version is None else f"Specific({name}, {version})"
        raise ServingError(f"Servable not found for request: {wanted}", 404)
