"""``python -m eomlib reproduce``: the command line of the experiments."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import jax

from .. import data
from eomlib import DivergenceError
from .config import DATASETS, MODELS, SCALES, SLOPE_TOLERANCE
from .report import PREVIOUS_RESULTS, RESULTS, environment, set_aside_previous_results, summary_table
from .runners import MAX_SEED, running_jobs

#: The exit statuses of ``python -m eomlib reproduce``.
EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def integer_in(low: int, high: int | None = None, bound: str | None = None):
    """An argparse ``type``: the integer in [``low``, ``high``] (no upper end for None), else
    ``argparse.ArgumentTypeError`` ("must be an integer >= 1, got 0"); ``bound`` words the
    range in the message."""
    bound = bound or (f">= {low}" if high is None else f"from {low} to {high}")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {bound}, got {text}")
        return value

    return parse


def output_folder_problem(path: Path) -> str | None:
    """Create the folder ``path`` if missing and check that a file can be written in it (by
    creating and deleting one); None if all is well, else why not."""
    try:
        if path.exists() and not path.is_dir():
            return f"{path} exists and is not a folder"
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".eomlib-write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot create or write to the folder {path}: {exc.strerror or exc}"
    return None


def cache_folder_problem(path: Path) -> str | None:
    """Check, creating nothing, that ``path`` is a folder or can be created (its nearest
    existing ancestor is a writable folder); None if so, else why not.  An existing folder
    may be read-only: a filled download cache needs no writing."""
    try:
        if path.exists():
            return None if path.is_dir() else f"{path} exists and is not a folder"
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            return f"cannot create the folder {path}: {parent} is not a folder"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"cannot create the folder {path}: {parent} is not writable"
    except OSError as exc:
        return f"cannot use the folder {path}: {exc.strerror or exc}"
    return None


def exit_now_if_jobs_run(status: int, argv: Sequence[str] | None) -> int:
    """``status``, or, when ``main`` runs as the program (``argv`` None) and jobs are still
    running in worker threads after an interrupt or a failure (an XLA computation cannot be
    stopped, and the interpreter would wait for it at exit), end the process at once with
    ``status`` through ``os._exit``, after flushing stdout and stderr."""
    if argv is None and running_jobs():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eomlib reproduce [--scale tiny|small|paper] [--dataset …] [--out DIR]``.

    Parses the command line, runs :func:`eomlib.reproduce.reproduce`, prints
    :func:`eomlib.reproduce.summary_table` and the failures, if any.  The options are
    ``--scale`` (``tiny``, ``small`` (default) or ``paper``), ``--dataset`` (``digits``
    (default), ``mnist`` or ``cifar10``), ``--model`` (``mlp`` (default) or ``cnn``),
    ``--out`` (default ``eom_results``), ``--seed`` (default 0), ``--data-dir`` (the download
    cache) and ``--jobs`` (experiments run at once).  Needs ``jax_enable_x64``, which
    ``python -m eomlib`` turns on.

    The arguments are checked before any computation, each with an argparse message
    ("error: argument --jobs: must be an integer >= 1, got 0") and status 2: ``--jobs`` an
    integer >= 1, ``--seed`` an integer from 0 to 2**63 - 1, ``--out`` a folder that exists
    or can be created (it is created) and is writable, ``--data-dir`` a folder or a path
    where one can be created.  A previous ``results.json`` in ``--out`` is then renamed
    ``results.previous.json`` (the output says so): ``results.json`` is written, atomically
    like the figures, only by a run that finishes.  On Ctrl-C the experiments not yet
    started are cancelled, a one-line ``interrupted: …`` goes to stderr (no traceback) and
    the status is 130; run as the program (``argv`` None), the process then ends at once
    (``os._exit``) rather than wait for an XLA computation still running in a worker thread.

    Args:
        argv: the arguments after the program name, such as
            ``["reproduce", "--scale", "tiny"]``; None (the default) reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 when every claim holds, 1 when a check fails or a run diverges,
        2 for bad arguments (through ``SystemExit``, see below) or a dataset that cannot be
        downloaded, 130 when interrupted (Ctrl-C).

    Raises:
        SystemExit: from ``argparse``, for ``--help`` (status 0) or invalid arguments
            (status 2, with the usage and the error on stderr).

    Example:
        >>> from eomlib import reproduce
        >>> reproduce.main(["reproduce", "--scale", "tiny", "--out", "eom_tiny"])  # 0: all pass
    """
    parser = argparse.ArgumentParser(prog="python -m eomlib",
                                     description="eomlib command line: reproduce the EoM claims.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="discretization-error and invariant-layer experiments on a real network",
                         description=(
                             "(a) discretization error vs learning rate at a fixed horizon for "
                             "gradient flow and the EoM of orders 1-3, with fitted log-log slopes "
                             "(expected γ+1); (b) measured vs predicted error along training "
                             "(γ = 0, 1); (c) scale- and translation-invariant layers of the "
                             "layer-normalised network under GD, GF and the order-1 EoM, with and "
                             "without weight decay; on a tanh network, full-batch GD, float64. "
                             "Writes PNG figures and results.json and prints a summary; exits "
                             f"with status 1 if a slope misses γ+1 ± {SLOPE_TOLERANCE} or a check "
                             "of (c) fails."))
    rep.add_argument("--scale", choices=tuple(SCALES), default="small",
                     help="tiny: about 1 min (tests); small: about 3 min on 2 CPU cores (default); paper: a GPU "
                          "run (with --dataset mnist: MLP 784-128-128-10, d = 118 282)")
    rep.add_argument("--dataset", choices=DATASETS, default="digits",
                     help="digits (offline, default); mnist and cifar10 download once")
    rep.add_argument("--model", choices=MODELS, default="mlp", help="tanh MLP (default) or CNN")
    rep.add_argument("--out", default="eom_results", help="output folder (default: eom_results)")
    rep.add_argument("--seed", type=integer_in(0, MAX_SEED, "from 0 to 2**63 - 1"), default=0,
                     help="data subset and initialisation seed, 0 to 2**63 - 1 (default 0)")
    rep.add_argument("--data-dir", default=None,
                     help="download cache (default: $EOMLIB_DATA or ~/.cache/eomlib)")
    rep.add_argument("--jobs", type=integer_in(1), default=None,
                     help="experiments run at once, >= 1 (default: 2 on a multi-core machine)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.data_dir is not None and (problem := cache_folder_problem(Path(args.data_dir))):
        rep.error(f"argument --data-dir: {problem}")
    if problem := output_folder_problem(out):  # creates the folder
        rep.error(f"argument --out: {problem}")
    try:
        return run_and_report(args, argv)
    except KeyboardInterrupt:
        print(f"interrupted: the run stopped before it finished; no {RESULTS} was written to "
              f"{out.resolve()}", file=sys.stderr)
        return exit_now_if_jobs_run(EXIT_INTERRUPTED, argv)


def run_and_report(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Set a previous ``results.json`` aside, run :func:`eomlib.reproduce.reproduce` with the
    parsed ``args`` and print the summary; the exit status of :func:`main` (``argv`` as
    there), KeyboardInterrupt passed on."""
    out = Path(args.out)
    print(f"eomlib reproduce: scale={args.scale} dataset={args.dataset} model={args.model}; "
          f"float64 (jax_enable_x64={jax.config.read('jax_enable_x64')}); "
          f"jax {jax.__version__} on {environment()['device']}", flush=True)
    if set_aside_previous_results(out) is not None:
        print(f"moved the previous {RESULTS} in {out.resolve()} to {PREVIOUS_RESULTS}: this "
              f"run writes a new {RESULTS} only if it finishes", flush=True)
    try:
        import eomlib.reproduce as package  # looked up at call time (tests replace it)

        results = package.reproduce(args.scale, args.dataset, args.out, args.model, args.seed,
                                    args.data_dir, args.jobs)
    except data.DatasetUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DivergenceError as exc:
        print(f"error: a run diverged, so no error order can be measured: {exc}", file=sys.stderr)
        return exit_now_if_jobs_run(EXIT_FAILED, argv)
    print(summary_table(results))
    print(f"\nwrote {', '.join(results['figures'])} and {RESULTS} to {out.resolve()}")
    if not results["passed"]:
        print("\nFAILED: the measurements do not match the theory:", file=sys.stderr)
        for msg in results["failures"]:
            print(f"  - {msg}", file=sys.stderr)
        return EXIT_FAILED
    print("all fitted slopes within γ + 1 ± %.1f and all invariance checks passed: the claims "
          "hold in this setting." % SLOPE_TOLERANCE)
    return EXIT_PASSED
