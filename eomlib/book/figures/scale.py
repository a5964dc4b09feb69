"""Figures of chapter 5 (scale-invariant layers): the squared norm of the scale-invariant group
under GD, gradient flow and the order-1 EoM, and, with weight decay, GD's norm and angular
update per step against their predicted equilibria.

The numbers come from :mod:`eomlib.invariance` (computed in the chapter); these functions only
draw them.
"""

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots

#: Axis limits of the norm ‖θ_S‖ in the weight-decay figures.
NORM_LIM = (0, 4.2)

#: Markers of the weight-decay runs drawn together (their colours are shades of GD's black).
RUN_MARKERS = ("^", "o", "s")

#: Axis labels (mathtext) of the group's squared norm and norm.
SQ_NORM = r"squared norm $\Vert\theta_S\Vert^2$"
NORM = r"norm $\Vert\theta_S\Vert$"


def norm_curves(ax, lr, sq_gd, sq_eom1, law, sq0, steps=False):
    """Draw ‖θ_S‖² for gradient flow, the order-1 EoM, the integrated law and GD.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        lr: the learning rate η of the run (sets the time axis t = kη).
        sq_gd: GD's ‖θ_{S,k}‖², k = 0…n, shape ``(n + 1,)``.
        sq_eom1: the order-1 EoM's ‖θ_S(t_k)‖², shape ``(n + 1,)``.
        law: the integrated law ‖θ_S(0)‖² + η∫‖g_S‖² along the EoM at t_k, shape ``(n + 1,)``;
            drawn dashed on top of the EoM, which it follows closely.
        sq0: the initial ‖θ_S‖², which gradient flow keeps (a horizontal line).
        steps: whether the x axis is the step k (default False: the time t = kη).

    Returns:
        The ``Axes``.
    """
    x = np.arange(len(sq_gd)) * (1 if steps else lr)
    ax.axhline(sq0, **plots.STYLES["gf"], label=plots.LABELS["gf"])
    ax.plot(x, sq_eom1, **plots.STYLES["eom1"], label=plots.LABELS["eom1"])
    ax.plot(x, law, **plots.STYLES["pred"],
            label=r"$\Vert\theta_S(0)\Vert^2 + \eta\int\Vert g_S\Vert^2 dt$ along the EoM")
    ax.plot(x, sq_gd, **plots.STYLES["gd"] | dict(ms=3), label=plots.LABELS["gd"])
    ax.set(xlabel="GD step k (EoM at t = kη)" if steps else "time t = kη", ylabel=SQ_NORM)
    return ax


