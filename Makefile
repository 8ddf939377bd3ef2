# Two commands matter: `make run` (the system, on the embedded SQLite event store) and
# `make test` (lint, types, every test against the real Kafka broker and PostgreSQL).
# Both set up what they need: virtualenv, Python packages, Kafka's jars, the services
# (and, for the tests, Stripe's mock API server, built once from the Go module proxy).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-$(shell cat pyproject.toml requirements-dev.lock | sha256sum | cut -c1-16)
# The lock files pin every package with its hashes (uv pip compile, for every platform):
# requirements.lock for the image, requirements-dev.lock for development and CI.
LOCK := $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -q

.PHONY: run test setup native lock docs docs-serve kafka postgres stripe-mock go npm topics chromium lint bench reliability stop clean

run: setup native kafka topics
	$(PY) -m services.run

# The unit tests on the Python source (what anyone edits, and what runs where nothing was
# built), then every test on the form that runs: the core and the folds compiled.
test: setup native kafka postgres stripe-mock topics chromium lint docs
	KALEMA_NATIVE=0 $(VENV)/bin/pytest -q tests/unit
	$(VENV)/bin/pytest

setup: $(DEPS_STAMP)

$(DEPS_STAMP): pyproject.toml requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	rm -f $(VENV)/.deps-* && touch $@

# The credit rules, the ledger's batch and the projector's folds compiled with mypyc into
# .cache/native (once per change of their sources: services/native.py). Without a C compiler,
# or with KALEMA_NATIVE=0, all of it runs as Python.
native: setup
	$(PY) -m services.native || echo "native: not built; the core and the folds run as Python"

# After changing the dependencies in pyproject.toml: pin them anew (needs PyPI).
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

kafka:
	infra/kafka.sh start

postgres:
	infra/postgres.sh start

# Stripe's official mock API server: the Stripe provider's tests call it, never Stripe.
stripe-mock: go
	infra/stripe-mock.sh start

# Go builds stripe-mock (once, into .cache) and npm fetches Mermaid's bundle for the site (once):
# Debian's packages when the machine has neither (Go's own install in /usr/local/go counts).
go:
	@command -v go >/dev/null || test -x /usr/local/go/bin/go || { echo "installing Debian's golang-go for stripe-mock"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go; }

npm:
	@command -v npm >/dev/null || { echo "installing Debian's npm for the site's diagrams"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }

# The browser test drives Debian's Chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

topics: setup kafka
	$(PY) -m services.topics

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The documentation site (mkdocs.yml, docs/), built strict into site/: a broken link or anchor,
# or a page left out of the navigation, fails it. The contracts as documents (docs/asyncapi.json,
# docs/openapi.json) are generated first, not committed; Mermaid's bundle comes from .cache.
docs: setup npm
	infra/mermaid.sh
	$(PY) -m services.contracts
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: setup npm
	infra/mermaid.sh
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# The benchmarks (benchmarks/, figures in BENCHMARKS.md): minutes each, on a quiet machine, never
# part of make test. BENCH names one (credits bench --help lists them); ARGS go to it.
BENCH ?= end-to-end
bench: setup native kafka postgres topics
	$(PY) -m services.cli bench $(BENCH) $(ARGS)

# The reliability runs (reliability/, verdicts in RELIABILITY.md): the fuzz run on both stores,
# then the fault run on its own private broker and PostgreSQL cluster, then the top-up fault run
# (the shared ones: it kills processes only). Never part of make test.
reliability: setup native kafka postgres topics
	$(PY) -m reliability.fuzz --messages 10000 --store sqlite --seed 1
	$(PY) -m reliability.fuzz --messages 10000 --store postgres --seed 2
	$(PY) -m reliability.faults
	$(PY) -m reliability.top_up_faults --accounts 100 --uses 20

stop:
	infra/kafka.sh stop
	infra/stripe-mock.sh stop

clean: stop
	rm -rf .cache $(VENV)
