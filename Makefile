# Two commands on a fresh clone: `make dev` and `make test`. Everything else builds on .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_LOCK := requirements/dev.txt
RUNTIME_LOCK := requirements/runtime.txt
UV_COMPILE := --quiet --universal --generate-hashes --custom-compile-command 'make lock'
# Claude Code itself, from npm, as a real client of the end-to-end tests.
CLAUDE_CODE := tests/e2e/claude_code
CLAUDE_STAMP := $(CLAUDE_CODE)/node_modules/.installed
# The dashboard (dashboard/: Vite, Preact, Chart.js) builds into functions/api/static/, which the API
# serves at / and the API's Lambda bundle carries; rebuilt when a source changes.
DASHBOARD := dashboard
DASHBOARD_NODE := $(DASHBOARD)/node_modules/.installed
DASHBOARD_BUILD := functions/api/static/.built
DASHBOARD_SOURCES := $(shell find $(DASHBOARD)/src $(DASHBOARD)/public -type f) \
	$(addprefix $(DASHBOARD)/,index.html docs.html package.json vite.config.ts tsconfig.json)
# Debian's Chromium, driven by Playwright in the dashboard's browser tests (never a browser download).
CHROMIUM := /usr/bin/chromium

.PHONY: dashboard dev dev-reset test lint typecheck soak bench synth bundles clean lock

# Installed from the dev lock only (every package pinned, every wheel hash-checked), then the project
# itself without dependencies; its build backend comes from the lock too (--no-build-isolation).
$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --requirement $(DEV_LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	@touch $(STAMP)

# The locks, from pyproject.toml: the dev lock (what `make dev` and `make test` run on), then the runtime
# lock (what the bundles ship) within it, so both pin the same versions. uv resolves for every platform
# at once: the runtime lock carries the hashes of Lambda's arm64 cp313 wheels as well as this machine's.
# A pin moves only when pyproject.toml asks; `make lock LOCK_OPTIONS=--upgrade` moves them all.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile $(UV_COMPILE) $(LOCK_OPTIONS) --extra dev pyproject.toml -o $(DEV_LOCK)
	$(VENV)/bin/uv pip compile $(UV_COMPILE) $(LOCK_OPTIONS) -c $(DEV_LOCK) pyproject.toml -o $(RUNTIME_LOCK)

$(CLAUDE_STAMP): $(CLAUDE_CODE)/package-lock.json
	cd $(CLAUDE_CODE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(CLAUDE_STAMP)

$(DASHBOARD_NODE): $(DASHBOARD)/package-lock.json
	cd $(DASHBOARD) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(DASHBOARD_NODE)

$(DASHBOARD_BUILD): $(DASHBOARD_NODE) $(DASHBOARD_SOURCES)
	cd $(DASHBOARD) && npm run --silent build
	@touch $(DASHBOARD_BUILD)

$(CHROMIUM):
	apt-get update && apt-get install -y chromium

dashboard: $(DASHBOARD_BUILD)

dev: $(STAMP) $(DASHBOARD_BUILD)
	$(PY) -m devstack

dev-reset: $(STAMP) $(DASHBOARD_BUILD)
	rm -rf .codecosts
	$(PY) -m devstack

test: $(STAMP) $(CLAUDE_STAMP) $(DASHBOARD_BUILD) $(CHROMIUM)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared functions devstack infra codecosts_cli
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy shared functions devstack infra codecosts_cli

soak: $(STAMP)
	$(PY) -m pytest -q -m soak

clean:
	rm -rf build cdk.out .pytest_cache .mypy_cache .ruff_cache

# Lambda code bundles (arm64, cp313) in build/bundles/<fn>, without Docker; prints each one's size.
bundles: $(STAMP)
	$(PY) -m infra.bundles

# The cloud assembly in cdk.out/ (cdk-nag AwsSolutions must pass), then cfn-lint on its template.
synth: bundles
	$(PY) -m infra.app
	$(VENV)/bin/cfn-lint

# The proxy against a direct call to the same fake upstream, cold starts, DynamoDB units and AWS cost:
# prints a table and writes docs/benchmarks.md (under ten minutes here; `python -m bench --quick` for a smoke run).
bench: $(STAMP)
	$(PY) -m bench
