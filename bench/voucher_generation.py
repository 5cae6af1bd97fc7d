"""Time `loyalty vouchers generate` for a large batch, as an operator runs it.

    python -m bench.voucher_generation [--count 100000] [--issue]

Uses DATABASE_URL (or the embedded server), creates a throw-away account and batch, runs the real
command in a subprocess, then `loyalty ledger verify` on the account. Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LOYALTY = str(Path(sys.executable).with_name("loyalty"))


def loyalty(*args: str) -> Any:
    completed = subprocess.run(
        [LOYALTY, *args], capture_output=True, text=True, check=True, env=os.environ.copy()
    )
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--issue", action="store_true")
    options = parser.parse_args()
    account = loyalty("account", "create", "--name", "Bench: voucher generation")["id"]
    batch = loyalty(
        "vouchers",
        "batch",
        "create",
        account,
        "--name",
        "Bench certificates",
        "--type",
        "GIFT",
        "--face-value-minor",
        "100000",
        "--expiry",
        "dynamic:365",
    )["id"]
    command = ["vouchers", "generate", batch, "--count", str(options.count)]
    if options.issue:
        command.append("--issue")
    started = time.perf_counter()
    generated = loyalty(*command)
    wall_seconds = time.perf_counter() - started
    verified = loyalty("ledger", "verify", account)
    print(
        json.dumps(
            {
                "command": "loyalty " + " ".join(command),
                "count": generated["count"],
                "issued": generated["issued"],
                "command_seconds": generated["elapsed_seconds"],
                "wall_seconds_with_process_start": round(wall_seconds, 2),
                "codes_per_second": round(generated["count"] / generated["elapsed_seconds"]),
                "ledger_verify_ok": verified["ok"],
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
