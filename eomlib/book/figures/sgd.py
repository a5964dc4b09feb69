"""Figures of chapter 10 (stochastic gradient descent): the full loss along SGD's three
sampling schemes, SGD's clouds of iterates with their exact covariance ellipses, the error
orders of SGD's modified flows and of the stochastic modified equations (SME), and the
SME's clouds against SGD's.

The numbers come from :mod:`eomlib.sgd` (computed in the chapter); these functions only
draw them.  Colours and styles are the book's (:data:`eomlib.book.plots.STYLES`): SGD
``"sgd"``, SGD's per-epoch modified flow ``"sgd_flow"``, the SMEs of order 1 and 2
``"sme1"`` and ``"sme2"``, gradient flow ``"gf"`` and full-batch GD ``"gd"``.
"""

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book import plots

#: Legend labels of the three sampling schemes of :data:`eomlib.sgd.SCHEMES`.
SCHEME_LABELS = {"cyclic": "SGD, fixed order", "reshuffle": "SGD, reshuffled",
                 "replacement": "SGD, with replacement"}

#: Markers of the three sampling schemes.
SCHEME_MARKERS = {"cyclic": "o", "reshuffle": "s", "replacement": "^"}

#: Legend labels of the flows of the error-order figures, by order (0 = gradient flow).
FLOW_LABELS = {0: "gradient flow", 1: "SGD's modified flow"}

#: Legend labels of the weak-error rows of :class:`eomlib.sgd.WeakErrorSweep`, by order.
SME_LABELS = {0: "gradient flow", 1: "order-1 SME", 2: "order-2 SME"}

#: The book's colour key of each weak-error row, by order.
SME_KEYS = {0: "gf", 1: "sme1", 2: "sme2"}


def ellipse(ax, mean, cov, *, radius=2.0, **style):
    r"""Draw the ellipse :math:`(x - \mu)^\top C^{-1}(x - \mu) = r^2` of a 2-D mean and
    covariance (r = 2: the "two-sigma" ellipse).

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        mean: the centre μ, shape (2,).
        cov: the covariance C, shape (2, 2), symmetric positive semi-definite.
        radius: keyword only; r, in standard deviations (default 2).
        **style: keyword arguments for ``ax.plot`` (colour, line style, label).

    Returns:
        The ``Line2D`` drawn.
    """
    values, vectors = np.linalg.eigh(np.asarray(cov, float))
    angle = np.linspace(0.0, 2 * np.pi, 121)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    points = vectors @ (radius * np.sqrt(np.clip(values, 0, None))[:, None] * circle)
    points = points + np.asarray(mean, float)[:, None]
    (line,) = ax.plot(points[0], points[1], **style)
    return line


def scheme_losses(epochs, losses, gd_losses):
    """Draw how far the full loss along SGD's three sampling schemes is from the full loss
    along full-batch GD, epoch by epoch (log scale).

    Args:
        epochs: the epoch numbers 0 … E, shape (E + 1,).
        losses: scheme name (a key of ``SCHEME_LABELS``) ↦ the full loss f(θ) after each
            epoch, shape (E + 1,).
        gd_losses: the full loss along GD at the same η, after each epoch's m steps,
            shape (E + 1,).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    shades = plots.shades("sgd", len(losses) + 1)[1:]
    gd_losses = np.asarray(gd_losses)
    for (name, values), shade in zip(losses.items(), shades):
        gap = np.abs(np.asarray(values) - gd_losses)[1:]
        ax.semilogy(np.asarray(epochs)[1:], gap, **plots.STYLES["sgd"] | dict(color=shade, marker=SCHEME_MARKERS[name]),
                    label=SCHEME_LABELS[name])
    ax.set(xlabel="epoch (m SGD steps)", ylabel="|f(θ) − f(GD)|, same steps")
    ax.legend(loc="lower left", ncol=3, fontsize=8.5)
    return fig


def batch_clouds(finals, moments, batch_sizes, minimiser):
    """Draw SGD's final iterates for several batch sizes, each with its exact two-sigma
    covariance ellipse.

    Args:
        finals: the final iterates per batch size, a list of arrays of shape (R, 2).
        moments: the exact ``(mean, covariance)`` of the final iterate per batch size, a
            list of pairs of shapes (2,) and (2, 2).
        batch_sizes: the batch sizes B, one per entry of ``finals``.
        minimiser: the minimiser θ* of the full loss, shape (2,).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    shades = plots.shades("sgd", len(batch_sizes) + 1)[1:]
    for cloud, (mean, cov), b, shade in zip(finals, moments, batch_sizes, shades):
        cloud = np.asarray(cloud)
        ax.plot(cloud[:, 0], cloud[:, 1], ".", color=shade, ms=2, alpha=0.35)
        ellipse(ax, mean, cov, color=shade, lw=2.0, label=f"B = {b}")
    ax.plot(*np.asarray(minimiser), **plots.STYLES["gf"] | dict(ls="none", marker="*", ms=12),
            label="minimiser θ*")
    ax.set(xlabel="θ₁", ylabel="θ₂", aspect="equal")
    ax.legend(title="two-sigma ellipses", loc="upper left")
    return fig


