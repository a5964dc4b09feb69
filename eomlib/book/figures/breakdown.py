"""Figures of chapter 8, "Where the EoM breaks": the error of each order as ηλ → 1, the
complex flow beyond 1, and sharpening toward 2/η on a network.

Every function only draws numbers that the chapter computed with :mod:`eomlib.breakdown` and
:mod:`eomlib.spectra`. Colours and styles come from :mod:`eomlib.book.plots`: GD's iterates
and the quantities measured on them in black and greys (``"gd"``), the EoM of each order in
its order's colour, closed forms (the exact complex flow, the quadratic's error formula) in
``"pred"`` grey, and the thresholds ηλ = 1 and 2 as dotted ``"limit"`` lines.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book.plots import COLORS, STYLES, order_color, order_label, shades

__all__ = ["error_by_order", "complex_flow", "principal_multiplier", "quadratic_panel",
           "quadratic_panels", "quadratic_live", "sharpening_panel", "sharpening_and_loss",
           "local_error", "sharpening_by_lr", "sharpening_live"]

_GD_DOTS = STYLES["gd"] | dict(ls="none")  # GD's iterates alone, without the joining line
_EXACT = STYLES["pred"] | dict(ls="-", lw=1.4)  # the exact (complex) flow's real part


def _stability_lines(ax, axis="y", levels=(1, 2)):
    """Draws dotted threshold lines at ηλ = 1 and 2, the EoM's and GD's thresholds.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        axis: ``"y"`` for horizontal lines (ηλ on the vertical axis), ``"x"`` for vertical ones.
        levels: the values at which to draw the lines (default 1 and 2).

    Returns:
        None.
    """
    line = ax.axhline if axis == "y" else ax.axvline
    for level in levels:
        line(level, **STYLES["limit"])


def error_by_order(xs, field_error, step_error):
    r"""Draws the error of the EoM's field (top) and of one step (bottom) against x = ηλ,
    one curve per order, in the order colours of :func:`eomlib.book.plots.order_color`.

    Args:
        xs: the values of x = ηλ, a 1-D array (avoiding x = 1, where the field error is
            infinite).
        field_error: :math:`|E_\gamma(x) - \log(1 - x)|`, shape (number of orders, len(xs));
            row γ is the order-γ EoM (γ = 0, 1, …, at most 4: the orders with a colour).
        step_error: the relative one-step error :math:`\rho_\gamma(x)`, same shape.

    Returns:
        The matplotlib ``Figure`` (two panels sharing the x axis).
    """
    xs = np.asarray(xs)
    fig, axes = plt.subplots(2, 1, figsize=(7.2, 5.8), sharex=True)
    for order, (field, step) in enumerate(zip(field_error, step_error)):
        style = dict(color=order_color(order), lw=1.5)
        axes[0].semilogy(xs, field, **style)
        axes[1].semilogy(xs, step, **style, label=f"{order_label(order)} (γ = {order})")
    axes[0].axhline(np.pi, **STYLES["limit"])
    axes[0].text(0.05, np.pi * 1.6, "π", fontsize=11)
    beyond = xs > 1
    axes[1].plot(xs[beyond], (xs[beyond] - 1) / xs[beyond], **STYLES["pred"],
                 label="bound (x − 1)/x")
    axes[0].set(ylabel="field error\n" r"$|E_\gamma(x) - \log(1-x)|$", ylim=(1e-9, 1e2),
                title="error of the field, per step")
    axes[1].set(xlabel="x = ηλ", ylabel="one-step error\n" r"$\rho_\gamma(x)$",
                ylim=(1e-9, 2), title="error of one step, relative to the step")
    for ax in axes:
        _stability_lines(ax, axis="x")
    axes[1].legend(ncol=2, loc="lower right", fontsize=9)
    return fig


def complex_flow(runs, lam):
    """Draws the real part of the exact (complex) flow through GD's iterates, one panel per η.

    Args:
        runs: a dict from the learning rate η to a triple ``(gd, steps_fine, flow_fine)``:
            GD's iterates, shape (n + 1, 2); the times t/η of the fine grid, shape (m,); and
            the complex exact flow on it, shape (m, 2). Component 0 is the sharp direction.
            The first two entries are drawn.
        lam: the Hessian eigenvalue λ along the sharp direction (for the titles).

    Returns:
        The matplotlib ``Figure`` (two panels side by side).
    """
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.4))
    for ax, (lr, (gd, steps_fine, flow_fine)) in zip(axes, runs.items()):
        ax.plot(steps_fine, flow_fine[:, 0].real, **_EXACT, label="Re θ₁(t), exact flow")
        ax.plot(steps_fine, np.abs(flow_fine[:, 0]), **STYLES["limit"], label="±|θ₁(t)|")
        ax.plot(steps_fine, -np.abs(flow_fine[:, 0]), **STYLES["limit"])
        ax.plot(np.arange(len(gd)), gd[:, 0], **_GD_DOTS, label="GD")
        ax.set(xlabel="time in steps, t/η", title=f"η = {lr}, ηλ = {lam * lr:g}")
    axes[0].set_ylabel("θ₁ (sharp direction)")
    axes[0].legend(fontsize=9, loc="upper right")
    return fig


def principal_multiplier(xm, multiplier):
    """Draws the principal flow's multiplier log(1 − x)/x of the gradient against x = ηλ.

    Args:
        xm: the values of x = ηλ, a 1-D array.
        multiplier: the multiplier log(1 − x)/x at ``xm``, complex.

    Returns:
        The matplotlib ``Figure``: real part solid, imaginary part dashed (both closed forms),
        gradient flow's multiplier −1 for comparison.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    ax.plot(xm, multiplier.real, **_EXACT, label="real part")
    ax.plot(xm, multiplier.imag, **STYLES["pred"], label="imaginary part")
    ax.axhline(-1, **STYLES["gf"] | dict(lw=1.2), label="gradient flow: −1")
    ax.axhline(0, **STYLES["limit"])
    _stability_lines(ax, axis="x")
    ax.set(xlabel="x = ηλ", ylabel="multiplier of the gradient", ylim=(-4, 3.5),
           title="log(1 − x)/x, the principal flow's multiplier")
    ax.legend(loc="lower right")
    return fig


