# Two commands for a fresh machine with Python 3.11+ and make:
#   make run    the app on the zero-setup default (SQLite, filesystem broker), web + worker + beat
#               + the in-call tools' MCP server + the Agora simulator
#   make test   the whole suite (needs PostgreSQL and Redis; see README)
#   make bench / make chaos: the benchmark and fault suites (README, "Benchmarks and chaos")
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-shifted-clock bench chaos flower lint format check-python clean lock lock-check

# The browser tests drive Debian's Chromium: Playwright's own browser download does not work
# on machines without internet access, so the distribution's package is used everywhere.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: run make PYTHON=/path/to/python3.11 ...")'

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every install comes from the lock: uv.lock, exported with hashes to requirements/runtime.txt
# (the app) and requirements/dev.txt (the app, tests and tools); pip checks each file's hash.
# The project itself is installed on top, without dependencies. `make lock` refreshes them.
$(VENV)/.installed: pyproject.toml requirements/runtime.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/runtime.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed

# uv export of the set named in the shell variable $set: runtime, or dev (the dev extra).
EXPORT_SET = $(BIN)/uv export --quiet --frozen --no-emit-project --no-header \
	--format requirements-txt $$([ "$$set" = dev ] && echo --extra dev)

# Resolve pyproject.toml's ranges again to the newest versions they allow, and export.
lock: $(VENV)/.installed-dev
	$(BIN)/uv lock --upgrade
	@for set in runtime dev; do $(EXPORT_SET) -o requirements/$$set.txt; done
	@echo "uv.lock and requirements/*.txt refreshed: review the diff, run make test, commit them."

# Fails when pyproject.toml and the lock disagree (a range changed without `make lock`), or
# when requirements/*.txt are not the lock's export.
lock-check: $(VENV)/.installed-dev
	$(BIN)/uv lock --locked
	@for set in runtime dev; do \
	  $(EXPORT_SET) | diff -u requirements/$$set.txt - | head -40; \
	  [ "$${PIPESTATUS[1]}" = 0 ] \
	    || { echo "requirements/$$set.txt is not uv.lock's export: run make lock"; exit 1; }; \
	done

# A development run: DEBUG defaults to on here (and only here), and so does the simulator
# (`AGORA_SIMULATOR=false make run` talks to Agora with the credentials in .env).
run: export DEBUG ?= true
run: export AGORA_SIMULATOR ?= true
# The agents' in-call tools (MCP server, a process of the Procfile) on the local machine.
run: export MCP_PUBLIC_URL ?= http://127.0.0.1:$(or $(MCP_PORT),8001)/mcp
run: $(VENV)/.installed
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_staff
	$(BIN)/python manage.py seed_demo
	@echo "Admin: http://127.0.0.1:$${WEB_PORT:-8000}/admin/  (Ctrl-C stops web, worker, beat, the MCP server and the simulator)"
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start -f Procfile

$(CHROMIUM):
	@echo "Installing Debian's chromium package for the browser tests"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	  || ($(SUDO) apt-get update -qq \
	      && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# libfaketime moves the clock of a process and its children; Debian's faketime package.
FAKETIME ?= /usr/bin/faketime
$(FAKETIME):
	@echo "Installing Debian's faketime package for the shifted-clock run"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null \
	  || ($(SUDO) apt-get update -qq \
	      && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null)

# The date-sensitive tests (campaigns, windows, dispatch, retries, the dialing rules, stats and
# console figures, a campaign end to end with real workers) once more with the clock of the
# test process and every process it starts a year ahead, then a year back: nothing may depend
# on today's date (PostgreSQL keeps the real clock, which is part of the point).
CLOCK_SHIFT_TESTS := tests/test_clock.py tests/campaigns/test_windows.py \
	tests/campaigns/test_dispatch.py tests/campaigns/test_placement_rules.py \
	tests/telephony/test_dialing_rules.py tests/contactcenter/console/test_stats.py \
	tests/contactcenter/console/test_dashboard.py \
	tests/campaigns/test_campaigns_e2e.py::test_three_dispatchers_and_two_workers_never_exceed_the_cap

# The suite checks docker-compose.yml with `docker compose config` (Docker's plugin when
# installed, else Debian's docker-compose package, installed here when missing).
DOCKER_COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo /usr/bin/docker-compose)
/usr/bin/docker-compose:
	@echo "Installing Debian's docker-compose package to check docker-compose.yml"
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null \
	  || ($(SUDO) apt-get update -qq \
	      && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)

test: $(VENV)/.installed-dev | $(CHROMIUM) $(FAKETIME) $(filter /%,$(DOCKER_COMPOSE))
	$(MAKE) --no-print-directory lock-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	CHROMIUM_PATH=$(CHROMIUM) DOCKER_COMPOSE="$(DOCKER_COMPOSE)" $(BIN)/pytest
	$(MAKE) --no-print-directory test-shifted-clock

test-shifted-clock: $(VENV)/.installed-dev | $(FAKETIME)
	@for shift in +365d -365d; do \
	  echo "== the date-sensitive tests with the clock moved $$shift"; \
	  $(FAKETIME) -f "$$shift" date -u +"   (the clock reads %F %T)"; \
	  $(FAKETIME) -f "$$shift" \
	    $(BIN)/pytest -q -p no:cacheprovider $(CLOCK_SHIFT_TESTS) || exit 1; \
	done

# Figures for docs/benchmarks.md (PostgreSQL and Redis as for the tests; about ten minutes).
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.support.bench

# Fault scenarios; exits non-zero if any invariant was breached (about ten minutes). The
# results are kept in docs/chaos.md.
chaos: $(VENV)/.installed-dev
	$(BIN)/python -m tests.support.chaos --report docs/chaos.md

# Celery monitoring for a local run: Flower at http://127.0.0.1:5555/ (FLOWER_BASIC_AUTH=user:pass
# required). It needs a real broker: REDIS_URL (the filesystem broker of `make run` has no
# remote control or events for it to read).
flower: $(VENV)/.installed
	@[ -n "$$FLOWER_BASIC_AUTH" ] || { echo "Set FLOWER_BASIC_AUTH=user:password (Flower is never served without a login)"; exit 1; }
	@[ -n "$$REDIS_URL" ] || { echo "Set REDIS_URL: Flower reads the workers through Redis"; exit 1; }
	$(BIN)/celery -A contactcenter flower --port=$${FLOWER_PORT:-5555} --address=127.0.0.1

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache
