# Marketing analytics ETL. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
STAMP := $(VENV)/.installed
SANDBOX_ENV := var/sandbox.env
# The browser tests drive Debian's Chromium; Playwright's own browser builds are never downloaded.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ops]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its development tools

migrate: install ## Create or update the database (and install the beat schedule)
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0

sandbox: install ## Start the sandbox APIs in the background (env in var/sandbox.env)
	$(MANAGE) run_sandbox --detach

sandbox-stop: install ## Stop the background sandbox
	$(MANAGE) run_sandbox --stop

demo: migrate sandbox ## The demo: sandbox accounts synced into the warehouse, then the dashboard on :8000
	@set -a && . $(SANDBOX_ENV) && set +a && \
	$(MANAGE) demo_setup && \
	$(MANAGE) start_background_syncs && \
	echo "Dashboard: http://127.0.0.1:8000  (log in as demo / demo-analytics)" && \
	$(MANAGE) runserver 127.0.0.1:8000

sync: install ## Sync every connection again (against the sandbox when it is running)
	@if [ -f $(SANDBOX_ENV) ]; then set -a && . $(SANDBOX_ENV) && set +a; fi && $(MANAGE) start_background_syncs

lint: install ## Ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

browser-deps: install ## Debian's Chromium and the Playwright package, for the browser tests
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet "playwright>=1.45,<2"

test: install browser-deps ## The whole suite: lint, types, PostgreSQL + Redis + browser + real worker tests, then the SQLite path
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(PY) tools/audit.py
	$(PY) -m pytest -ra -m "not worker"
	$(PY) -m pytest -v -m worker
	DATABASE_URL=sqlite:///var/test-embedded.sqlite3 $(PY) -m pytest -ra -m embedded -p no:cacheprovider

chaos: install ## Fault suite: real syncs through a real worker with the sandbox faulty (bench/chaos.py)
	$(PY) bench/chaos.py

bench: install ## Benchmarks with PostgreSQL, Redis and real workers; figures in var/bench/ (docs/benchmarks.md)
	$(PY) bench/normalize.py
	$(PY) bench/load.py
	$(PY) bench/end_to_end.py
	$(PY) bench/fanout.py
	$(PY) bench/dashboard_latency.py
	$(PY) bench/summary.py

worker: install ## A Celery worker (needs CELERY_BROKER_URL, DATABASE_URL)
	$(VENV)/bin/celery -A sales_dashboard worker --loglevel=INFO

beat: install ## The one beat process (DatabaseScheduler)
	$(VENV)/bin/celery -A sales_dashboard beat --loglevel=INFO

flower: install ## Flower on :5555
	$(VENV)/bin/celery -A sales_dashboard flower --port=5555

up: install ## PostgreSQL + Redis mode on this machine: migrate, then web, worker, beat and flower together
	@test -n "$$DATABASE_URL" -a -n "$$CELERY_BROKER_URL" || { echo "Set DATABASE_URL, CELERY_BROKER_URL and REDIS_URL first (see .env.example)"; exit 1; }
	$(MANAGE) migrate --noinput
	@trap 'kill 0' EXIT INT TERM; \
	$(VENV)/bin/celery -A sales_dashboard worker --loglevel=INFO & \
	$(VENV)/bin/celery -A sales_dashboard beat --loglevel=INFO & \
	$(VENV)/bin/celery -A sales_dashboard flower --port=5555 & \
	$(MANAGE) runserver 127.0.0.1:8000

clean: ## Remove the virtualenv and local state (var/)
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

.PHONY: bench chaos help install browser-deps migrate sandbox sandbox-stop demo sync lint test worker beat flower up clean
