"""`loyalty serve`: JSON logs, migrations, then uvicorn with one or more worker processes.

Shutdown is uvicorn's: on SIGTERM (SIGINT) the listening socket closes, requests in flight
run to completion for up to `LOYALTY_SHUTDOWN_TIMEOUT_SECONDS`, then the pools close.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import FrameType

from loyalty.config import Environment, Settings, SmsSenderKind
from loyalty.db.migrate import resolve_database_url, upgrade_to_head
from loyalty.observability import metrics
from loyalty.observability.logs import configure_logging, logging_config

logger = logging.getLogger("loyalty.serve")


def _exit_normally(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(
    settings: Settings, *, host: str | None, port: int | None, workers: int | None, migrate: bool
) -> None:
    import uvicorn

    configure_logging(settings)
    if settings.ENV is Environment.production and settings.SMS_SENDER is SmsSenderKind.log:
        logger.warning(
            "LOYALTY_SMS_SENDER=log: verification codes are written to the log, not sent"
        )
    settings = resolve_database_url(settings)
    # Workers are new processes: they read the resolved URL (an embedded server belongs to us).
    os.environ["DATABASE_URL"] = settings.require_database_url()
    if migrate:
        upgrade_to_head(settings)
    worker_count = workers or settings.WORKERS
    metrics_directory: Path | None = None
    temporary = False
    if worker_count > 1:
        metrics_directory, temporary = metrics.prepare_multiprocess_directory(settings.METRICS_DIR)
        os.environ[metrics.MULTIPROCESS_ENV] = str(metrics_directory)
    # After a graceful shutdown uvicorn re-raises the signal it handled. Turning that into a
    # normal exit lets cleanup run: the embedded server stops, the metrics directory goes.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_normally)
    try:
        uvicorn.run(
            "loyalty.main:create_app",
            factory=True,
            host=host or settings.HOST,
            port=port or settings.PORT,
            workers=worker_count,
            log_config=logging_config(settings),
            log_level=settings.LOG_LEVEL.lower(),
            access_log=False,
            server_header=False,
            timeout_keep_alive=settings.KEEPALIVE_TIMEOUT_SECONDS,
            timeout_graceful_shutdown=settings.SHUTDOWN_TIMEOUT_SECONDS,
        )
    finally:
        if temporary and metrics_directory is not None:
            metrics.remove_multiprocess_directory(metrics_directory)
