"""Figures of chapter 11, "After the EoM: the central flow": self-stabilisation on the
sharpening valley, gradient descent (GD), gradient flow, the EoM and the central flow side by
side on a network, and the valley as the learning rate moves.

The numbers come from :mod:`eomlib.centralflow` (computed in the chapter); these functions only
draw them.  Colours and styles are the book's (:data:`eomlib.book.plots.STYLES`): GD
``"gd"``, gradient flow ``"gf"``, the EoM of order 1 and 2 ``"eom1"`` and ``"eom2"``, the
central flow ``"central"``, its predictions (σ², the time-averaged loss) ``"pred"`` and the
thresholds 2/η and ±√(2α) as dotted ``"limit"`` lines.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book.plots import COLORS, LABELS, STYLES, shades

__all__ = ["MODEL_KEYS", "self_stabilisation", "side_by_side", "valley_axes", "valley_panel",
           "valley_twin", "valley_live"]

#: The book's colour key of each model of :func:`eomlib.centralflow.side_by_side`, in its order.
MODEL_KEYS = ("gd", "gf", "eom1", "eom2", "central")

_GD_DOTS = STYLES["gd"] | dict(ls="none", ms=3)  # GD's iterates alone
_GD_THIN = dict(color=COLORS["gd"], lw=0.6, alpha=0.45)  # an oscillating GD series


def _edge(ax, level=2.0):
    ax.axhline(level, **STYLES["limit"], label=LABELS["limit"])


def self_stabilisation(steps, gd, gf, central, lr, alpha, x2_average, sigma2):
    r"""Draws GD, gradient flow and the central flow on the sharpening valley: GD's sharp
    coordinate x and its running mean square against σ², the sharpness ηS and w₂ (log scale).

    Args:
        steps: the GD steps 0 … n.
        gd, gf, central: the three trajectories, arrays (n + 1, 3) of (x, w₁, w₂).
        lr: η.
        alpha: α of the valley (GD's 2-cycle is x = ±√(2α)).
        x2_average: the running mean of GD's x², shape (n + 1,).
        sigma2: the central flow's σ², shape (n + 1,).

    Returns:
        The matplotlib ``Figure`` (2 × 2 panels sharing the step axis).
    """
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.4), sharex=True)
    (ax_x, ax_m), (ax_s, ax_w) = axes
    ax_x.plot(steps, gd[:, 0], **_GD_DOTS, label=LABELS["gd"])
    ax_x.plot(steps, central[:, 0], **STYLES["central"], label=LABELS["central"])
    for sign in (1, -1):
        ax_x.axhline(sign * np.sqrt(2 * alpha), **STYLES["limit"])
    ax_x.set(ylabel="x (sharp coordinate)", title="GD flips x at every step", ylim=(-0.8, 0.8))
    ax_x.legend(fontsize=8, loc="upper center", ncol=2)
    ax_m.plot(steps, x2_average, **STYLES["gd"] | dict(marker="none", ls="-", lw=1.2),
              label="GD: running mean of x²")
    ax_m.plot(steps, sigma2, **STYLES["central"], label="central flow: σ²")
    ax_m.axhline(2 * alpha, **STYLES["limit"], label="2α")
    ax_m.set(ylabel="mean square of x", title="the oscillation's size", ylim=(0, 4 * alpha))
    ax_m.legend(fontsize=8, loc="upper right")
    for traj, key in ((gd, "gd"), (gf, "gf"), (central, "central")):
        sharp = lr * (traj[:, 1] + traj[:, 2] ** 2)
        style = _GD_THIN if key == "gd" else STYLES[key]
        ax_s.plot(steps, sharp, **style, label=LABELS[key])
        ax_w.semilogy(steps, np.abs(traj[:, 2]), **(style if key != "gd" else STYLES["gd"] | dict(ms=2.5)),
                      label=LABELS[key])
    _edge(ax_s)
    ax_s.set(xlabel="GD step k", ylabel="ηS = η(w₁ + w₂²)", title="sharpness: pinned at 2/η")
    ax_s.legend(fontsize=8, loc="upper left")
    ax_w.set(xlabel="GD step k", ylabel="|w₂| (log scale)", title="the flat coordinate w₂")
    ax_w.legend(fontsize=8, loc="lower left")
    return fig


def side_by_side(run, lr, title, *, first_step=0, window=21, average=None, legend_loc="lower right",
                 legend_ncol=4):
    r"""Draws a :class:`eomlib.centralflow.SideBySide` run: distance to GD (log scale), the loss
    (GD, its running mean and the central flow's prediction) and ηλ_max of every model.

    Args:
        run: the ``SideBySide`` (GD, gradient flow, EoM order 1 and 2, central flow).
        lr: η.
        title: the figure's title.
        first_step: keyword only; the GD step of the run's start (for the step axis).
        window: keyword only; the running mean's window (for the legend).
        average: keyword only; GD's running mean of the loss, shape (n + 1,).
        legend_loc: keyword only; where the distance panel's legend goes.
        legend_ncol: keyword only; its number of columns.

    Returns:
        The matplotlib ``Figure`` (three panels sharing the step axis).
    """
    n = run.distance.shape[1] - 1
    steps = first_step + np.arange(n + 1)
    fig, (ax_d, ax_l, ax_s) = plt.subplots(3, 1, figsize=(7.2, 7.4), sharex=True)
    for row, key in enumerate(MODEL_KEYS):
        if key != "gd":
            ax_d.semilogy(steps[1:], run.distance[row, 1:], **STYLES[key], label=LABELS[key])
    ax_d.set(ylabel="‖θ_model − θ_k‖", title="distance to GD")
    ax_d.legend(fontsize=8, ncol=legend_ncol, loc=legend_loc)
    ax_l.semilogy(steps, run.loss[0], **_GD_THIN, label=LABELS["gd"])
    if average is not None:
        ax_l.semilogy(steps, average, color=COLORS["gd"], lw=1.4, label=f"GD, running mean of {window}")
    ax_l.semilogy(steps, run.loss[-1], **STYLES["central"], label=f"{LABELS['central']}: f(θ)")
    ax_l.semilogy(steps, run.predicted_loss, **STYLES["pred"], label="central flow: f + tr X/η")
    ax_l.set(ylabel="training loss", title="loss")
    ax_l.legend(fontsize=8, ncol=2, loc="upper right")
    sharp_steps = first_step + np.asarray(run.sharpness_steps)
    for row, key in enumerate(MODEL_KEYS):
        style = STYLES[key] | (dict(ms=3) if key == "gd" else {})
        ax_s.plot(sharp_steps, lr * run.sharpness[row], **style, label=LABELS[key])
    _edge(ax_s)
    ax_s.set(xlabel="GD step k", ylabel="ηλ_max", title="sharpness")
    ax_s.legend(fontsize=8, ncol=3, loc="upper left")
    fig.suptitle(title)
    return fig


def valley_axes():
    """A figure of two panels for :func:`valley_panel` (the player's and the live slider's).

    Returns:
        ``(fig, axes)``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.4))
    return fig, axes


