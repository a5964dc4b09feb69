"""Figures of chapter 9 (heavy-ball momentum): distances of the modified flows to the heavy
ball over time and against η, and the runs on the curved valley for several momenta.

The numbers come from :mod:`eomlib.momentum` (computed in the chapter); these functions only
draw them.  Colours and styles are the book's (:data:`eomlib.book.plots.STYLES`): the heavy
ball ``"hb"``, its plain flow ``"hb_flow"`` and its modified flow ``"hb_eom"``.
"""

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots

#: Legend labels of the three flows of :data:`eomlib.momentum.VARIANTS`.
LABELS = {"plain": "plain flow −g/(1−β) from θ₀", "counter_term": "counter term, from θ₀",
          "counter_term_shifted": "counter term, shifted start"}

#: The two views of the valley, name ↦ (xlim, ylim): the whole run and a zoom on its start.
VIEWS = {"whole run": ((-0.3, 2.0), (-0.1, 1.4)), "first steps": ((1.35, 2.05), (0.95, 1.35))}


def variant_style(name):
    """Matplotlib style of a flow of :data:`eomlib.momentum.VARIANTS`: the plain flow is
    ``plots.STYLES["hb_flow"]``, the flow with the counter term ``plots.STYLES["hb_eom"]``
    (dashed and lighter when it starts at θ₀, solid from the shifted start).

    Args:
        name: ``"plain"``, ``"counter_term"`` or ``"counter_term_shifted"``.

    Returns:
        A dict of keyword arguments for ``ax.plot``.
    """
    if name == "plain":
        return dict(plots.STYLES["hb_flow"])
    if name == "counter_term":
        return plots.STYLES["hb_eom"] | dict(color=plots.shades("hb_eom", 3)[1], ls="--")
    return plots.STYLES["hb_eom"] | dict(lw=2.0)


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
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name in LABELS:
        ax.semilogy(t[1:], np.asarray(sweep.errors[name])[i, 1 : n + 1], **variant_style(name),
                    label=LABELS[name])
    ax.set(xlabel="time t = kη", ylabel="distance to HB ‖θ(kη) − θₖ‖",
           title=f"β = {sweep.beta:g}, η = {lr:g}")
    ax.legend(fontsize=9)
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
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for name, marker in zip(LABELS, ("o", "s", "^")):
        plots.loglog_fit(ax, sweep.lrs, sweep.final_error[name], slopes[name],
                         color=variant_style(name)["color"], label=LABELS[name], marker=marker)
    ax.set(xlabel="learning rate η", ylabel=f"distance to HB at t = T = {horizon:g}",
           title=f"heavy ball, β = {sweep.beta:g}")
    ax.legend(fontsize=9)
    return fig


def valley_views(loss, axes=None):
    """Draw the contours of the valley in the two ``VIEWS`` (the runs are drawn later).

    Args:
        loss: the 2-D loss, a JAX-traceable function of a length-2 array (e.g.
            :func:`eomlib.book.toys.curved_valley`), drawn with :func:`eomlib.book.plots.contour`.
        axes: two matplotlib ``Axes`` to draw on; default ``None``, a new figure of two
            panels, 7.2 × 3.4 in.

    Returns:
        ``(fig, axes)``: the ``Figure`` and the two ``Axes``.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.4), width_ratios=(1.6, 1))
    else:
        fig = axes[0].figure
    for ax, (xlim, ylim) in zip(axes, VIEWS.values()):
        plots.contour(ax, loss, xlim, ylim)
        ax.set(xlabel="θ₁", ylabel="θ₂")
    return fig, axes


def draw_views(axes, trajs, beta, lr):
    """Draw (or redraw) the runs in the two views of the valley made by :func:`valley_views`.

    Lines drawn before on these axes are removed, so that a player's frames can call it
    again on the same figure.

    Args:
        axes: the two ``Axes`` of :func:`valley_views`.
        trajs: run name (a key of :data:`eomlib.book.plots.STYLES`: ``"hb"``,
            ``"hb_flow"``, ``"hb_eom"``) ↦ its points, an array of shape ``(n + 1, 2)``.
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
            style = plots.STYLES[name] if name == "hb" else plots.STYLES[name] | dict(marker=".")
            ax.plot(traj[:, 0], traj[:, 1], label=plots.LABELS[name], **style)
        ax.set_title(f"{view}: β = {beta:.3g}, η/(1−β) = {lr / (1 - beta):.3f}"
                     if view == "whole run" else view, fontsize=10)
        xlim, ylim = VIEWS[view]
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        if view == "whole run":
            ax.legend(loc="upper left", fontsize=8.5)


def runs_and_distances(loss, trajs, beta, lr, betas, dist):
    """Draw the runs for one β in the two views (top), and each flow's distance to HB
    against β (below).

    Args:
        loss: the 2-D loss, as for :func:`valley_views`.
        trajs: the runs at ``beta``, as for :func:`draw_views`.
        beta: the momentum of ``trajs``.
        lr: the learning rate η of the runs.
        betas: the momenta of the distance panel, a 1-D array.
        dist: flow name (``"hb_flow"`` or ``"hb_eom"``) ↦ its largest distance to HB over the
            second half of the run, one per entry of ``betas``.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplot_mosaic([["whole", "zoom"], ["dist", "dist"]], figsize=(7.2, 6.6),
                                   width_ratios=(1.6, 1), height_ratios=(1, 0.9))
    valley_views(loss, [axes["whole"], axes["zoom"]])
    draw_views([axes["whole"], axes["zoom"]], trajs, beta, lr)
    for name, d in dist.items():
        axes["dist"].semilogy(np.asarray(betas), np.asarray(d), **plots.STYLES[name]
                              | dict(marker="o", ms=4), label=plots.LABELS[name])
    axes["dist"].set(xlabel="momentum β", ylabel="max distance to HB\nover t ∈ [T/2, T]")
    axes["dist"].legend(fontsize=9)
    return fig
