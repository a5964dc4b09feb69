r"""Running the experiments with eomlib's public API: (a) :func:`eomlib.error_sweep`, (b)
:func:`eomlib.prediction_sweep`, (c) :func:`eomlib.invariance.weight_decay_sweep` and
the checks of :mod:`eomlib.invariance`; a small job queue with progress
bars; and :func:`eomlib.reproduce.reproduce`, which runs all three, draws the figures and
writes the report.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np

import eomlib
from eomlib import invariance

from .checks import collect_failures, invariance_checks, slope_passes
from .config import SCALES, SLOPE_TOLERANCE, Scale, floor_one_digit
from .problems import Problem, build_problem, invariance_problem, invariance_runs
from .report import environment, set_aside_previous_results, write_results


def _progress(total: int, desc: str, position: int = 0, show: bool = True):
    from tqdm import tqdm  # plain text to stderr, also when called from a notebook

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=True, dynamic_ncols=True,
                position=position, disable=not show)


def _floats(a) -> list:
    return [float(v) for v in np.asarray(a, dtype=float).ravel()]


def error_vs_lr_for_order(problem: Problem, scale: Scale, order: int, mesh=None) -> dict:
    r"""Experiment (a) for one order γ: :math:`\max_k e_k` for each η (one
    :func:`eomlib.error_sweep`, i.e. one compilation, its learning rates spread over ``mesh``)
    and the fitted log–log slope."""
    start = time.perf_counter()
    sweep = eomlib.error_sweep(problem.loss, problem.theta0, scale.lrs, order, horizon=scale.horizon,
                               rtol=scale.rtol, atol=scale.atol, mesh=mesh)
    slope = sweep.slope()
    return {
        "num_steps": [int(n) for n in sweep.num_steps],
        "max_error": _floats(sweep.max_error),
        "final_error": [float(sweep.errors[i, n]) for i, n in enumerate(sweep.num_steps)],
        "slope": slope,
        "expected_slope": order + 1,
        "passed": slope_passes(slope, order),
        "seconds": time.perf_counter() - start,
    }


def assemble_error_vs_lr(scale: Scale, per_order: dict) -> dict:
    """The result of experiment (a) from ``{order: error_vs_lr_for_order(...)}``."""
    return {"horizon": scale.horizon, "lrs": _floats(scale.lrs), "rtol": scale.rtol,
            "atol": scale.atol, "orders": {str(o): per_order[o] for o in scale.orders}}


# ---------------------------------------------------------------------------------------------
# (b) measured against predicted error along training
# ---------------------------------------------------------------------------------------------

def prediction_ratios(measured: np.ndarray, predicted: np.ndarray) -> dict:
    r"""How well :math:`p_k = \|\delta(k\eta)\|` predicts :math:`e_k`: the ratio at the last
    step, the ratio of the maxima, and :math:`\max_{k\ge1}|p_k/e_k - 1|`."""
    measured, predicted = np.asarray(measured), np.asarray(predicted)
    k = measured > 0
    return {
        "ratio_final": float(predicted[-1] / measured[-1]),
        "ratio_max": float(predicted.max() / measured.max()),
        "max_relative_deviation": float(np.max(np.abs(predicted[k] / measured[k] - 1.0))),
    }


def track_lrs_and_steps(scale: Scale) -> tuple:
    """Experiment (b) runs η = ``track_lr`` for ``track_steps`` steps and η/2 for twice as many."""
    return (scale.track_lr, scale.track_lr / 2.0), (scale.track_steps, 2 * scale.track_steps)


def error_along_training_for_order(problem: Problem, scale: Scale, order: int,
                                   mesh=None) -> dict:
    """Experiment (b) for one order γ: measured and predicted error at η and η/2 over the same
    horizon (one :func:`eomlib.prediction_sweep`, one compilation, its learning rates spread
    over ``mesh``), with the ratios of ``prediction_ratios``."""
    start = time.perf_counter()
    lrs, steps = track_lrs_and_steps(scale)
    sweep = eomlib.prediction_sweep(problem.loss, problem.theta0, lrs, order,
                                    horizon=scale.track_lr * scale.track_steps, mesh=mesh)
    if tuple(int(n) for n in sweep.num_steps) != tuple(steps):  # pragma: no cover
        raise AssertionError(f"step counts {sweep.num_steps} differ from {steps}")
    runs, gd_losses = [], []
    for lr, n, gd_loss, measured, predicted in zip(lrs, steps, sweep.gd_loss, sweep.measured,
                                                   sweep.predicted):
        runs.append({"lr": lr, "num_steps": n, "measured": _floats(measured),
                     "predicted": _floats(predicted), **prediction_ratios(measured, predicted)})
        gd_losses.append(_floats(gd_loss))
    devs = [abs(r["ratio_final"] - 1.0) for r in runs]
    return {
        "runs": runs,
        # |ratio − 1| = O(η): halving η should roughly halve it
        "deviation_shrink_factor": float(devs[0] / devs[1]) if devs[1] > 0 else math.inf,
        "gd_loss": gd_losses[0],  # along GD at the larger learning rate
        "seconds": time.perf_counter() - start,
    }


def assemble_error_along_training(scale: Scale, per_order: dict) -> dict:
    """The result of experiment (b) from ``{order: error_along_training_for_order(...)}``."""
    lrs, steps = track_lrs_and_steps(scale)
    orders = {str(o): dict(per_order[o]) for o in scale.track_orders}
    gd_loss = next(iter(orders.values())).get("gd_loss", [])
    for r in orders.values():
        r.pop("gd_loss", None)
    return {"horizon": scale.track_lr * scale.track_steps, "lrs": list(lrs),
            "num_steps": list(steps), "rtol": eomlib.Solver().rtol, "atol": eomlib.Solver().atol,
            "gd_loss": gd_loss, "orders": orders}


#: Where experiment (c) enters the job queue of :func:`eomlib.reproduce.reproduce` (after the
#: two costliest jobs).
JOB_POSITION_C = 2


#: The name prefix of the worker threads of ``run_jobs`` (see ``running_jobs``).
JOB_THREADS = "eomlib-job"

#: How often (seconds) the main thread of ``run_jobs`` wakes while it waits for the jobs.
POLL_S = 0.2


def run_jobs(jobs: list, workers: int) -> list:
    """Run ``jobs`` (``(bar, function, args)``), ``workers`` at a time, ticking each job's
    progress bar when it ends (``run_invariance`` ticks its own, stage by stage); results
    in the order of ``jobs``.

    Every job compiles its own XLA program, and compiling (most of a small run) uses one
    core: with a second core free, two workers cut the wall time of a small run by up to half
    (no gain, and no loss of CPU time, on a machine that is already busy).

    The jobs run in worker threads (also for ``workers=1``) while the main thread waits in
    slices of ``POLL_S``, so that Ctrl-C reaches it at once.  When a job fails or the wait is
    interrupted (KeyboardInterrupt), the jobs not yet started are cancelled and the exception
    is raised at once, without waiting for the running jobs: a running XLA computation
    cannot be stopped, so those finish in the background (``running_jobs`` counts them).
    """
    stopped = threading.Event()  # set on the first failure: no job starts after it

    def run(bar, fn, args):
        if stopped.is_set():
            return None
        try:
            if fn is run_invariance:  # ticks its own bar, stage by stage
                return fn(*args, bar=bar)
            result = fn(*args)
        except BaseException:
            stopped.set()
            raise
        bar.set_postfix_str(f"done: order {args[-1]}", refresh=False)
        bar.update()
        return result

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=JOB_THREADS)
    try:
        results = _results_in_order([pool.submit(run, *job) for job in jobs])
    except BaseException:
        stopped.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def _results_in_order(futures: list) -> list:
    """The results of ``futures`` in their order; the first failure is raised as soon as it
    happens.  Waits in slices of ``POLL_S`` (a signal then interrupts the wait at once)."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                future.result()  # raises it
    return [future.result() for future in futures]


