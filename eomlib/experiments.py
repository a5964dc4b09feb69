r"""Reproducing the paper's claims on real networks and data: ``python -m eomlib reproduce``.

Three experiments, each a direct test of a claim of the EoM (Miyagawa, NeurIPS 2022):

(a) **Error order.**  At a fixed horizon :math:`T`, the discretization error of the order-γ
    EoM is :math:`\max_{k\le T/\eta}\|\theta_{\rm EoM}(k\eta) - \theta_k\| = O(\eta^{\gamma+1})`
    (γ = 0 is gradient flow).  We sweep η over a factor-2 grid with :math:`n_i = T/\eta_i`
    steps (:func:`eomlib.error_sweep`) and fit the log–log slope, expected γ + 1.
(b) **Error prediction.**  Along training, the measured error :math:`e_k` is compared with the
    leading-order prediction :math:`\|\delta(k\eta)\|` of the tangent equation (the
    quantities of :func:`eomlib.discretization_error` and :func:`eomlib.predicted_error`,
    computed together by :func:`measured_and_predicted`) for γ = 0 and 1, at η and η/2 over
    the same horizon: the ratio tends to 1 and its deviation from 1 shrinks like η.
(c) **Invariant layers.**  Hook only (:func:`run_invariance`): filled in with
    :mod:`eomlib.invariance`.

Everything runs in float64.  A fitted slope outside γ + 1 ± :data:`SLOPE_TOLERANCE` is a
failure: :func:`reproduce` still writes ``results.json`` (with ``"passed": false``) and the
command exits with status 1.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
import time
from functools import partial
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import data, models
from .blowup import ensure_finite
from .descent import gd_flat
from .errors import error_sweep, predicted_flat
from .flat import flatten_problem, grid_size
from .solve import DEFAULT_ATOL, DEFAULT_RTOL, _checked_args
from .spectra import sharpness
from .validate import DivergenceError

SLOPE_TOLERANCE = 0.3
DATASETS = ("digits", "mnist", "cifar10")
MODELS = ("mlp", "cnn")


def floor_one_digit(x: float) -> float:
    """``x`` rounded down to one significant digit (0.803 → 0.8, 0.061 → 0.06)."""
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"x must be finite and > 0, got {x}.")
    unit = 10.0 ** math.floor(math.log10(x))
    return float(round(math.floor(x / unit * (1 + 1e-12)) * unit, 12))


@dataclasses.dataclass(frozen=True)
class Scale:
    r"""Sizes of one run of :func:`reproduce`.

    The learning rates are set by the sharpness :math:`\lambda_{\max}(\theta_0)`, so that
    one scale serves every dataset: :math:`\eta_{\max}` is ``lr_sharpness``/λ_max rounded
    down to one digit (the EoM series converges for ηλ < 1; GD is stable for ηλ < 2).
    Experiment (a) uses :math:`\eta_i = \eta_{\max}/2^i`, i < ``num_lrs``, with
    :math:`n_i = n_0 2^i` steps (horizon :math:`T = n_0\eta_{\max}`).  Experiment (b) runs
    ``track_steps`` steps at :math:`\eta_{\max}/4` and twice as many at :math:`\eta_{\max}/8`.
    """

    n_train: int
    hidden: tuple  # MLP hidden widths
    channels: tuple  # CNN channels
    num_lrs: int
    base_steps: int  # n_0
    track_steps: int
    orders: tuple = (0, 1, 2, 3)  # EoM orders of experiment (a)
    track_orders: tuple = (0, 1)  # of experiment (b)
    lr_sharpness: float = 0.25  # target η_max·λ_max(θ_0)
    lr_max: float | None = None  # None: set from the sharpness by with_sharpness
    rtol: float = 1e-12  # solver tolerances of experiment (a): errors reach ~1e-9 at order 3
    atol: float = 1e-14

    def with_sharpness(self, sharpness: float) -> "Scale":
        """This scale with ``lr_max`` set from λ_max(θ_0) (unless it was given)."""
        if self.lr_max is not None:
            return self
        return dataclasses.replace(self, lr_max=floor_one_digit(self.lr_sharpness / sharpness))

    @property
    def lrs(self) -> np.ndarray:
        return self.lr_max / 2.0 ** np.arange(self.num_lrs)

    @property
    def horizon(self) -> float:
        return self.lr_max * self.base_steps

    @property
    def track_lr(self) -> float:
        return self.lr_max / 4.0


SCALES = {
    # for the tests: well under a minute on 2 CPU cores, nearly all of it compilation
    "tiny": Scale(n_train=64, hidden=(8,), channels=(4,), num_lrs=3, base_steps=6,
                  track_steps=10),
    # about one to two minutes on 2 CPU cores: a 64-64-10 tanh MLP (d = 4810) on 1024 digits
    "small": Scale(n_train=1024, hidden=(64,), channels=(8, 16), num_lrs=5, base_steps=12,
                   track_steps=100),
    # a GPU setting: on MNIST the MLP 784-128-128-10 has d = 118 282 parameters
    "paper": Scale(n_train=1024, hidden=(128, 128), channels=(16, 32), num_lrs=5, base_steps=25,
                   track_steps=200),
}


class Problem(NamedTuple):
    """A network, its full-batch loss on a fixed training subset, and its initial parameters."""

    loss: Callable
    theta0: object  # parameter pytree
    model: models.Model
    dataset: str
    num_params: int


def num_params(theta) -> int:
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(theta)))


def build_problem(dataset: str, scale: Scale, model: str = "mlp", seed: int = 0,
                  cache_dir=None) -> Problem:
    """The loss (softmax cross-entropy) of a smooth (tanh) network on ``scale.n_train`` images."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}.")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}.")
    ds = data.load(dataset, scale.n_train, seed, cache_dir=cache_dir, dtype=jnp.float64)
    if model == "mlp":
        net = models.make_mlp((ds.x.shape[1], *scale.hidden, data.NUM_CLASSES), "tanh")
    else:
        net = models.make_cnn(data.IMAGE_SHAPES[dataset], scale.channels, data.NUM_CLASSES, "tanh")
    theta0 = net.init(jax.random.PRNGKey(seed), jnp.float64)
    return Problem(models.make_loss(net, ds), theta0, net, dataset, num_params(theta0))


