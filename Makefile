# Two commands do all the set-up on a fresh machine:
#   make demo   installs strukturbild in .venv and builds the bundled Skåne example
#   make test   installs what the tests need (Debian packages too) and runs them
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test lint docs bench system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/strukturbild demo

system-deps:
	bash .ci/install-system-deps

test: system-deps $(VENV)/.installed-test
	$(BIN)/python -m pytest
	$(MAKE) docs

# The API reference and methods (docs/_build/html/index.html); warnings are errors.
docs: $(VENV)/.installed-test
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) out maps/*.html docs/_build .pytest_cache .mypy_cache .ruff_cache
