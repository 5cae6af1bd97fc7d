# syntax=docker/dockerfile:1
# The service image: `docker build -t loyalty .`; operating it: docs/operations.md.
#
# The base image is pinned to an exact patch release. Bump it together with the lock
# (`python3 tasks.py lock`), which must be resolved for the same Python minor version.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---- build: a virtualenv with the locked dependencies and the project ------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /app

# Dependencies first, so this layer is rebuilt only when the lock changes. Every package is
# pinned in the lock (the build backend included), so nothing is resolved at build time.
COPY requirements.lock ./
RUN pip install --no-deps --require-virtualenv -r requirements.lock

COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations

# An editable install keeps the code in /app next to migrations/ and alembic.ini, where
# `loyalty db upgrade` and the readiness probe find them. The build backend is then removed.
RUN pip install --no-deps --no-build-isolation --require-virtualenv -e . \
    && pip uninstall --yes setuptools wheel \
    && python -m compileall -q /app/src /opt/venv/lib

# ---- runtime: the same base, the virtualenv and the code, no compilers, not root ------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="loyalty" \
      org.opencontainers.image.description="Loyalty provider for MoySklad: LoyaltyAPI 1.0 on a PostgreSQL bonus-points ledger"

RUN groupadd --system --gid 10001 loyalty \
    && useradd --system --uid 10001 --gid loyalty --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin loyalty

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

# Production by default: it refuses weak secrets and the embedded PostgreSQL (DATABASE_URL is
# required). Workers, port and everything else come from the environment (.env.example).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOYALTY_ENV=production \
    LOYALTY_HOST=0.0.0.0 \
    LOYALTY_PORT=8000 \
    LOYALTY_WORKERS=2

WORKDIR /app
# Numeric, so orchestrators can verify runAsNonRoot without resolving names.
USER 10001:10001

EXPOSE 8000

# Liveness of the process; load balancers should route by /readyz instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-m", "loyalty.health.probe", "--path", "/healthz"]

# uvicorn drains in-flight requests on SIGTERM (LOYALTY_SHUTDOWN_TIMEOUT_SECONDS).
STOPSIGNAL SIGTERM

# Migrations run once, before the app (the compose `migrate` service: `loyalty db upgrade`),
# not in every replica at start.
ENTRYPOINT ["loyalty"]
CMD ["serve", "--no-migrate"]
