"""Settings are checked at start: a bad value stops the command with one line naming the
variable (exit code 2); production refuses weak or missing secrets and the embedded server."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from loyalty.cli import main
from loyalty.common.settings_checks import (
    SETTINGS_ERROR_EXIT_CODE,
    OptionalSecret,
    RequiredSecret,
    describe_settings_error,
)
from loyalty.config import Settings

SERVER = "postgresql://loyalty@db.internal:5432/loyalty"


class WithSecrets(Settings):
    """How a feature adds its secrets: by annotation, no code in the checks."""

    SOLUTION_SECRET: RequiredSecret = None
    ENCRYPTION_KEY: RequiredSecret = None
    WEBHOOK_TOKEN: OptionalSecret = None


def strong() -> str:
    return secrets.token_urlsafe(32)


# The service's own required secrets: keys for personal data at rest.
PRODUCTION_KEYS: dict[str, object] = {
    "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
}


def production(**values: object) -> WithSecrets:
    """Production settings with strong required secrets, overridden by `values`."""
    defaults: dict[str, object] = {
        "ENV": "production",
        "SOLUTION_SECRET": strong(),
        "ENCRYPTION_KEY": strong(),
        **PRODUCTION_KEYS,
    }
    return WithSecrets(_env_file=None, **(defaults | values))  # type: ignore[call-arg]


def refusal(**values: object) -> str:
    with pytest.raises(ValidationError) as raised:
        production(**values)
    return describe_settings_error(raised.value, WithSecrets)


@pytest.fixture
def command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """`loyalty …` as the console script runs it, in a directory without a `.env`."""
    monkeypatch.chdir(tmp_path)
    for variable in ("DATABASE_URL", "LOYALTY_ENV"):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def run_main(monkeypatch: pytest.MonkeyPatch, *arguments: str) -> int:
    monkeypatch.setattr(sys, "argv", ["loyalty", *arguments])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


class TestInvalidValues:
    def test_the_command_stops_with_one_line_naming_the_variable(
        self, command_line: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        command_line.setenv("LOYALTY_DATABASE_POOL_SIZE", "0")
        command_line.setenv("LOYALTY_LOG_LEVEL", "loud")
        assert run_main(command_line, "db", "upgrade") == SETTINGS_ERROR_EXIT_CODE
        message = capsys.readouterr().err
        assert message.count("\n") == 1 and message.startswith("loyalty: неверная настройка")
        assert "LOYALTY_DATABASE_POOL_SIZE='0'" in message
        assert "LOYALTY_LOG_LEVEL='loud'" in message

    def test_a_secret_is_named_but_never_echoed(
        self, command_line: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        command_line.setenv("LOYALTY_ENV", "production")
        command_line.setenv("DATABASE_URL", SERVER)
        command_line.setenv("LOYALTY_METRICS_TOKEN", "hunter2-changeme")
        assert run_main(command_line, "serve") == SETTINGS_ERROR_EXIT_CODE
        message = capsys.readouterr().err
        assert "LOYALTY_METRICS_TOKEN" in message and "hunter2" not in message

    def test_a_real_process_exits_with_code_2(self, tmp_path: Path) -> None:
        completed = subprocess.run(
            [sys.executable, "-m", "loyalty", "serve"],
            env={"PATH": "/usr/bin:/bin", "LOYALTY_WORKERS": "many"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert completed.returncode == 2
        assert completed.stderr.strip().splitlines() == [
            "loyalty: неверная настройка / invalid setting: LOYALTY_WORKERS='many':"
            " Input should be a valid integer, unable to parse string as an integer"
        ]


class TestProduction:
    def test_refuses_to_start_without_required_secrets(self) -> None:
        message = refusal(DATABASE_URL=SERVER, SOLUTION_SECRET=None, ENCRYPTION_KEY=None)
        assert "LOYALTY_SOLUTION_SECRET" in message and "LOYALTY_ENCRYPTION_KEY" in message
        assert "LOYALTY_WEBHOOK_TOKEN" not in message, "an optional secret may stay unset"

    @pytest.mark.parametrize(
        "weak",
        [
            "changeme",
            "x" * 40,
            "CHANGE-ME-Xk29fPq0LmZ7vB4nR8sT1wY6uE3iO5aH",
            "short-but-random-9Qz",
            "   ",
            "a1" * 20,
        ],
    )
    def test_refuses_weak_secrets(self, weak: str) -> None:
        message = refusal(DATABASE_URL=SERVER, SOLUTION_SECRET=weak)
        assert "LOYALTY_SOLUTION_SECRET" in message and "weak secret" in message
        assert weak.strip() == "" or weak not in message

    def test_optional_secrets_are_checked_when_set(self) -> None:
        message = refusal(DATABASE_URL=SERVER, WEBHOOK_TOKEN="token")
        assert "LOYALTY_WEBHOOK_TOKEN" in message

    def test_third_party_secrets_only_must_not_be_placeholders(self) -> None:
        # The SMS gateway's token is not ours to size, but an example value is refused.
        vendor_token = "a8F3kQ2mZ7xL1pR9"
        accepted = Settings(
            _env_file=None,  # type: ignore[call-arg]
            ENV="production",
            DATABASE_URL=SERVER,
            SMS_GATEWAY_TOKEN=vendor_token,
            **PRODUCTION_KEYS,
        )
        assert isinstance(accepted.SMS_GATEWAY_TOKEN, SecretStr)
        with pytest.raises(ValidationError) as raised:
            Settings(
                _env_file=None,  # type: ignore[call-arg]
                ENV="production",
                DATABASE_URL=SERVER,
                SMS_GATEWAY_TOKEN="example-token",
                **PRODUCTION_KEYS,
            )
        assert "LOYALTY_SMS_GATEWAY_TOKEN" in describe_settings_error(raised.value, Settings)

    def test_starts_with_strong_secrets(self) -> None:
        settings = production(DATABASE_URL=SERVER, METRICS_TOKEN=strong())
        assert settings.SOLUTION_SECRET is not None and settings.METRICS_TOKEN is not None

    def test_development_needs_no_secrets(self) -> None:
        assert WithSecrets(_env_file=None).SOLUTION_SECRET is None  # type: ignore[call-arg]

    def test_refuses_the_embedded_postgres_unless_allowed(self) -> None:
        message = refusal()
        assert message.startswith("неверная настройка / invalid setting: DATABASE_URL:")
        assert production(ALLOW_EMBEDDED_POSTGRES=True).DATABASE_URL is None
