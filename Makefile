# The optimizer lab. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY ?= true
export DO_NOT_TRACK ?= true

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-long test-full lint ui report notebook bench server postgres tune test-slurm clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# One line per step, so a cold install (a few minutes) shows it is alive; pip's own output goes
# to .venv/install.log and is shown only when a step fails. setuptools warns on every editable
# install of a flat layout that folders named like the packages shadow them: here they are them.
$(STAMP): pyproject.toml
	@echo "[venv] creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@echo "[venv] upgrading pip"
	@$(PY) -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@echo "[venv] installing the lab and its dev tools (numpy, mlflow, hydra, seaborn, pytest, ...)"
	@PYTHONWARNINGS="ignore:Editable installation" \
	  $(PY) -m pip install -q -e '.[dev]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)
	@echo "[venv] ready: $(VENV) (pip's log: $(VENV)/install.log)"

venv: $(STAMP) ## Create .venv and install the project with its dev extra

demo: $(STAMP) ## Run the headline study on the embedded store and write its report
	$(PY) -m experiments.demo

# Tests run on every core; a module's tests stay on one worker so its expensive fixtures (a
# sweep's store, a server) are built once.
PYTEST := $(PY) -m pytest -n auto --dist loadfile

test: $(STAMP) ## Run the test suite, about 5 minutes on 2 cores (CI runs it, then test-long)
	$(PYTEST)

test-long: $(STAMP) ## Run only the long suites (marked full) that make test leaves out
	$(PYTEST) -m "full and not slurm"

test-full: $(STAMP) ## Run every test but Slurm's: make test and make test-long in one go
	$(PYTEST) -m "not slurm"

test-slurm: $(STAMP) ## Start a local Slurm cluster (Debian, root) and run the Slurm tests
	bash .ci/slurm/setup
	$(PY) -m pytest -m slurm

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

ui: $(STAMP) ## Open the MLflow UI on the embedded store (127.0.0.1)
	$(PY) -m harness.tracking.ui

report: $(STAMP) ## Report on a sweep: EXPERIMENT=stall SWEEP=latest|all|<run id> REPORT_LANG=en|ja
	$(PY) -m analysis.report --experiment $${EXPERIMENT:-stall} --sweep $${SWEEP:-latest} \
	  --lang $${REPORT_LANG:-en}

# The notebook's source is the percent script; the executed .ipynb and its HTML are built here.
NOTEBOOK_OUT := reports/notebook

notebook: $(STAMP) ## Execute docs/lecture_to_lab.py into reports/notebook/ (.ipynb and .html)
	@mkdir -p $(NOTEBOOK_OUT)
	$(VENV)/bin/jupytext --to ipynb --execute --output $(NOTEBOOK_OUT)/lecture_to_lab.ipynb \
	  docs/lecture_to_lab.py
	$(VENV)/bin/jupyter nbconvert --to html $(NOTEBOOK_OUT)/lecture_to_lab.ipynb

tune: $(STAMP) ## Tuned comparison: STUDY=stall (default) or shift; ARGS="--budget 8"
	$(PY) -m experiments.tune $${STUDY:-stall} $${ARGS:-}

bench: $(STAMP) ## Benchmarks against their baselines; writes benchmarks/RESULTS.md
	$(PY) -m benchmarks

server: $(STAMP) ## MLflow tracking server on PostgreSQL for a team (127.0.0.1:5000)
	$(PY) -m harness.tracking.server

postgres: ## Install and start a local PostgreSQL for make server (root once; idempotent)
	bash .ci/setup-postgres

clean: ## Remove the virtualenv and caches (keeps the tracking store)
	rm -rf $(VENV) .pytest_cache
