"""One figure style for the book, and the plots that several chapters share."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

COLORS = {"gd": "black", "gf": "tab:blue", "eom1": "tab:red", "eom2": "tab:green",
          "eom3": "tab:purple", "eom4": "tab:orange", "pred": "tab:gray"}


def order_color(order: int) -> str:
    """Colour of the order-γ EoM (γ = 0 is gradient flow)."""
    return COLORS["gf"] if order == 0 else COLORS.get(f"eom{order}", f"C{order}")


def order_label(order: int) -> str:
    return "gradient flow" if order == 0 else f"order-{order} EoM"


def style() -> None:
    """Matplotlib defaults used throughout the book."""
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
    """Filled contours of a 2-D loss ``loss2d(np.array([x, y]))`` (vectorised over a grid)."""
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
    """Errors against η on log–log axes, with the fitted line of the given slope.

    Where the η axis spans little more than a decade, its ticks are labelled as plain
    decimals (:func:`plain_log_ticks`)."""
    lrs = np.asarray(lrs)
    errors = np.asarray(errors)
    ax.loglog(lrs, errors, marker, color=color, label=f"{label}: slope {slope:.2f}")
    intercept = np.mean(np.log(errors) - slope * np.log(lrs))
    ax.loglog(lrs, np.exp(intercept) * lrs**slope, "-", color=color, alpha=0.5)
    plain_log_ticks(ax.xaxis)


TICK_MANTISSAS = ((1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 6, 8))


def plain_log_ticks(axis, max_decades: float = 1.3) -> list:
    """Label a logarithmic ``axis`` spanning at most ``max_decades`` decades at round values
    written as plain decimals, with unlabelled minor ticks: the densest of
    :data:`TICK_MANTISSAS` (× 10^k) that puts 3 to 6 ticks on the axis (else 2).  Matplotlib
    labels the minor ticks of such an axis as 2×10⁻¹, 3×10⁻¹, …, which collide.  Wider axes,
    and axes too narrow for two round values, are left as they are.  Returns the ticks set
    (empty if none)."""
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
