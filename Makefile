# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   create .venv, install healthscore, run the whole job on the simulated data
#   make test   install the dev extras too, run the test suite
#   make test-spark   every Spark engine test, the larger equality checks included
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast test-spark lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/healthscore demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow"

# Every Spark test, the larger equality checks included (docs/scale.md).
test-spark: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m spark

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data/demo models/* mlruns/* reports/*
