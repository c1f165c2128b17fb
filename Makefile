# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   create .venv, install healthscore, run the whole job on the simulated data
#   make test   install the dev extras too, run the test suite
#   make test-spark   every Spark engine test, the larger equality checks included
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast test-spark lint locale clean

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

# One worker per core (at most 4), a test file per worker at a time. LightGBM's threads wait
# passively, so that one worker's OpenMP threads do not spin against the other's.
test: $(VENV)/.installed-dev
	OMP_WAIT_POLICY=passive $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

# The tests that neither train nor start Spark, on every core: under two minutes on two.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow" -n auto

# Every Spark test, the larger equality checks included (docs/scale.md).
test-spark: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m spark

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# Message catalogues (docs/languages.md): extract the messages of the code and templates into
# the template catalogue, then merge them into each language's .po file to translate. The
# .po files are compiled when first used; there is nothing to build.
LOCALE_DIR := src/healthscore/locale
KEYWORDS := -k t -k nt:1,2 -k tc:1c,2 -k N_ -k NC_:1c,2 -k Message
locale: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg $(KEYWORDS) --no-wrap --sort-by-file \
		--project healthscore --msgid-bugs-address "" -o $(LOCALE_DIR)/healthscore.pot src
	$(BIN)/pybabel update -i $(LOCALE_DIR)/healthscore.pot -d $(LOCALE_DIR) -D healthscore \
		--no-wrap --ignore-obsolete

clean:
	rm -rf $(VENV) data/demo models/* mlruns/* reports/*
