"""Figures of chapter 6 (translation-invariant layers): the sum of the output biases under GD
and the flows, its mismatch with GD along training and at a fixed time against η.

Every function draws numbers the chapter computed with :mod:`eomlib`; none computes any.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots


def sums_and_mismatch(t, s_gd, s_flows, closed, solved, lr, lam, every=8):
    r"""Draw the sums of GD and the flows (left) and each flow's mismatch with GD (right).

    Args:
        t: the times :math:`t_k = k\eta`, an array of length n + 1.
        s_gd: GD's sums :math:`s_k`, an array of length n + 1 (drawn as points).
        s_flows: a dict, EoM order γ ↦ the solved flow's sums at :math:`t_k`; orders 0 (solid)
            and 1 (dashed) are drawn in the left panel.
        closed: a dict, EoM order γ ↦ the closed-form mismatch :math:`|s_{\rm flow} - s_{\rm GD}|/s_0`
            along k = 0…n, drawn as lines on the right (the point k = 0 is left out).
        solved: a dict, EoM order γ ↦ the mismatch of the solved flow, same shapes, drawn as
            points every ``every`` steps on the right.
        lr: the learning rate η, for the legend.
        lam: the weight decay λ, for the title.
        every: the spacing of the solved points, in steps (default 8).

    Returns:
        The matplotlib ``Figure`` (11 × 3.6 in, two panels).
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    ax1.plot(t, s_gd, "o", ms=3, color=plots.COLORS["gd"], label=f"GD, η = {lr:g}")
    ax1.plot(t, s_flows[0], color=plots.COLORS["gf"], label="gradient flow")
    ax1.plot(t, s_flows[1], "--", color=plots.COLORS["eom1"], label="order-1 EoM")
    ax1.set(xlabel="t = kη", ylabel="s = 1·b", yscale="log",
            title=f"the sum of the output biases, λ = {lam}")
    ax1.legend(fontsize=8)
    for order, miss in closed.items():
        ax2.semilogy(t[1:], miss[1:], color=plots.order_color(order), label=plots.order_label(order))
    for order, miss in solved.items():
        ax2.semilogy(t[1::every], miss[1::every], "o", ms=4, color=plots.order_color(order))
    ax2.set(xlabel="t = kη", ylabel="|s_flow − s_GD| / s0", title="mismatch with GD (points: solved)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mismatch_vs_lr(lrs, mismatches, slopes, solved_orders, horizon, lam):
    r"""Draw the mismatch of the sum at a fixed time against η, log–log, with fitted lines.

    Args:
        lrs: the learning rates η_i > 0 (array-like), also used as the η ticks.
        mismatches: a dict, EoM order γ ↦ :math:`|s_{\rm flow}(T) - s_{\rm GD}(T)|/s_0` at
            ``lrs`` (arrays of the length of ``lrs``, > 0).
        slopes: a dict, EoM order γ ↦ the fitted log–log slope, with the keys of ``mismatches``.
        solved_orders: the orders whose mismatches come from solved equations (labelled
            "solved"; the others "closed form").
        horizon: the time T, for the title.
        lam: the weight decay λ, for the title.

    Returns:
        The matplotlib ``Figure`` (5.6 × 3.8 in, one panel).
    """
    lrs = np.asarray(lrs)
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for order, miss in mismatches.items():
        kind = " (solved)" if order in solved_orders else " (closed form)"
        plots.loglog_fit(ax, lrs, miss, slopes[order], color=plots.order_color(order),
                         label=plots.order_label(order) + kind)
    ax.set(xlabel="learning rate η", ylabel="|s_flow(T) − s_GD(T)| / s0",
           title=f"mismatch of the sum at T = {horizon:g}, λ = {lam}")
    ax.set_xticks(lrs, [f"{float(x):g}" for x in lrs])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    return fig


def mismatch_curves(ax, t, curves, lr, lam):
    r"""Draw each flow's mismatch with GD along training on a log scale (one player frame).

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        t: the times :math:`t_k = k\eta`, an array of length n + 1.
        curves: a dict, EoM order γ ↦ :math:`|s_{\rm flow}(t_k) - s_k|/s_0`, k = 0…n (the
            point k = 0, where it is 0, is not drawn).
        lr: the learning rate η, for the title.
        lam: the weight decay λ, for the title (as ηλ).

    Returns:
        None.
    """
    for order, miss in curves.items():
        ax.semilogy(t[1:], miss[1:], color=plots.order_color(order), label=plots.order_label(order))
    ax.set(xlabel="t = kη", ylabel="|s_flow − s_GD| / s0", ylim=(1e-12, 1),
           title=f"η = {lr:.3g}, ηλ = {lr * lam:.3g}")
    ax.legend(fontsize=8, loc="lower right")
