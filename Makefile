# speval — one command for the demo report, one for the tests. Both set everything up first.
SHELL := /bin/bash
# The demo quarter: 2013Q4 for LTC; MH referrals start in 2015, so an MH demo evaluates 2016Q4.
QUARTER ?= $(if $(filter MH,$(PROGRAMME)),2016Q4,2013Q4)
PROGRAMME ?= LTC
SCALE ?= 1.0
SEED ?= 42
UV_VERSION := 0.13.8
export DAGSTER_HOME := $(CURDIR)
export SPEVAL_DAGSTER_STORAGE := $(CURDIR)/.dagster
export BROWSER_PATH ?= /usr/bin/chromium
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup demo test ui bench clean

setup:
	@bash scripts/install-system-deps.sh
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install -q "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --compile-bytecode --quiet  # bytecode compiled once: each process then starts ~7 s sooner
	@mkdir -p $(SPEVAL_DAGSTER_STORAGE)

demo: setup
	@rm -f data/warehouse/$(PROGRAMME)/$(QUARTER).duckdb data/warehouse/$(PROGRAMME)/$(QUARTER).duckdb.wal  # fresh data, fresh warehouse
	@$(UV) run --frozen speval demo-data --out data/raw --scale $(SCALE) --seed $(SEED)
	@$(UV) run --frozen speval run --quarter $(QUARTER) --programme $(PROGRAMME) --data-dir data/raw \
		--out reports/out 2>$(SPEVAL_DAGSTER_STORAGE)/last-run.log \
		|| { tail -n 30 $(SPEVAL_DAGSTER_STORAGE)/last-run.log; exit 1; }

# Whole modules go to the parallel workers in the order tests/conftest.py gives them (longest first);
# pytest-xdist would otherwise hand them out by number of tests, leaving the longest module for last.
test: setup
	@$(UV) run --frozen pytest -q -n auto --dist loadfile --no-loadscope-reorder

# Everything except the tests marked `pipeline` (a real `speval run`, or PDFs) or `browser` (the UI): 46-49 s.
.PHONY: test-fast
test-fast: setup
	@$(UV) run --frozen pytest -q -n auto --dist loadfile --no-loadscope-reorder -m "not pipeline and not browser"

ui: setup
	@echo "Dagster UI on http://127.0.0.1:3000 (run history kept in .dagster/)"
	@$(UV) run --frozen dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: setup
	@$(UV) run --frozen python bench/pipeline.py

clean:
	rm -rf reports/out data/warehouse .dagster