def quadratic_panel(ax, curves, legend=False, sep=": "):
    """Draws GD, the real part of the exact flow and EoMs on f = ½λθ² at one x = ηλ.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        curves: a dict with keys ``"x"`` (ηλ), ``"t"`` (times t/η, 1-D), ``"flow"`` (the
            complex exact flow at ``t``), ``"eoms"`` (a dict from an order γ ≤ 4 to the
            order-γ EoM at ``t``), ``"gd"`` (GD's iterates θ_0, θ_1, …) and ``"exponent"``
            (the complex exact step exponent log(1 − x), for the title).
        legend: whether to draw the legend (default False).
        sep: what separates ηλ from the exponent in the title (default ``": "``; ``"\\n"``
            for two lines).

    Returns:
        The ``Axes``.
    """
    t = curves["t"]
    ax.plot(t, curves["flow"].real, **_EXACT, label="Re of the exact flow")
    for order, eom in curves["eoms"].items():
        ax.plot(t, eom, **STYLES[f"eom{order}"], label=order_label(order))
    ax.plot(np.arange(len(curves["gd"])), curves["gd"], **_GD_DOTS, label="GD")
    ax.axhline(0, **STYLES["limit"])
    e = curves["exponent"]
    ax.set(xlabel="time in steps, t/η", ylabel="θ", xlim=(t[0], t[-1] + 0.2), ylim=(-1.5, 1.5),
           title=f"ηλ = {curves['x']:.2f}{sep}log(1 − ηλ) = {e.real:.2f} + {e.imag:.2f}i")
    if legend:
        ax.legend(fontsize=9, loc="lower left")
    return ax


