"""Figures of chapter 9 (heavy-ball momentum): distances of the modified flows to the heavy
ball over time and against η, and the runs on the curved valley for several momenta.

The numbers come from :mod:`eomlib.momentum` (computed in the chapter); these functions only
draw them.
"""

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots

#: Legend labels of the three flows of :data:`eomlib.momentum.VARIANTS`.
LABELS = {"plain": "flow −g/(1−β) from θ0", "counter_term": "with counter term, from θ0",
          "counter_term_shifted": "with counter term, shifted start"}

#: Colours of the three flows of :data:`eomlib.momentum.VARIANTS`.
COLORS = {"plain": plots.COLORS["gf"], "counter_term": "tab:orange",
          "counter_term_shifted": plots.COLORS["eom1"]}

#: Matplotlib styles of the runs on the valley: the heavy ball and two flows.
STYLES = {"HB": dict(marker="o", ms=4, ls="none", mfc="none", color=plots.COLORS["gd"]),
          "plain flow": dict(marker=".", color=plots.COLORS["gf"]),
          "modified flow": dict(marker=".", color=plots.COLORS["eom1"])}

#: The two views of the valley, name ↦ (xlim, ylim): the whole run and a zoom on its start.
VIEWS = {"whole run": ((-0.3, 2.0), (-0.1, 1.4)), "first steps": ((1.35, 2.05), (0.95, 1.35))}


def distance_over_time(sweep, i):
    """Draw the distance of each flow to the heavy ball against t = kη, for one learning rate.

    Args:
        sweep: a :class:`eomlib.momentum.MomentumErrorSweep` (its ``errors`` for the keys of
            ``LABELS``, ``lrs``, ``num_steps`` and ``beta`` are used).
        i: the row of the sweep to draw, an index into ``sweep.lrs``.

    Returns:
        The matplotlib ``Figure``.
    """
    lr, n = float(sweep.lrs[i]), int(sweep.num_steps[i])
    t = np.arange(n + 1) * lr
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name in LABELS:
        ax.semilogy(t[1:], np.asarray(sweep.errors[name])[i, 1 : n + 1], color=COLORS[name],
                    label=LABELS[name])
    ax.set(xlabel="t = kη", ylabel="distance to HB", title=f"β = {sweep.beta:g}, η = {lr:g}")
    ax.legend(fontsize=8)
    return fig


def error_orders(sweep, slopes, horizon):
    """Draw the distance of each flow to the heavy ball at the horizon against η (log–log).

    Args:
        sweep: a :class:`eomlib.momentum.MomentumErrorSweep` (its ``lrs``, ``final_error``
            and ``beta`` are used).
        slopes: flow name (a key of ``LABELS``) ↦ its fitted slope, shown in the legend.
        horizon: the fixed time T at which the distance was measured, for the axis label.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name in LABELS:
        plots.loglog_fit(ax, sweep.lrs, sweep.final_error[name], slopes[name],
                         color=COLORS[name], label=LABELS[name])
    ax.set(xlabel="learning rate η", ylabel=f"distance to HB at T = {horizon:g}",
           title=f"Heavy ball, β = {sweep.beta:g}")
    ax.legend(fontsize=8)
    return fig


def valley_views(loss, axes=None):
    """Draw the contours of the valley in the two ``VIEWS`` (the runs are drawn later).

    Args:
        loss: the 2-D loss, a JAX-traceable function of a length-2 array (e.g.
            :func:`eomlib.book.toys.curved_valley`), drawn with :func:`eomlib.book.plots.contour`.
        axes: two matplotlib ``Axes`` to draw on; default ``None``, a new figure of two
            panels, 10 × 3.6 in.

    Returns:
        ``(fig, axes)``: the ``Figure`` and the two ``Axes``.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    else:
        fig = axes[0].figure
    for ax, (xlim, ylim) in zip(axes, VIEWS.values()):
        plots.contour(ax, loss, xlim, ylim)
        ax.set(xlabel="x", ylabel="y")
    return fig, axes


def draw_views(axes, trajs, beta, lr):
    """Draw (or redraw) the runs in the two views of the valley made by :func:`valley_views`.

    Lines drawn before on these axes are removed, so that a player's frames can call it
    again on the same figure.

    Args:
        axes: the two ``Axes`` of :func:`valley_views`.
        trajs: run name (a key of ``STYLES``: ``"HB"``, ``"plain flow"``, ``"modified flow"``)
            ↦ its points, an array of shape ``(n + 1, 2)``.
        beta: the momentum β of the runs, for the titles.
        lr: the learning rate η of the runs, for the titles (with η/(1−β)).

    Returns:
        None.
    """
    for ax, view in zip(axes, VIEWS):
        for line in list(ax.lines):
            line.remove()
        for name, traj in trajs.items():
            traj = np.asarray(traj)
            ax.plot(traj[:, 0], traj[:, 1], label=name, **STYLES[name])
        ax.set_title(f"{view}: β = {beta:.1f}, η/(1−β) = {lr / (1 - beta):.3f}", fontsize=9)
        if view == "whole run":
            ax.legend(loc="upper left", fontsize=8)


def runs_and_distances(loss, trajs, beta, lr, betas, dist):
    """Draw the runs for one β in the two views, and each flow's distance to HB against β.

    Args:
        loss: the 2-D loss, as for :func:`valley_views`.
        trajs: the runs at ``beta``, as for :func:`draw_views`.
        beta: the momentum of ``trajs``.
        lr: the learning rate η of the runs.
        betas: the momenta of the distance panel, a 1-D array.
        dist: flow name (a key of ``STYLES``) ↦ its largest distance to HB over the second
            half of the run, one per entry of ``betas``.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    valley_views(loss, axes[:2])
    draw_views(axes[:2], trajs, beta, lr)
    for name, d in dist.items():
        axes[2].semilogy(np.asarray(betas), np.asarray(d), "o-", color=STYLES[name]["color"],
                         label=name)
    axes[2].set(xlabel="β", ylabel="max distance to HB, t ∈ [T/2, T]")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig
