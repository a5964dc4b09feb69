"""Figures of chapter 4 (discretization error): the error against η, the measured and the
predicted error along training, and the error curves of the player and the slider.

Every function draws numbers the chapter computed with :mod:`eomlib`; none computes any.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots


def error_vs_lr(lrs, max_errors, slopes, horizon):
    r"""Draw the largest error over a fixed horizon against η, log–log, with fitted lines.

    Args:
        lrs: the learning rates η_i > 0 (array-like), shared by every order.
        max_errors: a dict, EoM order γ ↦ the errors :math:`\max_k e_k` at ``lrs`` (arrays
            of the length of ``lrs``, > 0).
        slopes: a dict, EoM order γ ↦ the fitted log–log slope (drawn as a line and shown
            in the legend), with the keys of ``max_errors``.
        horizon: the horizon T of the runs, for the axis label.

    Returns:
        The matplotlib ``Figure`` (5.5 × 4 in, one panel).
    """
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for order, errs in max_errors.items():
        plots.loglog_fit(ax, lrs, errs, slopes[order], color=plots.order_color(order),
                         label=plots.order_label(order))
    ax.set(xlabel="learning rate η", ylabel=f"max error over [0, {horizon:g}]",
           title="Digits MLP: error of the order-γ EoM")
    ax.legend(fontsize=8)
    return fig


def measured_vs_predicted(t, measured, predicted, lr):
    r"""Draw the measured error along training and its prediction, one panel per EoM order.

    Args:
        t: the times :math:`t_k = k\eta`, an array of length n + 1.
        measured: a dict, EoM order γ ↦ the measured errors :math:`e_k` (arrays of length
            n + 1); one panel per key, in the dict's order.
        predicted: a dict with the keys of ``measured``: the predicted errors (same shapes).
        lr: the learning rate η of the runs, for the titles.

    Returns:
        The matplotlib ``Figure`` (10 × 3.5 in, one panel per order).
    """
    fig, axes = plt.subplots(1, len(measured), figsize=(10, 3.5), squeeze=False)
    for ax, (order, e) in zip(axes[0], measured.items()):
        ax.plot(t, e, color=plots.order_color(order), lw=2, label="measured")
        ax.plot(t, predicted[order], "--", color="k", label="predicted (tangent equation)")
        ax.set(xlabel="t = kη", ylabel="e_k", title=f"{plots.order_label(order)}, η = {lr}")
        ax.legend()
    fig.tight_layout()
    return fig


def error_curves(ax, lr, curves, horizon, lam_max, prediction=None):
    r"""Draw the error along training of several EoM orders on a log scale.

    One frame of the chapter's player, or the live slider's figure.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        lr: the learning rate η of the runs; the times are :math:`t_k = k\eta`.
        curves: a dict, EoM order γ ↦ the errors :math:`e_k`, k = 0…n (the point k = 0,
            where e = 0, is not drawn).
        horizon: the horizon T: the time axis is [0, T].
        lam_max: the sharpness :math:`\lambda_{\max}(\theta_0)`, shown in the title as
            :math:`\eta\lambda_{\max}`.
        prediction: optional (default ``None``); predicted errors of gradient flow, k = 0…n,
            drawn as a black dashed line.

    Returns:
        None.
    """
    for order, e in curves.items():
        ax.semilogy(np.arange(len(e))[1:] * lr, e[1:], color=plots.order_color(order),
                    label=plots.order_label(order))
    if prediction is not None:
        ax.semilogy(np.arange(len(prediction))[1:] * lr, prediction[1:], "k--",
                    label="predicted (GF)")
    ax.set_ylim(1e-8, 0.3)
    ax.set_xlim(0, horizon)
    ax.set(xlabel="t = kη", ylabel="e_k", title=f"η = {lr:g}, ηλ_max(θ0) = {lr * lam_max:.2f}")
    ax.legend(loc="lower right", fontsize=8)
