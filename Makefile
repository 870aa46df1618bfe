# RadLabel: `make run` sets up and runs the embedded stack; `make test` sets up and runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/radlabel
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts -type f 2>/dev/null)

.PHONY: run setup venv frontend services system-packages test test-quick test-python test-frontend lint bench

run: setup
	$(PY) manage.py run_stack

setup: venv frontend
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo --train

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

frontend: frontend/dist/index.html

frontend/node_modules/.installed: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

frontend/dist/index.html: frontend/node_modules/.installed frontend/package.json $(FRONTEND_SOURCES)
	cd frontend && npm run build

# PostgreSQL and Redis for the tests: start them when they are down (loopback only).
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start
	@for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; pg_isready -h 127.0.0.1 -p 5432
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /tmp --logfile /tmp/radlabel-redis.log
	@for i in $$(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done; redis-cli -h 127.0.0.1 -p 6379 ping

# Debian packages the tests drive: Chromium, Orthanc with DICOMweb, dciodvfy (dicom3tools).
APT_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
system-packages:
	@command -v chromium >/dev/null || { $(APT_INSTALL) chromium >/dev/null; }
	@command -v Orthanc >/dev/null && test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so || { $(APT_INSTALL) orthanc orthanc-dicomweb >/dev/null; }
	@command -v dciodvfy >/dev/null || { $(APT_INSTALL) dicom3tools >/dev/null; }

test: venv frontend services system-packages lint test-frontend test-python

test-frontend: frontend
	cd frontend && npm test

test-python: venv frontend services
	DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

# The quick subset: no slow ML or end-to-end stacks.
test-quick: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: venv frontend/node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run
	cd frontend && npm run lint && npm run typecheck

bench: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -u bench/api.py
