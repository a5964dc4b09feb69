"""Figures of chapters 1 and 2: GD, gradient flow and the order-1 EoM on the curved valley
and on a quadratic.

Every function only draws numbers that the chapter computed with :mod:`eomlib`
(:func:`eomlib.gd_trajectory`, :func:`eomlib.eom_trajectory`, :func:`eomlib.error_sweep`,
:func:`eomlib.discretization_error`); the contours of a loss come from
:func:`eomlib.book.plots.contour`.
"""

from __future__ import annotations

import numpy as np

from eomlib.book.plots import (COLORS, LABELS, STYLES, contour, loglog_fit, order_color,
                               order_label, shades)

__all__ = ["new_axes", "gd_against_flow", "gd_frame", "gap_loglog", "quadratic_panels",
           "quadratic_frame", "loss_and_penalty", "distance_in_time", "error_orders",
           "three_flows", "time_background", "max_distance"]

#: The axis limits of :func:`three_flows` and :func:`time_background` (the same frame).
FLOWS_XLIM, FLOWS_YLIM = (-0.3, 1.95), (-0.1, 0.85)


def new_axes(figsize):
    """Creates a figure with one ``Axes``, for the draw function of a live slider.

    Args:
        figsize: the figure's ``(width, height)`` in inches (width at most
            :data:`eomlib.book.plots.MAX_WIDTH_IN`).

    Returns:
        The new matplotlib ``Axes``.
    """
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def gd_against_flow(ax, loss, gf, gd_runs, lam_max):
    """Draws GD's iterates for several learning rates against the gradient-flow curve.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        loss: the two-parameter loss whose contours are the background (e.g.
            :func:`eomlib.book.toys.curved_valley`).
        gf: the gradient-flow curve, an array of shape (number of points, 2).
        gd_runs: a dict from learning rate η to GD's iterates, each of shape (n + 1, 2); at
            most three entries (markers o, s, ^ in that order).
        lam_max: λ_max at the start, shown in the legend as ηλ_max.

    Returns:
        None.
    """
    contour(ax, loss, (-0.4, 2.0), (-0.25, 1.0))
    ax.plot(gf[:, 0], gf[:, 1], **STYLES["gf"], label="gradient flow")
    # GD keeps its colour at every η; the larger η, the darker its markers
    greys = shades("gd", len(gd_runs))[::-1]
    for (lr, traj), marker, grey in zip(gd_runs.items(), ["o", "s", "^"], greys):
        ax.plot(traj[:, 0], traj[:, 1], **(STYLES["gd"] | dict(marker=marker, color=grey)),
                label=rf"GD, η = {lr} ($\eta\lambda_{{\max}}$ = {lr * lam_max:.2f})")
    ax.set(xlabel="x", ylabel="y", title="GD against the gradient-flow curve, T = 4")
    ax.legend(loc="upper left")


def gd_frame(ax, loss, gf, traj, lr, lam_max):
    """Draws one frame of the valley player: GD's iterates at one η against gradient flow.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        loss: the two-parameter loss whose contours are the background.
        gf: the gradient-flow curve, an array of shape (number of points, 2).
        traj: GD's iterates at this learning rate, shape (n + 1, 2).
        lr: the learning rate η, a float (shown in the title).
        lam_max: λ_max at the start, shown in the title as ηλ_max(θ0).

    Returns:
        None.
    """
    contour(ax, loss, (-0.9, 2.0), (-0.25, 1.1))
    ax.plot(gf[:, 0], gf[:, 1], **STYLES["gf"], label=LABELS["gf"])
    ax.plot(traj[:, 0], traj[:, 1], **STYLES["gd"], label=f"GD, {len(traj) - 1} steps")
    ax.set(xlabel="x", ylabel="y", title=rf"η = {lr:.3f}   ($\eta\lambda_{{\max}}(\theta_0)$ = {lr * lam_max:.2f})")
    ax.legend(loc="upper left")


def gap_loglog(ax, sweep, slope):
    """Draws the maximal GF–GD gap against η on log–log axes, with its fitted slope.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        sweep: the :class:`eomlib.ErrorSweep` of gradient flow (order 0).
        slope: the fitted log–log slope (``sweep.slope()``).

    Returns:
        None.
    """
    loglog_fit(ax, sweep.lrs, sweep.max_error, slope, color=COLORS["gf"], label="GF vs GD")
    ax.set(xlabel="learning rate η", ylabel="max gap ‖θ(kη) − θₖ‖ over [0, T]",
           title="The GF–GD gap is O(η)")
    ax.legend()


def _quadratic_curves(ax, t_grid, gf_x, lr, xs):
    ax.plot(t_grid, gf_x, **STYLES["gf"], label=LABELS["gf"])
    ax.plot(np.arange(len(xs)) * lr, np.asarray(xs), **(STYLES["gd"] | dict(ls="-", ms=3.5)),
            label=LABELS["gd"])


def quadratic_panels(axes, t_grid, gf_x, lrs, xs_by_lr, lam):
    """Draws the first coordinate of GD and of gradient flow on a quadratic, one panel per η.

    The panels are meant to be stacked in one column with a shared time axis (labelled on
    the last one); the last panel gets a symmetric-log y axis (for a diverging run).

    Args:
        axes: the matplotlib ``Axes``, one per learning rate, top to bottom.
        t_grid: the times t of the gradient-flow curve, a 1-D array.
        gf_x: the flow's first coordinate at ``t_grid``.
        lrs: the learning rates η, one per panel.
        xs_by_lr: GD's first coordinate θ_k for each η, shape (len(lrs), n + 1), drawn at
            t = kη.
        lam: the eigenvalue λ of the first coordinate, shown in the titles as ηλ.

    Returns:
        None.
    """
    for ax, lr, xs in zip(axes, lrs, xs_by_lr):
        lr = float(lr)
        _quadratic_curves(ax, t_grid, gf_x, lr, xs)
        ax.set(title=f"η = {lr}  (ηλ = {lr * lam:.2f})", ylabel="θ₁")
    axes[-1].set(xlabel="time t = kη", xlim=(0, float(t_grid[-1])))
    axes[0].legend(loc="lower right")
    axes[-1].set_yscale("symlog", linthresh=0.1)


def quadratic_frame(ax, t_grid, gf_x, lr, xs, lam):
    """Draws one frame of the quadratic player: GD's first coordinate at one η against GF.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        t_grid: the times t of the gradient-flow curve, a 1-D array; its range is the
            time axis of every frame.
        gf_x: the flow's first coordinate at ``t_grid``.
        lr: the learning rate η, a float.
        xs: GD's first coordinate θ_k, k = 0…n, drawn at t = kη.
        lam: λ_max, shown in the title as ηλ_max.

    Returns:
        None.
    """
    _quadratic_curves(ax, t_grid, gf_x, lr, xs)
    ax.set(xlim=(0, float(t_grid[-1])), ylim=(-0.8, 0.8))
    ax.set(xlabel="time t = kη", ylabel="first coordinate θ₁",
           title=rf"η = {lr:.2f}, $\eta\lambda_{{\max}}$ = {lr * lam:.2f}")
    ax.legend(loc="lower right")


def loss_and_penalty(axes, loss, penalty, theta0, lr):
    """Draws a loss and its implicit-gradient-regularisation penalty side by side.

    Both panels show the valley floor y = x²/2 and the start θ0, named in a legend below.

    Args:
        axes: two matplotlib ``Axes``: the loss f (left) and the penalty (right).
        loss: the two-parameter loss f.
        penalty: the function θ ↦ (η/4)‖∇f(θ)‖².
        theta0: the start θ0, a length-2 array (a star).
        lr: the learning rate η of the penalty (in its title).

    Returns:
        None.
    """
    xs = np.linspace(-2, 2, 100)
    panels = [(axes[0], loss, "loss f"), (axes[1], penalty, f"penalty (η/4)‖∇f‖², η = {lr}")]
    for ax, fun, name in panels:
        contour(ax, fun, (-2.0, 2.0), (-0.5, 2.0))
        ax.plot(xs, xs**2 / 2, **(STYLES["limit"] | dict(lw=1.5)), label="valley floor y = x²/2")
        ax.plot(*np.asarray(theta0), "*", color=COLORS["gd"], ms=11, label="start θ₀")
        ax.set(title=name, xlabel="x", ylabel="y")
    axes[0].figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                          ncols=2)


