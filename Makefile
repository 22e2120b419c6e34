# The two commands of the README's quick start: `make demo` and `make test`.
# Each creates .venv with Python 3.11+ and installs what it needs on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/modworker demo

test: $(VENV)/.installed
	$(BIN)/ruff check worker tests bench tools
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile

bench: $(VENV)/.installed
	$(BIN)/python bench/rules_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
