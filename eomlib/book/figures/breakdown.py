"""Figures of chapter 8, "Where the EoM breaks": the error of each order as ηλ → 1, the
complex flow beyond 1, and sharpening toward 2/η on a network.

Every function only draws numbers that the chapter computed with :mod:`eomlib.breakdown` and
:mod:`eomlib.spectra`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book.plots import COLORS, order_color, order_label

__all__ = ["error_by_order", "complex_flow", "quadratic_panel", "quadratic_panels",
           "sharpening_panel", "sharpening_and_loss", "local_error", "sharpening_by_lr",
           "sharpening_live"]


def _stability_lines(ax, axis="y", levels=(1, 2)):
    """Draws dashed grey lines at x = ηλ = 1 and 2, the EoM's and GD's thresholds.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        axis: ``"y"`` for horizontal lines (x on the vertical axis), ``"x"`` for vertical ones.
        levels: the values at which to draw the lines (default 1 and 2).

    Returns:
        None.
    """
    line = ax.axhline if axis == "y" else ax.axvline
    for level in levels:
        line(level, color="gray", ls="--", lw=1)


def error_by_order(xs, field_error, step_error):
    r"""Draws the error of the EoM's field and of one step against x = ηλ, one curve per order.

    Args:
        xs: the values of x = ηλ, a 1-D array (avoiding x = 1, where the field error is
            infinite).
        field_error: :math:`|E_\gamma(x) - \log(1 - x)|`, shape (number of orders, len(xs));
            row γ is the order-γ EoM (γ = 0, 1, …).
        step_error: the relative one-step error :math:`\rho_\gamma(x)`, same shape.

    Returns:
        The matplotlib ``Figure`` (two panels: field error, one-step error).
    """
    xs = np.asarray(xs)
    top = len(field_error) - 1
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for order, (field, step) in enumerate(zip(field_error, step_error)):
        color = plt.cm.viridis(order / top)
        axes[0].semilogy(xs, field, color=color, label=f"order {order}")
        axes[1].semilogy(xs, step, color=color, label=f"order {order}")
    axes[0].axhline(np.pi, color="k", ls=":", lw=1)
    axes[0].text(1.03, np.pi * 0.35, "π", fontsize=10)
    beyond = xs > 1
    axes[1].plot(xs[beyond], (xs[beyond] - 1) / xs[beyond], "k:", lw=1, label="(x − 1)/x")
    axes[0].set(xlabel="x = ηλ", ylabel="|E_γ(x) − log(1 − x)|", ylim=(1e-9, 1e2),
                title="error of the field (per step)")
    axes[1].set(xlabel="x = ηλ", ylabel="ρ_γ(x)", ylim=(1e-9, 2),
                title="error of one step (relative)")
    for ax in axes:
        _stability_lines(ax, axis="x")
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


def complex_flow(runs, lam, xm, multiplier):
    """Draws the real part of the exact (complex) flow through GD's iterates, and log(1 − x)/x.

    Args:
        runs: a dict from the learning rate η to a triple ``(gd, steps_fine, flow_fine)``:
            GD's iterates, shape (n + 1, 2); the times t/η of the fine grid, shape (m,); and
            the complex exact flow on it, shape (m, 2). Component 0 is the sharp direction.
            The first two entries give the first two panels.
        lam: the Hessian eigenvalue λ along the sharp direction (for the titles).
        xm: the values of x = ηλ for the third panel, a 1-D array.
        multiplier: the principal flow's multiplier log(1 − x)/x at ``xm``, complex.

    Returns:
        The matplotlib ``Figure`` (three panels).
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (lr, (gd, steps_fine, flow_fine)) in zip(axes[:2], runs.items()):
        ax.plot(steps_fine, flow_fine[:, 0].real, color=COLORS["eom1"],
                label="Re θ₁(t), exact flow")
        ax.plot(steps_fine, np.abs(flow_fine[:, 0]), color="gray", ls="--", lw=1,
                label="±|θ₁(t)|")
        ax.plot(steps_fine, -np.abs(flow_fine[:, 0]), color="gray", ls="--", lw=1)
        ax.plot(np.arange(len(gd)), gd[:, 0], "o", color="k", ms=4, label="GD")
        ax.set(xlabel="t/η", ylabel="θ₁ (sharp direction)",
               title=f"η = {lr}: ηλ = {lam * lr:g}")
    axes[0].legend(fontsize=7)
    axes[2].plot(xm, multiplier.real, label="real part")
    axes[2].plot(xm, multiplier.imag, label="imaginary part")
    axes[2].axhline(0, color="k", lw=0.8)
    _stability_lines(axes[2], axis="x")
    axes[2].set(xlabel="x = ηλ", ylim=(-4, 3.5),
                title="log(1 − x)/x: the gradient's multiplier")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def quadratic_panel(ax, curves, legend=False):
    """Draws GD, the real part of the exact flow and EoMs on f = ½λθ² at one x = ηλ.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        curves: a dict with keys ``"x"`` (ηλ), ``"t"`` (times t/η, 1-D), ``"flow"`` (the
            complex exact flow at ``t``), ``"eoms"`` (a dict from an order γ to the order-γ
            EoM at ``t``), ``"gd"`` (GD's iterates θ_0, θ_1, …) and ``"exponent"`` (the
            complex exact step exponent log(1 − x), for the title).
        legend: whether to draw the legend (default False).

    Returns:
        The ``Axes``.
    """
    t = curves["t"]
    ax.plot(t, curves["flow"].real, color="k", lw=1, label="Re of the exact flow")
    for (order, eom), ls in zip(curves["eoms"].items(), ("-", "--", ":", "-.")):
        ax.plot(t, eom, ls, color=order_color(order), label=order_label(order))
    ax.plot(np.arange(len(curves["gd"])), curves["gd"], "o", color="k", ms=5, label="GD")
    ax.axhline(0, color="gray", lw=0.8)
    e = curves["exponent"]
    ax.set(xlabel="t/η", ylabel="θ", ylim=(-1.3, 1.3),
           title=f"ηλ = {curves['x']:g}: log(1 − ηλ) = {e.real:.2f} + {e.imag:.2f}i")
    if legend:
        ax.legend(fontsize=7, loc="lower left")
    return ax


