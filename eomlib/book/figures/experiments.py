"""Figures of chapter 7, "Experiments on real networks": the three figures of
:func:`eomlib.reproduce.reproduce` redrawn from its results in the book's style (one colour
per object, at most :data:`eomlib.book.plots.MAX_WIDTH_IN` wide), the error order at a fixed
number of steps against the one at a fixed horizon, and the effective learning rate of a
scale-invariant layer under weight decay.

Every function only draws numbers that the chapter computed with :mod:`eomlib` and
:mod:`eomlib.reproduce`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots
from eomlib.book.plots import COLORS, order_color, order_label

__all__ = ["error_vs_lr", "error_along_training", "invariance", "error_order_by_setting",
           "effective_lr"]


def error_order_by_setting(order, horizon_lrs, horizon_errors, horizon_slope, horizon,
                           steps_lrs, steps_errors, steps_slopes):
    r"""Draws the maximal error of the order-γ EoM against η on log–log axes, at a fixed
    horizon T and at fixed numbers of steps n, each with its fitted line.

    Args:
        order: the EoM order γ ≥ 0 (it sets the colour and the title).
        horizon_lrs: the learning rates of the fixed-horizon sweep, a 1-D array.
        horizon_errors: its maximal errors :math:`\max_{k\le T/\eta}\|\theta_{\rm EoM}(k\eta)
            - \theta_k\|`, as many as ``horizon_lrs``.
        horizon_slope: the fitted log–log slope of those errors.
        horizon: the horizon T (for the legend).
        steps_lrs: the learning rates of the fixed-step sweeps, a 1-D array.
        steps_errors: a dict from the number of steps n to the maximal errors over
            k ≤ n at ``steps_lrs``.
        steps_slopes: a dict with the same keys, the fitted slopes.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    key = "gf" if order == 0 else f"eom{order}"
    ax.loglog(horizon_lrs, horizon_errors, "o", color=order_color(order), ms=6,
              label=f"fixed horizon T = {horizon:g}: slope {horizon_slope:.2f}")
    plots.fitted_line(ax, horizon_lrs, horizon_errors, horizon_slope, color=order_color(order))
    shades = plots.shades(key, len(steps_errors) + 1)[:-1]
    for (n, errors), marker, shade in zip(steps_errors.items(), ("s", "^", "v", "D"), shades):
        ax.loglog(steps_lrs, errors, marker, color=shade, mfc="none", ms=6,
                  label=f"fixed n = {n} step{'s' if n != 1 else ''}: "
                        f"slope {steps_slopes[n]:.2f}")
        plots.fitted_line(ax, steps_lrs, errors, steps_slopes[n], color=shade)
    ticks = np.unique(np.concatenate([np.asarray(horizon_lrs, float),
                                      np.asarray(steps_lrs, float)]))
    _finish_lr_axes(ax, ticks, r"$\max_{k}\ \|\theta_{\rm EoM}(k\eta)-\theta_k\|$",
                    f"{order_label(order)}: fixed time or fixed step count")
    return fig


def _finish_lr_axes(ax, ticks, distance, title):
    """The η axis of an error-against-η figure labelled at the measured ``ticks``, the y label
    "max distance to GD" + ``distance`` (mathtext), the ``title`` and the legend."""
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("learning rate η")
    ax.set_ylabel(f"max distance to GD {distance}", fontsize=9.5)
    ax.set_title(title)
    ax.legend(fontsize=9)


def effective_lr(lr, sq_norm, predicted, first_averaged):
    r"""Draws the effective learning rate :math:`\eta/\|\theta_{S,k}\|^2` of a scale-invariant
    group along a GD run with weight decay, with its predicted equilibrium value.

    Args:
        lr: the learning rate η > 0 of the run.
        sq_norm: :math:`\|\theta_{S,k}\|^2` for k = 0…n, a 1-D array.
        predicted: the predicted equilibrium value of :math:`\eta/\|\theta_S\|^2`.
        first_averaged: the first step of the window over which the equilibrium is averaged
            (shaded).

    Returns:
        The matplotlib ``Figure``.
    """
    sq_norm = np.asarray(sq_norm, float)
    steps = np.arange(len(sq_norm))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.axvspan(first_averaged, steps[-1], color=COLORS["pred"], alpha=0.12,
               label="steps averaged")
    ax.semilogy(steps, lr / sq_norm, **plots.STYLES["gd"] | dict(marker="none", ls="-", lw=1.5),
                label=r"GD: $\eta/\|\theta_{S,k}\|^2$")
    ax.axhline(predicted, **plots.STYLES["pred"] | dict(lw=2),
               label=f"predicted equilibrium √(ηλ(2 − ηλ)/C) = {predicted:.3f}")
    ax.axhline(lr, **plots.STYLES["limit"] | dict(lw=1.5),
               label=f"the learning rate set, η = {lr:g}")
    ax.set_xlabel("step k")
    ax.set_ylabel(r"effective learning rate $\eta/\|\theta_{S,k}\|^2$")
    ax.set_title("scale-invariant layer with weight decay")
    ax.legend(fontsize=9)
    return fig


