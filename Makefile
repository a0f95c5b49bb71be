# Two entry points: `make demo` and `make test`. Both create .venv with python3.12 if it is missing.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
# PyTensor's compile cache lives inside the repo (git-ignored) unless the user set PYTENSOR_FLAGS.
export PYTENSOR_FLAGS ?= base_compiledir=$(CURDIR)/.pytensor_cache

.PHONY: demo test lint bench clean venv docs docs-notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo gets a regular (non-editable) install: setuptools' editable mode prints a warning
# block a newcomer need not read. `make test` re-installs in editable mode for development.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/mlrbayes demo --out reports/demo

# pytest exits 5 when it collects no tests; treat that as a failure message, not silence.
test: $(VENV)/.installed-test
	$(BIN)/ruff check mlrbayes tests benchmarks
	$(BIN)/ruff format --check mlrbayes tests benchmarks
	$(BIN)/python -m pytest -q -ra; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc
	$(MAKE) docs

lint: $(VENV)/.installed-test
	$(BIN)/ruff check mlrbayes tests benchmarks
	$(BIN)/ruff format --check mlrbayes tests benchmarks

# The documentation (docs/README.md): HTML with warnings as errors (a broken link, a stale
# reference, a notebook copy out of date), then the docstring examples run as doctests.
docs: $(VENV)/.installed-test
	$(BIN)/ruff check docs/conf.py docs/_ext docs/_tools
	rm -rf docs/_build/html docs/api/generated
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	$(BIN)/python -m pytest -q -p no:cacheprovider --doctest-modules mlrbayes \
		--ignore=mlrbayes/cli/__main__.py

# Re-execute notebooks/*.ipynb into docs/notebooks/ (the stored outputs the site renders) and
# extract the figures the user guide shows. Minutes of MCMC: run it when a notebook changes.
docs-notebooks: $(VENV)/.installed-test
	$(BIN)/python docs/_tools/execute_notebooks.py

clean:
	rm -rf $(VENV) .pytensor_cache .pytest_cache docs/_build docs/api/generated
