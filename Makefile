# Conveniences over tasks.py (which needs only Python 3.11+).
.PHONY: serve test lint types migrate

serve:
	python3 tasks.py serve

test:
	python3 tasks.py test

lint:
	.venv/bin/ruff format src tests migrations bench tasks.py
	.venv/bin/ruff check --fix src tests migrations bench tasks.py

types:
	.venv/bin/mypy

migrate:
	.venv/bin/loyalty db upgrade