def error_vs_lr(result):
    r"""Draws figure (a) of :func:`eomlib.reproduce.reproduce` in the book's style: the
    maximal distance of the order-γ EoM to GD over a fixed horizon against η (log–log), one
    fitted line per order.

    Args:
        result: ``results["error_vs_lr"]`` of :func:`eomlib.reproduce.reproduce` (its
            ``lrs``, ``horizon`` and, per order, ``max_error``, ``slope`` and
            ``expected_slope`` are used).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    lrs = np.asarray(result["lrs"], float)
    for order, r in result["orders"].items():
        plots.loglog_fit(ax, lrs, r["max_error"], r["slope"], color=order_color(int(order)),
                         label=f"{order_label(int(order))} (expect {r['expected_slope']})")
    _finish_lr_axes(ax, lrs, r"$\max_{k\leq T/\eta}\|\theta_{\rm EoM}(k\eta)-\theta_k\|$",
                    f"fixed horizon T = {result['horizon']:g}")
    return fig


def error_along_training(result):
    r"""Draws figure (b) of :func:`eomlib.reproduce.reproduce` in the book's style: GD's
    training loss on top, and below, for each order, the measured distance of the EoM to GD
    (solid, in the order's colour) and the predicted one (dashed, grey, drawn on top) at the
    learning rates η (dark) and η/2 (light).

    Args:
        result: ``results["error_along_training"]`` of :func:`eomlib.reproduce.reproduce`
            (its ``gd_loss``, ``lrs`` and, per order, ``runs`` with ``lr``, ``num_steps``,
            ``measured`` and ``predicted`` are used).

    Returns:
        The matplotlib ``Figure``.
    """
    orders = list(result["orders"])
    fig, axes = plt.subplot_mosaic([["loss"] * len(orders), orders], figsize=(7.2, 5.6),
                                  height_ratios=(0.7, 1))
    lr0 = result["lrs"][0]
    axes["loss"].plot(lr0 * np.arange(len(result["gd_loss"])), result["gd_loss"],
                      **plots.STYLES["gd"] | dict(marker="none", ls="-", lw=1.5),
                      label=f"GD, η = {lr0:g}")
    axes["loss"].set(xlabel="time t = kη", ylabel="training loss f(θₖ)")
    axes["loss"].legend()
    for order in orders:
        ax, key = axes[order], "gf" if int(order) == 0 else f"eom{order}"
        runs = result["orders"][order]["runs"]
        for run, shade in zip(runs, plots.shades(key, len(runs))[::-1]):
            t = run["lr"] * np.arange(run["num_steps"] + 1)
            ax.semilogy(t[1:], run["measured"][1:], color=shade, lw=2.2,
                        label=f"measured, η = {run['lr']:g}")
            ax.semilogy(t[1:], run["predicted"][1:], **plots.STYLES["pred"],
                        label="predicted" if run is runs[0] else None)
        ax.set(xlabel="time t = kη", ylabel="distance to GD ‖δ(t)‖",
               title=order_label(int(order)))
        ax.legend(fontsize=8.5)
    return fig


def invariance(result):
    r"""Draws figure (c) of :func:`eomlib.reproduce.reproduce` in the book's style, four
    panels: the growth of the scale-invariant norm without weight decay; the norm with weight
    decay (GD's long run, gradient flow, the predicted equilibrium); the sum of the
    translation-invariant output biases with weight decay; and, with weight decay, how far
    gradient flow and the order-1 EoM are from GD.

    Only curves that can be seen get a legend entry: the flows of the short runs are not drawn
    on the long time axes (they lie under GD there); panel 4 shows their distance to GD.

    Args:
        result: ``results["invariance"]`` of :func:`eomlib.reproduce.reproduce` (its
            ``runs``, ``weight_decay`` and ``equilibrium`` are used).

    Returns:
        The matplotlib ``Figure``.
    """
    runs, lam = result["runs"], result["weight_decay"]
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 6.4))
    _norm_growth(axes[0, 0], runs[:2])
    _equilibrium(axes[0, 1], runs[4], lam, result["equilibrium"]["predicted_gd"])
    _bias_sum(axes[1, 0], runs[4], lam)
    _distance_to_gd(axes[1, 1], runs[2:4])
    return fig


def _times(run):
    return run["lr"] * np.arange(run["num_steps"] + 1)


def _dots(run):
    return slice(None, None, max(1, run["num_steps"] // 25))


def _norm_growth(ax, runs):
    gd_shades, eom_shades = plots.shades("gd", 2)[::-1], plots.shades("eom1", 2)[::-1]
    for run, gd_c, eom_c in zip(runs, gd_shades, eom_shades):
        t, sq0, k = _times(run), run["gd"]["sq_norm"][0], _dots(run)
        ax.plot(t[k], (np.asarray(run["gd"]["sq_norm"]) - sq0)[k], "o", ms=3.5, color=gd_c,
                label=f"GD, η = {run['lr']:g}")
        ax.plot(t, np.asarray(run["eom1"]["sq_norm"]) - sq0, color=eom_c, lw=1.6,
                label=f"order-1 EoM, η = {run['lr']:g}")
    t = _times(runs[0])
    ax.plot(t, np.asarray(runs[0]["gf"]["sq_norm"]) - runs[0]["gf"]["sq_norm"][0],
            **plots.STYLES["gf"], label=plots.LABELS["gf"])
    ax.set(xlabel="time t = kη", ylabel=r"norm growth $\|\theta_S(t)\|^2 - \|\theta_S(0)\|^2$",
           title="no weight decay")
    ax.legend(fontsize=8)


def _equilibrium(ax, long, lam, predicted):
    t = _times(long)
    ax.plot(t, np.sqrt(long["gd"]["sq_norm"]), **plots.STYLES["gd"] | dict(marker="none",
            ls="-", lw=1.2), label=plots.LABELS["gd"])
    ax.plot(t, np.sqrt(long["gd"]["sq_norm"][0]) * np.exp(-lam * t), **plots.STYLES["gf"],
            label=r"gradient flow $e^{-\lambda t}\|\theta_S(0)\|$")
    ax.axhline(predicted, **plots.STYLES["pred"] | dict(lw=2),
               label="predicted equilibrium")
    ax.set(xlabel="time t = kη", ylabel=r"norm $\|\theta_S(t)\|$", yscale="log",
           title=f"weight decay λ = {lam:.3g}")
    ax.legend(fontsize=8)


def _bias_sum(ax, long, lam):
    t, k = _times(long), _dots(long)
    s = np.asarray(long["gd"]["bias_sum"])
    ax.plot(t, np.exp(-lam * t), **plots.STYLES["gf"], label=r"gradient flow $e^{-\lambda t}$")
    ax.plot(t[k], (s / s[0])[k], "o", ms=3.5, mfc="none", color=COLORS["gd"],
            label=plots.LABELS["gd"])
    ax.set(xlabel="time t = kη", ylabel="bias sum s(t) / s(0)", yscale="log",
           title="output biases, weight decay")
    ax.legend(fontsize=8)


def _distance_to_gd(ax, runs):
    for flow in ("gf", "eom1"):
        for run, shade in zip(runs, plots.shades(flow, 2)[::-1]):
            t = _times(run)[1:]
            for key, ls, name in (("sq_norm", "-", r"$\|\theta_S\|^2$"), ("bias_sum", ":", "s")):
                gd = np.asarray(run["gd"][key])
                gap = np.abs(np.asarray(run[flow][key]) - gd) / np.abs(gd)
                ax.semilogy(t, gap[1:], ls, color=shade, lw=1.6,
                            label=f"{plots.LABELS[flow]}: {name}" if run is runs[0] else None)
    ax.set(xlabel="time t = kη", ylabel="relative distance |flow − GD| / |GD|",
           title=f"distance to GD, η = {runs[0]['lr']:g}")
    ax.legend(fontsize=8)