def modified_flow_orders(lrs, errors, slopes):
    """Draw the per-epoch distance of gradient flow and of SGD's modified flow to SGD
    against η on log–log axes: fixed batch order (left) and the mean over reshuffles (right).

    Args:
        lrs: the learning rates η, shape (L,).
        errors: ``(scheme, order)`` (scheme ``"cyclic"`` or ``"reshuffle"``, order 0 or 1)
            ↦ the largest per-epoch distance, shape (L,).
        slopes: the same keys ↦ the fitted log–log slope.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6), sharey=True)
    titles = {"cyclic": "fixed order: SGD", "reshuffle": "reshuffled: mean of SGD"}
    for ax, scheme in zip(axes, titles):
        for order, key, marker in ((0, "gf", "o"), (1, "sgd_flow", "s")):
            plots.loglog_fit(ax, lrs, errors[scheme, order], slopes[scheme, order],
                             color=plots.COLORS[key], label=FLOW_LABELS[order], marker=marker)
        ax.set(xlabel="learning rate η", title=titles[scheme])
        ax.legend(loc="lower right", fontsize=8.5)
    axes[0].set_ylabel("largest distance per epoch")
    return fig


def weak_errors(sweep):
    """Draw the weak errors of gradient flow and of the SMEs of order 1 and 2 against η
    (log–log, the second moment E[θθᵀ] at the horizon), with fitted lines.

    Args:
        sweep: a :class:`eomlib.sgd.WeakErrorSweep`.

    Returns:
        The matplotlib ``Figure``.
    """
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for row, order in enumerate(sweep.orders):
        plots.loglog_fit(ax, sweep.lrs, sweep.second_moment_errors[row],
                         sweep.second_moment_slopes[row], color=plots.COLORS[SME_KEYS[order]],
                         label=SME_LABELS[order], marker="os^"[row])
    ax.set(xlabel="learning rate η", ylabel=f"‖E[θθᵀ] error‖ at T = {sweep.horizon:g}")
    ax.legend()
    return fig


def ensemble_clouds(sgd_final, sme_finals, gf_final, stats, coordinate=1):
    """Draw SGD's cloud of final iterates and the order-1 SME's (top), and the ensemble
    means and variances of one coordinate with three-standard-error bars (bottom).

    Args:
        sgd_final: SGD's final iterates, shape (R, 2).
        sme_finals: SME order (1 or 2) ↦ its paths' final points, shape (R, 2).
        gf_final: gradient flow's point at the same time, shape (2,).
        stats: name (``"sgd"``, ``"sme1"``, ``"sme2"``, ``"gf"``) ↦ a dict with
            ``"mean"``, ``"mean_se"``, ``"var"``, ``"var_se"`` of the drawn coordinate.
        coordinate: the coordinate (0 or 1) of the bottom panels (default 1, θ₂).

    Returns:
        The matplotlib ``Figure``.
    """
    fig = plt.figure(figsize=(7.2, 6.2))
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.25, 1))
    ax = top.subplots()
    for name, cloud in (("sgd", sgd_final), ("sme1", sme_finals[1])):
        cloud = np.asarray(cloud)[:1500]
        ax.plot(cloud[:, 0], cloud[:, 1], ".", color=plots.COLORS[name], ms=2.5, alpha=0.35)
        ax.plot([], [], "o", color=plots.COLORS[name], ms=5, label=plots.LABELS[name])  # legend only
    ax.plot(*np.asarray(gf_final), **plots.STYLES["gf"] | dict(ls="none", marker="*", ms=13),
            label=plots.LABELS["gf"])
    both = np.concatenate([np.asarray(sgd_final), np.asarray(sme_finals[1])])
    low, high = np.percentile(both, 0.5, axis=0), np.percentile(both, 99.5, axis=0)
    pad = 0.1 * (high - low)
    ax.set(xlabel="θ₁", ylabel="θ₂", xlim=(low[0] - pad[0], high[0] + pad[0]),
           ylim=(low[1] - pad[1], high[1] + pad[1]))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes = bottom.subplots(1, 2)
    names = list(stats)
    for ax, (what, err, title) in zip(axes, (("mean", "mean_se", "mean"), ("var", "var_se", "variance"))):
        for i, name in enumerate(names):
            ax.errorbar([i], [stats[name][what]], yerr=[3 * stats[name][err]], fmt="o",
                        color=plots.COLORS[name], capsize=5, ms=6)
        ax.axhline(stats["sgd"][what], **plots.STYLES["limit"] | dict(lw=0.8, ls=":"))
        ax.set_xticks(range(len(names)), [plots.LABELS[n].replace(" SME", "\nSME").replace("gradient ", "gradient\n")
                                          for n in names], fontsize=9)
        ax.set(ylabel=f"{title} of θ{'₁₂'[coordinate]}", xlim=(-0.5, len(names) - 0.5))
    return fig


def stationary_axes():
    """A figure for the stationary clouds of :func:`draw_stationary` (player and sliders).

    Returns:
        ``(fig, ax)``: the matplotlib ``Figure`` (7.0 × 4.2 in, constrained layout) and its
        ``Axes``.
    """
    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    return fig, ax


def draw_stationary(ax, cloud, moments, minimiser, title, limits):
    """Draw (or redraw) SGD's cloud of iterates and the exact two-sigma ellipses of SGD and
    of the SMEs of order 1 and 2; what was drawn on ``ax`` before is removed.

    Args:
        ax: the ``Axes`` of :func:`stationary_axes`.
        cloud: SGD's iterates, shape (R, 2).
        moments: ``"sgd"``, ``"sme1"``, ``"sme2"`` ↦ the exact ``(mean, covariance)``.
        minimiser: the minimiser θ*, where gradient flow ends, shape (2,).
        title: the axes' title (e.g. the learning rate).
        limits: ``(xlim, ylim)``, fixed across frames.

    Returns:
        None.
    """
    ax.clear()
    cloud = np.asarray(cloud)
    ax.plot(cloud[:, 0], cloud[:, 1], ".", color=plots.COLORS["sgd"], ms=2.5, alpha=0.4)
    ax.plot([], [], "o", color=plots.COLORS["sgd"], ms=4, alpha=0.6, label="SGD iterates")  # legend only
    for name in ("sgd", "sme1", "sme2"):
        style = plots.STYLES[name] | dict(marker=None, ls="-" if name != "sme2" else "--", lw=2.0)
        ellipse(ax, *moments[name], label=f"{plots.LABELS[name]}: exact", **style)
    ax.plot(*np.asarray(minimiser), **plots.STYLES["gf"] | dict(ls="none", marker="*", ms=13),
            label="minimiser θ*\n(gradient flow's end)")
    ax.set(xlabel="θ₁", ylabel="θ₂", title=title, xlim=limits[0], ylim=limits[1], aspect="equal")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)


def stationary_twin(lrs, picks, moments, traces):
    """The static twin of the player: the exact two-sigma ellipses of SGD (solid) and of
    the order-1 SME (dashed) for a few learning rates (left), and the trace of the
    stationary covariance against η for SGD and both SMEs (right).

    Args:
        lrs: the learning rates η of the player, shape (L,).
        picks: the indices into ``lrs`` drawn on the left.
        moments: ``"sgd"``, ``"sme1"`` ↦ ``(means, covariances)`` of shapes (L, 2), (L, 2, 2).
        traces: ``"sgd"``, ``"sme1"``, ``"sme2"`` ↦ the traces of the covariances, shape (L,).

    Returns:
        The matplotlib ``Figure``.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 4.4))
    shades = {name: plots.shades(name, len(picks) + 1)[1:] for name in ("sgd", "sme1")}
    for j, i in enumerate(picks):
        for name, ls in (("sgd", "-"), ("sme1", "--")):
            means, covs = moments[name]
            ellipse(left, means[i], covs[i], color=shades[name][j], ls=ls, lw=1.8,
                    label=f"{plots.LABELS[name]}, η = {lrs[i]:.2g}")
    left.set(xlabel="θ₁", ylabel="θ₂", aspect="equal")
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    for name in ("sgd", "sme1", "sme2"):
        right.plot(lrs, traces[name], **plots.STYLES[name] | dict(marker="os^"[("sgd", "sme1", "sme2").index(name)],
                                                                   ms=3.5, lw=1.2),
                   label=plots.LABELS[name])
    right.set(xlabel="learning rate η", ylabel="trace of the covariance")
    right.legend()
    return fig
