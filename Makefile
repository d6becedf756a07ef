# ragapi: every target is a one-liner; longer logic lives in scripts/.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# make run WORKERS=2: N processes on the port, storage in PostgreSQL (decision 0013).
WORKERS ?= 1
# make test COV= runs without coverage measurement; make soak MINUTES=5 runs a shorter soak.
COV     ?= --cov --cov-report=term
MINUTES ?= 30
STAMP   := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-huge test-memory faults soak fuzz check fmt bench bench-compare console-screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## create or refresh .venv with every extra

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[all,dev]'
	@touch $(STAMP)

run: install ## run the whole stack on one port (ragapi up; WORKERS=2 for two processes)
	$(BIN)/ragapi up --workers $(WORKERS)

test: install ## the test suite against real NATS, Redis, PostgreSQL and Chromium (line and branch coverage, gate 85 %)
	scripts/install-system-packages.sh
	$(BIN)/pytest -q -m "not huge and not memory" -n 4 --dist loadfile --durations=15 $(COV)

test-huge: install ## the 60 and 100 MB end-to-end uploads (about 10 minutes)
	$(BIN)/pytest -q -m huge

test-memory: install ## RSS after 2 000 tenants opened, queried and evicted (about a minute)
	$(BIN)/pytest -q -m memory

faults: install ## the fault suite alone, then docs/reliability.md rendered from its run
	rm -rf .pytest_cache/reliability && $(BIN)/pytest -q -m faults -n 4 --dist loadfile; s=$$?; $(BIN)/python scripts/reliability_table.py && exit $$s

soak: install ## steady mixed load for MINUTES (30): resource slopes per 10 000 requests, PNG in benchmarks/results/soak/
	$(BIN)/python -m benchmarks.soak --minutes $(MINUTES)

fuzz: install ## schemathesis over every API, 500 examples per operation (make test runs 15)
	RAGAPI_FUZZ_EXAMPLES=500 $(BIN)/pytest -q tests/fuzz

check: install ## ruff format --check, ruff lint, mypy --strict
	$(BIN)/ruff format --check . && $(BIN)/ruff check . && $(BIN)/mypy

fmt: install ## apply ruff format and autofixes
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

console-screenshots: install ## the console's browser tests, saving each page's screenshot to docs/console/
	scripts/install-system-packages.sh
	RAGAPI_CONSOLE_SCREENSHOTS=docs/console $(BIN)/pytest -q tests/console

bench: install ## run the benchmark harness (see benchmarks/README.md)
	$(BIN)/python -m benchmarks.run

bench-compare: install ## ragapi vs LightRAG Server 1.5.7 (JSON, table, plots in benchmarks/results/)
	$(BIN)/python -m benchmarks.compare $(ARGS)

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
