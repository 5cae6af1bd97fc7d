"""The `loyalty` command: serve, migrate, and operate accounts, programs and the ledger."""

from __future__ import annotations

import sys

import click

from loyalty.accounts.cli import account_group
from loyalty.backoffice.cli import erase_customer, export_customer
from loyalty.customers.cli import customer_group, points_group
from loyalty.jobs.cli import jobs_group, worker_command
from loyalty.ledger.cli import ledger_group
from loyalty.operators.cli import operator_key_group
from loyalty.program.cli import program_group
from loyalty.reports.cli import report_group
from loyalty.tiers.cli import category_rules_group, tiers_group
from loyalty.vendor.cli import descriptor, moysklad_group
from loyalty.vouchers.cli import vouchers_group
from loyalty.webhooks.cli import webhooks_group


@click.group()
@click.version_option(package_name="loyalty")
def cli() -> None:
    """Loyalty provider for MoySklad. DATABASE_URL selects PostgreSQL; unset, an embedded
    server under ./var/postgres is used."""


@cli.command()
@click.option("--host", default=None, help="Default: LOYALTY_HOST or 127.0.0.1.")
@click.option("--port", type=int, default=None, help="Default: LOYALTY_PORT or 8000.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: LOYALTY_WORKERS or 1).",
)
@click.option("--no-migrate", is_flag=True, help="Skip `db upgrade` before serving.")
def serve(host: str | None, port: int | None, workers: int | None, no_migrate: bool) -> None:
    """Apply migrations and serve the LoyaltyAPI."""
    from loyalty.config import load_settings
    from loyalty.serving import serve as run_server

    run_server(load_settings(), host=host, port=port, workers=workers, migrate=not no_migrate)


@cli.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (same as `alembic upgrade head`)."""
    from loyalty.config import load_settings
    from loyalty.db.migrate import upgrade_to_head

    upgrade_to_head(load_settings())
    click.echo("database is at head")


cli.add_command(account_group)
cli.add_command(program_group)
cli.add_command(customer_group)
cli.add_command(points_group)
cli.add_command(ledger_group)
cli.add_command(moysklad_group)
cli.add_command(descriptor)
cli.add_command(vouchers_group)
cli.add_command(operator_key_group)
customer_group.add_command(export_customer)
customer_group.add_command(erase_customer)
cli.add_command(report_group)
cli.add_command(jobs_group)
cli.add_command(worker_command)
cli.add_command(webhooks_group)
program_group.add_command(tiers_group)
program_group.add_command(category_rules_group)


def main() -> None:
    from pydantic import ValidationError

    from loyalty.common.settings_checks import (
        SETTINGS_ERROR_EXIT_CODE,
        SettingsError,
        describe_settings_error,
    )
    from loyalty.config import Settings

    try:
        cli()
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        click.echo(f"loyalty: {describe_settings_error(error, Settings)}", err=True)
        sys.exit(SETTINGS_ERROR_EXIT_CODE)
    except SettingsError as error:
        click.echo(f"loyalty: {error}", err=True)
        sys.exit(SETTINGS_ERROR_EXIT_CODE)
