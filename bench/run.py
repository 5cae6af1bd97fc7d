"""The performance benchmark, end to end, with ceilings measured in the same run.

    .venv/bin/python -m bench.run                 # full run (minutes), writes bench/results/
    .venv/bin/python -m bench.run --quick         # a short smoke run

Every figure is measured against ceilings taken on the same machine in the same run
(guide §6): C0 a bare ASGI echo, C1 FastAPI with the same models, C3 the recorded SQL of a
commit replayed straight to PostgreSQL (bench/commit_sql.py says why not pgbench). Latency
comes from open-loop runs at fixed rates (measured from the intended send time); maxima from
closed-loop runs. After the run `loyalty ledger verify` must be green.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench import commit_sql, loadgen
from bench.scenarios import TOKEN_HEADER, Workload
from bench.seed import Seeded, plain_url, run_seed
from loyalty.config import Settings
from loyalty.db.embedded import start_embedded
from loyalty.db.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass
class Figure:
    name: str
    throughput_per_second: float
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    errors: int = 0
    requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, path: str = "/healthz", seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                if connection.recv(16).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


@contextmanager
def served(
    command: list[str], port: int, environment: dict[str, str], health: str = "/healthz"
) -> Iterator[psutil.Process]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = (RESULTS / "server.log").open("ab")
    process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=log, stderr=log)
    try:
        wait_for(port, health)
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def tree_cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def postgres_cpu_seconds() -> float:
    total = 0.0
    for member in psutil.process_iter(["name"]):
        if member.info["name"] and member.info["name"].startswith("postgres"):
            try:
                times = member.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
    return total


def figure(name: str, result: loadgen.RunResult, kind: str | None = None, **extra: Any) -> Figure:
    return Figure(
        name=name,
        throughput_per_second=round(result.throughput(kind), 1),
        p50_ms=round(result.percentile_ms(0.50, kind), 2),
        p99_ms=round(result.percentile_ms(0.99, kind), 2),
        p999_ms=round(result.percentile_ms(0.999, kind), 2),
        errors=result.errors(kind),
        requests=len(result.of(kind)),
        extra=extra,
    )


def closed(
    port: int,
    flows: Callable[[int], tuple[str, loadgen.Flow]],
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
) -> loadgen.RunResult:
    return loadgen.run(
        loadgen.closed_loop(
            "127.0.0.1",
            port,
            flows,
            connections=connections,
            seconds=seconds,
            warmup_seconds=min(3.0, seconds / 4),
            headers=headers,
        )
    )


def opened(
    port: int,
    flows: Callable[[int], tuple[str, loadgen.Flow]],
    headers: dict[str, str],
    *,
    rate: float,
    seconds: float,
    connections: int,
) -> loadgen.RunResult:
    return loadgen.run(
        loadgen.open_loop(
            "127.0.0.1",
            port,
            flows,
            rate_per_second=rate,
            seconds=seconds,
            connections=connections,
            headers=headers,
        )
    )


async def database_facts(url: str) -> dict[str, Any]:
    connection = await asyncpg.connect(plain_url(url))
    try:
        settings = {
            name: await connection.fetchval(f"SHOW {name}")
            for name in (
                "server_version",
                "fsync",
                "synchronous_commit",
                "shared_buffers",
                "max_connections",
            )
        }
        entries = await connection.fetchval("SELECT count(*) FROM ledger_entry")
        size = await connection.fetchval("SELECT pg_total_relation_size('ledger_entry')")
        return settings | {
            "ledger_entries": entries,
            "ledger_entry_bytes_with_indexes": size,
            "bytes_per_ledger_entry": round(size / entries, 1) if entries else None,
        }
    finally:
        await connection.close()


def database(args: argparse.Namespace) -> tuple[str, str]:
    """(admin URL, benchmark database URL): DATABASE_URL's server, else the embedded one."""
    admin = os.environ.get("DATABASE_URL") or start_embedded(
        ROOT / "var" / "bench-postgres", database="postgres"
    )
    admin = Settings(DATABASE_URL=admin).require_database_url()
    name = f"loyalty_bench_{int(time.time())}"

    async def create() -> None:
        connection = await asyncpg.connect(plain_url(admin))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    head, _, tail = admin.partition("?")
    url = head.rsplit("/", 1)[0] + f"/{name}" + (f"?{tail}" if tail else "")
    upgrade_to_head(Settings(DATABASE_URL=url))
    return admin, url


