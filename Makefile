# The two commands of the README work on a fresh clone with only Python 3.11+:
#   make demo   creates .venv, installs, replays the example logs and prints answers
#   make test   creates .venv, installs, runs ruff, mypy (strict) and the suite with branch coverage
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

lint: $(STAMP)
	$(BIN)/ruff check events negotiation projections tests examples benchmarks
	$(BIN)/ruff format --check events negotiation projections

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term --cov-report=xml -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .coverage coverage.xml .mypy_cache .ruff_cache .pytest_cache
