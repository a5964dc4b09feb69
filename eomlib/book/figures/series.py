"""Figures of chapter 3, the EoM to all orders: rooted trees of the counter terms, the size of
the series' terms, truncated EoMs on a quadratic, and one-step errors.

A tree is written as in :mod:`eomlib.trees`: the bracket string of
:func:`eomlib.trees.tree_to_str` (``"•"``, ``"[•]"``, ``"[•,[•]]"`` …) or the tuple of its
children's trees (``()`` is the single node).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from eomlib.book.plots import (COLORS, MAX_WIDTH_IN, STYLES, loglog_fit, order_color, order_label,
                               shades)

__all__ = ["parse_tree", "differential_name", "draw_tree", "tree_gallery", "term_sizes",
           "truncated_errors", "error_bars", "local_errors", "asymptotic_terms"]

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_LETTERS = {2: "T", 3: "Q", 4: "P"}  # ∇³f, ∇⁴f, ∇⁵f as multilinear maps


def parse_tree(tree):
    """The tuple form of a tree given as a bracket string (tuples pass through unchanged).

    Args:
        tree: a bracket string such as ``"[•,[•]]"`` (``"•"`` is the single node), or a
            tree already in tuple form.

    Returns:
        The tree as the sorted tuple of its children's trees, equal to what
        :func:`eomlib.trees.make_tree` builds.

    Raises:
        ValueError: if the string is not a well-formed bracket tree.
    """
    if not isinstance(tree, str):
        return tree
    text = tree.replace(" ", "")

    def node(i):
        if text.startswith("•", i):
            return (), i + 1
        if not text.startswith("[", i):
            raise ValueError(f"not a tree: {tree!r}")
        children, i = [], i + 1
        while True:
            child, i = node(i)
            children.append(child)
            if text.startswith(",", i):
                i += 1
            elif text.startswith("]", i):
                return tuple(sorted(children)), i + 1
            else:
                raise ValueError(f"not a tree: {tree!r}")

    parsed, end = node(0)
    if end != len(text):
        raise ValueError(f"not a tree: {tree!r}")
    return parsed


def _power_and_core(tree):
    """A tree's vector as H applied p times to a core (g, or a derivative of order ≥ 3).

    Args:
        tree: a tree in tuple form.

    Returns:
        ``(p, core)``: the power p ≥ 0 of H and the core's name.
    """
    if not tree:
        return 0, "g"
    if len(tree) == 1:
        p, core = _power_and_core(tree[0])
        return p + 1, core
    letter = _LETTERS.get(len(tree), f"∇{str(len(tree) + 1).translate(_SUPERSCRIPTS)}f")
    return 0, f"{letter}({','.join(differential_name(child) for child in tree)})"


def differential_name(tree) -> str:
    """The elementary differential a tree stands for, in g, H, T, Q, P notation.

    A leaf is g; a node with m children is ∇^(m+1) f applied to its children's vectors:
    H for one child (H·v), T = ∇³f for two, Q = ∇⁴f for three, P = ∇⁵f for four.

    Args:
        tree: a bracket string (``"[•,[•]]"``) or a tree in tuple form.

    Returns:
        The name, e.g. ``"T(g,Hg)"`` for ``"[•,[•]]"`` or ``"H² T(g,g)"`` for ``"[[[•,•]]]"``.
    """
    p, core = _power_and_core(parse_tree(tree))
    if p == 0:
        return core
    power = "H" if p == 1 else "H" + str(p).translate(_SUPERSCRIPTS)
    return power + core if core == "g" else f"{power} {core}"


def _layout(tree, depth=0, next_leaf=None, out=None):
    """Node positions of a tree: leaves at consecutive x, a parent at the mean of its children.

    Args:
        tree: a tree in tuple form.
        depth: the generation of ``tree``'s root (0 for the root of the drawing).
        next_leaf: internal, a one-element list holding the next free leaf position.
        out: internal, the list of nodes built so far.

    Returns:
        ``(index, nodes)``: the index of ``tree``'s root in ``nodes``, and ``nodes``, a list of
        ``[x, depth, parent index]`` (parent ``None`` for the root), the root first.
    """
    next_leaf = [0] if next_leaf is None else next_leaf
    out = [] if out is None else out
    index = len(out)
    out.append([None, depth, None])  # x, depth, parent index
    if not tree:
        out[index][0] = float(next_leaf[0])
        next_leaf[0] += 1
        return index, out
    xs = []
    for child in tree:
        c, _ = _layout(child, depth + 1, next_leaf, out)
        out[c][2] = index
        xs.append(out[c][0])
    out[index][0] = float(np.mean(xs))
    return index, out


def draw_tree(ax, tree, x: float = 0.0, y: float = 0.0, *, dx: float = 0.5, dy: float = 0.6,
              color: str | None = None, size: float = 28):
    """Draw a rooted tree, root at the bottom (circled), centred horizontally at ``x``.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        tree: the tree, a bracket string (``"[•,[•]]"``) or in tuple form.
        x: the horizontal centre of the drawing (data coordinates).
        y: the height of the root (data coordinates).
        dx: the horizontal distance between neighbouring leaves.
        dy: the vertical distance between generations.
        color: the matplotlib colour of nodes and edges (default ``COLORS["limit"]``).
        size: the marker area of a node, in points².

    Returns:
        The width of the drawing in data units (0 for a single node or a path).
    """
    color = COLORS["limit"] if color is None else color
    _, nodes = _layout(parse_tree(tree))
    xs = dx * np.array([n[0] for n in nodes])
    xs = x + xs - (xs.min() + xs.max()) / 2
    ys = y + dy * np.array([n[1] for n in nodes], dtype=float)
    for i, (_, _, parent) in enumerate(nodes):
        if parent is not None:
            ax.plot([xs[parent], xs[i]], [ys[parent], ys[i]], "-", color=color, lw=1.2, zorder=1)
    ax.scatter(xs, ys, s=size, color=color, zorder=2)
    ax.scatter(xs[:1], ys[:1], s=size * 2.5, facecolors="none", edgecolors=color, lw=1.0, zorder=2)
    return float(xs.max() - xs.min())


def tree_gallery(coefficients, *, columns: int | None = None, cell_width: float = 1.25,
                 row_height: float = 1.45):
    """Trees of the counter terms, one row per ξ_k, each with its coefficient and differential.

    The trees of ξ_k, the term that the order-k EoM adds, are drawn in that EoM's colour,
    :func:`eomlib.book.plots.order_color` (k).

    Args:
        coefficients: ``{k: {tree: coefficient}}``, e.g. ``{k: dict(
            eomlib.counter_term_coefficients(k)) for k in range(1, 5)}``; trees as bracket
            strings or tuples, coefficients as ``fractions.Fraction`` (or numbers).
        columns: keyword only; the most trees on one line (a longer ξ_k continues on the next
            line); default: all trees of a ξ_k on one line.
        cell_width: keyword only; the figure width per tree, in inches (the figure is at
            most :data:`eomlib.book.plots.MAX_WIDTH_IN` wide).
        row_height: keyword only; the figure height per line of trees, in inches.

    Returns:
        The matplotlib ``Figure``.
    """
    lines = []  # (k or None, [(tree, coefficient), ...]) per line of the figure
    for k in sorted(coefficients):
        # the tallest tree (H^k g) first, then as given
        terms = sorted(coefficients[k].items(), key=lambda tc: -_depth(parse_tree(tc[0])))
        step = columns or len(terms)
        for i in range(0, len(terms), step):
            lines.append((k if i == 0 else None, terms[i:i + step]))
    width = max(len(terms) for _, terms in lines)
    fig, ax = plt.subplots(figsize=(min(cell_width * (width + 0.7), MAX_WIDTH_IN),
                                    row_height * len(lines)))
    k_row = None
    for r, (k, terms) in enumerate(lines):
        y0 = -3.0 * r
        k_row = k if k is not None else k_row
        if k is not None:
            ax.text(-0.8, y0 + 0.6, f"ξ{str(k).translate(_SUBSCRIPTS)}", fontsize=13,
                    ha="center", va="center", color=order_color(k))
        for c, (tree, coef) in enumerate(terms):
            t = parse_tree(tree)
            dx = 0.5 if _leaves(t) <= 2 else 1.0 / (_leaves(t) - 1)
            xc = 0.6 + 1.5 * c
            draw_tree(ax, t, xc, y0 + 0.2, dx=dx, dy=0.42, color=order_color(k_row), size=18)
            ax.text(xc, y0 - 0.2, f"{coef} {differential_name(t)}".replace("-", "−"), ha="center", va="top",
                    fontsize=9)
    ax.set_xlim(-1.3, 1.5 * width - 0.1)
    ax.set_ylim(-3.0 * len(lines) + 2.1, 2.2)
    ax.axis("off")
    return fig


def _depth(tree) -> int:
    """The number of generations above the root.

    Args:
        tree: a tree in tuple form.

    Returns:
        0 for a single node, else 1 + the largest depth of a child.
    """
    return 0 if not tree else 1 + max(_depth(c) for c in tree)


def _leaves(tree) -> int:
    """The number of leaves.

    Args:
        tree: a tree in tuple form.

    Returns:
        The number of nodes without children (1 for a single node).
    """
    return 1 if not tree else sum(_leaves(c) for c in tree)


def term_sizes(ax, k, sizes):
    """The sizes η^k‖ξ_k(θ0)‖ of the series' terms against k, one curve per ηλ_max (log scale).

    A series' terms are drawn in greys (the larger ηλ_max, the darker) with one marker per
    ηλ_max: the colours of the EoM orders are kept for the EoMs themselves.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        k: the indices k of the terms (array-like).
        sizes: ``{ηλ_max: sizes}``, each an array of the term sizes at the indices ``k``.

    Returns:
        None.
    """
    for (x, s), color, marker, ls in zip(sizes.items(), shades("gd", len(sizes)),
                                         "os^Dv", ["-", "--", "-.", ":", "-"]):
        ax.semilogy(k, s, marker=marker, ls=ls, color=color, ms=5,
                    label=rf"$\eta\lambda_{{\max}}$ = {x}")
    ax.set(xlabel="index k of the counter term ξₖ",
           ylabel=r"term size $\eta^k\|\xi_k(\theta_0)\|$", title="Terms of the series on a quadratic")
    ax.legend()


def truncated_errors(ax, x_values, errors, orders):
    """Largest distance to GD of the truncated EoMs against ηλ_max, one curve per order.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        x_values: the values of ηλ_max (array-like).
        errors: an array of shape (orders, learning rates), the largest distance to GD.
        orders: the EoM orders γ of the rows of ``errors``.

    Returns:
        None.
    """
    for order in orders:
        ax.semilogy(x_values, errors[order], "o-", ms=3, color=order_color(order),
                    label=order_label(order))
    ax.axvline(1.0, **STYLES["limit"], label=r"$\eta\lambda_{\max} = 1$")
    ax.set(xlabel=r"$\eta\lambda_{\max}$ (learning rate × top curvature)",
           ylabel="max distance to GD, 10 steps", title="Truncated EoMs on a quadratic")
    ax.legend(fontsize=9)


def error_bars(ax, x, errs, orders):
    """The error of each truncated EoM at one ηλ_max, as bars on a log scale (fixed limits).

    Args:
        ax: the matplotlib ``Axes`` to draw on, or None for a new figure of 5.5 × 3.4 in.
        x: the value of ηλ_max, shown in the title.
        errs: the largest distance to GD for each order (as many as ``orders``).
        orders: the EoM orders γ.

    Returns:
        None.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.bar([order_label(o).replace(" EoM", "") for o in orders], errs,
           color=[order_color(o) for o in orders])
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 2.0)
    where = "< 1: the series converges" if x < 1 else "≥ 1: the series diverges"
    ax.set(xlabel="truncated EoM", ylabel="max distance to GD, 10 steps",
           title=rf"$\eta\lambda_{{\max}}$ = {x:.2f} {where}")