def running_jobs() -> int:
    """The number of jobs of ``run_jobs`` still running in a worker thread: after a failure
    or an interrupt, the jobs that had started run to their end in the background."""
    return sum(thread.name.startswith(JOB_THREADS) and thread.is_alive()
               for thread in threading.enumerate())


def run_invariance(problem: Problem, scale: Scale, bar=None) -> dict | None:
    r"""Experiment (c): norm dynamics of the scale-invariant first layer and the sum of the
    translation-invariant output biases (THEORY §5–6), GD against GF and the order-1 EoM,
    on the layer-normalised twin of ``problem`` (:func:`eomlib.reproduce.invariance_problem`).

    The learning rate is set by the twin's own Hessian: :math:`\eta` = ``inv_lr_sharpness``
    / :math:`\max_i|\lambda_i|(\theta_0)` (:func:`eomlib.spectra.spectral_radius`) rounded
    down to one digit (for a layer-normalised network at initialisation the eigenvalue of
    largest magnitude can be negative; the magnitude is what matters, since the EoM series
    in :math:`\eta\lambda` converges for :math:`|\eta\lambda| < 1` whatever the sign), the
    weight decay :math:`\lambda` = ``inv_decay_times_lr``/η.  Three calls of
    :func:`eomlib.invariance.weight_decay_sweep` (one compiled program each): GD for the
    five runs of :func:`eomlib.reproduce.invariance_runs`, and GF and the order-1 EoM for
    the first four.

    Returns a JSON-serialisable dict: the settings, the tracked series (for
    ``plot_invariance``), the numbers of ``invariance_checks`` and ``"checks"`` (a
    list of ``{"name", "passed", "detail", …}`` read by
    :func:`eomlib.reproduce.collect_failures`).  ``bar``, a tqdm bar of total 3, is ticked
    after the symmetry checks, GD and the flows.
    """
    start = time.perf_counter()
    tick = (lambda note: (bar.set_postfix_str(note, refresh=False), bar.update())) if bar \
        else (lambda note: None)
    twin = invariance_problem(problem, scale)
    sym_scale = invariance.check_scale_invariance(twin.loss, twin.theta0, twin.scale_group)
    sym_translation = invariance.check_translation_invariance(twin.loss, twin.theta0,
                                                              twin.translation_group)
    curvature = float(eomlib.spectra.spectral_radius(twin.loss, twin.theta0))
    lr = floor_one_digit(scale.inv_lr_sharpness / curvature)
    decay = scale.inv_decay_times_lr / lr
    runs = invariance_runs(lr, decay, scale)
    scale_mask = invariance.group_mask(twin.theta0, twin.scale_group)
    bias_mask = invariance.group_mask(twin.theta0, twin.translation_group)
    tick("symmetry checks")

    def tracked(sweep, with_grad=False):
        rows = [slice(0, n + 1) for n in sweep.num_steps]
        out = {"sq_norm": [np.asarray(sweep.sq_norm[i, r]) for i, r in enumerate(rows)],
               "bias_sum": [np.asarray(sweep.total[i, r]) for i, r in enumerate(rows)]}
        if with_grad:
            out["grad_sq"] = [np.asarray(sweep.grad_sq_norm[i, r]) for i, r in enumerate(rows)]
        return out

    groups = {"scale_group": twin.scale_group, "sum_group": twin.translation_group}
    gd = tracked(invariance.weight_decay_sweep(twin.loss, twin.theta0, *runs, **groups), True)
    tick("gradient descent")

    n_flow = 4  # runs 0-3
    flow_runs = [list(column[:n_flow]) for column in runs]
    solver = eomlib.Solver(rtol=scale.inv_rtol, atol=scale.inv_atol)
    gf, eom1 = (tracked(invariance.weight_decay_sweep(twin.loss, twin.theta0, *flow_runs,
                                                      order=order, solver=solver, **groups))
                for order in (0, 1))
    tick("GF and order-1 EoM")

    rate1 = float(invariance.decay_rate(lr, decay, 1))
    checks, numbers = invariance_checks(sym_scale, sym_translation, runs, gd, gf, eom1, rate1)
    checks = [check.to_json() for check in checks]

    def series(d, i):
        return {k: _floats(v[i][: runs.steps[i] + 1]) for k, v in d.items() if k != "grad_sq"}

    return {
        "model": twin.model.name,
        "num_params": twin.num_params,
        "scale_group": "first layer {w, b} (feeds a layer norm)",
        "translation_group": "output biases (softmax cross-entropy)",
        "group_sizes": {"scale": int(scale_mask.sum()), "translation": int(bias_mask.sum())},
        "abs_sharpness_theta0": curvature,
        "lr": lr,
        "weight_decay": decay,
        "lr_times_weight_decay": lr * decay,
        "runs": [{"lr": a, "weight_decay": b, "num_steps": c, "gd": series(gd, i),
                  **({"gf": series(gf, i), "eom1": series(eom1, i)} if i < n_flow else {})}
                 for i, (a, b, c) in enumerate(zip(*runs))],
        "rtol": scale.inv_rtol,
        "atol": scale.inv_atol,
        **numbers,
        "checks": checks,
        "seconds": time.perf_counter() - start,
    }