def small_seeded_database(args: argparse.Namespace) -> tuple[str, str, Seeded]:
    """(admin URL, database URL, what was seeded): `database(args)` with `args.customers`
    customers and ten ledger entries each, the comparison tools' database."""
    admin, url = database(args)
    seeded = run_seed(
        url,
        customers=args.customers,
        ledger_entries=args.customers * 10,
        settings=Settings(DATABASE_URL=url),
    )
    return admin, url, seeded


def checked_trees(parser: argparse.ArgumentParser, trees: list[Path]) -> list[Path]:
    """The checkouts to compare, resolved; the parser refuses one without the service's code."""
    resolved = [tree.resolve() for tree in trees]
    for tree in resolved:
        if not (tree / "src" / "loyalty").is_dir():
            parser.error(f"{tree} holds no src/loyalty")
    return resolved


RECOVERY_SECONDS = 10.0


def overload_figures(
    port: int,
    workload: Workload,
    headers: dict[str, str],
    sales: float,
    seconds: float,
    connections: int,
) -> dict[str, Figure]:
    """150 % of the maximum sale rate, then 50 %: the accepted sales keep p99 under 2 s, the
    excess gets fast 503s, and from 10 s after the overload the service is within its SLO."""
    overload = opened(
        port,
        workload.mixed(10),
        headers,
        rate=max(1.0, sales * 1.5 * 1.2),
        seconds=seconds,
        connections=connections * 8,
    )
    recovery = opened(
        port,
        workload.mixed(10),
        headers,
        rate=max(1.0, sales * 0.5 * 1.2),
        seconds=RECOVERY_SECONDS + seconds,
        connections=connections * 2,
    )

    def accepted(sample: loadgen.Sample) -> bool:
        return sample.outcome == "ok"

    def shed(sample: loadgen.Sample) -> bool:
        return "503" in sample.outcome

    later = recovery.where(
        lambda sample: sample.intended_at_seconds >= RECOVERY_SECONDS,
        from_seconds=RECOVERY_SECONDS,
    )
    return {
        "overload_accepted": figure(
            "overload at 150 % of max sales: accepted",
            overload.where(accepted),
            "sale",
            target_rate=round(sales * 1.5, 1),
            offered=len(overload.of("sale")),
        ),
        "overload_shed": figure(
            "overload at 150 % of max sales: refused with 503", overload.where(shed), "sale"
        ),
        "recovered": figure(
            f"50 % of max sales, from {int(RECOVERY_SECONDS)} s after the overload",
            later,
            "sale",
            target_rate=round(sales * 0.5, 1),
        ),
    }