def local_errors(ax, lrs, errors, slopes):
    """One-step errors of several fields against η on log–log axes, with fitted lines.

    The first field is drawn in the order-4 EoM's colour, the second (the same EoM with a
    term left out) in a lighter shade of it, with square markers.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        lrs: the learning rates η (array-like).
        errors: ``{label: errors}``, the one-step error of each field at ``lrs``.
        slopes: ``{label: slope}``, the fitted log–log slope of each.

    Returns:
        None.
    """
    colors = [COLORS["eom4"], shades("eom4", 3)[0]]  # the full field, then the variant (lighter)
    for (label, err), color, marker in zip(errors.items(), colors, ["o", "s"]):
        loglog_fit(ax, lrs, err, slopes[label], color=color, label=label, marker=marker)
    ax.set(xlabel="learning rate η", ylabel=r"one-step error $|x(\eta) - x_0 + \eta f'(x_0)|$",
           title=r"One step on log cosh from $x_0 = 1.5$")
    ax.legend(fontsize=9)


def asymptotic_terms(ax, k, sizes, reference, *, label: str, reference_label: str):
    """Term sizes η^k|ξ_k| of a divergent series against k, beside a convergent reference.

    The smallest term (where an optimal truncation would stop) is circled. The series is
    drawn like the series of :func:`term_sizes` (black), the reference in the colour of a
    prediction, ``COLORS["pred"]``, dashed.

    Args:
        ax: the matplotlib ``Axes`` to draw on.
        k: the indices k of the terms (array-like).
        sizes: the term sizes of the series shown, one per k.
        reference: the term sizes of the reference series (e.g. the quadratic), one per k.
        label: keyword only; the legend label of ``sizes``.
        reference_label: keyword only; the legend label of ``reference``.

    Returns:
        None.
    """
    k, sizes = np.asarray(k), np.asarray(sizes)
    ax.semilogy(k, sizes, "o-", color=COLORS["gd"], ms=5, label=label)
    ax.semilogy(k, reference, marker="s", ms=4, **STYLES["pred"], label=reference_label)
    i = int(np.argmin(sizes))
    ax.scatter([k[i]], [sizes[i]], s=160, facecolors="none", edgecolors=COLORS["limit"], lw=1.2,
               zorder=3, label=f"smallest term, k = {k[i]}")
    ax.set(xlabel="index k of the counter term ξₖ", ylabel=r"term size $\eta^k|\xi_k(x_0)|$",
           title="Terms of the series beyond the quadratic")
    ax.legend(fontsize=9)