def quadratic_panels(curves_list):
    """Draws :func:`quadratic_panel` side by side, one panel per x = ηλ, sharing the θ axis.

    Args:
        curves_list: a list of the dicts that :func:`quadratic_panel` takes, one per panel.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplots(1, len(curves_list), figsize=(13, 3.4), sharey=True)
    for ax, curves in zip(axes, curves_list):
        quadratic_panel(ax, curves)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def sharpening_panel(ax, steps, x_max, x_step, title, step_label="|η gᵀHg/‖g‖²|"):
    """Draws ηλ_max and the curvature along the step against the GD step, on a log scale.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        steps: the GD steps k at which both were evaluated, a 1-D array.
        x_max: ηλ_max at ``steps``.
        x_step: η gᵀHg/‖g‖² at ``steps`` (its absolute value is drawn).
        title: the panel's title.
        step_label: the legend label of the curvature along the step.

    Returns:
        The ``Axes``.
    """
    ax.plot(steps, x_max, "o-", ms=3, color="k", label="ηλ_max")
    ax.plot(steps, np.abs(x_step), ".-", ms=3, lw=1, color=COLORS["eom1"], label=step_label)
    _stability_lines(ax)
    ax.set(xlabel="GD step k", ylabel="x = ηλ", yscale="log", ylim=(1e-4, 4), title=title)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def sharpening_and_loss(steps, x_max, x_step, losses, cross, lr):
    """Draws the sharpening of one GD run (left) and its training loss (right).

    Args:
        steps: the GD steps k at which ηλ_max was evaluated, a 1-D array.
        x_max: ηλ_max at ``steps``.
        x_step: η gᵀHg/‖g‖² at ``steps``.
        losses: the training loss at every step 0, 1, …, n.
        cross: the step at which ηλ_max first exceeds 2 (a dashed line on the right).
        lr: the learning rate η (for the title).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    sharpening_panel(axes[0], steps, x_max, x_step, f"η = {lr}: sharpening to 2/η",
                     step_label="|η gᵀHg/‖g‖²| (along the step)")
    axes[1].semilogy(np.arange(len(losses)), losses, color="k", lw=1)
    axes[1].axvline(cross, color="gray", ls="--", lw=1)
    axes[1].set(xlabel="GD step k", ylabel="loss", title="training loss")
    fig.tight_layout()
    return fig


def local_error(steps, relative, predicted, cross, lr):
    """Draws the order-1 EoM's measured relative one-step error and the quadratic formula.

    Args:
        steps: the GD steps k at which the one-step error was measured, a 1-D array.
        relative: the measured one-step error divided by the length of GD's step.
        predicted: the quadratic formula ρ₁ at the curvature along the step (entries ≤ 0,
            where the formula does not apply, are left out).
        cross: the step at which ηλ_max first exceeds 2 (a dashed line).
        lr: the learning rate η (for the title).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.6, 3.8))
    ax.semilogy(steps, relative, "o-", ms=4, color=COLORS["eom1"],
                label="measured ℓ_k / ‖θ_{k+1} − θ_k‖")
    ax.semilogy(steps, np.where(predicted > 0, predicted, np.nan), "x--", color="k", lw=1,
                label="quadratic formula ρ₁(η gᵀHg/‖g‖²)")
    ax.axvline(cross, color="gray", ls="--", lw=1)
    ax.set(xlabel="GD step k", ylabel="relative one-step error", ylim=(1e-9, 2),
           title=f"order-1 EoM, η = {lr}")
    ax.legend(fontsize=8, loc="lower left")
    return fig


def sharpening_by_lr(steps, x_max, lrs, title="progressive sharpening at five learning rates"):
    """Draws ηλ_max against the GD step for several learning rates, one colour each.

    Args:
        steps: the GD steps k at which ηλ_max was evaluated, a 1-D array.
        x_max: ηλ_max, shape (len(lrs), len(steps)).
        lrs: the learning rates, a 1-D array (at least two).
        title: the figure's title.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, eta in enumerate(lrs):
        ax.plot(steps, x_max[i], "o-", ms=2, color=plt.cm.viridis(i / (len(lrs) - 1)),
                label=f"η = {eta:g}")
    _stability_lines(ax)
    ax.set(xlabel="GD step k", ylabel="ηλ_max", title=title)
    ax.legend(fontsize=8)
    return fig


def sharpening_live(steps, x_max, lr):
    """Draws ηλ_max against the GD step for one learning rate (the live slider's figure).

    Args:
        steps: the GD steps k at which ηλ_max was evaluated, a 1-D array.
        x_max: ηλ_max at ``steps``.
        lr: the learning rate η (for the title).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(steps, x_max, "o-", ms=3, color="k")
    _stability_lines(ax)
    ax.set(xlabel="GD step k", ylabel="ηλ_max", title=f"η = {lr:.3g}")
    return fig
