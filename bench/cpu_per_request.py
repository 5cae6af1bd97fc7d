"""CPU cost of one request in the service process, the figure behind each hot-path change.

    .venv/bin/python -m bench.cpu_per_request recalc|commit [--seconds 8] [--repeat 3]

Throughput on a shared 2-core machine moves with whatever else runs; the CPU-seconds the
service's worker spends per request barely does, so changes to the hot path are compared by
this figure. One worker, 16 connections, a 10-position receipt, Zipf-chosen customers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import psutil

from bench.run import (
    closed,
    drop_database,
    free_port,
    small_seeded_database,
    tree_cpu_seconds,
    wait_for,
)
from bench.scenarios import TOKEN_HEADER, Workload

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("operation", choices=("recalc", "commit"))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--customers", type=int, default=2_000)
    args = parser.parse_args()

    admin_url, url, seeded = small_seeded_database(args)
    port = free_port()
    environment = os.environ | {
        "DATABASE_URL": url,
        "LOYALTY_ACCESS_LOG": "false",
        "LOYALTY_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "loyalty", "serve", "--port", str(port), "--workers", "1"]
    service = subprocess.Popen([*command, "--no-migrate"], env=environment, cwd=ROOT)
    try:
        wait_for(port)
        worker = psutil.Process(service.pid)
        workload = Workload(seeded.customer_ids, seeded.weights)
        flows = workload.recalc_only(10) if args.operation == "recalc" else workload.commit_only(10)
        headers = {TOKEN_HEADER: seeded.token}
        closed(port, flows, headers, connections=16, seconds=2)  # warm-up
        for _ in range(args.repeat):
            before = tree_cpu_seconds(worker)
            result = closed(port, flows, headers, connections=16, seconds=args.seconds)
            spent = tree_cpu_seconds(worker) - before
            requests = len(result.samples)
            print(
                f"{args.operation}: {spent * 1000 / max(1, requests):.2f} ms service CPU"
                " per request,"
                f" {result.throughput():.0f}/s, {result.errors()} errors",
                flush=True,
            )
    finally:
        service.terminate()
        service.wait()
        drop_database(admin_url, url)


if __name__ == "__main__":
    main()
