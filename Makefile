# Two commands for a newcomer: `make run` (app with demo data and its KPIs on SQLite) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
DEALS ?= 1000000

.PHONY: run setup test lint format audit bench migrate messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py compute_kpis
	$(BIN)/python manage.py collectstatic --noinput -v0
	PORT=$(PORT) $(BIN)/honcho -f Procfile.dev start

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Security checks (docs/security.md): bandit fails on a high-severity finding (the others are explained
# there); pip-audit asks PyPI's vulnerability data about every installed package and, with --strict,
# fails when a package could not be checked. It needs PyPI's JSON API, so it is not part of `make lint`.
audit: $(STAMP)
	$(BIN)/bandit -q -r salesteam kpis goals incentives -x "*/migrations/*" --severity-level high
	$(BIN)/pip-audit --skip-editable --strict --progress-spinner off

# Benchmarks run against PostgreSQL and Redis (the KPI run's workers); the database is created if missing
# and its contents replaced. The load run (benchmarks/load.py) starts gunicorn and locust on 127.0.0.1.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/salesteam_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/2

bench: $(STAMP)
	psql "$(dir $(BENCH_DATABASE_URL))postgres" -tc "SELECT 1 FROM pg_database WHERE datname = '$(notdir $(BENCH_DATABASE_URL))'" \
	  | grep -q 1 || psql "$(dir $(BENCH_DATABASE_URL))postgres" -c "CREATE DATABASE $(notdir $(BENCH_DATABASE_URL))"
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python -m benchmarks.run --deals $(DEALS)

messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l nl --ignore=.venv --ignore=var
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/ $(VENV)
