# Parity: two commands set everything up on a fresh machine.
#   make run   - install, migrate a SQLite database, seed the demo facility, serve on 127.0.0.1:5000
#   make test  - install test needs (Python extras, Debian chromium, poppler-utils, npm and nginx, axe-core), run the suite on SQLite and on PostgreSQL
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
STRIPE_EMULATOR_PORT ?= 8420
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_WORKERS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run setup constraints translations lint test test-sqlite test-postgres system-deps worker beat bench clean
AXE := node_modules/axe-core/axe.min.js
CATALOG := portal/translations/es/LC_MESSAGES/messages

# Versions come from constraints.txt (the set CI last passed with); pyproject.toml keeps the ranges. Refresh it
# with `make constraints` after changing a dependency. Production installs `pip install -c constraints.txt .`
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,test]'
	touch $(STAMP)

constraints:
	$(BIN)/pip freeze --exclude-editable --exclude parity | grep -v '^-e ' > constraints.txt

setup: $(STAMP) $(CATALOG).mo

# The Spanish catalog is kept as text (.po) and compiled at install.
$(CATALOG).mo: $(CATALOG).po $(STAMP)
	$(BIN)/pybabel compile -d portal/translations -D messages -f

# After changing patient or public text: re-extract it, and merge new strings into the catalog to translate.
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ --no-location --sort-output -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations -D messages --no-fuzzy-matching

# The accessibility engine the browser tests inject into every patient and public page (npm package, exact
# version in package.json).
$(AXE): package.json
	npm install --no-audit --no-fund --no-package-lock --silent
	touch $(AXE)

# Without STRIPE_SECRET_KEY the demo takes cards through the local Stripe emulator (test cards such as
# 4242 4242 4242 4242), started here on a loopback port and stopped with the server.
run: setup
	@set -e; export PARITY_ENV=development; \
	if [ -z "$$STRIPE_SECRET_KEY" ]; then \
	  export STRIPE_API_BASE=http://127.0.0.1:$(STRIPE_EMULATOR_PORT) STRIPE_SECRET_KEY=sk_test_emulator \
	         STRIPE_PUBLISHABLE_KEY=pk_test_emulator STRIPE_WEBHOOK_SECRET=whsec_emulator_demo; \
	  $(BIN)/python -m portal.stripe_emulator --port $(STRIPE_EMULATOR_PORT) & emulator=$$!; \
	  trap "kill $$emulator 2>/dev/null" EXIT; \
	  for i in $$(seq 50); do $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', $(STRIPE_EMULATOR_PORT)), 1)" 2>/dev/null && break; sleep 0.2; done; \
	  $(BIN)/flask --app portal stripe register-webhook --url http://$(HOST):$(PORT)/webhooks/stripe; \
	fi; \
	$(BIN)/flask --app portal db upgrade; \
	$(BIN)/flask --app portal seed-demo; \
	echo "Serving on http://$(HOST):$(PORT)  (patients: /login, pay a statement: /pay, staff: /staff/login)"; \
	BASE_URL=http://$(HOST):$(PORT) $(BIN)/flask --app portal run --host $(HOST) --port $(PORT)

# Style and types: ruff (rules in pyproject.toml) and mypy on the application packages.
lint: setup
	$(BIN)/ruff check portal staff tests bench migrations
	$(BIN)/mypy

# Debian packages the tests need: Chromium for the browser tests, poppler for reading PDFs, npm for axe-core,
# nginx for the reverse-proxy example (deploy/nginx.conf) the deployment tests and the soak put in front of gunicorn.
system-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then echo "Installing Debian packages for the tests:$$missing"; \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; fi

test: setup system-deps
	@$(MAKE) --no-print-directory $(AXE)
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

# A Celery worker; needs REDIS_URL (and DATABASE_URL for a shared database). Start as many as needed, on any machine.
# These two run as `make run` does (PARITY_ENV=development); production starts the Procfile's commands.
worker: setup
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/0 make worker"; exit 2; }
	PARITY_ENV=$${PARITY_ENV:-development} $(BIN)/celery -A portal.worker worker --loglevel INFO

# The scheduler, one for the whole installation (a second one sends nothing twice: see portal/beat.py).
beat: setup
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/0 make beat"; exit 2; }
	PARITY_ENV=$${PARITY_ENV:-development} $(BIN)/celery -A portal.worker beat --loglevel INFO

# Benchmarks print JSON figures; the IOP, collections, estimate, ERA, FHIR import, staff search, GL export, statement
# run and soak ones need PostgreSQL (BENCH_POSTGRES_URL, default the local server; the statement run and the soak Redis too),
# the statement page one needs wrk (Debian package, installed here when missing).
bench: setup
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.ledger_posting
	$(BIN)/python -m bench.iop_nightly
	$(BIN)/python -m bench.statement_page
	$(BIN)/python -m bench.plans_charge_due
	$(BIN)/python -m bench.collections_run
	$(BIN)/python -m bench.estimates
	$(BIN)/python -m bench.era_posting
	$(BIN)/python -m bench.claims_out
	$(BIN)/python -m bench.fhir_import
	$(BIN)/python -m bench.staff_search
	$(BIN)/python -m bench.gl_export
	REDIS_URL=$${BENCH_REDIS_URL:-redis://127.0.0.1:6379/6} $(BIN)/python -m bench.statement_run
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis artifacts *.egg-info