def valley_panel(axes, curves, legend=True):
    r"""Draws ηS and |w₂| along GD, gradient flow and the central flow on the valley, at one η.

    Args:
        axes: two matplotlib ``Axes``.
        curves: a dict with ``"lr"``, ``"steps"`` and the trajectories ``"gd"``, ``"gf"``,
            ``"central"`` (arrays (n + 1, 3) of (x, w₁, w₂)).
        legend: whether to draw the legends.

    Returns:
        None.
    """
    ax_s, ax_w = axes
    lr, steps = curves["lr"], curves["steps"]
    for key in ("gd", "gf", "central"):
        traj = curves[key]
        style = _GD_THIN if key == "gd" else STYLES[key]
        ax_s.plot(steps, lr * (traj[:, 1] + traj[:, 2] ** 2), **style, label=LABELS[key])
        ax_w.semilogy(steps, np.abs(traj[:, 2]), **(STYLES["gd"] | dict(ms=2) if key == "gd" else style),
                      label=LABELS[key])
    _edge(ax_s)
    ax_s.set(xlabel="GD step k", ylabel="ηS", ylim=(1.95, 2.85), title=f"sharpness, η = {lr:.3g}")
    ax_w.set(xlabel="GD step k", ylabel="|w₂| (log scale)", ylim=(1e-5, 1.0), title="flat coordinate w₂")
    if legend:
        ax_s.legend(fontsize=8, loc="upper left")
        ax_w.legend(fontsize=8, loc="lower left")


def valley_twin(curves_list):
    """The static twin of the player: ηS and |w₂| at a few learning rates (light to dark).

    Args:
        curves_list: dicts as for :func:`valley_panel`, one per η.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, (ax_s, ax_w) = plt.subplots(1, 2, figsize=(7.2, 3.4))
    tones = {key: shades(key, len(curves_list) + 1)[1:] for key in ("gd", "gf", "central")}
    for i, curves in enumerate(curves_list):
        lr, steps = curves["lr"], curves["steps"]
        for key in ("gf", "central"):
            traj = curves[key]
            ax_s.plot(steps, lr * (traj[:, 1] + traj[:, 2] ** 2), **STYLES[key] | dict(color=tones[key][i]),
                      label=f"{LABELS[key]}, η = {lr:.3g}")
            ax_w.semilogy(steps, np.abs(traj[:, 2]), **STYLES[key] | dict(color=tones[key][i]))
        ax_w.semilogy(steps, np.abs(curves["gd"][:, 2]), **STYLES["gd"] | dict(color=tones["gd"][i], ms=2),
                      label=f"GD, η = {lr:.3g}")
    _edge(ax_s)
    ax_s.set(xlabel="GD step k", ylabel="ηS", ylim=(1.95, 2.85), title="sharpness")
    ax_w.set(xlabel="GD step k", ylabel="|w₂| (log scale)", ylim=(1e-5, 1.0), title="flat coordinate w₂")
    ax_s.legend(fontsize=7, loc="upper left", ncol=2)
    ax_w.legend(fontsize=7, loc="lower left")
    return fig


def valley_live(curves):
    """Draws :func:`valley_panel` on a new figure (for the live slider).

    Args:
        curves: as for :func:`valley_panel`.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = valley_axes()
    valley_panel(axes, curves)
    return fig
