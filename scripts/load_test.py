"""Load test of `tfrec serve`: concurrent clients, bad requests, a version switch.

Trains `mf` on synthetic data, exports it, starts `tfrec serve` as a
subprocess on a free loopback port, and drives it with ``--clients``
threads for ``--seconds``: 90% valid ``recommend`` requests (random known
users, k=10) and 10% invalid ones (malformed JSON, unknown input names,
non-numeric strings as IDs, unknown signatures). Halfway through, version 2 is exported
into the served root. The RSS baseline is taken after 5 s of the same load
(threads, connections and TensorFlow's buffers settle). Prints throughput,
latency percentiles of the valid requests, answers by kind, the server's
RSS before and after, and when version 2 was first served; the last line is one JSON object.

    python scripts/load_test.py [--clients 32] [--seconds 60]

Passes when no valid request failed, every invalid one got 400, the server's
RSS grew by at most 10%, and version 2 answered before the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import tfrec
from tfrec.serving import Client

INVALID = [
    b"{not json",
    b'{"signature_name": "recommend", "instances": [{"user": 1, "k": 10}]}',
    b'{"signature_name": "recommend", "instances": [{"user_id": "x", "k": 10}]}',
    b'{"signature_name": "nope", "instances": [{"user_id": 1, "k": 10}]}',
]


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "tfrec.cli",
        "serve",
        "--export-root",
        str(root),
        "--port",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 120)
    line = process.stdout.readline() if ready else ""
    match = re.search(r"on (http://127\.0\.0\.1:(\d+))", line)
    if not match:
        process.kill()
        raise SystemExit(f"tfrec serve did not start: {line!r}")
    return process, match[1]


class Driver:
    """Client threads on keep-alive connections; counts answers by kind."""

    def __init__(self, port: int, users: np.ndarray, deadline: float, seed: int):
        self.port, self.users, self.deadline = port, users, deadline
        self.latencies: list[float] = []
        self.counts: dict[str, int] = {}
        self.first_v2: float | None = None
        self.lock = threading.Lock()
        self.seed = seed

    def run(self, index: int) -> None:
        rng = random.Random(self.seed + index)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.monotonic() < self.deadline:
            valid = rng.random() >= 0.1
            if valid:
                user = int(self.users[rng.randrange(len(self.users))])
                body = json.dumps(
                    {"signature_name": "recommend", "instances": [{"user_id": user, "k": 10}]}
                ).encode()
            else:
                body = rng.choice(INVALID)
            started = time.perf_counter()
            try:
                connection.request("POST", "/v1/models/mf:predict", body)
                response = connection.getresponse()
                response.read()  # drain it so the connection can be reused
                status = response.status
            except (OSError, http.client.HTTPException) as e:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self._count(
                    f"{'valid' if valid else 'invalid'} connection error {type(e).__name__}"
                )
                continue
            elapsed = time.perf_counter() - started
            if valid and status == 200:
                kind = "valid ok"
                with self.lock:
                    self.latencies.append(elapsed)
            elif valid:
                kind = f"valid failed {status}"
            else:
                kind = "invalid 400" if status == 400 else f"invalid got {status}"
            self._count(kind)
        connection.close()

    def watch_version(self, url: str) -> None:
        client = Client(url)
        while time.monotonic() < self.deadline and self.first_v2 is None:
            if 2 in [int(v["version"]) for v in client.status("mf")["model_version_status"]]:
                self.first_v2 = time.monotonic()
            time.sleep(0.05)

    def _count(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1


def _run_all(threads) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    split = tfrec.split(tfrec.load_dataset("synthetic"), "temporal")
    model = tfrec.get_model("mf", epochs=3).fit(split)
    with tempfile.TemporaryDirectory(prefix="tfrec-load-") as scratch:
        root = Path(scratch)
        model.export(root)
        process, url = start_server(root)
        try:
            Client(url).wait_until_available("mf", timeout=60)
            port = int(url.rsplit(":", 1)[1])
            # Warm up with every client for a few seconds, then take the RSS baseline.
            warmup = Driver(port, model.user_ids, time.monotonic() + 5.0, args.seed + 10_000)
            _run_all([threading.Thread(target=warmup.run, args=(i,)) for i in range(args.clients)])
            rss_before = rss_mb(process.pid)
            start = time.monotonic()
            driver = Driver(port, model.user_ids, start + args.seconds, args.seed)
            threads = [threading.Thread(target=driver.run, args=(i,)) for i in range(args.clients)]
            threads.append(threading.Thread(target=driver.watch_version, args=(url,)))
            for thread in threads:
                thread.start()
            time.sleep(args.seconds / 2)
            exported_at = time.monotonic()
            model.export(root)  # version 2, renamed into place when complete
            print(f"exported version 2 at {exported_at - start:.1f} s", flush=True)
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - start
            rss_after = rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)

    latencies = np.array(driver.latencies) * 1000
    valid_failed = sum(
        n for kind, n in driver.counts.items() if kind.startswith("valid") and kind != "valid ok"
    )
    invalid_other = sum(
        n
        for kind, n in driver.counts.items()
        if kind.startswith("invalid") and kind != "invalid 400"
    )
    figures = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": sum(driver.counts.values()),
        "requests_per_s": round(sum(driver.counts.values()) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "answers": dict(sorted(driver.counts.items())),
        "valid_failed": valid_failed,
        "invalid_not_400": invalid_other,
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
        "rss_growth": round(rss_after / rss_before - 1, 4),
        "version2_served_after_export_s": (
            round(driver.first_v2 - exported_at, 2) if driver.first_v2 else None
        ),
    }
    figures["passed"] = bool(
        valid_failed == 0
        and invalid_other == 0
        and figures["rss_growth"] <= 0.10
        and driver.first_v2 is not None
    )
    for key, value in figures.items():
        print(f"{key:>32}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
