"""Figures of chapter 6 (translation-invariant layers): the sum of the output biases under GD
and the flows, its mismatch with GD along training and at a fixed time against η.

Every function draws numbers the chapter computed with :mod:`eomlib`; none computes any.
Colours and styles come from :mod:`eomlib.book.plots` (one colour per EoM order).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots

#: The label of the mismatch axis: the flow's sum against GD's, relative to the start.
MISMATCH_LABEL = r"mismatch $|s_{\rm flow} - s_{\rm GD}|\,/\,s_0$"


def _order_style(order: int) -> dict:
    """The line style of the order-γ EoM, from :data:`eomlib.book.plots.STYLES`."""
    key = "gf" if order == 0 else f"eom{order}"
    return dict(plots.STYLES[key]) if key in plots.STYLES else dict(color=plots.order_color(order))


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
        every: the spacing of the solved points, in steps (default 8); GD's points are
            drawn every ``every // 2`` steps.

    Returns:
        The matplotlib ``Figure`` (7.2 × 3.6 in, two panels side by side).
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7.2, 3.6))
    ax1.plot(t[::every // 2], s_gd[::every // 2], **(plots.STYLES["gd"] | dict(ls="none")),
             label=f"GD, η = {lr:g}")
    ax1.plot(t, s_flows[0], **plots.STYLES["gf"], label=plots.LABELS["gf"])
    ax1.plot(t, s_flows[1], **(plots.STYLES["eom1"] | dict(ls="--")), label=plots.LABELS["eom1"])
    ax1.set(xlabel="time t = kη", ylabel=r"sum of the output biases $s = \mathbf{1}\cdot b$",
            yscale="log", title=f"the sum, λ = {lam:g}")
    ax1.legend(loc="upper right")
    for order, miss in closed.items():
        ax2.semilogy(t[1:], miss[1:], **(_order_style(order) | dict(ls="-")),
                     label=plots.order_label(order))
    for order, miss in solved.items():
        ax2.semilogy(t[1::every], miss[1::every], "o", ms=5, mfc="none",
                     color=plots.order_color(order))
    ax2.set(xlabel="time t = kη", ylabel=MISMATCH_LABEL, title="mismatch (points: solved)")
    ax2.set_ylim(top=3)  # room for the legend above the curves
    ax2.legend(loc="upper right")
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
        The matplotlib ``Figure`` (6.4 × 4.2 in, one panel).
    """
    lrs = np.asarray(lrs)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for order, miss in mismatches.items():
        kind = " (solved)" if order in solved_orders else " (closed form)"
        plots.loglog_fit(ax, lrs, miss, slopes[order], color=plots.order_color(order),
                         label=plots.order_label(order) + kind)
    ax.set(xlabel="learning rate η",
           ylabel=r"mismatch at T, $|s_{\rm flow}(T) - s_{\rm GD}(T)|\,/\,s_0$",
           title=f"mismatch of the sum at T = {horizon:g}, λ = {lam:g}")
    ax.set_xticks(lrs, [f"{float(x):g}" for x in lrs])
    ax.minorticks_off()
    ax.legend(loc="lower right")
    return fig


def mismatch_curves(ax, curves, lr, lam):
    r"""Draw each flow's mismatch with GD along training on a log scale (one player frame).

    The x axis is the step k (the same range at every η), and both axes have fixed limits,
    so that the frames of a player do not jump.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        curves: a dict, EoM order γ ↦ :math:`|s_{\rm flow}(t_k) - s_k|/s_0`, k = 0…n (the
            point k = 0, where it is 0, is not drawn).
        lr: the learning rate η, for the title.
        lam: the weight decay λ, for the title (as ηλ).

    Returns:
        None.
    """
    for order, miss in curves.items():
        k = np.arange(len(miss))
        ax.semilogy(k[1:], miss[1:], **_order_style(order), label=plots.order_label(order))
    n = max(len(miss) for miss in curves.values()) - 1
    ax.set(xlabel="step k", ylabel=MISMATCH_LABEL, xlim=(0, n), ylim=(1e-14, 1),
           title=f"η = {lr:.3g},  ηλ = {lr * lam:.3g}")
    ax.legend(loc="lower right", ncols=2)


def live_mismatch(curves, lr, lam):
    r"""Draw each flow's mismatch with GD at one η (the live slider): one player frame.

    Args:
        curves: a dict, EoM order γ ↦ :math:`|s_{\rm flow}(t_k) - s_k|/s_0`, k = 0…n.
        lr: the learning rate η, for the title.
        lam: the weight decay λ, for the title (as ηλ).

    Returns:
        The matplotlib ``Figure`` (6.4 × 4.0 in, the size of the player's frames).
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    mismatch_curves(ax, curves, lr, lam)
    return fig
