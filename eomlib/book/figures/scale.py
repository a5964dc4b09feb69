"""Figures of chapter 5 (scale-invariant layers): the squared norm of the scale-invariant group
under GD, gradient flow and the order-1 EoM, and, with weight decay, GD's norm and angular
update per step against their predicted equilibria.

The numbers come from :mod:`eomlib.invariance` (computed in the chapter); these functions only
draw them.
"""

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots

#: Colours of the three weight-decay runs drawn together, by their row in the chapter's sweep.
RUN_COLORS = ("tab:orange", "tab:green", "tab:purple")

#: Axis limits of the norm ‖θ_S‖ in the weight-decay figures.
NORM_LIM = (0, 4.2)


def norm_curves(ax, lr, sq_gd, sq_eom1, law, sq0, legend=True):
    """Draw ‖θ_S‖² against t = kη for GD, the order-1 EoM, the integrated law and gradient flow.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        lr: the learning rate η of the run (sets the time axis t = kη).
        sq_gd: GD's ‖θ_{S,k}‖², k = 0…n, shape ``(n + 1,)``.
        sq_eom1: the order-1 EoM's ‖θ_S(t_k)‖², shape ``(n + 1,)``.
        law: the integrated law ‖θ_S(0)‖² + η∫‖g_S‖² along the EoM at t_k, shape ``(n + 1,)``.
        sq0: the initial ‖θ_S‖², which gradient flow keeps (a horizontal line).
        legend: whether to draw the legend (default True).

    Returns:
        The ``Axes``.
    """
    t = lr * np.arange(len(sq_gd))
    ax.plot(t, sq_gd, "o", ms=3, color=plots.COLORS["gd"], label=f"GD, η = {lr:g}")
    ax.plot(t, sq_eom1, "-", color=plots.COLORS["eom1"], label="order-1 EoM")
    ax.plot(t, law, ":", color=plots.COLORS["pred"], lw=2, label="‖θ0‖² + η∫‖g‖² (along EoM)")
    ax.axhline(sq0, color=plots.COLORS["gf"], label="gradient flow")
    ax.set(xlabel="t = kη", ylabel="‖θ_S‖²")
    if legend:
        ax.legend(fontsize=8, loc="lower right")
    return ax


def norm_panels(lrs, sq_gd, sq_eom1, law, sq0, rows):
    """Draw :func:`norm_curves` side by side for a few learning rates, sharing the y axis.

    Args:
        lrs: the learning rates of the sweep, shape ``(m,)``.
        sq_gd: GD's ‖θ_{S,k}‖² for every run, shape ``(m, n + 1)``.
        sq_eom1: the order-1 EoM's ‖θ_S(t_k)‖², shape ``(m, n + 1)``.
        law: the integrated law along the EoM, shape ``(m, n + 1)``.
        sq0: the initial ‖θ_S‖².
        rows: the runs to draw, indices into ``lrs`` (one panel each; the last has the legend).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplots(1, len(rows), figsize=(11, 3.4), sharey=True)
    for ax, i in zip(axes, rows):
        norm_curves(ax, float(lrs[i]), sq_gd[i], sq_eom1[i], law[i], sq0, legend=(i == rows[-1]))
        ax.set_title(f"η = {float(lrs[i]):g}\ngrowth: GD {sq_gd[i][-1] - sq0:.3f}, "
                     f"order-1 EoM {sq_eom1[i][-1] - sq0:.3f}", fontsize=9)
    fig.tight_layout()
    return fig


def norm_frame(ax, lr, sq_gd, sq_eom1, law, sq0, miss, ylim):
    """Redraw one frame of the learning-rate player: :func:`norm_curves` with the miss in the title.

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
    norm_curves(ax, lr, sq_gd, sq_eom1, law, sq0)
    ax.set_ylim(*ylim)
    ax.set_title(f"η = {lr:g}: the order-1 EoM misses {miss:.1%} of GD's growth, GF 100%",
                 fontsize=9)
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
    ax.plot(t, sq_gd, "o", ms=3, color="k", label="GD")
    ax.plot(t, sq_eom1, color=plots.COLORS["eom1"], label="order-1 EoM")
    ax.axhline(sq0, color=plots.COLORS["gf"], label="gradient flow")
    ax.set(xlabel="t = kη", ylabel="‖θ_S‖²", title=f"η = {lr:.3g}")
    ax.legend(fontsize=8)
    return fig


def weight_decay_runs(lrs, lams, sq, angles, norm_pred, angle_star, gf_norm, rows, gf_row):
    """Draw GD's ‖θ_S‖ and angle per step with weight decay, with the predicted equilibria.

    Args:
        lrs: the learning rates η of the runs, shape ``(m,)``.
        lams: the weight decays λ of the runs, shape ``(m,)``.
        sq: ‖θ_{S,k}‖² of every run, shape ``(m, n + 1)``.
        angles: the angular updates Δ_k in radians, shape ``(m, n)``.
        norm_pred: the predicted equilibrium norms ‖θ*‖, shape ``(m,)`` (dashed lines).
        angle_star: the equilibrium angles arccos(1 − ηλ), shape ``(m,)`` (dashed lines).
        gf_norm: gradient flow's norm at t = kη for every run, shape ``(m, n + 1)``.
        rows: three runs to draw, indices into ``lrs`` (colours ``RUN_COLORS``).
        gf_row: the run whose gradient-flow norm is drawn.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    k = np.arange(sq.shape[1])
    for i, color in zip(rows, RUN_COLORS):
        label = f"η = {float(lrs[i]):g}, λ = {float(lams[i]):g}"
        ax1.plot(k, np.sqrt(sq[i]), color=color, lw=1, label=label)
        ax1.axhline(norm_pred[i], color=color, ls="--", lw=1)
        ax2.plot(k[1:], angles[i], color=color, lw=0.6, label=label)
        ax2.axhline(angle_star[i], color=color, ls="--", lw=1)
    ax1.plot(k, gf_norm[gf_row], color=plots.COLORS["gf"], lw=1,
             label=f"gradient flow, λ = {float(lams[gf_row]):g}: ‖θ0‖e^(−λt)")
    ax1.set(xlabel="GD step k", ylabel="‖θ_S‖", ylim=NORM_LIM,
            title="norm (dashed: predicted equilibrium)")
    ax2.set(xlabel="GD step k", ylabel="angle per step (rad)", yscale="log", ylim=(1e-4, 2),
            title="angular update (dashed: arccos(1 − ηλ))")
    ax1.legend(fontsize=8)
    fig.tight_layout()
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
    ax.plot(k, np.sqrt(sq), color="k", lw=1, label="GD")
    ax.axhline(norm_pred, color=plots.COLORS["pred"], ls="--", label="predicted ‖θ*‖")
    ax.plot(k, gf_norm, color=plots.COLORS["gf"], label="gradient flow")
    ax.set(xlabel="GD step k", ylabel="‖θ_S‖", ylim=NORM_LIM,
           title=f"η = {lr:g}, λ = {lam:g}: Δ* = {angle_star:.3f} ≈ √(2ηλ) = "
                 f"{np.sqrt(2 * lr * lam):.3f}")
    ax.legend(fontsize=8)
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
    ax.plot(k, np.sqrt(sq), color="k", lw=1, label=f"GD, η = {lr:g}")
    ax.plot(k, gf_norm, color=plots.COLORS["gf"], label="gradient flow")
    ax.set(xlabel="GD step k", ylabel="‖θ_S‖", title=f"λ = {lam:.3g}")
    ax.legend(fontsize=8)
    return fig
