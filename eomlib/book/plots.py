"""One figure style for the book, and the plots that several chapters share."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["COLORS", "order_color", "order_label", "style", "contour", "loglog_fit",
           "fitted_line", "plain_log_ticks"]

#: Matplotlib colours by curve: ``"gd"`` (gradient descent), ``"gf"`` (gradient flow),
#: ``"eom1"`` … ``"eom4"`` (the EoM of orders 1–4) and ``"pred"`` (a prediction).
COLORS = {"gd": "black", "gf": "tab:blue", "eom1": "tab:red", "eom2": "tab:green",
          "eom3": "tab:purple", "eom4": "tab:orange", "pred": "tab:gray"}


def order_color(order: int) -> str:
    """Colour of the order-γ EoM (γ = 0 is gradient flow).

    Args:
        order: the order γ ≥ 0 of the EoM.

    Returns:
        The entry of :data:`eomlib.book.plots.COLORS` (``"gf"`` for γ = 0, ``"eom1"`` …
        ``"eom4"``), else matplotlib's cycle colour ``"C<γ>"``.

    Example:
        >>> from eomlib.book import plots
        >>> plots.order_color(0), plots.order_color(2)  # ('tab:blue', 'tab:green')
    """
    return COLORS["gf"] if order == 0 else COLORS.get(f"eom{order}", f"C{order}")


def order_label(order: int) -> str:
    """Legend label of the order-γ EoM: ``"gradient flow"`` for γ = 0, else ``"order-γ EoM"``.

    Args:
        order: the order γ ≥ 0 of the EoM.

    Returns:
        The label, e.g. ``"order-2 EoM"``.

    Example:
        >>> from eomlib.book import plots
        >>> plots.order_label(0), plots.order_label(1)  # ('gradient flow', 'order-1 EoM')
    """
    return "gradient flow" if order == 0 else f"order-{order} EoM"


def style() -> None:
    """Matplotlib defaults used throughout the book.

    Sets ``matplotlib.pyplot.rcParams`` (figure size 6.4 × 4.0 in at 90 dpi, a light grid,
    no top or right spines, legends without frames, 10-point font) for every later figure.

    Returns:
        None.

    Example:
        >>> from eomlib.book import plots
        >>> plots.style()
    """
    plt.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 90,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
    })


def contour(ax, loss2d, xlim, ylim, levels: int = 25, num: int = 160):
    r"""Filled contours of a 2-D loss ``loss2d(np.array([x, y]))`` (vectorised over a grid).

    The shading is :math:`\log(1 + f - \min f)` over the grid, in light greys; the axes get
    the limits ``xlim`` and ``ylim`` and an equal aspect ratio.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        loss2d: a JAX-traceable function of a length-2 array to a scalar (it is
            ``jax.vmap``-ed over the grid), e.g. :func:`eomlib.book.toys.curved_valley`.
        xlim: ``(x_min, x_max)``, the range of the first coordinate.
        ylim: ``(y_min, y_max)``, the range of the second coordinate.
        levels: the number of contour levels, ≥ 1 (default 25).
        num: the grid points per axis, ≥ 2 (default 160, i.e. 160 × 160 evaluations).

    Returns:
        None.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> from eomlib.book import plots, toys
        >>> plots.contour(plt.gca(), toys.curved_valley, (-2, 2), (-1, 2))
    """
    import jax
    import jax.numpy as jnp

    xs = np.linspace(*xlim, num)
    ys = np.linspace(*ylim, num)
    grid = jnp.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    z = np.asarray(jax.vmap(loss2d)(grid)).reshape(num, num)
    ax.contourf(xs, ys, np.log1p(z - z.min()), levels=levels, cmap="Greys", alpha=0.45)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")


def loglog_fit(ax, lrs, errors, slope: float, *, color: str, label: str, marker: str = "o"):
    r"""Errors against η on log–log axes, with the fitted line of the given slope.

    Where the η axis spans little more than a decade, its ticks are labelled as plain
    decimals (:func:`eomlib.book.plots.plain_log_ticks`).

    The line :math:`c\,\eta^{s}` has the given slope s and the intercept
    :math:`\log c` = mean of :math:`\log e_i - s \log\eta_i` (least squares at fixed s).

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        lrs: the learning rates η_i > 0 (array-like).
        errors: the errors e_i > 0 at those learning rates, as many as ``lrs``.
        slope: the fitted slope s, e.g. ``eomlib.error_sweep(...).slope()``; it is also
            shown in the legend label.
        color: keyword only; the matplotlib colour of points and line (e.g.
            :func:`eomlib.book.plots.order_color`).
        label: keyword only; the legend label, to which ``": slope s"`` is appended.
        marker: keyword only; the matplotlib format of the points (default ``"o"``).

    Returns:
        None.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> from eomlib.book import plots
        >>> plots.loglog_fit(plt.gca(), [0.1, 0.05], [1e-3, 2.5e-4], 2.0, color="k", label="GF")
    """
    lrs = np.asarray(lrs)
    errors = np.asarray(errors)
    ax.loglog(lrs, errors, marker, color=color, label=f"{label}: slope {slope:.2f}")
    fitted_line(ax, lrs, errors, slope, color=color)
    plain_log_ticks(ax.xaxis)


def fitted_line(ax, lrs, errors, slope: float, *, color: str) -> None:
    r"""The line :math:`c\,\eta^{s}` of a given slope through errors on log–log axes.

    The intercept :math:`\log c` is the mean of :math:`\log e_i - s \log\eta_i` (least
    squares at fixed s); the line is drawn at the given learning rates, half transparent.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        lrs: the learning rates η_i > 0 (array-like).
        errors: the errors e_i > 0 at those learning rates, as many as ``lrs``.
        slope: the slope s of the line.
        color: keyword only; the matplotlib colour of the line.

    Returns:
        None.
    """
    lrs, errors = np.asarray(lrs, float), np.asarray(errors, float)
    intercept = np.mean(np.log(errors) - slope * np.log(lrs))
    ax.loglog(lrs, np.exp(intercept) * lrs**slope, "-", color=color, alpha=0.5)


TICK_MANTISSAS = ((1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 6, 8))


def plain_log_ticks(axis, max_decades: float = 1.3) -> list:
    """Label a logarithmic ``axis`` spanning at most ``max_decades`` decades at round values
    written as plain decimals, with unlabelled minor ticks: the densest of
    ``TICK_MANTISSAS`` (× 10^k) that puts 3 to 6 ticks on the axis (else 2).  Matplotlib
    labels the minor ticks of such an axis as 2×10⁻¹, 3×10⁻¹, …, which collide.  Wider axes,
    and axes too narrow for two round values, are left as they are.  Returns the ticks set
    (empty if none).

    ``TICK_MANTISSAS`` is ``((1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 6, 8))``.  The
    axis's current view interval is used, so call this after the data are plotted.

    Args:
        axis: a matplotlib ``Axis`` on a log scale, e.g. ``ax.xaxis``.
        max_decades: the widest span, in decades (log10 of max/min), that is relabelled;
            > 0 (default 1.3).

    Returns:
        The list of tick values set (floats), empty when the axis was left alone.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> from eomlib.book import plots
        >>> ax = plt.gca(); ax.loglog([0.02, 0.16], [1e-4, 6e-3]); plots.plain_log_ticks(ax.xaxis)
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    lo, hi = sorted(axis.get_view_interval())
    if not (lo > 0 and np.isfinite(hi)) or np.log10(hi / lo) > max_decades:
        return []
    decades = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    candidates = []
    for mantissas in reversed(TICK_MANTISSAS):  # densest first
        ticks = [float(f"{m * 10.0**e:.12g}") for e in decades for m in mantissas]
        candidates.append([t for t in ticks if lo <= t <= hi])
    fitting = [c for c in candidates if 3 <= len(c) <= 6] or [c for c in candidates if 2 <= len(c) <= 6]
    if not fitting:  # too narrow for two round values: matplotlib's labels stay
        return []
    ticks = fitting[0]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
    return ticks
