# Two commands do all the set-up on a fresh machine:
#   make demo   installs strukturbild in .venv and builds the bundled Skåne example
#   make test   installs what the tests need (Debian and npm packages too) and runs
#               the linters, the map script's tests, pytest and the docs build
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
NODE   ?= node
NPM    ?= npm
# the web map's script, and its tests and eslint (package.json, lock) in tests/js
MAP_JS  = src/strukturbild/render/assets/map.js
JS      = tests/js

.PHONY: demo test jstest lint docs bench system-deps clean

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

# eslint and its plugins from the npm registry, exactly as tests/js/package-lock.json
$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

# the quick checks first: a lint or script failure stops before pytest's minutes
test: system-deps $(VENV)/.installed-test
	$(MAKE) lint jstest
	$(BIN)/python -m pytest
	$(MAKE) docs

# the map script's unit tests (node's own runner); they ask the Python side for the
# numbers and geometry to compare with
jstest: $(VENV)/.installed-test
	STRUKTURBILD_PYTHON=$(abspath $(BIN)/python) $(NODE) --test $(JS)/*.test.js

# The API reference and methods (docs/_build/html/index.html); warnings are errors.
docs: $(VENV)/.installed-test
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

lint: $(VENV)/.installed-test $(JS)/node_modules/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(JS)/node_modules/.bin/eslint --config $(JS)/eslint.config.js $(MAP_JS) $(JS)

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) out maps/*.html docs/_build .pytest_cache .mypy_cache .ruff_cache \
	  $(JS)/node_modules
