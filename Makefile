# Two commands for a fresh machine with Python 3.11+ and make:
#   make run    the app on the zero-setup default (SQLite, filesystem broker), web + worker + beat
#   make test   the whole suite (needs PostgreSQL and Redis; see README)
#   make bench / make chaos: the benchmark and fault suites (README, "Benchmarks and chaos")
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench chaos lint format check-python clean

# The browser tests drive Debian's Chromium: Playwright's own browser download does not work
# on machines without internet access, so the distribution's package is used everywhere.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: run make PYTHON=/path/to/python3.11 ...")'

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

# A development run: DEBUG defaults to on here (and only here), and so does the simulator
# (`AGORA_SIMULATOR=false make run` talks to Agora with the credentials in .env).
run: export DEBUG ?= true
run: export AGORA_SIMULATOR ?= true
run: $(VENV)/.installed
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_staff
	$(BIN)/python manage.py seed_demo
	@echo "Admin: http://127.0.0.1:8000/admin/  (Ctrl-C stops web, worker and beat)"
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start -f Procfile

$(CHROMIUM):
	@echo "Installing Debian's chromium package for the browser tests"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	  || ($(SUDO) apt-get update -qq \
	      && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test: $(VENV)/.installed-dev | $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	CHROMIUM_PATH=$(CHROMIUM) $(BIN)/pytest

# Figures for docs/benchmarks.md (PostgreSQL and Redis as for the tests; about ten minutes).
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.bench

# Fault scenarios; exits non-zero if any invariant was breached (about ten minutes). The
# results are kept in docs/chaos.md.
chaos: $(VENV)/.installed-dev
	$(BIN)/python -m tests.chaos --report docs/chaos.md

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache
