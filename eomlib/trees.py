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
import math
from collections import defaultdict
from fractions import Fraction

Tree = tuple
LEAF: Tree = ()


def make_tree(children) -> Tree:
    """The tree whose root has the given children (order does not matter)."""
    return tuple(sorted(children))


def num_nodes(tree: Tree) -> int:
    """Number of nodes |τ|."""
    return 1 + sum(num_nodes(child) for child in tree)


def graft(tree: Tree, scion: Tree) -> dict:
    """All ways of attaching ``scion`` as a new child of a node of ``tree``.

    Returns ``{tree': multiplicity}``: the tree form of :math:`F(\\tau)'F(\\sigma)`.
    """
    out: dict = defaultdict(int)
    out[make_tree(tree + (scion,))] += 1
    for i, child in enumerate(tree):
        for grafted, mult in graft(child, scion).items():
            out[make_tree(tree[:i] + (grafted,) + tree[i + 1 :])] += mult
    return dict(out)


def lie_derivative(combo: dict, along: dict) -> dict:
    """:math:`G'\\,F_k` for ``G = combo`` and ``F_k = along`` (both ``{tree: coefficient}``)."""
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
    """:math:`F_j` as a sorted tuple of ``(tree, Fraction)`` pairs (``F_1 = F = -g``)."""
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
    """:math:`\\xi_k = -F_{k+1}` as ``(tree, Fraction)`` pairs, trees of the field ``F = -g``."""
    return tuple((t, -c) for t, c in modified_field_term(k + 1))


def tree_to_str(tree: Tree) -> str:
    """Bracket notation: ``•``, ``[•]``, ``[•,[•]]`` ..."""
    if not tree:
        return "•"
    return "[" + ",".join(tree_to_str(child) for child in tree) + "]"
