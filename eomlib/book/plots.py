"""One figure style for the book, and the plots that several chapters share."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["COLORS", "STYLES", "PLAYER_STYLES", "LABELS", "MAX_WIDTH_IN", "order_color",
           "order_label", "shades", "style", "contour", "loglog_fit", "fitted_line",
           "plain_log_ticks"]

#: One colour per object, the same in every figure and player of the book:
#: ``"gd"`` (gradient descent's iterates), ``"gf"`` (gradient flow), ``"eom1"`` … ``"eom6"``
#: (the EoM of orders 1–6), ``"hb"`` (heavy-ball momentum's iterates), ``"hb_flow"`` (its
#: plain first-order flow), ``"hb_eom"`` (its modified flow, with the counter term),
#: ``"sgd"`` (SGD's iterates), ``"sgd_flow"`` (SGD's per-epoch modified flow), ``"sme1"``,
#: ``"sme2"`` (the stochastic modified equations of order 1 and 2),
#: ``"pred"`` (a prediction from theory: a closed form, a fitted law) and ``"limit"``
#: (a threshold or reference level, such as ηλ = 1 or 2/η).
COLORS = {"gd": "black", "gf": "tab:blue", "eom1": "tab:red", "eom2": "tab:green",
          "eom3": "tab:purple", "eom4": "tab:orange", "eom5": "tab:olive", "eom6": "#393b79",
          "hb": "tab:brown", "hb_flow": "tab:cyan",
          "hb_eom": "tab:pink", "sgd": "#e6ab02", "sgd_flow": "#e7298a", "sme1": "#1b9e77",
          "sme2": "#7570b3", "central": "#a6761d", "pred": "tab:gray", "limit": "0.45"}

#: Legend labels of the objects of :data:`COLORS`.
LABELS = {"gd": "GD", "gf": "gradient flow", "eom1": "order-1 EoM", "eom2": "order-2 EoM",
          "eom3": "order-3 EoM", "eom4": "order-4 EoM", "eom5": "order-5 EoM",
          "eom6": "order-6 EoM", "hb": "heavy ball",
          "hb_flow": "plain flow", "hb_eom": "modified flow", "sgd": "SGD",
          "sgd_flow": "SGD's modified flow", "sme1": "order-1 SME", "sme2": "order-2 SME",
          "central": "central flow", "pred": "predicted",
          "limit": "threshold"}

#: Matplotlib keyword arguments (``ax.plot(x, y, **STYLES[key])``) for a path or a time
#: series of each object: discrete iterates as open markers joined by a thin dashed line,
#: flows as solid lines (the EoM of order ≥ 2 dashed, so that coinciding curves stay visible).
STYLES = {
    "gd": dict(color=COLORS["gd"], marker="o", ms=4, mfc="none", ls="--", lw=0.7),
    "gf": dict(color=COLORS["gf"], lw=2.2),
    "eom1": dict(color=COLORS["eom1"], lw=1.6),
    "eom2": dict(color=COLORS["eom2"], lw=1.6, ls="--"),
    "eom3": dict(color=COLORS["eom3"], lw=1.6, ls="-."),
    "eom4": dict(color=COLORS["eom4"], lw=1.6, ls=":"),
    "eom5": dict(color=COLORS["eom5"], lw=1.6, ls="--"),
    "eom6": dict(color=COLORS["eom6"], lw=1.6, ls="-."),
    "hb": dict(color=COLORS["hb"], marker="o", ms=4, mfc="none", ls="--", lw=0.7),
    "hb_flow": dict(color=COLORS["hb_flow"], lw=2.2),
    "hb_eom": dict(color=COLORS["hb_eom"], lw=1.6),
    "sgd": dict(color=COLORS["sgd"], marker="o", ms=4, mfc="none", ls="--", lw=0.7),
    "sgd_flow": dict(color=COLORS["sgd_flow"], lw=1.6),
    "sme1": dict(color=COLORS["sme1"], lw=1.6),
    "sme2": dict(color=COLORS["sme2"], lw=1.6, ls="--"),
    "central": dict(color=COLORS["central"], lw=2.2),
    "pred": dict(color=COLORS["pred"], lw=1.5, ls="--"),
    "limit": dict(color=COLORS["limit"], lw=1.0, ls=":"),
}

#: Styles of the same objects in :func:`eomlib.book.players.time_player` (widths and dot
#: radii in figure pixels, SVG dash arrays).
PLAYER_STYLES = {
    "gd": dict(color=COLORS["gd"], width=0.8, radius=3.0, dash="3 3"),
    "gf": dict(color=COLORS["gf"], width=2.6),
    "eom1": dict(color=COLORS["eom1"], width=1.8, dash="7 4"),
    "eom2": dict(color=COLORS["eom2"], width=1.8, dash="2 3"),
    "hb": dict(color=COLORS["hb"], width=0.8, radius=3.0, dash="3 3"),
    "hb_flow": dict(color=COLORS["hb_flow"], width=2.6),
    "hb_eom": dict(color=COLORS["hb_eom"], width=1.8, dash="7 4"),
    "sgd": dict(color=COLORS["sgd"], width=0.8, radius=3.0, dash="3 3"),
    "sgd_flow": dict(color=COLORS["sgd_flow"], width=1.8, dash="7 4"),
    "central": dict(color=COLORS["central"], width=2.6),
}

#: The widest figure, in inches at the book's 90 dpi, that the page shows at its own size:
#: the text column is 676 CSS pixels wide, and the inline backend's tight crop adds up to
#: 0.1 in on each side (7.2 in → at most 666 px); wider figures are shrunk, fonts with them.
MAX_WIDTH_IN = 7.2


def order_color(order: int) -> str:
    """Colour of the order-γ EoM (γ = 0 is gradient flow).

    Args:
        order: the order γ ≥ 0 of the EoM.

    Returns:
        The entry of :data:`eomlib.book.plots.COLORS` (``"gf"`` for γ = 0, ``"eom1"`` …
        ``"eom6"``).

    Raises:
        ValueError: for γ > 6 (no colour of its own; the book draws at most order 6).

    Example:
        >>> from eomlib.book import plots
        >>> plots.order_color(0), plots.order_color(2)  # ('tab:blue', 'tab:green')
    """
    if order == 0:
        return COLORS["gf"]
    if f"eom{order}" not in COLORS:
        raise ValueError(f"order must be an integer in [0, 6] (the orders with a colour), got {order!r}.")
    return COLORS[f"eom{order}"]


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


def shades(key: str, n: int) -> list:
    """``n`` shades of one object's colour, light to dark: the same object at ``n`` values
    of a parameter (several η, say) keeps its colour, the parameter is its lightness.

    Args:
        key: an object of :data:`COLORS` (e.g. ``"gd"``, ``"eom1"``).
        n: the number of shades, ≥ 1.

    Returns:
        A list of ``n`` RGB tuples, from 45 % of the colour (mixed with white) to the colour
        darkened by a fifth; one shade is the colour itself.

    Raises:
        ValueError: if ``key`` is not in :data:`COLORS` or ``n`` < 1.

    Example:
        >>> from eomlib.book import plots
        >>> plots.shades("eom1", 3)  # three reds, light to dark
    """
    from matplotlib.colors import to_rgb

    if key not in COLORS:
        raise ValueError(f"key must be one of {sorted(COLORS)}, got {key!r}.")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}.")
    base = np.array(to_rgb(COLORS[key]))
    if n == 1:
        return [tuple(float(v) for v in base)]
    if base.max() < 0.05:  # black: greys from light to black
        return [(float(g),) * 3 for g in np.linspace(0.62, 0.0, n)]
    out = []
    for w in np.linspace(0.45, 1.2, n):
        c = 1 - w * (1 - base) if w <= 1 else base * (2.0 - w) / 1.0
        out.append(tuple(float(v) for v in np.clip(c, 0, 1)))
    return out


def style() -> None:
    """Matplotlib defaults used throughout the book.

    Sets ``matplotlib.pyplot.rcParams`` for every later figure: 6.4 × 4.0 in at 90 dpi
    (576 CSS pixels wide; the page shows a figure at its own size up to
    :data:`MAX_WIDTH_IN`), constrained layout (nothing cut off), an 11-point font, a light
    grid, no top or right spines, legends without frames; and, in IPython, figures shown as
    "retina" PNGs (twice the pixels, shown at the same size: sharp on high-density
    screens and when zoomed).

    Returns:
        None.

    Example:
        >>> from eomlib.book import plots
        >>> plots.style()
    """
    plt.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 90,
        "figure.constrained_layout.use": True,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "legend.frameon": False,
        "legend.fontsize": 9.5,
        "font.size": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
    })
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: no inline backend to configure
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


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
