# Two commands on a fresh clone: `make dev` and `make test`. Everything else builds on .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Claude Code itself, from npm, as a real client of the end-to-end tests.
CLAUDE_CODE := tests/e2e/claude_code
CLAUDE_STAMP := $(CLAUDE_CODE)/node_modules/.installed

.PHONY: dev dev-reset test lint typecheck soak bench synth bundles clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(CLAUDE_STAMP): $(CLAUDE_CODE)/package-lock.json
	cd $(CLAUDE_CODE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(CLAUDE_STAMP)

dev: $(STAMP)
	$(PY) -m devstack

dev-reset: $(STAMP)
	rm -rf .codecosts
	$(PY) -m devstack

test: $(STAMP) $(CLAUDE_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared functions devstack infra
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy shared functions devstack infra

soak: $(STAMP)
	$(PY) -m pytest -q -m soak

clean:
	rm -rf build cdk.out .pytest_cache .mypy_cache .ruff_cache
