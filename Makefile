# Kipinä developer Makefile.
#
# Infra targets (this section) drive deploy/local.py: a single-node Kafka (KRaft)
# and PostgreSQL, both on 127.0.0.1, state under .kipina/ (see deploy/README.md).
# Other targets (tests, lint, services) can be added below their own heading.

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
# Touched after a successful install; reinstall whenever pyproject.toml is newer.
STAMP   := $(VENV)/.kipina-installed

.DEFAULT_GOAL := help

.PHONY: help venv infra-up infra-status infra-down infra-reset

help: ## list targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- environment

venv: $(STAMP) ## create .venv and pip install -e '.[dev]' (again if pyproject.toml changed)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

# Infra targets only need a venv to exist (order-only prerequisite), so they do
# not reinstall packages every time pyproject.toml is touched; run `make venv` for that.
$(PY):
	$(MAKE) venv

# ---------------------------------------------------------------- infrastructure

infra-up: | $(PY) ## start Kafka + PostgreSQL (idempotent; first run fetches Kafka), write .kipina/env
	$(PY) -m deploy.local up

infra-status: | $(PY) ## show whether Kafka and PostgreSQL are up (exit 1 if not)
	$(PY) -m deploy.local status

infra-down: | $(PY) ## stop Kafka and PostgreSQL, keep data
	$(PY) -m deploy.local down

infra-reset: | $(PY) ## stop and delete all infra data (keeps the downloaded Kafka libs)
	$(PY) -m deploy.local reset

# ---------------------------------------------------------------- the whole system

.PHONY: up up-cluster down status test test-unit test-browser test-infra-down lint bench bench-soak bench-pipeline bench-floors contracts browser kustomize

up: venv ## everything: Kafka, PostgreSQL, mail sink, the four services, demo data; prints URLs and tokens
	$(PY) -m deploy.stack up

up-cluster: venv ## as `make up`, on a three-broker Kafka cluster (KIPINA_KAFKA_BROKERS=3; deploy/README.md)
	KIPINA_KAFKA_BROKERS=3 $(PY) -m deploy.stack up

down: | $(PY) ## stop the services, the mail sink and the infrastructure (data kept)
	$(PY) -m deploy.stack down

status: | $(PY) ## what is running
	$(PY) -m deploy.stack status

# ---------------------------------------------------------------- checks

lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services deploy bench

test-unit: venv ## unit tests only (no I/O)
	$(VENV)/bin/pytest tests/unit -q

contracts: venv ## snapshot new event types' JSON Schemas in contracts/events (refuses incompatible changes)
	$(PY) -m shared.contracts write

browser: ## Debian's chromium for the browser tests, installed if missing (as root, or with sudo); fast when there
	bash deploy/install-chromium.sh

kustomize: ## kustomize for the manifest tests, built with Go into .kipina/tools if missing; fast when there
	bash deploy/install-kustomize.sh

test-browser: venv browser ## browser tests only: headless Chromium (Playwright) against a running service
	$(VENV)/bin/pytest tests/browser -q -p no:cacheprovider

# Integration, e2e, browser and fault tests start Kafka and PostgreSQL of their own (state in .kipina/test,
# Kafka on 19192, PostgreSQL on 15532) if they are not running, so a `make up` stack is untouched.
# Fault tests run last: one of them stops and restarts the broker.
test: venv lint browser kustomize ## all tests: lint, unit, integration (real Kafka + PostgreSQL), e2e (four processes), browser, faults
	$(VENV)/bin/pytest tests/unit tests/integration tests/e2e tests/browser tests/faults -q -p no:cacheprovider

test-infra-down: | $(PY) ## stop the tests' own Kafka and PostgreSQL
	$(PY) -m tests.support.infra down

# The benchmark runs on the tests' own Kafka and PostgreSQL; BENCH_ARGS adds options (e.g. --base-port 18500).
bench: venv ## floors + Kipinä under Poisson load: saturation, latency at 25/50/90%, CPU, memory, profile, plot; rewrites docs/PERFORMANCE.md's figures
	$(PY) -m bench.run $(BENCH_ARGS)

bench-soak: venv ## bench with the issue's 30-minute soak (memory flat under load)
	$(PY) -m bench.run --soak-minutes 30 $(BENCH_ARGS)

bench-pipeline: venv ## the old closed-loop run: 500 cases over HTTP through intake → review → intake
	$(PY) -m bench.pipeline --cases 500 --concurrency 16

bench-floors: venv ## the floors (bare aiokafka + asyncpg; a bare ASGI POST /cases) and the pipeline; Kipinä as ratios to them
	$(PY) -m bench.floors
