# The two front-door commands: `make run` and `make test`. Each builds .venv from the locks
# (every package pinned, transitive ones included, with hashes; `make lock` remakes them):
#   requirements.txt        the service's runtime only: `make run`, the Dockerfile
#   requirements-dev.txt    the suite and its tools (pytest, playwright, hypothesis,
#                           schemathesis, httpx, mypy, ruff, pip-tools): `make test`
#   requirements-bench.txt  the engines bench/ compares with (casbin, cedarpy): `make test`
#                           (CI runs `make bench-small` after it) and `make bench`
# plus the client package from clients/python (a local folder cannot be hash-pinned: it is
# installed after the locks, without its dependencies, which the dev lock pins).
PYTHON ?= $(shell for p in python3.12 python3.11; do $$p -c 'import sys' >/dev/null 2>&1 && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
LOCKS := requirements.txt requirements-dev.txt requirements-bench.txt


.PHONY: run test axe setup setup-dev db demo key bench bench-small bench-scale bench-cluster policy-test mutmut typecheck lint lock clean cluster

$(BIN)/python:
	@test -n "$(PYTHON)" || (echo "Python 3.11 or 3.12 is required (oso 0.27.3 has no wheel for 3.13)"; exit 1)
	$(PYTHON) -m venv $(VENV)

# Runtime only: what the service imports and gunicorn; no test tool.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	touch $@

# Runtime + dev + bench, then the client (editable: the tests see its source as it is).
$(VENV)/.dev: $(LOCKS) clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes $(addprefix -r ,$(LOCKS))
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e ./clients/python
	touch $(VENV)/.runtime $@

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev

# The migrations (the Dockerfile and a Procfile's release phase run the same command).
db: setup
	$(BIN)/flask --app app db upgrade

demo: db
	$(BIN)/flask --app app demo load

run: demo
	@KEY=$$($(BIN)/flask --app app keys create demo-$$(date +%s)); \
	echo; echo "API key (shown once): $$KEY"; echo; \
	echo "Try:"; \
	echo "  curl -s -H 'Authorization: Bearer $$KEY' -H 'Content-Type: application/json' \\"; \
	echo "    http://$(HOST):$(PORT)/v1/authorize \\"; \
	echo "    -d '{\"actor\":{\"id\":\"pix4d-member\"},\"action\":\"view\",\"resource\":{\"type\":\"Dataset\",\"id\":\"pix4d-bridge-scan\"},\"explain\":true}'"; \
	echo "  curl -s -H 'Authorization: Bearer $$KEY' -H 'Content-Type: application/json' \\"; \
	echo "    http://$(HOST):$(PORT)/v1/authorize/actions \\"; \
	echo "    -d '{\"actor\":{\"id\":\"up42-member\"},\"resource\":{\"type\":\"Organization\",\"id\":\"org-up42\"}}'"; \
	echo; \
	exec $(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) "app:create_app()"

# axe-core (pinned by its lock) for the console pages' accessibility check, when the page
# tests can run (Debian's chromium is installed; they are skipped without it).
AXE := tests/routes/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/routes/axe/package-lock.json
	npm ci --prefix tests/routes/axe
	touch $@  # npm keeps the package's own (1985) times

axe:
	@if command -v chromium >/dev/null 2>&1; then $(MAKE) --no-print-directory $(AXE); fi

# mypy over the packages listed in pyproject.toml ([tool.mypy] files), then the suite.
# The suite runs on every core (pytest-xdist): each worker has its own SQLite files and its own
# PostgreSQL schema (tests/conftest.py), and a test file stays on one worker. TEST_JOBS=0 runs
# it in one process. Three workers on two cores: much of the suite waits (gunicorn nodes,
# PostgreSQL, deadlines). With both databases, three workers took 10.5 to 12 minutes on one
# 2-core machine (2,294 tests; .ci/run in all 12 to 13.5 minutes, the environment built from
# scratch) and 19 to 22 minutes on a slower one.
TEST_JOBS ?= 3
test: setup-dev axe
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile

typecheck: setup-dev
	$(BIN)/mypy

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Remake the locks from the .in files with pip-tools, on Python 3.11, the oldest the service
# supports (a lock made on 3.12 can pin releases that need 3.12). Keeps the current pins
# where they still fit; `make lock LOCK_ARGS=--upgrade` moves everything to the newest.
LOCK_PYTHON ?= python3.11
LOCK_ARGS ?=
lock:
	@set -e; tools=$${TMPDIR:-/tmp}/orgauthz-pip-tools; \
	$(LOCK_PYTHON) -m venv $$tools; \
	$$tools/bin/pip install --quiet pip-tools==7.6.2; \
	for f in requirements requirements-dev requirements-bench; do \
	  CUSTOM_COMPILE_COMMAND="make lock" $$tools/bin/pip-compile --quiet --generate-hashes \
	    --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
	    --output-file $$f.txt $$f.in; \
	done; \
	rm -rf $$tools

# Benchmarks (bench/run.py): one table, written as JSON to bench/results/<size>.json.
# `make bench` builds 1,000,000 memberships on PostgreSQL ($$BENCH_PG_URL, else
# $$TEST_DATABASE_URL, else postgres@127.0.0.1/test, in a schema of its own) and on SQLite;
# the HTTP runs need wrk (apt-get install -y wrk). `make bench-small` is the CI guard.
# bench/reload.py: the slowest check during policy reloads beside the slowest without one.
# bench/scale.py: varied checks and writes at 1,000,000 and 10,000,000 memberships side by
# side (docs/capacity.md; about 30 minutes and 4 GB of disk on the 2-core machine); `make
# bench BENCH_SCALE=` skips it, `make bench-scale` runs it alone.
BENCH_SIZE ?= large
BENCH_BACKEND ?= postgres,sqlite
BENCH_SCALE ?= large,xlarge
bench: setup-dev
	$(BIN)/python bench/run.py --size $(BENCH_SIZE) --backend $(BENCH_BACKEND)
	$(if $(BENCH_SCALE),$(BIN)/python bench/scale.py --sizes $(BENCH_SCALE))
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/reload.py

bench-scale: setup-dev
	$(BIN)/python bench/scale.py --sizes $(or $(BENCH_SCALE),large,xlarge)

# Two nodes on a primary and a streaming replica (deploy/localcluster.py): the staleness
# window of checks without a token, and checks/s with and without the replica.
bench-cluster: setup-dev
	$(BIN)/python bench/cluster.py

bench-small: setup-dev
	$(BIN)/python bench/run.py --size small --backend sqlite --quick --check-baseline

# Several nodes on this machine (deploy/localcluster.py; README "Running several nodes"): a
# PostgreSQL primary and streaming replicas of its own, gunicorn nodes, nginx in front on
# 127.0.0.1:$(CLUSTER_PORT); prints the URLs and an API key, Ctrl-C stops everything. Needs
# root (the servers run as postgres), PostgreSQL's server binaries and nginx; e.g.
#   make cluster CLUSTER_ARGS="--replicas 2 --nodes 3 --pgbouncer"
CLUSTER_PORT ?= 8080
CLUSTER_ARGS ?=
cluster: setup
	$(BIN)/python -m deploy.localcluster --port $(CLUSTER_PORT) $(CLUSTER_ARGS)

policy-test: setup
	$(BIN)/flask --app app policy test --mutants

# A mutation run (mutmut, [tool.mutmut] in pyproject.toml) over access/members.py,
# access/invitations.py and access/uow.py with their feature tests. mutmut copies the code
# into mutants/ and runs there; the directory is removed afterwards (never committed).
# MUTMUT_TIME bounds the run (seconds); `mutmut results` lists what survived.
MUTMUT_TIME ?= 2400
mutmut: setup-dev
	-timeout $(MUTMUT_TIME) $(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results
	rm -rf mutants

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache
