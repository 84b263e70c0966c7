# The two commands of the README: `make demo` (set up + run on the demo data), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast coverage setup lint typecheck format clean-demo

$(BIN)/observatoire: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/observatoire

demo: setup
	$(BIN)/observatoire demo

test: setup
	bash scripts/test-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The unit tests only (pyproject.toml's markers; tests/conftest.py says which are end to end).
test-fast: setup
	$(BIN)/python -m pytest -m unit -q

# Coverage of the unit tests (the whole suite's is `make coverage PYTEST_ARGS=`, ≈ 18 min).
PYTEST_ARGS ?= -m unit
coverage: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS) -q --cov=pipelines --cov=assets --cov=schemas \
		--cov-report=term:skip-covered

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every function body of pipelines/, assets/, schemas/, demo/ (mypy.ini).
typecheck: setup
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .

clean-demo:
	rm -rf raw/MNO warehouse/observatoire.duckdb warehouse/work
