# Two commands: `make book` and `make test`. Both create .venv from requirements.txt when
# missing (or when requirements.txt / pyproject.toml changed) and install eomlib into it.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
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

# Unit tests, every chapter under nbval, and the book build with its site checks
# (tests/test_site.py builds the book once), spread over 2 workers, one file per worker.
test: $(STAMP)
	EOMLIB_STATIC=1 $(PY) -m pytest -n 2 --dist loadfile -p no:cacheprovider \
		--nbval-lax --nbval-current-env --durations=15 tests book

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf _build
