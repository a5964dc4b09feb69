# Two commands: `make book` and `make test`. Both create .venv from requirements.txt when
# missing (or when requirements.txt / pyproject.toml changed) and install eomlib into it.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Compiled XLA programs are cached on disk and shared by the test run and the book build.
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/_build/jax_cache
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0.5
export PYTHONHASHSEED := 0

.PHONY: book test bench venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	bash tools/build_book.sh

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -p no:cacheprovider tests

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf _build
