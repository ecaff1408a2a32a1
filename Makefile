# The two ways in: `make up` runs the platform, `make test` tests it.
# Both create .venv and install what they need; nothing else is required.

PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
PY := $(VENV)/bin/python

.PHONY: up test install install-test peers lint bench

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(VENV)/bin/activate
	$(PIP) install -q -c constraints.txt -e .

install-test: $(VENV)/bin/activate
	$(PIP) install -q -c constraints.txt -e '.[test]'

up: install
	$(VENV)/bin/mailray up

# Real peers the integration tests talk to (Debian packages). Postfix is
# preseeded to "No configuration" so no daemon takes port 25.
peers:
	@bash scripts/install-peers.sh

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-test peers lint
	$(VENV)/bin/pytest -ra --durations=25 $(PYTEST_ARGS)

bench: install-test peers
	$(PY) -m benchmarks.all --small