def norm_panels(lrs, sq_gd, sq_eom1, law, sq0, rows):
    """Draw :func:`norm_curves` for three learning rates in a 2 × 2 grid, the legend in the
    fourth place, sharing the y axis.

    Args:
        lrs: the learning rates of the sweep, shape ``(m,)``.
        sq_gd: GD's ‖θ_{S,k}‖² for every run, shape ``(m, n + 1)``.
        sq_eom1: the order-1 EoM's ‖θ_S(t_k)‖², shape ``(m, n + 1)``.
        law: the integrated law along the EoM, shape ``(m, n + 1)``.
        sq0: the initial ‖θ_S‖².
        rows: three runs to draw, indices into ``lrs`` (one panel each).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.8), sharey=True)
    for ax, i in zip(axes.flat, rows):
        norm_curves(ax, float(lrs[i]), sq_gd[i], sq_eom1[i], law[i], sq0)
        ax.set_title(f"η = {float(lrs[i]):g}\ngrowth: GD {sq_gd[i][-1] - sq0:.3f}, "
                     f"order-1 EoM {sq_eom1[i][-1] - sq0:.3f}", fontsize=10)
    for ax in axes[:, 1]:
        ax.set_ylabel("")
    key = axes.flat[len(rows)]
    key.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    key.legend(handles[::-1], labels[::-1], loc="center")
    return fig


def norm_frame(ax, lr, sq_gd, sq_eom1, law, sq0, miss, ylim):
    """Redraw one frame of the learning-rate player: :func:`norm_curves` against the step k,
    with fixed limits and the miss in the title.

    Args:
        ax: the matplotlib ``Axes`` of the player's figure (cleared first).
        lr: the learning rate η of the frame.
        sq_gd: GD's ‖θ_{S,k}‖², shape ``(n + 1,)``.
        sq_eom1: the order-1 EoM's ‖θ_S(t_k)‖², shape ``(n + 1,)``.
        law: the integrated law along the EoM, shape ``(n + 1,)``.
        sq0: the initial ‖θ_S‖².
        miss: the fraction of GD's growth the order-1 EoM misses, a number in [0, 1].
        ylim: the y limits, shared by all frames.

    Returns:
        The ``Axes``.
    """
    ax.clear()
    norm_curves(ax, lr, sq_gd, sq_eom1, law, sq0, steps=True)
    ax.set_xlim(0, len(sq_gd) - 1)
    ax.set_ylim(*ylim)
    ax.set_title(f"η = {lr:.3g}: the order-1 EoM misses {miss:.1%} of GD's growth, GF 100%",
                 fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=2)
    return ax


def live_norms(lr, sq_gd, sq_eom1, sq0):
    """Draw ‖θ_S‖² of one GD run and its order-1 EoM against t = kη (for the live slider).

    Args:
        lr: the learning rate η.
        sq_gd: GD's ‖θ_{S,k}‖², shape ``(n + 1,)``.
        sq_eom1: the order-1 EoM's ‖θ_S(t_k)‖², shape ``(n + 1,)``.
        sq0: the initial ‖θ_S‖², which gradient flow keeps.

    Returns:
        The matplotlib ``Figure``.
    """
    t = lr * np.arange(len(sq_gd))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.axhline(sq0, **plots.STYLES["gf"], label=plots.LABELS["gf"])
    ax.plot(t, sq_eom1, **plots.STYLES["eom1"], label=plots.LABELS["eom1"])
    ax.plot(t, sq_gd, **plots.STYLES["gd"] | dict(ms=3), label=plots.LABELS["gd"])
    ax.set(xlabel="time t = kη", ylabel=SQ_NORM, title=f"η = {lr:.3g}")
    ax.legend(loc="lower right")
    return fig


def weight_decay_runs(lrs, lams, sq, angles, norm_pred, angle_star, gf_norm, rows, gf_row):
    """Draw GD's ‖θ_S‖ (top) and angle per step (bottom) with weight decay, against the step,
    with the predicted equilibria dashed.

    Args:
        lrs: the learning rates η of the runs, shape ``(m,)``.
        lams: the weight decays λ of the runs, shape ``(m,)``.
        sq: ‖θ_{S,k}‖² of every run, shape ``(m, n + 1)``.
        angles: the angular updates Δ_k in radians, shape ``(m, n)``.
        norm_pred: the predicted equilibrium norms ‖θ*‖, shape ``(m,)`` (dashed lines).
        angle_star: the equilibrium angles arccos(1 − ηλ), shape ``(m,)`` (dashed lines).
        gf_norm: gradient flow's norm at t = kη for every run, shape ``(m, n + 1)``.
        rows: three runs to draw, indices into ``lrs``, drawn in this order: shades of GD's
            colour from light to dark, with the markers ``RUN_MARKERS``.
        gf_row: the run whose gradient-flow norm is drawn.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7.2, 6.4), sharex=True)
    k = np.arange(sq.shape[1])
    for j, (i, color, marker) in enumerate(zip(rows, plots.shades("gd", len(rows)), RUN_MARKERS)):
        line = dict(color=color, marker=marker, ms=5, mfc="none", markevery=(40 * j, 120))
        label = f"GD, η = {float(lrs[i]):g}, λ = {float(lams[i]):g}"
        ax1.plot(k, np.sqrt(sq[i]), lw=1, label=label, **line)
        ax1.axhline(norm_pred[i], color=color, ls="--", lw=1.2)
        ax2.plot(k[1:], angles[i], lw=0.6, **line)
        ax2.axhline(angle_star[i], color=color, ls="--", lw=1.2)
    ax1.plot(k, gf_norm[gf_row], **plots.STYLES["gf"] | dict(lw=1.6),
             label=rf"gradient flow, λ = {float(lams[gf_row]):g}: "
                   r"$\Vert\theta_S(0)\Vert e^{-\lambda t}$")
    ax1.set(ylabel=NORM, ylim=NORM_LIM, title=r"norm; dashed: predicted $\Vert\theta^*\Vert$")
    ax2.set(xlabel="GD step k", ylabel="angle per step Δₖ (rad)", yscale="log",
            ylim=(1e-3, 2), title="angular update; dashed: Δ* = arccos(1 − ηλ)")
    ax1.legend(loc="upper right", fontsize=9)
    return fig


def lambda_frame(ax, lr, lam, sq, norm_pred, gf_norm, angle_star):
    """Redraw one frame of the weight-decay player: GD's ‖θ_S‖, its prediction and gradient flow.

    Args:
        ax: the matplotlib ``Axes`` of the player's figure (cleared first).
        lr: the learning rate η of the run.
        lam: the weight decay λ of the run.
        sq: GD's ‖θ_{S,k}‖², shape ``(n + 1,)``.
        norm_pred: the predicted equilibrium norm ‖θ*‖.
        gf_norm: gradient flow's norm at t = kη, shape ``(n + 1,)``.
        angle_star: the equilibrium angle arccos(1 − ηλ), shown in the title.

    Returns:
        The ``Axes``.
    """
    k = np.arange(len(sq))
    ax.clear()
    ax.plot(k, gf_norm, **plots.STYLES["gf"], label=plots.LABELS["gf"])
    ax.axhline(norm_pred, **plots.STYLES["pred"], label=r"predicted $\Vert\theta^*\Vert$")
    ax.plot(k, np.sqrt(sq), color=plots.COLORS["gd"], lw=1, label=plots.LABELS["gd"])
    ax.set(xlabel="GD step k", ylabel=NORM, xlim=(0, len(sq) - 1), ylim=NORM_LIM,
           title=f"η = {lr:g}, λ = {lam:.3g}: Δ* = {angle_star:.3f} ≈ √(2ηλ) = "
                 f"{np.sqrt(2 * lr * lam):.3f}")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper right")
    return ax


def live_lambda(lr, lam, sq, gf_norm):
    """Draw GD's ‖θ_S‖ with weight decay and gradient flow's against the step (live slider).

    Args:
        lr: the learning rate η of the run.
        lam: the weight decay λ.
        sq: GD's ‖θ_{S,k}‖², shape ``(n + 1,)``.
        gf_norm: gradient flow's norm at t = kη, shape ``(n + 1,)``.

    Returns:
        The matplotlib ``Figure``.
    """
    k = np.arange(len(sq))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(k, gf_norm, **plots.STYLES["gf"], label=plots.LABELS["gf"])
    ax.plot(k, np.sqrt(sq), color=plots.COLORS["gd"], lw=1, label=f"GD, η = {lr:g}")
    ax.set(xlabel="GD step k", ylabel=NORM, ylim=NORM_LIM, title=f"λ = {lam:.3g}")
    ax.legend(loc="upper right")
    return fig
