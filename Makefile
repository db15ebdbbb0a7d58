# reawaken — set-up and jobs. `make test` and `make reproduce` work on a fresh machine with
# python3 (3.11+) and the package registry: each creates .venv and installs the package.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions that `make test` and `make reproduce` install, so a fresh machine tests what CI
# tested. Regenerate with `make lock` after changing dependencies in pyproject.toml.
CONSTRAINTS := constraints.txt

.PHONY: help venv test test-slow reproduce bench lint lock synthetic-data clean notebooks docs

help:
	@echo "make reproduce   simulate both calibrated presets and analyse them (main job)"
	@echo "make test        install and run the test suite (slow Monte Carlo tests excluded)"
	@echo "make test-slow   run only the slow Monte Carlo tests"
	@echo "make bench       run the benchmarks in tests/benchmarks"
	@echo "make docs        build the documentation site into build/site (mkdocs, strict)"
	@echo "make lint        ruff"
	@echo "make lock        re-pin constraints.txt from a fresh install of pyproject.toml"
	@echo "make synthetic-data  regenerate synthetic_data/ (cohorts, scenarios, manifest)"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev,dask,omop]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow
	REAWAKEN_HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -q tests/property

reproduce: $(STAMP)
	$(BIN)/reawaken reproduce --overwrite

# Each benchmark records its figures in tests/benchmarks/performance.json; the README's
# performance table is then rewritten from them (between its performance markers).
bench: $(STAMP)
	$(BIN)/python -m pytest -q -s -o addopts="" tests/benchmarks
	$(BIN)/python tests/benchmarks/write_performance_table.py

lint: $(STAMP)
	$(BIN)/ruff check src tests

# Resolve pyproject.toml's ranges afresh in a throw-away environment and pin the result.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev,dask,omop,docs]"
	{ echo "# Pinned by \`make lock\` (pip freeze of a fresh install of .[dev,dask,omop,docs]); do not edit."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)
	rm -rf .lock-venv

synthetic-data: $(STAMP)
	$(BIN)/python -m reawaken.synthetic synthetic_data

# Render the teaching scripts analyses/*.py (jupytext percent format) as executed notebooks in
# build/notebooks/. Full sizes by default; `REAWAKEN_SMOKE=1 make notebooks` for a quick pass.
notebooks: $(STAMP)
	@$(BIN)/python -c "import jupytext, nbconvert, nbclient, ipykernel" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet jupytext nbconvert ipykernel
	mkdir -p build/notebooks
	@for script in analyses/*.py; do \
		name=$$(basename "$$script" .py); \
		echo "jupytext --execute $$script -> build/notebooks/$$name.ipynb"; \
		$(BIN)/jupytext --to ipynb --execute --output "build/notebooks/$$name.ipynb" "$$script" \
			|| exit 1; \
	done

# The documentation site (mkdocs.yml): install the `docs` extra into .venv, execute the teaching
# scripts in smoke mode (cached in build/.cache) and build build/site in strict mode.
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	REAWAKEN_SMOKE=1 NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache src/*.egg-info
