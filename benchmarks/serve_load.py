"""Load test of `textrnn serve` on 127.0.0.1: requests per second and p50 / p99 latency for single
short reviews and for batches of 32 reviews, with 1, 8 and 64 concurrent clients (keep-alive
connections, each client sending its next request when the previous one is answered). Every
setting runs for a bounded time; the server is started and stopped by the script.

    python benchmarks/serve_load.py RUN_DIR [--seconds 10] [--workers 1]
"""

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone

SHORT = "A moving, funny film with a superb cast."
REVIEW = ("I went in expecting little, but the story grew on me: the acting is strong, the score is "
          "lovely and the last half hour is genuinely moving, even if the middle drags a bit.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(port: int, body: bytes, stop: float, latencies: list, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.perf_counter() < stop:
        start = time.perf_counter()
        try:
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
        except OSError as exc:
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        latencies.append(time.perf_counter() - start)
    conn.close()


def run_setting(port: int, texts: list[str], clients: int, seconds: float) -> dict:
    body = json.dumps({"texts": texts}).encode()
    latencies: list[float] = []
    errors: list = []
    stop = time.perf_counter() + seconds
    threads = [threading.Thread(target=_client, args=(port, body, stop, latencies, errors))
               for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"requests": len(latencies), "rps": len(latencies) / seconds,
            "reviews_per_s": len(latencies) * len(texts) / seconds,
            "p50_ms": 1000 * q[49], "p99_ms": 1000 * q[98], "errors": len(errors)}


def start_server(run_dir: str, workers: int = 1) -> tuple[subprocess.Popen, int]:
    """`textrnn serve run_dir` on a free loopback port, once /health answers (at most 60 s)."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "textrnn", "serve", run_dir, "--port", str(port),
                               "--workers", str(workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return server, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    server, port = start_server(args.run_dir, args.workers)
    try:
        print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, "
              f"{os.cpu_count()} cores, server workers: {args.workers}, {args.seconds:.0f} s per setting")
        print("| payload | clients | requests/s | reviews/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|---|")
        for name, texts in (("1 short review", [SHORT]), ("batch of 32 reviews", [REVIEW] * 32)):
            run_setting(port, texts, 1, 1.0)  # warm-up
            for clients in (1, 8, 64):
                r = run_setting(port, texts, clients, args.seconds)
                print(f"| {name} | {clients} | {r['rps']:.1f} | {r['reviews_per_s']:.0f} | "
                      f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |", flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