def distance_in_time(ax, t, errors, lr):
    """Draws the distance to GD along the run, one curve per EoM order, on a log y axis.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        t: the times t_k = kη, a 1-D array (k = 0 is left out: the distance is 0 there).
        errors: a dict from EoM order γ (0 = gradient flow) to the distances
            ‖θ(kη) − θ_k‖, each as long as ``t``.
        lr: the learning rate η (in the title).

    Returns:
        None.
    """
    for order, err in errors.items():
        ax.semilogy(t[1:], np.asarray(err)[1:], color=order_color(order), lw=1.8,
                    label=order_label(order))
    ax.set(xlabel="time t = kη", ylabel="distance to GD ‖θ(kη) − θₖ‖",
           title=f"Distance to GD, η = {lr}")
    ax.legend()


def error_orders(ax, sweeps, slopes):
    """Draws the maximal error against η on log–log axes, one fitted line per EoM order.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        sweeps: a dict from EoM order γ to its :class:`eomlib.ErrorSweep`.
        slopes: a dict from γ to the fitted log–log slope.

    Returns:
        None.
    """
    for order, s in sweeps.items():
        loglog_fit(ax, s.lrs, s.max_error, slopes[order], color=order_color(order),
                   label=order_label(order))
    ax.set(xlabel="learning rate η", ylabel="max distance to GD over [0, T]")
    ax.legend()


def three_flows(ax, loss, lr, trajs, lam_max):
    """Draws GD, gradient flow and the order-1 EoM at one η on the valley's contours.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        loss: the two-parameter loss whose contours are the background.
        lr: the learning rate η, a float (in the title).
        trajs: a dict from an object of :data:`eomlib.book.plots.STYLES` (``"gf"``,
            ``"eom1"``, ``"gd"``, drawn in the order given) to points of shape (n + 1, 2),
            sampled at t = kη.
        lam_max: λ_max at the start, shown in the title as ηλ_max(θ0).

    Returns:
        None.
    """
    contour(ax, loss, FLOWS_XLIM, FLOWS_YLIM)
    for key, traj in trajs.items():
        ax.plot(traj[:, 0], traj[:, 1], **STYLES[key], label=LABELS[key])
    ax.set(xlabel="x", ylabel="y", title=rf"η = {lr:.3f}, $\eta\lambda_{{\max}}(\theta_0)$ = {lr * lam_max:.2f}")
    ax.legend(loc="upper left")


def time_background(ax, loss, keys=("gd", "gf", "eom1")):
    """Draws the fixed background of the time player: contours, axis labels and a legend.

    The curves themselves are drawn by :func:`eomlib.book.players.time_player`; the legend
    is made of empty proxy lines in the styles of :data:`eomlib.book.plots.STYLES`.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        loss: the two-parameter loss whose contours are the background.
        keys: the objects of :data:`eomlib.book.plots.STYLES` named in the legend (default
            GD, gradient flow and the order-1 EoM).

    Returns:
        None.
    """
    contour(ax, loss, FLOWS_XLIM, FLOWS_YLIM)
    for key in keys:
        ax.plot([], [], **STYLES[key], label=LABELS[key])
    ax.set(xlabel="x", ylabel="y", title="GD step by step against the two flows")
    ax.legend(loc="upper left")


def max_distance(ax, x, dist, steps):
    """Draws each flow's largest distance to GD against ηλ_max(θ0), with a line at 1.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        x: the values ηλ_max(θ0), a 1-D array.
        dist: a dict from ``"gf"`` (gradient flow) and ``"eom1"`` (the order-1 EoM) to the
            largest distances, each as long as ``x``.
        steps: the number of GD steps the distances are taken over (in the y label).

    Returns:
        None.
    """
    for key in ("gf", "eom1"):
        ax.semilogy(x, dist[key], **(STYLES[key] | dict(marker="o", ms=4)), label=LABELS[key])
    ax.axvline(1.0, **STYLES["limit"], label=r"$\eta\lambda_{\max}(\theta_0) = 1$")
    ax.set(xlabel=r"$\eta\lambda_{\max}(\theta_0)$", ylabel=f"max distance to GD ({steps} steps)")
    ax.legend()
