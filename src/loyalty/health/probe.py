"""The container health check: `python -m loyalty.health.probe [--path /readyz]`.

Exits 0 when the local server answers 200. Standard library only, because it runs every few
seconds: importing the application for it would cost more than the check.
"""

from __future__ import annotations

import argparse
import os
import urllib.error
import urllib.request

_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}


def probe_url(path: str, host: str | None, port: str | None) -> str:
    target = host if host not in _ANY_ADDRESS and host is not None else "127.0.0.1"
    if ":" in target and not target.startswith("["):
        target = f"[{target}]"
    return f"http://{target}:{port or '8000'}{path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--port", default=os.environ.get("LOYALTY_PORT"))
    arguments = parser.parse_args(argv)
    url = probe_url(arguments.path, os.environ.get("LOYALTY_HOST"), arguments.port)
    try:
        with urllib.request.urlopen(url, timeout=arguments.timeout) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError, ValueError):
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
