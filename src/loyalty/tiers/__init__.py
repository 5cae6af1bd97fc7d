"""Tiers (levels): earn and spend percents by purchases over a rolling window of months."""
