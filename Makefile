# Ridethrough: `make run` brings the system up, `make test` runs the whole suite.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help run test bench setup db db-stop migrate lint fmt typecheck vendor

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## database, migrations, demo fleet and backend on http://127.0.0.1:8000
	@bash scripts/run.sh

test: ## formatting, lint, types and every test against a real TimescaleDB
	@bash scripts/test.sh

bench: ## run every benchmark and rewrite docs/BENCHMARKS.md (ARGS="--quick" for small sizes)
	@bash scripts/bench.sh $(ARGS)

setup: ## install system packages, TimescaleDB and the Python environment
	@bash scripts/setup.sh

db: ## start the local TimescaleDB cluster (port 55432)
	@bash scripts/db.sh start

db-stop: ## stop the local TimescaleDB cluster
	@bash scripts/db.sh stop

migrate: setup db ## apply database migrations
	@.venv/bin/alembic upgrade head

lint: setup ## ruff format check and lint
	@.venv/bin/ruff format --check . && .venv/bin/ruff check .

fmt: setup ## format and auto-fix
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .

typecheck: setup ## mypy
	@.venv/bin/mypy

vendor: ## re-fetch vendored front-end files and check their checksums
	@bash scripts/vendor.sh
