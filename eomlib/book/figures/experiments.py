"""Figures of chapter 7, "Experiments on real networks", beyond the three that
``python -m eomlib reproduce`` writes itself: the error order at a fixed number of steps
against the one at a fixed horizon, and the effective learning rate of a scale-invariant
layer under weight decay.

Every function only draws numbers that the chapter computed with :mod:`eomlib` and
:mod:`eomlib.reproduce`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots
from eomlib.book.plots import COLORS, order_color, order_label

__all__ = ["error_order_by_setting", "effective_lr"]


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
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    color = order_color(order)
    ax.loglog(horizon_lrs, horizon_errors, "o", color=color,
              label=f"fixed horizon T = {horizon:g}: slope {horizon_slope:.2f}")
    plots.fitted_line(ax, horizon_lrs, horizon_errors, horizon_slope, color=color)
    for (n, errors), marker in zip(steps_errors.items(), ("s", "^", "v", "D")):
        ax.loglog(steps_lrs, errors, marker, color=COLORS["gd"], mfc="none",
                  label=f"fixed n = {n} step{'s' if n != 1 else ''}: "
                        f"slope {steps_slopes[n]:.2f}")
        plots.fitted_line(ax, steps_lrs, errors, steps_slopes[n], color=COLORS["gd"])
    ticks = np.unique(np.concatenate([np.asarray(horizon_lrs, float),
                                      np.asarray(steps_lrs, float)]))
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("learning rate η")
    ax.set_ylabel(r"$\max_{k}\ \|\theta_{\rm EoM}(k\eta)-\theta_k\|$")
    ax.set_title(f"{order_label(order)}: error order at a fixed time and at a fixed step count",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


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
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.axvspan(first_averaged, steps[-1], color=COLORS["pred"], alpha=0.12,
               label="steps averaged")
    ax.semilogy(steps, lr / sq_norm, color=COLORS["gd"], label="GD: η / ‖θ_S,k‖²")
    ax.axhline(predicted, color=COLORS["eom1"], ls="--",
               label=f"predicted equilibrium √(ηλ(2 − ηλ)/C) = {predicted:.3f}")
    ax.axhline(lr, color=COLORS["gf"], ls=":", label=f"the learning rate set, η = {lr:g}")
    ax.set_xlabel("step k")
    ax.set_ylabel("effective learning rate")
    ax.set_title("scale-invariant layer with weight decay: effective learning rate", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
