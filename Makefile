# edgesync — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv lint test unit testenv-deps testenv-up testenv-down bench demo demo-down dist clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

lint: venv
	$(VENV)/bin/ruff check agent fleet tests benchmarks
	$(VENV)/bin/mypy

# The whole suite, as CI runs it: lint, type checks, then every test against real servers.
test: lint testenv-deps
	$(PY) -m pytest

# Unit tests only (no servers).
unit: venv
	$(PY) -m pytest -m "not k8s and not git and not registry and not postgres and not browser"

# The local servers (tests/testenv): install once (Debian packages, Go builds), then up/down.
testenv-deps: venv
	$(PY) -m tests.testenv install

testenv-up: testenv-deps
	$(PY) -m tests.testenv up

testenv-down:
	$(PY) -m tests.testenv down

# The quickstart: local servers, the fleet service, three nodes and one commit, narrated
# (packaging/demo/README.md). It leaves everything running; `make demo-down` stops it.
# EDGESYNC_DEMO_SHORT=1: short narration (CI); EDGESYNC_DEMO_JSON_STATUS=FILE: final status.
demo: venv testenv-deps
	$(PY) packaging/demo/run.py

demo-down:
	$(PY) packaging/demo/run.py down

# The single-file agent (dist/edge-agent.pyz, any arch, Python 3.11+) and its .deb.
dist: venv
	$(PY) packaging/build_zipapp.py --out dist/edge-agent.pyz
	$(PY) packaging/build_deb.py --pyz dist/edge-agent.pyz --out dist

clean:
	rm -rf $(VENV) dist build *.egg-info
