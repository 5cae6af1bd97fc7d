"""Schemathesis generates valid and invalid requests from the published OpenAPI document and
checks every answer: no server error, documented status codes and shapes, bad input refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loyalty.operators.schemas import Role
from tests.conftest import Tenant
from tests.support.vouchers import operator_key

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 600 if os.environ.get("CHAOS_SCALE") == "full" else 60


@pytest.mark.timeout(SECONDS * 2 + 300)
@pytest.mark.parametrize("api", ["loyalty", "operator"])
def test_every_api_survives_generated_requests(api: str, tenant: Tenant, tmp_path: Path) -> None:
    if api == "loyalty":
        paths, header = "^/loyalty/", f"Lognex-Discount-API-Auth-Token: {tenant.token}"
    else:
        # The operator API and the compatibility APIs, with an admin key of the same account.
        paths = "^/(api/v1|compat)/"
        header = f"Authorization: Bearer {operator_key(tenant, Role.admin)}"
    seconds = str(SECONDS)
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(schemathesis),
            "--config-file",
            str(ROOT / "tests" / "schemathesis.toml"),
            "run",
            f"{tenant.server.base_url}/openapi.json",
            "--header",
            header,
            "--include-path-regex",
            paths,
            # Revoking keys would revoke the very key the run authenticates with.
            "--exclude-path-regex",
            "/operator-keys/.+/revoke$",
            "--checks",
            "all",
            "--exclude-checks",
            "ignored_auth,use_after_free,ensure_resource_availability",
            "--max-time",
            seconds,
            # One worker: Hypothesis' code generation is not thread-safe on every Python build.
            "--workers",
            "1",
            "--seed",
            "20261122",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=int(seconds) + 300,
        cwd=tmp_path,  # Schemathesis keeps a cache in its working directory
        check=False,
    )
    report = ROOT / "test-output" / f"schemathesis-{api}.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"full report: {report}\n" + result.stdout[-6000:]
