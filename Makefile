# The entry points of the README: `make demo` and `make test` install what they need first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := reports/node_modules/.installed
MANIFEST := dbt_project/target/manifest.json

export ICW_HOME ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(ICW_HOME)/dagster
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export PATH := $(BIN):$(PATH)

.PHONY: help install demo test test-fast test-fuzz dev docs lint bench clean chromium

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(PY_STAMP): pyproject.toml constraints.txt
	@echo "==> Python environment in $(VENV) (about a minute the first time)"
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,spark,athena]"
	@touch $@

$(NPM_STAMP): reports/package.json reports/package-lock.json
	@echo "==> Report packages in reports/node_modules (about a minute the first time)"
	@command -v npm >/dev/null || { echo "Node 20 and npm are needed for the report"; exit 1; }
	@# npm ci rejects this lock (npm records no optional bindings for other platforms);
	@# npm install resolves exactly the locked versions and leaves the lock as committed.
	cd reports && npm install --no-audit --no-fund --loglevel=error
	@touch $@

$(MANIFEST): $(PY_STAMP) $(shell find dbt_project/models dbt_project/macros dbt_project/tests seeds -type f 2>/dev/null) dbt_project/dbt_project.yml
	cd dbt_project && $(BIN)/dbt parse --quiet --profiles-dir .

chromium: ## install headless Chromium for the PDF, and pdftotext for its tests (Debian; root)
	@if { command -v chromium >/dev/null || command -v chromium-browser >/dev/null; } \
		&& command -v pdftotext >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "==> Installing Chromium and poppler-utils (Debian packages) for the PDF"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium poppler-utils >/dev/null; \
	else echo "NOTE: install your distribution's 'chromium' package for the PDF report" \
		"(and 'poppler-utils' for the PDF tests)"; fi

install: $(PY_STAMP) $(NPM_STAMP) $(MANIFEST) chromium ## create .venv, install npm packages and Chromium
	@$(BIN)/python -c "from orchestration.core.settings import Settings; \
		from orchestration.automation.refresh import prepare_dagster_home; prepare_dagster_home(Settings.from_env())"

demo: install ## generate demo extracts, refresh the warehouse, build the report
	$(BIN)/icw demo
	@echo
	@echo "Warehouse:   $(ICW_HOME)/warehouse.duckdb  (schemas marts, audit)"
	@echo "Report:      $(ICW_HOME)/reports/site/index.html"
	@echo "Pack:        $$(ls -1 $(ICW_HOME)/reports/icw-pack-*.pdf 2>/dev/null | tail -1)"
	@echo "Scorecards:  $$(ls -1 $(ICW_HOME)/reports/icw-scorecard-*.pdf 2>/dev/null | wc -l) in $(ICW_HOME)/reports/ (icw-scorecard-<LDU>-<YYYY-MM>.pdf)"
	@echo "Quarantine:  $(ICW_HOME)/quarantine/ (rejected files), audit.quarantined_rows (rows)"
	@echo "Dagster UI:  make dev, then open http://127.0.0.1:3000"

test: install ## run the whole test suite (unit, integration, e2e)
	$(BIN)/python -m pytest

test-fast: $(PY_STAMP) $(MANIFEST) ## unit and integration tests, no browser, no slow ones (a few minutes)
	ICW_FUZZ_EXAMPLES=$${ICW_FUZZ_EXAMPLES:-25} $(BIN)/python -m pytest -q -m "not e2e and not slow"

test-fuzz: $(PY_STAMP) ## the loader's property test at length (5,000 damaged files, under an hour)
	ICW_FUZZ_EXAMPLES=$${ICW_FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -q \
		tests/integration/test_loader_properties.py

dev: install ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m orchestration.definitions

docs: install ## build the dbt docs site into dbt_project/target
	@mkdir -p $(ICW_HOME)
	cd dbt_project && ICW_WAREHOUSE=$${ICW_WAREHOUSE:-$(ICW_HOME)/warehouse.duckdb} $(BIN)/dbt docs generate --profiles-dir .
	@echo "dbt docs: dbt_project/target/index.html (serve with: cd dbt_project && $(BIN)/dbt docs serve --profiles-dir .)"

lint: $(PY_STAMP) ## ruff and sqlfluff
	$(BIN)/ruff check orchestration tests
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros

clean: ## remove generated data and build output (keeps .venv and node_modules)
	rm -rf data dbt_project/target dbt_project/logs reports/build reports/.evidence/template \
		reports/pages/methods.md reports/prerender-entries.json

bench: install ## benchmarks at division and national scale (not part of make test; ~1 hour)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
