"""Soak test of `textrnn serve` on 127.0.0.1: many clients mixing /predict and /explain for minutes.
Reports requests and errors per endpoint, p50 / p99 latency, and the server's resident memory
(VmRSS) after warm-up and at the end: 0 errors and flat memory are the goal. The server is started
and stopped by the script; every client stops at the deadline.

    python benchmarks/serve_soak.py RUN_DIR [--minutes 10] [--clients 64] [--explain-share 0.1]
"""

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import threading
import time
from datetime import datetime, timezone

from serve_load import REVIEW, SHORT, start_server


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _client(port: int, seed: int, share: float, stop: float, results: dict, lock: threading.Lock) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while time.perf_counter() < stop:
        endpoint = "/explain" if rng.random() < share else "/predict"
        body = {"text": REVIEW} if endpoint == "/explain" else {"texts": [SHORT, REVIEW]}
        start = time.perf_counter()
        try:
            conn.request("POST", endpoint, json.dumps(body).encode(), {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        with lock:
            entry = results[endpoint]
            entry["latencies"].append(time.perf_counter() - start)
            entry["errors"] += 0 if ok else 1
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--explain-share", type=float, default=0.1)
    args = parser.parse_args()
    server, port = start_server(args.run_dir)
    try:
        results = {e: {"latencies": [], "errors": 0} for e in ("/predict", "/explain")}
        lock = threading.Lock()
        warm = time.perf_counter() + 5
        threads = [threading.Thread(target=_client, args=(port, k, args.explain_share, warm, results, lock))
                   for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rss_start = _rss_mb(server.pid)
        results = {e: {"latencies": [], "errors": 0} for e in ("/predict", "/explain")}
        stop = time.perf_counter() + 60 * args.minutes
        samples: list[float] = []

        def sample_rss() -> None:  # once a minute, to tell a plateau from a leak
            while time.perf_counter() < stop - 1:
                time.sleep(min(60.0, max(0.0, stop - 1 - time.perf_counter())))
                samples.append(_rss_mb(server.pid))

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=_client, args=(port, k, args.explain_share, stop, results, lock))
                   for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rss_end = _rss_mb(server.pid)
        print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, machine: {platform.machine()}, "
              f"{os.cpu_count()} cores; {args.clients} clients, {args.minutes:g} min, "
              f"{100 * args.explain_share:.0f} % /explain; run {args.run_dir}")
        print("| endpoint | requests | errors | p50 ms | p99 ms |")
        print("|---|---|---|---|---|")
        for endpoint, entry in results.items():
            lat = sorted(entry["latencies"])
            q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
            print(f"| {endpoint} | {len(lat)} | {entry['errors']} | {1000 * q[49]:.0f} | "
                  f"{1000 * q[98]:.0f} |")
        print(f"server RSS after warm-up {rss_start:.0f} MB, at the end {rss_end:.0f} MB; each minute: "
              + ", ".join(f"{v:.0f}" for v in samples))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