def _progress(total: int, desc: str, position: int = 0):
    from tqdm import tqdm  # plain text to stderr, also when called from a notebook

    return tqdm(total=total, desc=desc, file=sys.stderr, leave=True, dynamic_ncols=True,
                position=position)


def _floats(a) -> list:
    return [float(v) for v in np.asarray(a, dtype=float).ravel()]


# ---------------------------------------------------------------------------------------------
# (a) discretization error against the learning rate
# ---------------------------------------------------------------------------------------------

def slope_passes(slope: float, order: int, tolerance: float = SLOPE_TOLERANCE) -> bool:
    """Is the fitted error order within ``tolerance`` of γ + 1?"""
    return bool(np.isfinite(slope) and abs(slope - (order + 1)) <= tolerance)


def error_vs_lr_for_order(problem: Problem, scale: Scale, order: int) -> dict:
    r"""Experiment (a) for one order γ: :math:`\max_k e_k` for each η (one
    :func:`eomlib.error_sweep`, i.e. one compilation) and the fitted log–log slope."""
    start = time.perf_counter()
    sweep = error_sweep(problem.loss, problem.theta0, scale.lrs, order, horizon=scale.horizon,
                        rtol=scale.rtol, atol=scale.atol)
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


@partial(jax.jit, static_argnames=("loss", "grid", "order", "rtol", "atol", "max_steps"))
def measured_and_predicted_flat(loss, theta0, lrs, ns, grid, order, rtol, atol, max_steps):
    r"""For each (η, n) in (``lrs``, ``ns``), in one ``vmap``-batched program: the GD loss
    :math:`f(\theta_k)`, the measured error :math:`\|\theta_{\rm EoM}(k\eta) - \theta_k\|`
    and the predicted :math:`\|\delta(k\eta)\|`, k = 0…grid, and a finiteness flag.

    The same quantities as :func:`eomlib.discretization_error` and
    :func:`eomlib.predicted_error`, but the EoM solution is taken from the joint
    (θ, δ) integration of the prediction, so one compilation serves both learning rates
    and both measurements (a third of the compile time).
    """
    flat_loss = flatten_problem(loss, theta0).loss

    def one(lr, n):
        gd, gd_ok = gd_flat(loss, theta0, lr, n, grid)
        eom, deltas, eom_ok = predicted_flat(loss, theta0, lr, n, grid, order, rtol, atol,
                                             max_steps)
        return (jax.vmap(flat_loss)(gd), jnp.linalg.norm(eom - gd, axis=-1),
                jnp.linalg.norm(deltas, axis=-1), gd_ok & eom_ok)

    return jax.vmap(one)(lrs, ns)


