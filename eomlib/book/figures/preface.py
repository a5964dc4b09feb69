"""Figure of the preface: GD, gradient flow and the EoM of orders 1 and 2 on the curved
valley, as paths in the plane and as distances to GD over the steps.

Every function only draws numbers that the preface computed with :mod:`eomlib`
(:func:`eomlib.gd_trajectory`, :func:`eomlib.eom_trajectory`); the contours of the loss come
from :func:`eomlib.book.plots.contour`.
"""

from __future__ import annotations

import numpy as np

from eomlib.book.plots import LABELS, STYLES, contour

__all__ = ["distances_to_gd", "paths_and_distances"]


def distances_to_gd(gd, flows):
    """Distances ‖θ(kη) − θ_k‖ of each flow's points at t = kη to GD's iterates.

    Args:
        gd: GD's iterates θ_0 … θ_n, an array of shape (n + 1, 2).
        flows: a dict from EoM order γ (0 is gradient flow) to the flow's points θ(kη),
            k = 0 … n, each of shape (n + 1, 2).

    Returns:
        A dict from γ to a NumPy array of shape (n + 1,): the distance at each step k
        (0 at k = 0, where all start at θ_0).
    """
    gd = np.asarray(gd)
    return {order: np.linalg.norm(np.asarray(traj) - gd, axis=1) for order, traj in flows.items()}


def paths_and_distances(axes, loss, gd, flows, xlim, ylim, path_orders=(0, 1)):
    """Draws the preface's two panels: GD's iterates and the flows' points at t = kη on the
    loss's contours (left; the limits zoom on the first steps, where the flows differ most),
    and each flow's distance to GD against the step k on a log scale (right), with one
    legend below.

    Args:
        axes: two matplotlib ``Axes`` of one figure (paths, distances).
        loss: the two-parameter loss whose contours are the background (e.g.
            :func:`eomlib.book.toys.curved_valley`).
        gd: GD's iterates θ_0 … θ_n, an array of shape (n + 1, 2).
        flows: a dict from EoM order γ (0 is gradient flow, else 1 … 4) to the flow's
            points θ(kη), k = 0 … n, each of shape (n + 1, 2).
        xlim: ``(x_min, x_max)`` of the paths panel.
        ylim: ``(y_min, y_max)`` of the paths panel.
        path_orders: the orders whose points are drawn in the paths panel (default
            gradient flow and order 1; higher orders sit on GD's iterates at this scale).

    Returns:
        The dict of :func:`distances_to_gd`.
    """
    ax_path, ax_dist = axes
    keys = {order: "gf" if order == 0 else f"eom{order}" for order in flows}
    contour(ax_path, loss, xlim, ylim)
    gd = np.asarray(gd)
    ax_path.plot(gd[:, 0], gd[:, 1], **(STYLES["gd"] | dict(ms=9)), label=LABELS["gd"])
    for order in path_orders:  # points only: the paths themselves coincide
        traj = np.asarray(flows[order])
        dots = STYLES[keys[order]] | dict(ls="none", marker="o", ms=4)
        ax_path.plot(traj[:, 0], traj[:, 1], **dots)
    ax_path.annotate("θ₀", gd[0], xytext=(-6, 9), textcoords="offset points")
    ax_path.set(xlabel="x", ylabel="y", title="the first steps")
    dist = distances_to_gd(gd, flows)
    steps = np.arange(len(gd))
    for order, d in dist.items():
        ax_dist.semilogy(steps[1:], d[1:], **(STYLES[keys[order]] | dict(marker="o", ms=3)),
                         label=LABELS[keys[order]] + " at t = kη")
    ax_dist.set(xlabel="step k  (time t = kη)", ylabel="distance to GD  ‖θ(kη) − θₖ‖",
                title="distance to GD's iterates")
    handles = ax_path.get_legend_handles_labels()[0] + ax_dist.get_legend_handles_labels()[0]
    ax_path.figure.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    return dist
