"""Figures of chapters 1 and 2: GD, gradient flow and the order-1 EoM on the curved valley
and on a quadratic.

Every function only draws numbers that the chapter computed with :mod:`eomlib`
(:func:`eomlib.gd_trajectory`, :func:`eomlib.eom_trajectory`, :func:`eomlib.error_sweep`,
:func:`eomlib.discretization_error`); the contours of a loss come from
:func:`eomlib.book.plots.contour`.
"""

from __future__ import annotations

import numpy as np

from eomlib.book.plots import COLORS, contour, loglog_fit, order_color, order_label

__all__ = ["gd_against_flow", "gd_frame", "gap_loglog", "quadratic_panels", "quadratic_frame",
           "loss_and_penalty", "distance_in_time", "error_orders", "three_flows",
           "max_distance"]

#: Plot styles of the three curves of :func:`three_flows`, by name.
FLOW_STYLES = {"GD": dict(marker="o", ls="none", mfc="none", color=COLORS["gd"]),
               "gradient flow": dict(marker=".", color=COLORS["gf"]),
               "order-1 EoM": dict(marker=".", color=COLORS["eom1"])}


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
    ax.plot(gf[:, 0], gf[:, 1], color=COLORS["gf"], lw=2, label="gradient flow")
    for (lr, traj), marker in zip(gd_runs.items(), ["o", "s", "^"]):
        ax.plot(traj[:, 0], traj[:, 1], marker + "--", ms=4, lw=0.8,
                label=f"GD, η = {lr} (ηλ_max = {lr * lam_max:.2f})")
    ax.set(xlabel="x", ylabel="y", title="GD against the gradient-flow curve, T = 4")
    ax.legend(loc="upper left", fontsize=8)


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
    ax.plot(gf[:, 0], gf[:, 1], color=COLORS["gf"], lw=2, label="gradient flow")
    ax.plot(traj[:, 0], traj[:, 1], "o--", color="k", ms=3, lw=0.8,
            label=f"GD, {len(traj) - 1} steps")
    ax.set_title(f"η = {lr:.3f}   (ηλ_max(θ0) = {lr * lam_max:.2f})")
    ax.legend(loc="upper left", fontsize=8)


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
    ax.set(xlabel="learning rate η", ylabel="max gap over [0, T]",
           title="The GF–GD gap is O(η)")
    ax.legend()


def _quadratic_curves(ax, t_grid, gf_x, lr, xs):
    ax.plot(t_grid, gf_x, color=COLORS["gf"], label="GF")
    ax.plot(np.arange(len(xs)) * lr, xs, "o-", color="k", ms=3, lw=0.7, label="GD")


def quadratic_panels(axes, t_grid, gf_x, lrs, xs_by_lr, lam):
    """Draws the first coordinate of GD and of gradient flow on a quadratic, one panel per η.

    The last panel gets a symmetric-log y axis (for a diverging run).

    Args:
        axes: the matplotlib ``Axes``, one per learning rate.
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
        ax.set(title=f"η = {lr}  (ηλ = {lr * lam:.2f})", xlabel="t = kη")
    axes[0].set_ylabel("first coordinate")
    axes[0].legend()
    axes[-1].set_yscale("symlog", linthresh=0.1)


def quadratic_frame(ax, t_grid, gf_x, lr, xs, lam):
    """Draws one frame of the quadratic player: GD's first coordinate at one η against GF.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        t_grid: the times t of the gradient-flow curve, a 1-D array.
        gf_x: the flow's first coordinate at ``t_grid``.
        lr: the learning rate η, a float.
        xs: GD's first coordinate θ_k, k = 0…n, drawn at t = kη.
        lam: λ_max, shown in the title as ηλ_max.

    Returns:
        None.
    """
    _quadratic_curves(ax, t_grid, gf_x, lr, xs)
    ax.set_ylim(-0.8, 0.8)
    ax.set(xlabel="t = kη", ylabel="first coordinate",
           title=f"η = {lr:.2f}, ηλ_max = {lr * lam:.2f}")
    ax.legend(loc="lower right")


def loss_and_penalty(axes, loss, penalty, theta0, lr):
    """Draws a loss and its implicit-gradient-regularisation penalty side by side.

    Both panels show the valley floor y = x²/2 and the start θ0.

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
    panels = [(axes[0], loss, "f"), (axes[1], penalty, f"penalty (η/4)‖∇f‖², η = {lr}")]
    for ax, fun, name in panels:
        contour(ax, fun, (-2.0, 2.0), (-0.5, 2.0))
        ax.plot(xs, xs**2 / 2, "k:", lw=1, label="valley floor y = x²/2")
        ax.plot(*np.asarray(theta0), "k*", ms=10, label="θ0")
        ax.set_title(name)
    axes[0].legend(loc="upper center", fontsize=8)


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
        ax.semilogy(t[1:], np.asarray(err)[1:], color=order_color(order), label=order_label(order))
    ax.set(xlabel="t = kη", ylabel="‖θ(kη) − θ_k‖", title=f"Distance to GD, η = {lr}")
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
    ax.set(xlabel="learning rate η", ylabel="max error over [0, T]")
    ax.legend()


def three_flows(ax, loss, lr, trajs, lam_max):
    """Draws GD, gradient flow and the order-1 EoM at one η on the valley's contours.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        loss: the two-parameter loss whose contours are the background.
        lr: the learning rate η, a float (in the title).
        trajs: a dict from a name in :data:`FLOW_STYLES` (``"GD"``, ``"gradient flow"``,
            ``"order-1 EoM"``) to points of shape (n + 1, 2), sampled at t = kη.
        lam_max: λ_max at the start, shown in the title as ηλ_max(θ0).

    Returns:
        None.
    """
    contour(ax, loss, (-0.3, 1.95), (-0.1, 0.85))
    for name, traj in trajs.items():
        ax.plot(traj[:, 0], traj[:, 1], label=name, **FLOW_STYLES[name])
    ax.set(xlabel="x", ylabel="y", title=f"η = {lr:.3f}, ηλ_max(θ0) = {lr * lam_max:.2f}")
    ax.legend(loc="upper left", fontsize=8)


def max_distance(ax, x, dist, steps):
    """Draws each flow's largest distance to GD against ηλ_max(θ0), with a line at 1.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        x: the values ηλ_max(θ0), a 1-D array.
        dist: a dict from ``"gradient flow"`` and ``"order-1 EoM"`` to the largest
            distances, each as long as ``x``.
        steps: the number of GD steps the distances are taken over (in the y label).

    Returns:
        None.
    """
    for name, color in [("gradient flow", COLORS["gf"]), ("order-1 EoM", COLORS["eom1"])]:
        ax.semilogy(x, dist[name], "o-", color=color, label=name)
    ax.axvline(1.0, color="gray", ls=":")
    ax.set(xlabel="ηλ_max(θ0)", ylabel=f"max distance to GD ({steps} steps)")
    ax.legend()
