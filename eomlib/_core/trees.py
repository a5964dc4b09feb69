r"""Rooted trees and the modified equation of gradient descent, computed symbolically.

Every term of every counter term is an *elementary differential* of the gradient-flow
field :math:`F = -\nabla f` (Hairer, Lubich & Wanner, *Geometric Numerical Integration*,
ch. III and IX).  A rooted tree :math:`\tau = [\tau_1, \dots, \tau_m]` stands for

.. math::  F(\bullet) = F, \qquad F(\tau) = F^{(m)}\big[F(\tau_1), \dots, F(\tau_m)\big],

so :math:`F([\bullet]) = F'F = Hg`, :math:`F([\bullet,\bullet]) = -\nabla^3 f[g, g]`, and so on.

The derivative of an elementary differential along another one is *grafting*:
:math:`F(\tau)'\,F(\sigma) = \sum_{v \in \tau} F(\tau \circ_v \sigma)`, where
:math:`\tau\circ_v\sigma` attaches :math:`\sigma` as a new child of node :math:`v`.  With it
the recursion of backward error analysis for one explicit Euler step,

.. math::  F_1 = F, \qquad F_j = -\sum_{i=2}^{j} \frac{1}{i!}
           \sum_{k_1+\dots+k_i=j} D_{k_1}\cdots D_{k_{i-1}} F_{k_i}, \qquad D_k G = G' F_k,

becomes exact arithmetic on linear combinations of trees with rational coefficients.
The modified field is :math:`\tilde F = \sum_j \eta^{j-1} F_j`, and the counter terms are
:math:`\xi_k = -F_{k+1}`.  :math:`F_j` is a combination of trees with exactly :math:`j`
nodes (1, 1, 2, 4, 9, 20, 48, ... of them).

A tree is a sorted tuple of its children's trees; the single node is ``()``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict
from fractions import Fraction

Tree = tuple
LEAF: Tree = ()


def make_tree(children) -> Tree:
    r"""The tree whose root has the given children (order does not matter).

    A tree is the sorted tuple of its children's trees, so that equal trees compare and
    hash equal however their children were listed; ``LEAF = ()`` is the single node
    :math:`\bullet`, the field :math:`F` itself.

    Args:
        children: an iterable of trees (possibly empty, which gives the single node).

    Returns:
        The tree :math:`[\tau_1, \dots, \tau_m]`, a tuple of the sorted children.

    Example:
        >>> trees.make_tree([trees.LEAF, trees.make_tree([trees.LEAF])])  # [•,[•]]
        ((), ((),))
    """
    return tuple(sorted(children))


def num_nodes(tree: Tree) -> int:
    r"""Number of nodes :math:`|\tau|`.

    A counter term :math:`\xi_k = -F_{k+1}` is a combination of trees with k + 1 nodes.

    Args:
        tree: a tree (a tuple of its children's trees; ``()`` is the single node).

    Returns:
        The number of nodes, an integer ≥ 1.

    Example:
        >>> trees.num_nodes(trees.make_tree([trees.LEAF, trees.LEAF]))  # [•,•]
        3
    """
    return 1 + sum(num_nodes(child) for child in tree)


def graft(tree: Tree, scion: Tree) -> dict:
    r"""All ways of attaching ``scion`` as a new child of a node of ``tree``.

    Returns ``{tree': multiplicity}``: the tree form of :math:`F(\tau)'F(\sigma)`.
    By the product rule the derivative of :math:`F(\tau)` along :math:`F(\sigma)` is the
    sum over the nodes :math:`v` of :math:`\tau` of :math:`F(\tau \circ_v \sigma)`; nodes
    that give the same tree are collected into one entry.

    Args:
        tree: the tree :math:`\tau` grafted onto.
        scion: the tree :math:`\sigma` attached as a new child.

    Returns:
        A dict from the grafted trees (each with ``num_nodes(tree) + num_nodes(scion)``
        nodes) to their positive integer multiplicities, which sum to ``num_nodes(tree)``.

    Example:
        >>> trees.graft((trees.LEAF,), trees.LEAF)  # [•]'• = [•,•] + [[•]]
        {((), ()): 1, (((),),): 1}
    """
    out: dict = defaultdict(int)
    out[make_tree(tree + (scion,))] += 1
    for i, child in enumerate(tree):
        for grafted, mult in graft(child, scion).items():
            out[make_tree(tree[:i] + (grafted,) + tree[i + 1 :])] += mult
    return dict(out)


def lie_derivative(combo: dict, along: dict) -> dict:
    r""":math:`G'\,F_k` for ``G = combo`` and ``F_k = along`` (both ``{tree: coefficient}``).

    The Lie derivative :math:`D_k G = G' F_k` of the recursion in the module docstring of
    :mod:`eomlib.trees`, bilinear in its arguments:
    :math:`\sum_{\tau,\sigma} c_\tau d_\sigma\, F(\tau)' F(\sigma)`, each product
    expanded by :func:`eomlib.trees.graft`.  Exact when the coefficients are
    ``fractions.Fraction`` or integers.

    Args:
        combo: the combination :math:`G = \sum_\tau c_\tau F(\tau)`, a dict from trees to
            coefficients.
        along: the combination :math:`F_k = \sum_\sigma d_\sigma F(\sigma)` it is
            differentiated along, a dict of the same form.

    Returns:
        A dict ``{tree: coefficient}`` (``fractions.Fraction`` for rational inputs) without
        zero coefficients.

    Example:
        >>> f1 = dict(trees.modified_field_term(1))  # F = •
        >>> trees.lie_derivative(f1, f1)  # F'F = [•]
        {((),): Fraction(1, 1)}
    """
    out: dict = defaultdict(Fraction)
    for tree, c in combo.items():
        for scion, d in along.items():
            for grafted, mult in graft(tree, scion).items():
                out[grafted] += c * d * mult
    return {t: c for t, c in out.items() if c != 0}


def _compositions(total: int, parts: int):
    """All tuples of ``parts`` positive integers summing to ``total``."""
    if parts == 1:
        yield (total,)
        return
    for first in range(1, total - parts + 2):
        for rest in _compositions(total - first, parts - 1):
            yield (first,) + rest


@functools.lru_cache(maxsize=None)
def modified_field_term(j: int) -> tuple:
    r""":math:`F_j` as a sorted tuple of ``(tree, Fraction)`` pairs (``F_1 = F = -g``).

    The j-th term of the modified field :math:`\tilde F = \sum_j \eta^{j-1} F_j` of one
    explicit Euler step, from the recursion in the module docstring of :mod:`eomlib.trees`,
    in exact rational arithmetic.  Every tree of :math:`F_j` has exactly j nodes.  The
    result is cached, so each order is computed once per process.

    Args:
        j: the term, an integer ≥ 1.

    Returns:
        A tuple of ``(tree, fractions.Fraction)`` pairs sorted by tree, no coefficient zero.

    Raises:
        ValueError: if ``j`` < 1.

    Example:
        >>> trees.modified_field_term(2)  # F_2 = -½ F'F
        ((((),), Fraction(-1, 2)),)
    """
    if j < 1:
        raise ValueError(f"j must be an integer >= 1, got {j}.")
    if j == 1:
        return ((LEAF, Fraction(1)),)
    fields = {k: dict(modified_field_term(k)) for k in range(1, j)}

    @functools.lru_cache(maxsize=None)
    def chain(ks: tuple) -> tuple:
        # D_{k_1} ... D_{k_{i-1}} F_{k_i}, with the outermost D first in ``ks``.
        if len(ks) == 1:
            return tuple(fields[ks[0]].items())
        return tuple(lie_derivative(dict(chain(ks[1:])), fields[ks[0]]).items())

    out: dict = defaultdict(Fraction)
    for parts in range(2, j + 1):
        weight = Fraction(1, math.factorial(parts))
        for ks in _compositions(j, parts):
            for tree, c in chain(ks):
                out[tree] -= weight * c
    return tuple(sorted((t, c) for t, c in out.items() if c != 0))


def counter_term_trees(k: int) -> tuple:
    r""":math:`\xi_k = -F_{k+1}` as ``(tree, Fraction)`` pairs, trees of the field ``F = -g``.

    The trees are elementary differentials of :math:`F = -\nabla f`; for the same counter
    term written in terms of :math:`g` (a tree with n nodes picks up :math:`(-1)^n`), see
    :func:`eomlib.counter_term_coefficients`.

    Args:
        k: the index of the counter term, an integer ≥ 1.

    Returns:
        A tuple of ``(tree, fractions.Fraction)`` pairs sorted by tree, each tree with
        k + 1 nodes.

    Raises:
        ValueError: if ``k`` is negative.

    Example:
        >>> trees.counter_term_trees(1)  # ξ_1 = ½ F'F = ½ Hg
        ((((),), Fraction(1, 2)),)
    """
    return tuple((t, -c) for t, c in modified_field_term(k + 1))


def tree_to_str(tree: Tree) -> str:
    """Bracket notation: ``•``, ``[•]``, ``[•,[•]]`` ...

    The single node is ``•``; a tree with children is its children's strings, comma
    separated, in square brackets, in the sorted order of :func:`eomlib.trees.make_tree`.

    Args:
        tree: a tree (a tuple of its children's trees; ``()`` is the single node).

    Returns:
        The bracket string.

    Example:
        >>> trees.tree_to_str(trees.make_tree([trees.LEAF, (trees.LEAF,)]))
        '[•,[•]]'
    """
    if not tree:
        return "•"
    return "[" + ",".join(tree_to_str(child) for child in tree) + "]"


# --- Curve evaluations: several trees in one derivative ---------------------------------------
#
# Along a curve c(s) = x + Σ_i s^i y_i, Faà di Bruno's formula gives
#
#     [s^m] F(c(s)) = Σ_k (1/k!) Σ_{i_1+…+i_k = m} F^{(k)}[y_{i_1}, …, y_{i_k}],
#
# so one m-th derivative of F along the curve contains every way of attaching the y_i to a
# root: F'[y_m] + F''[y_1, y_{m-1}] + … + F^{(m)}[y_1, …, y_1]/m!.  When the y_i are
# themselves combinations of trees, so is [s^m] F(c(s)).  A *curve plan* chooses the y_i so
# that a few such derivatives (and the bushy trees F^{(j)}[F, …, F] of one line through x),
# combined linearly, give F_1, …, F_{n+1} exactly.


def combine(*terms) -> dict:
    """``Σ w·c`` for ``terms = (w, c), …`` with c a combination ``{tree: Fraction}``."""
    out: dict = defaultdict(Fraction)
    for w, combination in terms:
        for tree, c in combination.items():
            out[tree] += Fraction(w) * c
    return {t: c for t, c in out.items() if c != 0}


def derivative_of(vectors) -> dict:
    """:math:`F^{(m)}[v_1, \\dots, v_m]` for combinations of trees :math:`v_i`, by multilinearity."""
    out: dict = defaultdict(Fraction)
    for choice in itertools.product(*(list(v.items()) for v in vectors)):
        c = Fraction(1)
        for _, w in choice:
            c *= w
        out[make_tree([t for t, _ in choice])] += c
    return {t: c for t, c in out.items() if c != 0}


def curve_coefficient(ys, m: int) -> dict:
    """:math:`[s^m] F(x + \\sum_i s^i y_i)` with ``ys = (y_1, y_2, …)`` combinations of trees."""
    out: dict = defaultdict(Fraction)
    for k in range(1, m + 1):
        for parts in _compositions(m, k):
            if max(parts) <= len(ys):
                for tree, c in derivative_of([ys[i - 1] for i in parts]).items():
                    out[tree] += c / math.factorial(k)
    return {t: c for t, c in out.items() if c != 0}


def _solve(columns, target):
    """Exact weights w with ``Σ_i w_i columns_i == target``, or None (Gauss–Jordan on Fractions)."""
    trees = sorted(set(target).union(*columns))
    n = len(columns)
    rows = [[col.get(t, Fraction(0)) for col in columns] + [target.get(t, Fraction(0))] for t in trees]
    pivots, r = [], 0
    for col in range(n):
        p = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if p is None:
            continue
        rows[r], rows[p] = rows[p], rows[r]
        for i in range(len(rows)):
            if i != r and rows[i][col] != 0:
                f = rows[i][col] / rows[r][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r])]
        pivots.append(col)
        r += 1
    if any(row[n] != 0 and not any(row[:n]) for row in rows):
        return None
    weights = [Fraction(0)] * n
    for i, col in enumerate(pivots):
        weights[col] = rows[i][n] / rows[i][col]
    return weights


class CurvePlan:
    """Steps that evaluate :math:`F_1, \\dots, F_{n+1}` with curve derivatives (see above).

    ``steps[i]`` is ``("field",)`` (:math:`F(x)`), ``("line", j)``
    (:math:`F^{(j)}(x)[F, \\dots, F]`) or ``("curve", (u_1, …, u_m))``: the m-th derivative
    at s = 0 of :math:`F(c(s))` for the curve with :math:`c^{(i)}(0) = u_i`, each
    :math:`u_i` a combination ``((step, weight), …)`` of earlier steps.  ``outputs[j - 1]``
    is :math:`F_j` as such a combination.  Every step's value is tracked as a combination
    of trees, and the outputs are checked to equal ``modified_field_term`` exactly.
    """

    def __init__(self):
        self.steps: list = []
        self.values: list = []
        self.outputs: list = []

    def _add(self, step, value) -> int:
        if step not in self.steps:
            self.steps.append(step)
            self.values.append(value)
        return self.steps.index(step)

    def value_of(self, combination) -> dict:
        return combine(*[(w, self.values[i]) for i, w in combination])

    def field(self) -> int:
        return self._add(("field",), {LEAF: Fraction(1)})

    def line(self, j: int) -> int:
        return self._add(("line", j), {make_tree([LEAF] * j): Fraction(1)})

    def curve(self, derivatives) -> int:
        us = tuple(tuple(sorted((i, Fraction(w)) for i, w in u.items() if w != 0)) for u in derivatives)
        ys = [combine((Fraction(1, math.factorial(i + 1)), self.value_of(u))) for i, u in enumerate(us)]
        m = len(us)
        return self._add(("curve", us), combine((math.factorial(m), curve_coefficient(ys, m))))

    def express(self, target, steps):
        """``target`` as a combination of ``steps``' values, or None."""
        weights = _solve([self.values[i] for i in steps], target)
        if weights is None:
            return None
        return tuple((i, w) for i, w in zip(steps, weights) if w != 0)


def _root_children(combination):
    """``{σ: w}`` for a combination ``Σ w [σ]`` of single-child trees (None if another occurs)."""
    if any(len(t) != 1 for t in combination):
        return None
    return {t[0]: c for t, c in combination.items()}


@functools.lru_cache(maxsize=None)
def curve_plan(order: int):
    """A ``CurvePlan`` for :math:`F_1, \\dots, F_{order+1}`, or None beyond order 4.

    Order 2 needs one curve derivative of degree 2 (:math:`y_2 = 2F'F`); order 4 the line
    derivatives :math:`F^{(j)}[F^j]`, j ≤ 4, and four curve derivatives sharing
    :math:`y_1 = F` and :math:`y_2 = \\beta F'F`, two of them sharing :math:`y_3` as well.
    The free coefficients follow from exact linear algebra on the trees.
    """
    if order > 4:
        return None
    targets = {j: dict(modified_field_term(j)) for j in range(1, order + 2)}
    plan = CurvePlan()
    a = plan.field()
    plan.outputs.append(((a, Fraction(1)),))
    if order == 0:
        return plan
    l1 = plan.line(1)
    plan.outputs.append(plan.express(targets[2], [l1]))
    if order == 1:
        return plan
    # y_2 = β F'F.  At order 4 the ratio of [[•],[•]] to [•,•,[•]] in F_5 (½β² : ½β) fixes β.
    t5 = targets.get(5)
    beta = (t5[make_tree([(LEAF,), (LEAF,)])] / t5[make_tree([LEAF, LEAF, (LEAF,)])]) if t5 else Fraction(2)
    u1, u2 = {a: 1}, {l1: 2 * beta}
    a2 = plan.curve([u1, u2])
    lines = [plan.line(j) for j in range(2, order + 1)] if order >= 3 else []
    plan.outputs.append(plan.express(targets[3], [a2] + lines[:1]))
    if order >= 3:
        l2, l3 = lines[0], lines[1]
        y = [plan.values[a], plan.value_of(((l1, beta),))]
        # F_4 = λ C_3 + μ F'''[F,F,F] with C_3 = F'[y_3] + F''[F, y_2] + F'''[F,F,F]/6:
        # the trees with ≥ 2 root children fix λ and μ, the rest fixes y_3 ∈ span(C_2, D_2).
        rest = {t: c for t, c in targets[4].items() if len(t) != 1}
        solution = _solve([curve_coefficient(y + [{}], 3), plan.values[l3]], rest)
        if solution is None or solution[0] == 0:
            return None
        lam, mu = solution
        t = _root_children(combine((1, targets[4]), (-lam, curve_coefficient(y + [{}], 3)), (-mu, plan.values[l3])))
        y3 = None if t is None else plan.express(combine((1 / lam, t)), [a2, l2])
        if y3 is None:
            return None
        a3 = plan.curve([u1, u2, {i: 6 * w for i, w in y3}])
        plan.outputs.append(plan.express(targets[4], [a3, l3]))
    if order == 4:
        l4 = lines[2]
        c2, d2 = combine((Fraction(1, 2), plan.values[a2])), combine((Fraction(1, 2), plan.values[l2]))
        # F_5's trees with ≥ 2 root children = λ (C_4 without F'[y_4]) + μ F''''[F⁴], with
        # y_3 = p C_2 + q D_2 entering linearly through F''[F, y_3]: solve for λ, λp, λq, μ.
        base = curve_coefficient(y + [{}, {}], 4)
        rest = {t: c for t, c in targets[5].items() if len(t) != 1}
        solution = _solve([base, derivative_of([y[0], c2]), derivative_of([y[0], d2]), plan.values[l4]], rest)
        if solution is None or solution[0] == 0:
            return None
        lam, lp, lq, mu = solution
        y3b = {a2: lp / lam / 2, l2: lq / lam / 2}
        b3 = plan.curve([u1, u2, {i: 6 * w for i, w in y3b.items()}])
        partial = curve_coefficient(y + [plan.value_of(tuple(y3b.items())), {}], 4)
        t = _root_children(combine((1, targets[5]), (-lam, partial), (-mu, plan.values[l4])))
        y4 = None if t is None else plan.express(combine((1 / lam, t)), [a3, b3, l3])
        if y4 is None:
            return None
        plan.curve([u1, u2, {i: 6 * w for i, w in y3b.items()}, {i: 24 * w for i, w in y4}])
        plan.outputs.append(plan.express(targets[5], [len(plan.steps) - 1, l4]))
    if any(out is None for out in plan.outputs) or any(
            plan.value_of(out) != targets[j] for j, out in enumerate(plan.outputs, start=1)):
        return None
    return plan