def quadratic_panels(curves_list):
    """Draws :func:`quadratic_panel` for three values of x = ηλ on a 2 × 2 grid, the legend
    in the fourth cell.

    Args:
        curves_list: a list of the dicts that :func:`quadratic_panel` takes, three at most.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.8), sharey=True)
    for ax, curves in zip(axes.flat, curves_list):
        quadratic_panel(ax, curves, sep="\n")
    axes[0, 1].set_ylabel("")
    axes[0, 0].set_xlabel("")  # the panel below it carries the label
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[1, 1].axis("off")
    axes[1, 1].legend(handles, labels, loc="center")
    return fig


def quadratic_live(curves):
    """Draws one :func:`quadratic_panel`, with its legend, on a new figure (the live slider's).

    Args:
        curves: the dict that :func:`quadratic_panel` takes.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    quadratic_panel(ax, curves, legend=True)
    return fig


def sharpening_panel(ax, steps, x_max, x_step, title, step_label="|η gᵀHg/‖g‖²|"):
    """Draws ηλ_max and the curvature along the step against the GD step, on a log scale.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        steps: the GD steps k at which both were evaluated, a 1-D array.
        x_max: ηλ_max at ``steps`` (black dots).
        x_step: η gᵀHg/‖g‖² at ``steps`` (its absolute value is drawn, grey crosses).
        title: the panel's title.
        step_label: the legend label of the curvature along the step.

    Returns:
        The ``Axes``.
    """
    ax.plot(steps, x_max, **STYLES["gd"] | dict(ls="-", ms=3, mfc=COLORS["gd"]),
            label=r"$\eta\lambda_{\max}$")
    ax.plot(steps, np.abs(x_step), **STYLES["gd"] | dict(marker="x", ms=4, color=shades("gd", 3)[0]),
            label=step_label)
    _stability_lines(ax)
    ax.set(xlabel="GD step k", ylabel="x = ηλ (log scale)", yscale="log", ylim=(1e-4, 4),
           xlim=(steps[0], steps[-1]), title=title)
    ax.legend(fontsize=9, loc="center right")
    return ax


def sharpening_and_loss(steps, x_max, x_step, losses, cross, lr):
    """Draws the sharpening of one GD run (top) and its training loss (bottom).

    Args:
        steps: the GD steps k at which ηλ_max was evaluated, a 1-D array.
        x_max: ηλ_max at ``steps``.
        x_step: η gᵀHg/‖g‖² at ``steps``.
        losses: the training loss at every step 0, 1, …, n.
        cross: the step at which ηλ_max first exceeds 2 (a dotted line in the bottom panel).
        lr: the learning rate η (for the title).

    Returns:
        The matplotlib ``Figure`` (two panels sharing the step axis).
    """
    fig, axes = plt.subplots(2, 1, figsize=(7.2, 5.6), sharex=True)
    sharpening_panel(axes[0], steps, x_max, x_step, f"η = {lr}: sharpening to 2/η",
                     step_label="|η gᵀHg/‖g‖²|, along the step")
    axes[0].set_xlabel("")
    axes[1].semilogy(np.arange(len(losses)), losses, color=COLORS["gd"], lw=1.2)
    axes[1].axvline(cross, **STYLES["limit"])
    axes[1].set(xlabel="GD step k", ylabel="training loss f(θₖ)", title="training loss")
    return fig


def local_error(steps, relative, predicted, cross, lr):
    """Draws the order-1 EoM's measured relative one-step error and the quadratic formula.

    Args:
        steps: the GD steps k at which the one-step error was measured, a 1-D array.
        relative: the measured one-step error divided by the length of GD's step.
        predicted: the quadratic formula ρ₁ at the curvature along the step (entries ≤ 0,
            where the formula does not apply, are left out).
        cross: the step at which ηλ_max first exceeds 2 (a dotted line).
        lr: the learning rate η (for the title).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.6, 3.8))
    ax.semilogy(steps, relative, **STYLES["eom1"] | dict(marker="o", ms=4),
                label=r"measured $\ell_k\, /\, \|\theta_{k+1} - \theta_k\|$")
    ax.semilogy(steps, np.where(predicted > 0, predicted, np.nan),
                **STYLES["pred"] | dict(marker="x", lw=1),
                label=r"quadratic formula $\rho_1(\eta g^\top Hg/\|g\|^2)$")
    ax.axvline(cross, **STYLES["limit"])
    ax.set(xlabel="GD step k", ylabel="relative one-step error", ylim=(1e-9, 2),
           title=f"order-1 EoM, η = {lr}")
    ax.legend(fontsize=9, loc="lower left")
    return fig


def sharpening_by_lr(steps, x_max, lrs, title="progressive sharpening at five learning rates"):
    """Draws ηλ_max against the GD step for several learning rates, in shades of GD's colour
    (light: small η, dark: large η).

    Args:
        steps: the GD steps k at which ηλ_max was evaluated, a 1-D array.
        x_max: ηλ_max, shape (len(lrs), len(steps)).
        lrs: the learning rates, a 1-D array (at least two).
        title: the figure's title.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    markers = "ovs^D*"
    for i, (eta, shade) in enumerate(zip(lrs, shades("gd", len(lrs)))):
        ax.plot(steps, x_max[i], color=shade, marker=markers[i % len(markers)], ms=3, lw=1,
                label=f"η = {eta:g}")
    _stability_lines(ax)
    ax.set(xlabel="GD step k", ylabel=r"$\eta\lambda_{\max}$", title=title)
    ax.legend(fontsize=9)
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
    ax.plot(steps, x_max, **STYLES["gd"] | dict(ls="-", ms=3, mfc=COLORS["gd"]))
    _stability_lines(ax)
    ax.set(xlabel="GD step k", ylabel=r"$\eta\lambda_{\max}$", title=f"η = {lr:.3g}")
    return fig
