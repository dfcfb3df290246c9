# Two entry points (see README): `make demo` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
COLL_ROOT := $(CURDIR)/.collections
COLL_LINK := $(COLL_ROOT)/ansible_collections/homeiq/phase0
export PHASE0_STATE_DIR ?= /var/tmp/phase0-state
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)
export VENV

# `make demo` runs on a copy of the demo stack: the health fix edits the compose file, and phase 0
# writes backups/, diagnostics/, logs/ and reports/ next to it; the checkout stays clean.
DEMO_SRC := $(CURDIR)/tests/fixtures/demo
DEMO_DIR := $(CURDIR)/.build/demo
DEMO_VARS := $(CURDIR)/tests/fixtures/demo-vars.yml

.PHONY: demo-rollback ee testdeps help bootstrap venv collection engine images demo demo-down test unit sanity lint integration molecule pytest clean

help:
	@echo "make demo   - set up everything, start the demo stack, run phase 0 on it"
	@echo "make test   - set up everything, run unit, sanity, lint, molecule and integration tests"

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# The checkout itself is the collection; link it where ansible and pytest look for it.
collection:
	mkdir -p $(COLL_ROOT)/ansible_collections/homeiq
	ln -sfn ../../.. $(COLL_LINK)

engine: venv
	tests/bootstrap/engine.sh

images: engine
	$(BIN)/python tests/bootstrap/images.py

testdeps:
	tests/bootstrap/packages.sh chromium zstd

bootstrap: venv collection engine images

demo: bootstrap
	@if [ ! -f $(DEMO_DIR)/docker-compose.yml ]; then mkdir -p $(DEMO_DIR) && cp -a $(DEMO_SRC)/. $(DEMO_DIR)/; fi
	docker compose --project-directory $(DEMO_DIR) up -d --quiet-pull
	tests/bootstrap/wait_settled.sh $(DEMO_DIR) 120
	$(BIN)/ansible-playbook playbooks/phase0.yml -e @$(DEMO_VARS) -e phase0_project_dir=$(DEMO_DIR)

# Break the demo on purpose (containers and volumes removed, volumes recreated empty), then roll it
# back to its newest backup: the restore role proves every volume digest and image id before the
# stack starts again, and the playbook checks the services after.
demo-rollback: bootstrap
	@test -f $(DEMO_DIR)/docker-compose.yml || { echo "no demo at $(DEMO_DIR): run 'make demo' first" >&2; exit 2; }
	docker compose --project-directory $(DEMO_DIR) down -v -t 2
	docker compose --project-directory $(DEMO_DIR) create
	$(BIN)/ansible-playbook playbooks/rollback.yml -e @$(DEMO_VARS) -e phase0_project_dir=$(DEMO_DIR) \
	  -e rollback_confirm=true

demo-down: engine
	if [ -f $(DEMO_DIR)/docker-compose.yml ]; then docker compose --project-directory $(DEMO_DIR) down -v --remove-orphans; fi
	rm -rf $(DEMO_DIR)

unit: venv collection
	$(BIN)/pytest tests/unit -q

sanity: venv
	tests/bootstrap/sanity.sh

lint: venv collection
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint

molecule: bootstrap
	$(BIN)/molecule test -s default

integration: bootstrap
	$(BIN)/pytest tests/integration -q

# Unit and integration tests in one pytest run, so its summary line is the last thing printed.
pytest: bootstrap testdeps
	$(BIN)/pytest tests/unit tests/integration -q -rfEs

test: bootstrap sanity lint molecule pytest

# Execution-environment build context for AWX (the image build itself needs a registry for its base).
ee: venv
	rm -rf .build/ee && $(BIN)/ansible-galaxy collection build --force --output-path .build/ee
	mv .build/ee/homeiq-phase0-*.tar.gz .build/ee/homeiq-phase0.tar.gz
	$(BIN)/ansible-builder create -f execution-environment.yml --context .build/ee/context --output-filename Dockerfile

clean:
	rm -rf $(VENV) .collections .build .pytest_cache tests/output