def drop_database(admin: str, url: str) -> None:
    """A run's database goes when the run ends (each holds gigabytes at full size)."""
    name = url.partition("?")[0].rsplit("/", 1)[1]

    async def drop() -> None:
        connection = await asyncpg.connect(plain_url(admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small data, short runs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument(
        "--keep-database", action="store_true", help="keep the run's database for inspection"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.customers, args.entries = 4.0, 2_000, 20_000

    admin_url, url = database(args)
    try:
        measure(args, url)
    finally:
        if not args.keep_database:
            drop_database(admin_url, url)


def measure(args: argparse.Namespace, url: str) -> None:
    settings = Settings(DATABASE_URL=url)
    started = time.time()
    seeded = run_seed(url, customers=args.customers, ledger_entries=args.entries, settings=settings)
    seed_seconds = round(time.time() - started, 1)
    workload = Workload(seeded.customer_ids, seeded.weights)
    headers = {TOKEN_HEADER: seeded.token}
    python = sys.executable
    environment = os.environ | {
        "DATABASE_URL": url,
        "LOYALTY_ACCESS_LOG": "false",
        "LOYALTY_LOG_LEVEL": "WARNING",
        "LOYALTY_DATABASE_POOL_SIZE": str(max(8, args.connections // args.workers)),
    }
    figures: dict[str, Figure] = {}
    seconds, connections = args.seconds, args.connections

    # Ceilings C0 and C1, same server, workers and payload (a 10-position recalc).
    for name, factory in (("C0", "bench.ceilings:c0_app"), ("C1", "bench.ceilings:c1_app")):
        port = free_port()
        command = [
            python,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        with served(command, port, environment, health="/loyalty/retaildemand/recalc"):
            figures[name] = figure(
                name,
                closed(
                    port,
                    workload.recalc_only(10),
                    headers,
                    connections=connections,
                    seconds=seconds,
                ),
            )

    # Ceiling C3: the SQL of one recorded commit, replayed straight to PostgreSQL.
    script = commit_sql.capture_commit(url, seeded, workload)
    replayed = commit_sql.replay(url, script, seeded, connections=connections, seconds=seconds)
    figures["C3"] = figure(
        "C3 commit SQL replayed to PostgreSQL",
        replayed.as_run_result(),
        statements_per_commit=len(script.statements),
    )

    port = free_port()
    command = [
        python,
        "-m",
        "loyalty",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--no-migrate",
    ]
    with served(command, port, environment) as service:
        # Warm-up, not recorded: connections opened, statements prepared, caches filled.
        closed(port, workload.mixed(10), headers, connections=connections, seconds=min(5, seconds))
        for size in (1, 10, 100):
            figures[f"recalc_{size}"] = figure(
                f"recalc {size} positions",
                closed(
                    port,
                    workload.recalc_only(size),
                    headers,
                    connections=connections,
                    seconds=seconds,
                ),
            )
        # The recalc target's latency half: p99 at 70 % of the recalc maximum, open loop.
        recalc_rate = figures["recalc_10"].throughput_per_second * 0.70
        figures["recalc_10_open_70"] = figure(
            "recalc 10 positions, open loop at 70 % of its max",
            opened(
                port,
                workload.recalc_only(10),
                headers,
                rate=max(1.0, recalc_rate),
                seconds=seconds,
                connections=connections * 2,
            ),
            target_rate=round(recalc_rate, 1),
        )
        figures["commit_10"] = figure(
            "commit 10 positions",
            closed(
                port, workload.commit_only(10), headers, connections=connections, seconds=seconds
            ),
        )
        cpu_app, cpu_db = tree_cpu_seconds(service), postgres_cpu_seconds()
        mixed = closed(port, workload.mixed(10), headers, connections=connections, seconds=seconds)
        cpu_app, cpu_db = tree_cpu_seconds(service) - cpu_app, postgres_cpu_seconds() - cpu_db
        sales = mixed.throughput("sale")
        figures["sales_max"] = figure(
            "full sale flow, closed loop (mix)",
            mixed,
            "sale",
            cpu_ms_per_sale=round((cpu_app + cpu_db) * 1000 / max(1, sales * mixed.seconds), 2),
            app_cpu_ms_per_sale=round(cpu_app * 1000 / max(1, sales * mixed.seconds), 2),
            db_cpu_ms_per_sale=round(cpu_db * 1000 / max(1, sales * mixed.seconds), 2),
            all_requests_per_second=round(mixed.throughput(), 1),
            duplicate_p50_ms=round(mixed.percentile_ms(0.50, "duplicate"), 2),
            errors_all=mixed.errors(),
        )
        steps = []
        for share in (0.10, 0.25, 0.50, 0.70, 0.85, 0.95):
            run = opened(
                port,
                workload.mixed(10),
                headers,
                rate=max(1.0, sales * share * 1.2),
                seconds=seconds,
                connections=connections * 2,
            )
            steps.append(
                figure(
                    f"open loop at {int(share * 100)} % of max sales",
                    run,
                    "sale",
                    target_rate=round(sales * share, 1),
                )
            )
        figures.update({f"open_{step.extra['target_rate']}": step for step in steps})
        figures.update(overload_figures(port, workload, headers, sales, seconds, connections))
        hot = workload.customer_ids[0]
        figures["hot_customer"] = figure(
            "one hot customer, 50 concurrent spends",
            closed(
                port, workload.hot_customer_spend(hot), headers, connections=50, seconds=seconds
            ),
        )
        figures["uncontended_spend"] = figure(
            "spends over all customers, 50 concurrent",
            closed(port, workload.commit_only(1), headers, connections=50, seconds=seconds),
        )
    facts = asyncio.run(database_facts(url))
    verify = subprocess.run(
        [python, "-m", "loyalty", "ledger", "verify"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = {
        "command": " ".join([".venv/bin/python -m bench.run", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "database": facts,
        "seed": {
            "customers": args.customers,
            "ledger_entries": seeded.ledger_entries,
            "seconds": seed_seconds,
        },
        "workers": args.workers,
        "connections": connections,
        "seconds_per_run": seconds,
        "figures": {key: asdict(value) for key, value in figures.items()},
        "ratios": ratios(figures),
        "ledger_verify_ok": verify.returncode == 0,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (RESULTS / f"{stamp}.md").write_text(markdown(report))
    print(markdown(report))


SLO_P99_MS = 50.0


def ratios(figures: dict[str, Figure]) -> dict[str, float | None]:
    """The guide's ratios; each compares figures measured in this same run."""

    def p99(key: str) -> float | None:
        return figures[key].p99_ms if key in figures and figures[key].requests else None

    def ratio(top: str, bottom: str) -> float | None:
        if top not in figures or bottom not in figures or not figures[bottom].throughput_per_second:
            return None
        return round(figures[top].throughput_per_second / figures[bottom].throughput_per_second, 3)

    steps = sorted(
        (figure for key, figure in figures.items() if key.startswith("open_")),
        key=lambda figure: figure.extra["target_rate"],
    )
    within_slo = [step for step in steps if step.p99_ms <= SLO_P99_MS and not step.errors]
    at_slo = max((step.throughput_per_second for step in within_slo), default=0.0)
    c3 = figures.get("C3")
    sales = figures.get("sales_max")
    commit = figures.get("commit_10")
    tail = None
    if len(steps) >= 4 and steps[0].p50_ms:
        tail = round(steps[3].p99_ms / steps[0].p50_ms, 2)  # 70 % step over 10 % step
    replay = None
    if sales is not None and commit is not None and commit.p50_ms:
        replay = round(sales.extra.get("duplicate_p50_ms", 0.0) / commit.p50_ms, 3)
    return {
        "R1 framework tax (C1/C0)": ratio("C1", "C0"),
        "recalc 10 / C1": ratio("recalc_10", "C1"),
        "R3 write efficiency (commit 10 / C3)": ratio("commit_10", "C3"),
        "R4 sales at SLO / C3": (
            round(at_slo / c3.throughput_per_second, 3)
            if c3 is not None and c3.throughput_per_second
            else None
        ),
        "sales/s at SLO (p99 <= 50 ms, open loop)": round(at_slo, 1),
        "R5 tail amplification (p99 at 70 % / p50 at 10 %)": tail,
        "R6 hot customer retention": ratio("hot_customer", "uncontended_spend"),
        "R7 CPU ms per sale (app + PostgreSQL)": (
            sales.extra.get("cpu_ms_per_sale") if sales is not None else None
        ),
        "R8 replay overhead (duplicate p50 / commit p50)": replay,
        "recalc 10 p99 ms at 70 % of its max (target <= 10)": p99("recalc_10_open_70"),
        "overload: accepted sales p99 ms (target < 2000)": p99("overload_accepted"),
        "overload: refused sales p99 ms (fast 503)": p99("overload_shed"),
        "10 s after overload: p99 ms (target <= 50)": p99("recovered"),
    }


def markdown(report: dict[str, Any]) -> str:
    database, machine = report["database"], report["machine"]
    verified = "green" if report["ledger_verify_ok"] else "FAILED"
    lines = [
        f"Command: `{report['command']}`",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}; "
        f"PostgreSQL {database['server_version']} (fsync={database['fsync']}, "
        f"synchronous_commit={database['synchronous_commit']}); {report['workers']} workers.",
        "",
        "| Run | per second | p50 ms | p99 ms | p99.9 ms | errors | requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for value in report["figures"].values():
        cells = [
            value[key]
            for key in (
                "name",
                "throughput_per_second",
                "p50_ms",
                "p99_ms",
                "p999_ms",
                "errors",
                "requests",
            )
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    lines += ["", "| Ratio | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in report["ratios"].items()]
    lines += [
        "",
        f"Bytes per ledger entry (indexes included): {database['bytes_per_ledger_entry']}.",
        f"`loyalty ledger verify` after the run: {verified}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
