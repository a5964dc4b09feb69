# Two commands: `make book` and `make test`. Both create .venv from requirements.txt when
# missing (or when requirements.txt / pyproject.toml changed) and install eomlib into it.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0

.PHONY: book test test-floor test-compat bench venv clean

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

# The unit tests on the oldest JAX eomlib declares (requirements-floor.txt) and on the newest
# JAX pip offers for this Python (not part of `make test`; CI runs the floor's). Each venv is
# built once (delete it to rebuild). The command line and the data cache (test_cli.py,
# test_data.py: argparse, files and numpy, no JAX computation) and the site build run on the
# pin only.
FLOOR := .venv-floor
NEWEST := .venv-newest
UNIT := -m pytest -q -n 2 --dist loadfile -p no:cacheprovider -W error::RuntimeWarning tests \
	--ignore=tests/test_site.py --ignore=tests/test_cli.py --ignore=tests/test_data.py

$(FLOOR)/.installed: requirements-floor.txt pyproject.toml
	test -x $(FLOOR)/bin/python || $(PYTHON) -m venv $(FLOOR)
	$(FLOOR)/bin/python -m pip install -q -r requirements-floor.txt
	$(FLOOR)/bin/python -m pip install -q --no-deps -e .
	touch $@

$(NEWEST)/.installed: pyproject.toml
	test -x $(NEWEST)/bin/python || $(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/python -m pip install -q --upgrade "jax" "equinox" "diffrax" \
		-e ".[widgets]" pytest pytest-xdist ipython
	touch $@

test-floor: $(FLOOR)/.installed
	$(FLOOR)/bin/python -c "import jax; print('jax', jax.__version__)"
	EOMLIB_STATIC=1 $(FLOOR)/bin/python $(UNIT)

# test-compat also executes every chapter on both (tools/run_chapters.py: no warning, no
# stderr output, no error), with the pin's notebook runner installed into each venv.
RUNNER := $(shell grep -E '^(nbclient|ipykernel|nbformat)==' requirements.txt)

$(FLOOR)/.runner: $(FLOOR)/.installed requirements.txt
	$(FLOOR)/bin/python -m pip install -q $(RUNNER)
	touch $@

$(NEWEST)/.runner: $(NEWEST)/.installed requirements.txt
	$(NEWEST)/bin/python -m pip install -q $(RUNNER)
	touch $@

test-compat: test-floor $(NEWEST)/.installed $(FLOOR)/.runner $(NEWEST)/.runner
	$(NEWEST)/bin/python -c "import jax; print('jax', jax.__version__)"
	EOMLIB_STATIC=1 $(NEWEST)/bin/python $(UNIT)
	$(FLOOR)/bin/python tools/run_chapters.py
	$(NEWEST)/bin/python tools/run_chapters.py

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf _build
