"""Figures of chapter 4 (discretization error): the error against η, the measured and the
predicted error along training, and the error curves of the player and the slider.

Every function draws numbers the chapter computed with :mod:`eomlib`; none computes any.
Colours and styles come from :mod:`eomlib.book.plots` (one colour per EoM order).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots

#: The label of the error axis: the distance between the EoM's solution and GD.
ERROR_LABEL = r"error $e_k = \|\theta_{\rm EoM}(k\eta) - \theta_k\|$"


def _order_style(order: int) -> dict:
    """The line style of the order-γ EoM, from :data:`eomlib.book.plots.STYLES`."""
    key = "gf" if order == 0 else f"eom{order}"
    return dict(plots.STYLES[key]) if key in plots.STYLES else dict(color=plots.order_color(order))


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
        The matplotlib ``Figure`` (6.4 × 4.2 in, one panel).
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for order, errs in max_errors.items():
        plots.loglog_fit(ax, lrs, errs, slopes[order], color=plots.order_color(order),
                         label=plots.order_label(order))
    ax.set(xlabel="learning rate η",
           ylabel=rf"largest error $e_k$ over $0 \leq k\eta \leq {horizon:g}$",
           title="Digits MLP: error of the order-γ EoM")
    ax.set_xticks(np.asarray(lrs), [f"{float(x):g}" for x in lrs])   # the measured η
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(loc="lower right")
    return fig


def measured_vs_predicted(t, measured, predicted, lr):
    r"""Draw the measured error along training and its prediction, one panel per EoM order.

    The prediction is drawn dashed on top of the measured curve (they nearly coincide).

    Args:
        t: the times :math:`t_k = k\eta`, an array of length n + 1.
        measured: a dict, EoM order γ ↦ the measured errors :math:`e_k` (arrays of length
            n + 1); one panel per key, in the dict's order (two keys fit the column).
        predicted: a dict with the keys of ``measured``: the predicted errors (same shapes).
        lr: the learning rate η of the runs, for the titles.

    Returns:
        The matplotlib ``Figure`` (7.2 × 3.4 in, one panel per order, side by side).
    """
    fig, axes = plt.subplots(1, len(measured), figsize=(7.2, 3.4), squeeze=False)
    for ax, (order, e) in zip(axes[0], measured.items()):
        ax.plot(t, e, **(_order_style(order) | dict(ls="-", lw=2.4)), label="measured")
        ax.plot(t, predicted[order], **plots.STYLES["pred"], label="predicted")
        ax.set(xlabel="time t = kη", ylabel="error $e_k$",
               title=f"{plots.order_label(order)}, η = {lr:g}")
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower right")
    axes[0, 0].set_ylabel(ERROR_LABEL)
    return fig


def error_curves(ax, lr, curves, horizon, lam_max, prediction=None):
    r"""Draw the error along training of several EoM orders on a log scale.

    One frame of the chapter's player, or the live slider's figure. The axis limits are
    fixed (time [0, T], error [1e-8, 3]; the legend sits above the curves) so that the frames of a player do not jump.

    Args:
        ax: the matplotlib ``Axes`` to draw on (not cleared here).
        lr: the learning rate η of the runs; the times are :math:`t_k = k\eta`.
        curves: a dict, EoM order γ ↦ the errors :math:`e_k`, k = 0…n (the point k = 0,
            where e = 0, is not drawn).
        horizon: the horizon T: the time axis is [0, T].
        lam_max: the sharpness :math:`\lambda_{\max}(\theta_0)`, shown in the title as
            :math:`\eta\lambda_{\max}`.
        prediction: optional (default ``None``); predicted errors of gradient flow, k = 0…n,
            drawn as a grey dashed line.

    Returns:
        None.
    """
    for order, e in curves.items():
        ax.semilogy(np.arange(len(e))[1:] * lr, e[1:], **_order_style(order),
                    label=plots.order_label(order))
    if prediction is not None:
        ax.semilogy(np.arange(len(prediction))[1:] * lr, prediction[1:], **plots.STYLES["pred"],
                    label="predicted (gradient flow)")
    ax.set_ylim(1e-8, 3)
    ax.set_xlim(0, horizon)
    ax.set(xlabel="time t = kη", ylabel=ERROR_LABEL,
           title=rf"η = {lr:g},  $\eta\lambda_{{\max}}(\theta_0)$ = {lr * lam_max:.2f}")
    ax.legend(loc="upper center", ncols=4)


def live_errors(lr, measured, predicted, horizon, lam_max):
    r"""Draw the measured and predicted error of gradient flow at one η (the live slider).

    Args:
        lr: the learning rate η; the times are :math:`t_k = k\eta`.
        measured: gradient flow's measured errors :math:`e_k`, k = 0…n.
        predicted: the tangent equation's predicted errors, k = 0…n.
        horizon: the horizon T: the time axis is [0, T].
        lam_max: the sharpness :math:`\lambda_{\max}(\theta_0)`, for the title.

    Returns:
        The matplotlib ``Figure`` (7.2 × 4.0 in, the size of the player's frames).
    """
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    error_curves(ax, lr, {0: measured}, horizon, lam_max, prediction=predicted)
    return fig