def measured_and_predicted(loss, theta0, lrs: Sequence[float], ns: Sequence[int], order: int, *,
                           rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> list:
    """Validated :func:`measured_and_predicted_flat`: one ``(gd_loss, measured, predicted)``
    triple of arrays of length n + 1 per learning rate.  Raises DivergenceError on overflow."""
    n_max, order, rtol, atol, max_steps = _checked_args(loss, theta0, float(max(lrs)), int(max(ns)),
                                                        order, rtol, atol, None)
    grid = grid_size(n_max)
    dtype = flatten_problem(loss, theta0).x0.dtype
    outs = measured_and_predicted_flat(loss, theta0, jnp.asarray(lrs, dtype), jnp.asarray(ns),
                                       grid, order, rtol, atol, max_steps)
    results = []
    for i, (lr, n) in enumerate(zip(lrs, ns)):
        gd_loss, measured, predicted, ok = (np.asarray(o[i]) for o in outs)
        ensure_finite(jnp.asarray(measured), bool(ok), f"GD or the order-{order} EoM at lr={lr:g}",
                      loss, theta0, lr)
        results.append((gd_loss[: n + 1], measured[: n + 1], predicted[: n + 1]))
    return results


def track_lrs_and_steps(scale: Scale) -> tuple:
    """Experiment (b) runs η = ``track_lr`` for ``track_steps`` steps and η/2 for twice as many."""
    return (scale.track_lr, scale.track_lr / 2.0), (scale.track_steps, 2 * scale.track_steps)


def error_along_training_for_order(problem: Problem, scale: Scale, order: int) -> dict:
    """Experiment (b) for one order γ: measured and predicted error at η and η/2 over the same
    horizon (one compilation), with the ratios of :func:`prediction_ratios`."""
    start = time.perf_counter()
    lrs, steps = track_lrs_and_steps(scale)
    runs, gd_losses = [], []
    for lr, n, (gd_loss, measured, predicted) in zip(
            lrs, steps, measured_and_predicted(problem.loss, problem.theta0, lrs, steps, order)):
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
            "num_steps": list(steps), "rtol": DEFAULT_RTOL, "atol": DEFAULT_ATOL,
            "gd_loss": gd_loss, "orders": orders}


def run_jobs(jobs: list, workers: int) -> list:
    """Run ``jobs`` (``(bar, function, args)``), ``workers`` at a time, ticking each job's
    progress bar when it ends; results in the order of ``jobs``.

    Every job compiles its own XLA program, and compiling (most of a small run) uses one
    core: with a second core free, two workers cut the wall time of a small run by up to half
    (no gain, and no loss of CPU time, on a machine that is already busy).
    """
    def run(bar, fn, args):
        result = fn(*args)
        bar.set_postfix_str(f"done: order {args[-1]}", refresh=False)
        bar.update()
        return result

    if workers <= 1:
        return [run(*job) for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, *job) for job in jobs]
        return [f.result() for f in futures]


# ---------------------------------------------------------------------------------------------
# (c) scale- and translation-invariant layers
# ---------------------------------------------------------------------------------------------

