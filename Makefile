# The two commands of the README: `make demo` (set up + run on the demo data), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup lint clean-demo

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
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

clean-demo:
	rm -rf raw/MNO warehouse/observatoire.duckdb warehouse/work
