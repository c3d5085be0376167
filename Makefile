# Parity: two commands set everything up on a fresh machine.
#   make run   - install, migrate a SQLite database, seed the demo facility, serve on 127.0.0.1:5000
#   make test  - install test needs (Python extras, Debian chromium), run the suite on SQLite and on PostgreSQL
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_WORKERS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run setup test test-sqlite test-postgres system-deps worker bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	PARITY_ENV=development $(BIN)/flask --app portal db upgrade
	PARITY_ENV=development $(BIN)/flask --app portal seed-demo
	@echo "Serving on http://$(HOST):$(PORT)  (patients: /login, staff: /staff/login)"
	PARITY_ENV=development $(BIN)/flask --app portal run --host $(HOST) --port $(PORT)

# Debian packages the tests need: Chromium for the browser tests.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: setup system-deps
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory test-sqlite && $(MAKE) --no-print-directory test-postgres; \
	status=$$?; echo "make test took $$(( $$(date +%s) - start )) s"; exit $$status

test-sqlite: setup
	@echo "== test suite on SQLite =="
	TEST_DATABASE_URL=sqlite TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -n $(PYTEST_WORKERS) -q

# With CI=true a missing PostgreSQL fails the run (the fixtures refuse to skip); elsewhere it is reported and passed over.
test-postgres: setup
	@echo "== test suite on PostgreSQL =="
	@if [ "$$CI" != "true" ] && ! $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(TEST_POSTGRES_URL)'.replace('+psycopg','')).close()" 2>/dev/null; then \
	  echo "PostgreSQL is not reachable at $(TEST_POSTGRES_URL): PostgreSQL run not done (it is required when CI=true)"; \
	else \
	  TEST_DATABASE_URL=$(TEST_POSTGRES_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -n $(PYTEST_WORKERS) -q; \
	fi

# A Celery worker with the beat scheduler; needs REDIS_URL (and DATABASE_URL for a shared database).
worker: setup
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/0 make worker"; exit 2; }
	$(BIN)/celery -A portal.worker worker --beat --loglevel INFO

# Benchmarks print JSON figures; the IOP one needs PostgreSQL (BENCH_POSTGRES_URL, default the local server).
bench: setup
	$(BIN)/python -m bench.ledger_posting
	$(BIN)/python -m bench.iop_nightly

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis artifacts *.egg-info