def run_invariance(problem: Problem, scale: Scale) -> dict | None:
    """HOOK (c): norm dynamics of scale-invariant weights and the conserved/decaying sums of
    translation-invariant ones (THEORY §5–6), GD vs GF vs EoM.

    To be wired to :mod:`eomlib.invariance` (written separately).  It must return a
    JSON-serialisable dict (or None to skip), may draw ``invariance.png`` through
    :func:`plot_invariance`, and add its pass/fail checks under the key ``"checks"``
    (a list of ``{"name", "passed", "detail"}``), which :func:`collect_failures` reads.
    """
    return None


def plot_invariance(result: dict, path: Path) -> Path | None:  # HOOK (c)
    return None


# ---------------------------------------------------------------------------------------------
# Checks, figures, summary
# ---------------------------------------------------------------------------------------------

def collect_failures(results: dict) -> list:
    """Messages for every failed claim: slopes of (a), and checks reported by the hook (c)."""
    failures = []
    for order, r in results["error_vs_lr"]["orders"].items():
        if not r["passed"]:
            failures.append(
                f"order-{order} fitted slope {r['slope']:.3f} is outside the expected "
                f"{r['expected_slope']} ± {SLOPE_TOLERANCE} (errors {r['max_error']})")
    for check in (results.get("invariance") or {}).get("checks", []):
        if not check.get("passed", True):
            failures.append(f"invariance check {check.get('name')!r} failed: {check.get('detail')}")
    return failures


