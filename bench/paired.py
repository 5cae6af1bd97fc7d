"""Two versions of the service, alternated on one seeded database: the figure for a change
whose gain is smaller than the machine's drift between two full runs.

    git worktree add /tmp/before <commit>
    .venv/bin/python -m bench.paired /tmp/before . --operation commit --rounds 3

Each round serves every tree in turn, in the reverse order every other round (`loyalty serve
--workers N`, the tree's own `src` first on the path) and runs the same closed loop against
it; the workload's random stream differs per run, so no run replays another's sale ids.
Reported per run: throughput, the machine's CPU per operation without the load generator's,
PostgreSQL's share of it (its processes' CPU, exact while no connection is opened or closed
during the run), the service's own processes' CPU per operation (the figure least moved by
the generator and the database sharing the cores: compare it with `--workers 1`) and the
connections the service opened during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import psutil

from bench.loadgen import Flow
from bench.run import (
    checked_trees,
    closed,
    drop_database,
    free_port,
    postgres_cpu_seconds,
    small_seeded_database,
    tree_cpu_seconds,
    wait_for,
)
from bench.scenarios import TOKEN_HEADER, Workload
from bench.seed import plain_url

POOL_SIZE = 16  # as bench.run sets it for 32 connections over 2 workers


def machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system + times.nice + times.irq + times.softirq)


def own_cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def sessions_opened(url: str) -> int:
    """Connections the server has accepted into this database so far."""

    async def read() -> int:
        connection = await asyncpg.connect(plain_url(url))
        try:
            count: int = await connection.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            )
            return count
        finally:
            await connection.close()

    return asyncio.run(read())


def flows_for(
    workload: Workload, operation: str, hot_customer: str
) -> Callable[[int], tuple[str, Flow]]:
    if operation == "recalc":
        return workload.recalc_only(10)
    if operation == "commit":
        return workload.commit_only(10)
    if operation == "hot":
        return workload.hot_customer_spend(hot_customer)
    return workload.mixed(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trees", nargs="+", type=Path, help="checkouts of the versions to compare")
    parser.add_argument("--operation", choices=("mix", "recalc", "commit", "hot"), default="mix")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--in-flight",
        type=int,
        help="LOYALTY_MAX_REQUESTS_IN_FLIGHT for every tree (default: each version's own)",
    )
    args = parser.parse_args()
    trees = checked_trees(parser, args.trees)

    admin_url, url, seeded = small_seeded_database(args)
    headers = {TOKEN_HEADER: seeded.token}
    connections = 50 if args.operation == "hot" else 32
    try:
        for round_number in range(args.rounds):
            # The order turns every round: on this machine the later run of a round was the
            # faster in six of seven pairs (seventh round), whichever tree it served.
            order = list(enumerate(trees))
            if round_number % 2:
                order.reverse()
            for tree_number, tree in order:
                port = free_port()
                environment = os.environ | {
                    "DATABASE_URL": url,
                    "LOYALTY_ACCESS_LOG": "false",
                    "LOYALTY_LOG_LEVEL": "WARNING",
                    "PYTHONPATH": str(tree / "src"),
                    "LOYALTY_DATABASE_POOL_SIZE": str(POOL_SIZE),
                }
                if args.in_flight:
                    environment["LOYALTY_MAX_REQUESTS_IN_FLIGHT"] = str(args.in_flight)
                command = [sys.executable, "-m", "loyalty", "serve", "--port", str(port)]
                service = subprocess.Popen(
                    [*command, "--workers", str(args.workers), "--no-migrate"],
                    env=environment,
                    cwd=tree,
                )
                try:
                    wait_for(port)
                    workload = Workload(
                        seeded.customer_ids,
                        seeded.weights,
                        seed=time.time_ns() + 1000 * round_number + tree_number,
                    )
                    flows = flows_for(workload, args.operation, seeded.customer_ids[0])
                    closed(port, flows, headers, connections=connections, seconds=3)  # warm-up
                    sessions = sessions_opened(url)
                    serving = psutil.Process(service.pid)
                    busy, generator, postgres, own = (
                        machine_busy_seconds(),
                        own_cpu_seconds(),
                        postgres_cpu_seconds(),
                        tree_cpu_seconds(serving),
                    )
                    result = closed(
                        port, flows, headers, connections=connections, seconds=args.seconds
                    )
                    operations = max(1, len(result.samples))
                    service_and_database = (machine_busy_seconds() - busy) - (
                        own_cpu_seconds() - generator
                    )
                    postgres_ms = (postgres_cpu_seconds() - postgres) * 1000 / operations
                    service_ms = (tree_cpu_seconds(serving) - own) * 1000 / operations
                    opened = sessions_opened(url) - sessions - 1  # less this look's own
                    errors = collections.Counter(
                        sample.outcome for sample in result.samples if sample.outcome != "ok"
                    )
                    print(
                        f"round {round_number} {tree}: {result.throughput():.1f}/s,"
                        f" {service_and_database * 1000 / operations:.2f} ms CPU per"
                        f" {args.operation} (PostgreSQL {postgres_ms:.2f},"
                        f" service {service_ms:.2f}),"
                        f" {opened} connections opened, errors {dict(errors)}",
                        flush=True,
                    )
                finally:
                    service.terminate()
                    service.wait()
    finally:
        drop_database(admin_url, url)


if __name__ == "__main__":
    main()
