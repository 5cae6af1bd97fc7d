"""Loyalty provider for MoySklad: LoyaltyAPI 1.0 on an exact, idempotent PostgreSQL ledger."""

__version__ = "0.1.0"
