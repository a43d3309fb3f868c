# Two commands do all set-up on a fresh machine (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test lint bench clean system-packages

# Stamp files make repeated runs quick: reinstall only when the dependency lists change.
$(VENV)/.run-stamp: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-stamp: pyproject.toml $(VENV)/.run-stamp
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.run-stamp
	$(BIN)/mcp-central serve $(ARGS)

system-packages:
	bash .ci/system-packages

test: $(VENV)/.test-stamp node_modules/.stamp system-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-stamp
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src/mcp_central

bench: $(VENV)/.run-stamp
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) node_modules
