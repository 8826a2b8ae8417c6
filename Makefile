# The two front-door commands: `make run` and `make test`. Everything they need is
# installed into .venv from requirements.txt.
PYTHON ?= $(shell for p in python3.12 python3.11; do $$p -c 'import sys' >/dev/null 2>&1 && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup db demo key bench bench-small policy-test clean

$(BIN)/ready: requirements.txt
	@test -n "$(PYTHON)" || (echo "Python 3.11 or 3.12 is required (oso 0.27.3 has no wheel for 3.13)"; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

setup: $(BIN)/ready

db: setup
	$(BIN)/flask --app app db init

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

test: setup
	$(BIN)/python -m pytest -q

# Benchmarks (bench/run.py): one table, written as JSON to bench/results/<size>.json.
# `make bench` builds 1,000,000 memberships on PostgreSQL ($$BENCH_PG_URL, else
# $$TEST_DATABASE_URL, else postgres@127.0.0.1/test, in a schema of its own) and on SQLite;
# the HTTP runs need wrk (apt-get install -y wrk). `make bench-small` is the CI guard.
BENCH_SIZE ?= large
BENCH_BACKEND ?= postgres,sqlite
bench: setup
	$(BIN)/python bench/run.py --size $(BENCH_SIZE) --backend $(BENCH_BACKEND)

bench-small: setup
	$(BIN)/python bench/run.py --size small --backend sqlite --quick --check-baseline

policy-test: setup
	$(BIN)/flask --app app policy test

clean:
	rm -rf $(VENV) instance .pytest_cache
