r"""Counter terms :math:`\xi_k` of the Equation of Motion, for any order.

The EoM is :math:`\dot\theta = -g - \eta\,\xi(\theta)` with
:math:`\xi = \sum_{k\ge1}\eta^{k-1}\xi_k`, chosen so that its flow over time :math:`\eta`
equals one gradient-descent step to every order in :math:`\eta`.  For example

.. math::
   \xi_1 = \tfrac12 Hg, \qquad
   \xi_2 = \tfrac13 H^2 g + \tfrac1{12}\nabla^3 f[g,g], \qquad
   \xi_3 = \tfrac14 H^3 g + \tfrac1{12} H\,\nabla^3 f[g,g] + \tfrac1{12}\nabla^3 f[g,Hg].

Two evaluations are provided:

* ``method="trees"`` (default): the recursion is carried out once, symbolically, on rooted
  trees (:mod:`eomlib.trees`); at a point :math:`\theta` every elementary differential is
  evaluated once with nested Jacobian-vector products of the gradient and shared between
  all terms and orders, and terms with the same root derivative are contracted together
  (:math:`\sum_\tau c_\tau H v_\tau = H \sum_\tau c_\tau v_\tau`).
* ``method="recursion"``: the reference, the recursion of THEORY §2 applied literally to
  functions (Lie derivatives as nested ``jax.jvp``).  Exponentially slower; used to test the
  tree evaluation.

No Hessian is ever formed: only Hessian-vector products and higher directional derivatives.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import jax

from . import trees as _trees
from .flat import flatten_problem
from .models import warn_if_loss_not_smooth
from .validate import check_order


def multiderivative(field: Callable, x, directions) -> jax.Array:
    r""":math:`F^{(m)}(x)[v_1,\dots,v_m]` by ``m`` nested forward-mode derivatives."""
    if not directions:
        return field(x)
    first, rest = directions[0], directions[1:]
    return jax.jvp(lambda y: multiderivative(field, y, rest), (x,), (first,))[1]


class TreeEvaluator:
    """Elementary differentials :math:`F(\\tau)(x)` of ``field`` at one point, memoised.

    Every subtree is evaluated once (at trace time), so shared sub-expressions such as
    :math:`Hg` or :math:`\\nabla^3 f[g,g]` are computed once for all terms and orders.
    """

    def __init__(self, field: Callable, x):
        self.field = field
        self.x = x
        self._memo: dict = {}

    def value(self, tree) -> jax.Array:
        if tree not in self._memo:
            children = [self.value(child) for child in tree]
            self._memo[tree] = multiderivative(self.field, self.x, children)
        return self._memo[tree]

    def combination(self, weights: Mapping) -> jax.Array:
        r""":math:`\sum_\tau w_\tau F(\tau)(x)` (weights may be traced scalars).

        Terms whose roots share all children but the last are contracted before
        differentiating, by multilinearity of :math:`F^{(m)}`.
        """
        total = None
        groups: dict = {}
        for tree, w in weights.items():
            if not tree:  # the leaf: F(x) itself
                term = w * self.value(tree)
                total = term if total is None else total + term
            else:
                groups.setdefault(tree[:-1], []).append((w, tree[-1]))
        for key, items in groups.items():
            direction = sum(w * self.value(last) for w, last in items)
            term = multiderivative(self.field, self.x, [self.value(c) for c in key] + [direction])
            total = term if total is None else total + term
        return total


def flat_counter_term_weights(k: int) -> dict:
    """:math:`\\xi_k` as ``{tree: float}`` over elementary differentials of ``F = -g``."""
    return {t: float(c) for t, c in _trees.counter_term_trees(k)}


def flat_modified_field_weights(order: int, lr) -> dict:
    r"""The order-``order`` EoM field :math:`\sum_{j\le order+1}\eta^{j-1}F_j` as tree weights."""
    weights: dict = {}
    for j in range(1, order + 2):
        for tree, c in _trees.modified_field_term(j):
            weights[tree] = float(c) * lr ** (j - 1)
    return weights


def _negated(grad: Callable) -> Callable:
    return lambda x: -grad(x)


def _reference_fields(field: Callable, order: int) -> list:
    """F_1 … F_{order+1} by the literal recursion (functions; exponentially costly)."""
    fields: list = [field]

    def lie(k: int, g_fun: Callable) -> Callable:
        fk = fields[k - 1]
        return lambda x: jax.jvp(g_fun, (x,), (fk(x),))[1]

    for j in range(2, order + 2):
        terms = []
        for parts in range(2, j + 1):
            weight = 1.0 / math.factorial(parts)
            for ks in _trees._compositions(j, parts):
                fun = fields[ks[-1] - 1]
                for k in reversed(ks[:-1]):
                    fun = lie(k, fun)
                terms.append((weight, fun))

        def f_j(x, terms=terms):
            return -sum(w * fun(x) for w, fun in terms)

        fields.append(f_j)
    return fields


def counter_terms(loss: Callable, order: int, *, method: str = "trees") -> tuple:
    r"""The counter terms :math:`(\xi_1, \dots, \xi_{order})` of ``loss``.

    Each :math:`\xi_k` is returned as a function θ ↦ ξ_k(θ) with the pytree structure of θ,
    derived from ``loss`` by the backward-error-analysis recursion (see module docstring):
    :math:`\xi_k = -F_{k+1}`, :math:`F_1 = -\nabla f`,
    :math:`F_j = -\sum_{i\ge2}\frac1{i!}\sum_{k_1+\dots+k_i=j} D_{k_1}\cdots D_{k_{i-1}}F_{k_i}`.

    Args:
        loss: a JAX-differentiable function θ ↦ scalar, θ any pytree.
        order: number of counter terms, an integer ≥ 0 (0 returns ``()``).
        method: ``"trees"`` (fast, default) or ``"recursion"`` (literal reference).
    """
    order = check_order(order)
    if method not in ("trees", "recursion"):
        raise ValueError(f"method must be 'trees' or 'recursion', got {method!r}.")
    if not callable(loss):
        raise ValueError(f"loss must be a callable θ ↦ scalar, got {type(loss).__name__}.")
    warn_if_loss_not_smooth(loss, order)

    def make(k: int) -> Callable:
        def xi_k(theta):
            problem = flatten_problem(loss, theta)
            field = _negated(problem.grad)
            if method == "trees":
                flat = TreeEvaluator(field, problem.x0).combination(flat_counter_term_weights(k))
            else:
                flat = -_reference_fields(field, k)[k](problem.x0)
            return problem.unravel(flat)

        xi_k.__name__ = f"xi_{k}"
        xi_k.__doc__ = f"Counter term ξ_{k}(θ) of the EoM (pytree like θ)."
        return xi_k

    return tuple(make(k) for k in range(1, order + 1))


def counter_term_coefficients(k: int) -> list:
    """ξ_k as a human-readable list of ``(tree, coefficient)`` in terms of ``g`` and its
    derivatives: tree ``[•]`` is ``H g``, ``[•,•]`` is ``∇³f[g,g]``, and so on.

    (The sign differs from :func:`eomlib.trees.counter_term_trees`, which is written in
    the field ``F = -g``: a tree with ``n`` nodes carries the factor ``(-1)^n``.)
    """
    if check_order(k) < 1:
        raise ValueError(f"k must be an integer >= 1 (ξ_1, ξ_2, ...), got {k}.")
    return [
        (_trees.tree_to_str(t), c * (-1) ** _trees.num_nodes(t))
        for t, c in _trees.counter_term_trees(k)
    ]


__all__ = ["counter_terms", "counter_term_coefficients", "multiderivative", "TreeEvaluator"]
