# The two commands a newcomer needs: `make up` and `make check`. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up check lint typecheck test format openapi bench bench-realtime clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/taskboard up

check: lint typecheck test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The committed contracts (REST and WebSocket): rewrite them after changing either API, and
# review the diff.
openapi: $(STAMP)
	$(BIN)/python -m taskboard.api.openapi > docs/openapi.json
	$(BIN)/python -m taskboard.realtime.asyncapi > docs/asyncapi.json

bench: $(STAMP)
	$(BIN)/python loadtests/bench_write.py

bench-realtime: $(STAMP)
	$(BIN)/python loadtests/bench_realtime.py

clean:
	rm -rf $(VENV) .taskboard .mypy_cache .ruff_cache .hypothesis .schemathesis
