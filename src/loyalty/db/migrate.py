"""Running migrations from code (`loyalty db upgrade`, `loyalty serve`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from loyalty.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MIGRATION_ONLY_INDEXES = frozenset(
    {"ix_customer_account_id_name_trgm", "ix_customer_account_id_email_lower"}
)


def alembic_config() -> Config:
    """Works from a source checkout (alembic.ini at the root) and from an installed package."""
    ini = PROJECT_ROOT / "alembic.ini"
    config = Config(str(ini)) if ini.exists() else Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["configure_logging"] = False
    return config


def resolve_database_url(settings: Settings) -> Settings:
    """Return settings with DATABASE_URL set, starting the embedded server when it is unset."""
    if settings.DATABASE_URL is not None:
        return settings
    from loyalty.db.embedded import start_embedded

    url = start_embedded(settings.EMBEDDED_POSTGRES_DIR)
    return settings.model_copy(update={"DATABASE_URL": url})


def upgrade_to_head(settings: Settings) -> None:
    import os

    settings = resolve_database_url(settings)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = settings.require_database_url()
    try:
        command.upgrade(alembic_config(), "head")
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous


def current_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())