def _save_figure(fig, path: Path, caption: str = "") -> Path:
    """Lay out ``fig`` with ``caption`` (the setting) in small type along its bottom, write it
    to ``path`` as a PNG and close it."""
    import matplotlib.pyplot as plt

    if caption:
        fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=7, color="0.35")
    fig.tight_layout(rect=(0, 0.04 if caption else 0, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_error_vs_lr(result: dict, path: Path, caption: str = "") -> Path:
    """Figure (a): max error against η on log–log axes, one fitted line per order."""
    import matplotlib.pyplot as plt

    from .plots import loglog_fit, order_color, order_label, style

    style()
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    lrs = np.asarray(result["lrs"])
    for order, r in result["orders"].items():
        loglog_fit(ax, lrs, r["max_error"], r["slope"], color=order_color(int(order)),
                   label=f"{order_label(int(order))} (expect {r['expected_slope']})")
    ax.set_xticks(lrs, [f"{v:g}" for v in lrs])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("learning rate η")
    ax.set_ylabel(r"$\max_{k\leq T/\eta}\ \|\theta_{\rm EoM}(k\eta)-\theta_k\|$")
    ax.set_title(f"Discretization error at fixed horizon T = {result['horizon']:g}")
    ax.legend(fontsize=8)
    return _save_figure(fig, path, caption)


def plot_error_along_training(result: dict, path: Path, caption: str = "") -> Path:
    """Figure (b): GD loss, then measured (solid) and predicted (dashed) error per order."""
    import matplotlib.pyplot as plt

    from .plots import order_color, order_label, style

    style()
    orders = list(result["orders"])
    fig, axes = plt.subplots(1, 1 + len(orders), figsize=(4.2 * (1 + len(orders)), 3.8))
    lr0 = result["lrs"][0]
    axes[0].plot(lr0 * np.arange(len(result["gd_loss"])), result["gd_loss"], color="black")
    axes[0].set_xlabel("time t = kη")
    axes[0].set_title(f"training loss (GD, η = {lr0:g})")
    for ax, order in zip(axes[1:], orders):
        color = order_color(int(order))
        for run, alpha in zip(result["orders"][order]["runs"], (1.0, 0.55)):
            t = run["lr"] * np.arange(run["num_steps"] + 1)
            ax.semilogy(t[1:], run["measured"][1:], "-", color=color, alpha=alpha,
                        label=f"measured, η = {run['lr']:g}")
            ax.semilogy(t[1:], run["predicted"][1:], "--", color="black", alpha=alpha,
                        label=f"predicted, η = {run['lr']:g}")
        ax.set_xlabel("time t = kη")
        ax.set_title(f"{order_label(int(order))}: error along training")
        ax.legend(fontsize=7)
    return _save_figure(fig, path, caption)


def environment() -> dict:
    dev = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
        "num_devices": jax.device_count(),
        "x64": bool(jax.config.read("jax_enable_x64")),
        "dtype": "float64",
    }


def summary_table(results: dict) -> str:
    """Plain-text summary of (a) slopes and (b) ratios."""
    a, b = results["error_vs_lr"], results["error_along_training"]
    s = results["settings"]
    lines = [
        f"EoM reproduction: {s['dataset']}, {s['model']} (d = {s['num_params']}), "
        f"n_train = {s['n_train']}, scale '{s['scale']}', float64 (jax_enable_x64)",
        f"λ_max(θ_0) = {s['sharpness_theta0']:.4g}, so η_max·λ_max(θ_0) = "
        f"{s['max_lr_times_sharpness']:.3g} (the EoM series needs ηλ < 1)",
        "",
        f"(a) max error vs η at T = {a['horizon']:g}, η ∈ {{{', '.join(f'{v:g}' for v in a['lrs'])}}}",
        f"    {'order':<22}{'slope':>8}{'expected':>10}{'min error':>12}{'':>4}status",
    ]
    for order, r in a["orders"].items():
        name = "gradient flow (γ=0)" if order == "0" else f"EoM γ={order}"
        lines.append(f"    {name:<22}{r['slope']:>8.3f}{r['expected_slope']:>10d}"
                     f"{min(r['max_error']):>12.2e}{'':>4}{'ok' if r['passed'] else 'FAIL'}")
    lines += ["", f"(b) predicted / measured error at T = {b['horizon']:g}",
              f"    {'order':<22}{'η':>8}{'ratio@T':>10}{'ratio(max)':>12}{'max|p/e-1|':>12}"]
    for order, r in b["orders"].items():
        name = "gradient flow (γ=0)" if order == "0" else f"EoM γ={order}"
        for run in r["runs"]:
            lines.append(f"    {name:<22}{run['lr']:>8g}{run['ratio_final']:>10.4f}"
                         f"{run['ratio_max']:>12.4f}{run['max_relative_deviation']:>12.4f}")
        lines.append(f"    {'':<22}|ratio − 1| shrinks ×{r['deviation_shrink_factor']:.2f} "
                     "when η halves (O(η): ≈ 2)")
    inv = results.get("invariance")
    lines += ["", "(c) invariant layers: " + ("see results.json" if inv else "not run (hook)")]
    lines += ["", "timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in results["timings"].items())]
    return "\n".join(lines)


def default_workers() -> int:
    """Jobs run at once: 2 where there are at least 2 CPU cores (see :func:`run_jobs`)."""
    import os

    return 2 if (os.cpu_count() or 1) >= 2 else 1


def reproduce(scale: str = "small", dataset: str = "digits", out: str | Path = "eom_results",
              model: str = "mlp", seed: int = 0, cache_dir=None,
              workers: int | None = None) -> dict:
    """Run experiments (a), (b) (and the hook (c)), write PNGs and ``results.json`` to ``out``.

    Returns the results dict; ``results["passed"]`` is False (and ``results["failures"]``
    lists why) when a fitted slope misses γ + 1 ± :data:`SLOPE_TOLERANCE`.
    """
    if not jax.config.read("jax_enable_x64"):
        raise RuntimeError("reproduce needs float64: call jax.config.update('jax_enable_x64', True) "
                           "before creating any array (python -m eomlib does).")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, got {scale!r}.")
    cfg = SCALES[scale]
    workers = default_workers() if workers is None else max(1, int(workers))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings = {}

    start = time.perf_counter()
    problem = build_problem(dataset, cfg, model, seed, cache_dir)
    lam = float(sharpness(problem.loss, problem.theta0))
    cfg = cfg.with_sharpness(lam)
    timings["setup"] = time.perf_counter() - start

    # (a) and (b): one job (one compiled program) per order, the costliest submitted first
    start = time.perf_counter()
    bar_a = _progress(len(cfg.orders), "(a) error vs η", 0)
    bar_b = _progress(len(cfg.track_orders), "(b) measured vs predicted", 1)
    jobs = sorted([(bar_a, error_vs_lr_for_order, (problem, cfg, o)) for o in cfg.orders]
                  + [(bar_b, error_along_training_for_order, (problem, cfg, o))
                     for o in cfg.track_orders],
                  key=lambda job: -job[2][2] - (job[1] is error_along_training_for_order))
    done = dict(zip([(job[1], job[2][2]) for job in jobs], run_jobs(jobs, workers)))
    bar_a.close()
    bar_b.close()
    res_a = assemble_error_vs_lr(cfg, {o: done[error_vs_lr_for_order, o] for o in cfg.orders})
    res_b = assemble_error_along_training(
        cfg, {o: done[error_along_training_for_order, o] for o in cfg.track_orders})
    timings["error_vs_lr_and_along_training"] = time.perf_counter() - start

    start = time.perf_counter()
    res_c = run_invariance(problem, cfg)  # HOOK (c)
    timings["invariance"] = time.perf_counter() - start

    from . import __version__

    caption = (f"{dataset}, {problem.model.name} (d = {problem.num_params}), "
               f"n_train = {cfg.n_train}, full-batch GD, float64, eomlib {__version__}")
    figures = [plot_error_vs_lr(res_a, out / "error_vs_lr.png", caption).name,
               plot_error_along_training(res_b, out / "error_along_training.png", caption).name]
    if res_c is not None:
        fig_c = plot_invariance(res_c, out / "invariance.png")
        if fig_c is not None:
            figures.append(Path(fig_c).name)
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
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m eomlib reproduce [--scale tiny|small|paper] [--dataset …] [--out DIR]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m eomlib",
                                     description="eomlib command line: reproduce the EoM claims.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="discretization-error experiments on a real network",
                         description=(
                             "(a) discretization error vs learning rate at a fixed horizon for "
                             "gradient flow and the EoM of orders 1-3, with fitted log-log slopes "
                             "(expected γ+1); (b) measured vs predicted error along training "
                             "(γ = 0, 1); on a tanh network, full-batch GD, float64. Writes PNG "
                             "figures and results.json and prints a summary; exits with status 1 "
                             f"if a slope misses γ+1 ± {SLOPE_TOLERANCE}."))
    rep.add_argument("--scale", choices=tuple(SCALES), default="small",
                     help="tiny: < 1 min (tests); small: 1-2 min on a CPU (default); paper: a GPU "
                          "run (with --dataset mnist: MLP 784-128-128-10, d = 118 282)")
    rep.add_argument("--dataset", choices=DATASETS, default="digits",
                     help="digits (offline, default); mnist and cifar10 download once")
    rep.add_argument("--model", choices=MODELS, default="mlp", help="tanh MLP (default) or CNN")
    rep.add_argument("--out", default="eom_results", help="output folder (default: eom_results)")
    rep.add_argument("--seed", type=int, default=0, help="data subset and initialisation seed")
    rep.add_argument("--data-dir", default=None,
                     help="download cache (default: $EOMLIB_DATA or ~/.cache/eomlib)")
    rep.add_argument("--jobs", type=int, default=None,
                     help="experiments run at once (default: 2 on a multi-core machine)")
    args = parser.parse_args(argv)

    print(f"eomlib reproduce: scale={args.scale} dataset={args.dataset} model={args.model}; "
          f"float64 (jax_enable_x64={jax.config.read('jax_enable_x64')}); "
          f"jax {jax.__version__} on {environment()['device']}", flush=True)
    try:
        results = reproduce(args.scale, args.dataset, args.out, args.model, args.seed, args.data_dir,
                            args.jobs)
    except data.DatasetUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DivergenceError as exc:
        print(f"error: a run diverged, so no error order can be measured: {exc}", file=sys.stderr)
        return 1
    print(summary_table(results))
    print(f"\nwrote {', '.join(results['figures'])} and results.json to {Path(args.out).resolve()}")
    if not results["passed"]:
        print("\nFAILED: the measured error orders do not match the theory:", file=sys.stderr)
        for msg in results["failures"]:
            print(f"  - {msg}", file=sys.stderr)
        return 1
    print("all fitted slopes within γ + 1 ± %.1f: the claims hold in this setting." % SLOPE_TOLERANCE)
    return 0
