# The optimizer lab. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY ?= true
export DO_NOT_TRACK ?= true

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-full lint ui report bench server postgres tune test-slurm clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the project with its dev extra

demo: $(STAMP) ## Run the headline study on the embedded store and write its report
	$(PY) -m experiments.demo

test: $(STAMP) ## Run the test suite (what CI runs)
	$(PY) -m pytest

test-full: $(STAMP) ## Run every test, the long suites included (Slurm's too)
	$(PY) -m pytest -m "full or not full"

test-slurm: $(STAMP) ## Start a local Slurm cluster (Debian, root) and run the Slurm tests
	bash .ci/slurm/setup
	$(PY) -m pytest -m slurm

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

ui: $(STAMP) ## Open the MLflow UI on the embedded store (127.0.0.1)
	$(PY) -m harness.ui

report: $(STAMP) ## Report on a sweep: EXPERIMENT=stall (default) SWEEP=latest|all|<parent run id>
	$(PY) -m analysis.report --experiment $${EXPERIMENT:-stall} --sweep $${SWEEP:-latest}

tune: $(STAMP) ## Tuned comparison: STUDY=stall (default) or shift; ARGS="--budget 8"
	$(PY) -m experiments.tune $${STUDY:-stall} $${ARGS:-}

bench: $(STAMP) ## Benchmarks against their baselines; writes benchmarks/RESULTS.md
	$(PY) -m benchmarks

server: $(STAMP) ## MLflow tracking server on PostgreSQL for a team (127.0.0.1:5000)
	$(PY) -m harness.server

postgres: ## Install and start a local PostgreSQL for make server (root once; idempotent)
	bash .ci/setup-postgres

clean: ## Remove the virtualenv and caches (keeps the tracking store)
	rm -rf $(VENV) .pytest_cache
