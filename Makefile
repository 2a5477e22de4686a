# mediaflow: two commands set everything up on a fresh machine: `make test` and `make demo`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv tools ffmpeg lint test test-unit demo up down stack-up stack-down bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

tools:
	@scripts/ensure-tools.sh

lint: venv
	$(BIN)/ruff check .

test: venv tools lint
	$(BIN)/python -m pytest

test-unit: venv
	$(BIN)/python -m pytest -m "not integration and not distributed and not faults" --ignore=tests/integration --ignore=tests/faults

stack-up: venv
	$(BIN)/python -m include.local_stack.stack up

stack-down: venv
	$(BIN)/python -m include.local_stack.stack down

up: venv tools
	$(BIN)/python -m include.local_stack.airflow_local up

down: venv
	$(BIN)/python -m include.local_stack.airflow_local down

demo: venv tools
	$(BIN)/python -m include.local_stack.airflow_local demo

bench: venv tools
	$(BIN)/python -m bench.run

clean: down
	rm -rf .airflow .local_stack .local_stack.env

ffmpeg: tools
