# Marketing analytics ETL. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
STAMP := $(VENV)/.installed
# Where run_sandbox writes its environment: var/, or VAR_DIR when that is set (as the settings read it).
SANDBOX_ENV := $(or $(VAR_DIR),var)/sandbox.env
# `make demo PORT=8001` serves the dashboard on another port. The sandbox APIs take 8701-8705, or
# free ports where those are in use; `make demo SANDBOX_PORT_BASE=9701` asks for 9701-9705 instead.
PORT ?= 8000
# The demo's first syncs read this many days; the clean-up then folds those older than RETENTION_DAYS
# into the daily history, so the Overview's 30-day view has a previous period to compare with.
DEMO_HISTORY_DAYS ?= 60
SANDBOX_PORT_BASE ?=
# The browser tests drive a Chromium of the system; Playwright's own browser builds are never
# downloaded. Debian's by default (`make browser-deps` installs it when missing), or any other:
# `make test CHROMIUM=/path/to/chrome` (tests/browser/conftest.py reads the same variable).
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
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

sandbox: install ## Start the sandbox APIs in the background (env in var/sandbox.env; SANDBOX_PORT_BASE=N for other ports)
	$(MANAGE) run_sandbox --detach $(if $(SANDBOX_PORT_BASE),--port-base $(SANDBOX_PORT_BASE))

sandbox-stop: install ## Stop the background sandbox
	$(MANAGE) run_sandbox --stop

demo-port: # Before the demo's install and sync: is the dashboard's port free?
	@case "$(PORT)" in ''|*[!0-9]*) echo "PORT must be a port number, not '$(PORT)'."; exit 2;; esac
	@$(PYTHON) -c "import socket; socket.create_server(('127.0.0.1', $(PORT))).close()" 2>/dev/null || { \
	  echo "Port $(PORT) on 127.0.0.1 is already in use (another dashboard or demo still running?)."; \
	  echo "Stop what uses it, or serve the demo on another port: make demo PORT=$$(( $(PORT) + 1 ))"; exit 1; }

demo: demo-port migrate sandbox ## The demo: sandbox accounts synced, then worker, beat and the dashboard on :8000 (PORT=N; DEMO_SCHEDULE_SECONDS=60 for a short schedule)
	@set -a && . $(SANDBOX_ENV) && set +a && \
	$(MANAGE) demo_setup && \
	RETENTION_DAYS=$(DEMO_HISTORY_DAYS) $(MANAGE) start_background_syncs && \
	$(MANAGE) start_background_syncs --cleanup && \
	echo "Dashboard: http://127.0.0.1:$(PORT)  (log in as demo / demo-analytics; the admin too, at /admin/)" && \
	$(MANAGE) run_embedded --port $(PORT) $(if $(DEMO_SCHEDULE_SECONDS),--schedule-every $(DEMO_SCHEDULE_SECONDS))

serve: demo-port migrate ## One machine without Redis: a worker, beat and the dashboard on :8000 (manage.py run_embedded)
	$(MANAGE) run_embedded --port $(PORT)

sync: install ## Sync every connection again (against the sandbox when it is running)
	@if [ -f $(SANDBOX_ENV) ]; then set -a && . $(SANDBOX_ENV) && set +a; fi && $(MANAGE) start_background_syncs

lint: install ## Ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

browser-deps: install ## A Chromium (Debian's, installed with apt-get when missing; or CHROMIUM=path) and Playwright, for the browser tests
	@if [ -x "$(CHROMIUM)" ]; then \
	  echo "Browser tests: Chromium at $(CHROMIUM)"; \
	elif [ "$(CHROMIUM)" != /usr/bin/chromium ]; then \
	  echo "CHROMIUM=$(CHROMIUM) is not an executable file; point it at a Chromium or Chrome binary."; exit 1; \
	else \
	  echo "The browser tests (tests/browser/) drive a headless Chromium, and $(CHROMIUM) is missing."; \
	  echo "About to install Debian's 'chromium' package with$(if $(SUDO), sudo) apt-get: Chromium and the libraries"; \
	  echo "it needs, on a minimal system about 100 packages and a few hundred MB."; \
	  echo "Already have a Chromium or Chrome? Stop now (Ctrl-C) and run: make test CHROMIUM=/path/to/chrome"; \
	  command -v apt-get >/dev/null || { echo "No apt-get here: install Chromium yourself and set CHROMIUM."; exit 1; }; \
	  [ "$$(id -u)" -eq 0 ] || [ -n "$(SUDO)" ] || { echo "Installing it needs root or sudo; or set CHROMIUM."; exit 1; }; \
	  if [ -t 0 ]; then echo "Installing in 10 s..."; sleep 10; fi; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet "playwright>=1.45,<2"

test: install browser-deps ## The whole suite: lint, types, PostgreSQL + Redis + browser + real worker tests, then the SQLite path
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	@# The audit fails the run on a known vulnerability (exit 1). Where it could not be done (exit 2:
	@# PyPI's vulnerability data unreachable and only old offline data, as on a machine without
	@# internet), it prints warnings and "Audit NOT DONE" and the run goes on: `make test` must pass
	@# offline, and a missing network says nothing about the code under test.
	$(PY) tools/audit.py || [ $$? -eq 2 ]
	$(PY) -m pytest -ra -m "not worker"
	$(PY) -m pytest -v -m worker
	DATABASE_URL=sqlite:///var/test-embedded.sqlite3 $(PY) -m pytest -ra -m embedded -p no:cacheprovider

chaos: install ## Fault suite: real syncs through a real worker with the sandbox faulty (bench/chaos.py)
	$(PY) bench/chaos.py

bench: install ## Benchmarks with PostgreSQL, Redis and real workers; figures in var/bench/ (docs/benchmarks.md)
	$(PY) bench/normalize.py
	$(PY) bench/load.py
	$(PY) bench/restatement_log.py
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

.PHONY: bench chaos help install browser-deps migrate sandbox sandbox-stop demo demo-port serve sync lint test worker beat flower up clean