def default_workers() -> int:
    """Jobs run at once: 2 where there are at least 2 CPU cores (see ``run_jobs``)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


#: The largest seed: seeds go to ``numpy.random.default_rng`` (which takes integers >= 0)
#: and ``jax.random.PRNGKey`` (which takes at most a signed 64-bit integer).
MAX_SEED = 2**63 - 1


def _is_integer(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_run_arguments(seed, workers) -> int:
    """Raise ValueError unless ``seed`` is an integer in [0, ``MAX_SEED``] and ``workers``
    None or an integer >= 1; returns the number of workers (``default_workers`` for None)."""
    if not _is_integer(seed) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}.")
    if workers is None:
        return default_workers()
    if not _is_integer(workers) or workers < 1:
        raise ValueError(f"workers must be None or an integer >= 1, got {workers!r}.")
    return int(workers)


def reproduce(scale: str | Scale = "small", dataset: str = "digits", out: str | Path = "eom_results",
              model: str = "mlp", seed: int = 0, cache_dir=None,
              workers: int | None = None, progress: bool = True, mesh=None) -> dict:
    """Run experiments (a), (b) and (c), write one PNG per figure (``error_vs_lr.png``,
    ``error_along_training.png``, ``invariance.png``) and ``results.json`` to ``out``.

    ``scale`` is a name in :data:`eomlib.reproduce.SCALES` or a
    :class:`eomlib.reproduce.Scale` (recorded as ``"custom"``); ``progress=False`` hides the
    progress bars (on stderr).  Returns the results dict; ``results["passed"]`` is False
    (and ``results["failures"]`` lists why) when a fitted slope misses γ + 1 ±
    :data:`eomlib.reproduce.SLOPE_TOLERANCE` or a check of (c) fails.

    ``results.json`` is written last, so it exists only for a run that finished: at the
    start, a previous run's ``out/results.json`` is renamed ``results.previous.json``
    (replacing an older one; a note says so on stderr), and a run that raises or is
    interrupted writes none.  Every file is written atomically (a temporary file in ``out``,
    then a rename): none is ever left half-written.  On Ctrl-C (KeyboardInterrupt) or a
    failed experiment, the experiments not yet started are cancelled and the exception is
    raised at once; one already running (an XLA computation cannot be stopped) finishes in
    a background thread, whose result is dropped.

    Everything runs in float64: enable ``jax_enable_x64`` before creating any array
    (``python -m eomlib`` does).

    Args:
        scale: ``"tiny"`` (the tests, about a CPU-minute), ``"small"`` (the default) or
            ``"paper"`` (a GPU run), or a :class:`eomlib.reproduce.Scale`.
        dataset: ``"digits"`` (the default, offline), ``"mnist"`` or ``"cifar10"``
            (downloaded once).
        out: the output folder, created if missing (default ``"eom_results"``); existing
            figures of the same names are replaced, an existing ``results.json`` is renamed
            ``results.previous.json``.
        model: ``"mlp"`` (the default, a tanh MLP) or ``"cnn"`` (a tanh CNN).
        seed: the seed of the training subset and the initialisation, an integer from 0 to
            2**63 - 1 (default 0).
        cache_dir: the download folder of ``mnist`` and ``cifar10``, as for
            :func:`eomlib.data.cache_dir` (default None: ``$EOMLIB_DATA``, else
            ``~/.cache/eomlib``).
        workers: the number of experiments run at once, an integer >= 1; None (the
            default) is 2 on a machine with at least 2 CPU cores, else 1.
        progress: whether to show the progress bars on stderr (default True).
        mesh: the devices the sweeps of (a) and (b) spread their learning rates over
            (:mod:`eomlib.sharding`): a ``jax.sharding.Mesh``, None (the default: all
            devices, when there are several) or False (one device).  The results equal the
            single-device ones ((a) to round-off; (b) to the solver's tolerance, see
            :func:`eomlib.prediction_sweep`); (c) runs on one device.  On several hosts,
            pass ``workers=1`` (every process must start the same programs in the same
            order).

    Returns:
        The results dict, also written to ``out/results.json``, with keys ``"settings"``,
        ``"slopes"``, ``"error_vs_lr"`` (a), ``"error_along_training"`` (b),
        ``"invariance"`` (c), ``"figures"``, ``"timings"``, ``"environment"``,
        ``"failures"`` (:func:`eomlib.reproduce.collect_failures`) and ``"passed"``.

    Raises:
        RuntimeError: if ``jax_enable_x64`` is off.
        ValueError: if ``scale``, ``dataset`` or ``model`` is not one of the names above,
            or ``seed`` or ``workers`` is out of range.
        eomlib.data.DatasetUnavailableError: if ``mnist`` or ``cifar10`` is not cached and
            cannot be downloaded.
        eomlib.DivergenceError: if a run diverges (no error order can then be measured).
        KeyboardInterrupt: on Ctrl-C; no ``results.json`` is written.

    Example:
        >>> import jax; jax.config.update("jax_enable_x64", True)
        >>> from eomlib import reproduce
        >>> results = reproduce.reproduce("tiny", "digits", "eom_tiny"); results["passed"]
    """
    if not jax.config.read("jax_enable_x64"):
        raise RuntimeError("reproduce needs float64: call jax.config.update('jax_enable_x64', True) "
                           "before creating any array (python -m eomlib does).")
    if isinstance(scale, Scale):
        cfg, scale = scale, "custom"
    elif scale in SCALES:
        cfg = SCALES[scale]
    else:
        raise ValueError(f"scale must be one of {tuple(SCALES)} or a Scale, got {scale!r}.")
    workers = check_run_arguments(seed, workers)
    mesh = eomlib.sharding.check_mesh(mesh)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    previous = set_aside_previous_results(out)
    if previous is not None:
        print(f"eomlib reproduce: moved the previous results.json to {previous}", file=sys.stderr)
    t_start = time.perf_counter()
    timings = {}

    start = time.perf_counter()
    problem = build_problem(dataset, cfg, model, seed, cache_dir)
    lam = float(eomlib.sharpness(problem.loss, problem.theta0))
    cfg = cfg.with_sharpness(lam)
    timings["setup"] = time.perf_counter() - start

    # (a), (b) and (c): one job per order of (a) and (b) (one compiled program each) and one for
    # (c); the costliest are submitted first
    start = time.perf_counter()
    bar_a = _progress(len(cfg.orders), "(a) error vs η", 0, progress)
    bar_b = _progress(len(cfg.track_orders), "(b) measured vs predicted", 1, progress)
    bar_c = _progress(3, "(c) invariant layers", 2, progress)
    jobs = sorted([(bar_a, error_vs_lr_for_order, (problem, cfg, o, mesh)) for o in cfg.orders]
                  + [(bar_b, error_along_training_for_order, (problem, cfg, o, mesh))
                     for o in cfg.track_orders],
                  key=lambda job: -job[2][2] - (job[1] is error_along_training_for_order))
    jobs.insert(JOB_POSITION_C, (bar_c, run_invariance, (problem, cfg)))
    try:
        done = run_jobs(jobs, workers)
    finally:
        for bar in (bar_a, bar_b, bar_c):
            bar.close()
    res_c = done.pop(JOB_POSITION_C)
    jobs.pop(JOB_POSITION_C)
    done = dict(zip([(job[1], job[2][2]) for job in jobs], done))
    res_a = assemble_error_vs_lr(cfg, {o: done[error_vs_lr_for_order, o] for o in cfg.orders})
    res_b = assemble_error_along_training(
        cfg, {o: done[error_along_training_for_order, o] for o in cfg.track_orders})
    timings["experiments"] = time.perf_counter() - start
    timings["invariance"] = res_c["seconds"]

    from .figures import plot_error_along_training, plot_error_vs_lr, plot_invariance

    def caption(name, d):
        return (f"{dataset}, {name} (d = {d}), n_train = {cfg.n_train}, full-batch GD, float64, "
                f"eomlib {eomlib.__version__}")

    caption_ab = caption(problem.model.name, problem.num_params)
    figures = [plot_error_vs_lr(res_a, out / "error_vs_lr.png", caption_ab).name,
               plot_error_along_training(res_b, out / "error_along_training.png", caption_ab).name,
               plot_invariance(res_c, out / "invariance.png",
                               caption(res_c["model"], res_c["num_params"])).name]
    timings["total"] = time.perf_counter() - t_start

    results = {
        "settings": {
            "scale": scale, "dataset": dataset, "model": problem.model.name, "seed": seed,
            "n_train": cfg.n_train, "num_params": problem.num_params, "loss": "softmax cross-entropy",
            "activation": problem.model.activation, "dtype": "float64",
            "sharpness_theta0": lam, "max_lr_times_sharpness": lam * float(cfg.lr_max),
            "scale_config": {**dataclasses.asdict(cfg), "lrs": _floats(cfg.lrs),
                             "horizon": cfg.horizon, "track_lr": cfg.track_lr},
            "slope_tolerance": SLOPE_TOLERANCE,
            "workers": workers,
            "devices": 1 if mesh is None else mesh.size,
        },
        "slopes": {order: r["slope"] for order, r in res_a["orders"].items()},
        "error_vs_lr": res_a,
        "error_along_training": res_b,
        "invariance": res_c,
        "figures": figures,
        "timings": timings,
        "environment": environment(),
    }
    results["failures"] = collect_failures(results)
    results["passed"] = not results["failures"]
    write_results(results, out)
    return results
