#!/usr/bin/env bash
# Build the book: execute every chapter (in parallel on 2 cores) and render _build/html.
# Any failing cell or Sphinx warning fails the build (-W, nb_execution_raise_on_error).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export EOMLIB_STATIC=1
unset MPLBACKEND
mkdir -p _build
rm -rf _build/html _build/.doctrees
# Jupyter Book 1.x has no parallel execution; its Sphinx configuration + sphinx-build -j N has
# (N = $EOMLIB_BOOK_JOBS, default 2; benchmarks/run.py --book compares 1 and 2).
"$BIN/jupyter-book" config sphinx . > /dev/null
start=$(date +%s)
PYTHONPATH="$PWD/tools${PYTHONPATH:+:$PYTHONPATH}" "$BIN/sphinx-build" -j "${EOMLIB_BOOK_JOBS:-2}" -W -n --keep-going -b html -d _build/.doctrees . _build/html
echo "book: built in $(( $(date +%s) - start )) s"
"$BIN/python" tools/check_site.py _build/html
