# The README's commands. Each target does its own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ANQUAN := $(VENV)/bin/anquan
STAMP := $(VENV)/.installed-anquan
export ANQUAN_DATA_DIR ?= data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast check eval bench install ingest serve clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first, pinned to the local CPU wheel: sentence-transformers would otherwise pull a CUDA build
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[models,dev]'
	@touch $(STAMP)

install: $(STAMP)

ingest: install
	$(ANQUAN) ingest --no-embed

# Lexical search is ready as soon as ingest returns; the service fills in vectors meanwhile.
run: ingest
	$(ANQUAN) serve --host $(HOST) --port $(PORT)

check: install
	$(VENV)/bin/ruff check ingest assistant api evals tests
	$(VENV)/bin/ruff format --check ingest assistant api evals tests
	$(VENV)/bin/mypy ingest assistant api evals

test: install check
	$(VENV)/bin/pytest -q

test-fast: install
	$(VENV)/bin/pytest -q -m "not integration and not browser and not slow"

eval: install
	$(ANQUAN) ingest
	$(ANQUAN) eval --dataset evals/datasets/dev.jsonl --out evals/out/dev

bench: install
	$(ANQUAN) bench --out bench/results.json

clean:
	rm -rf $(VENV) data evals/out bench/results.json
