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
  (:math:`\sum_\tau c_\tau H v_\tau = H \sum_\tau c_\tau v_\tau`).  Repeated
  directions are passed as the same array, so the nested derivatives that different trees
  share are computed once (``TreeEvaluator``).  At orders 2 and 4 several trees are
  obtained from one derivative along a polynomial curve :math:`x + \sum_i s^i y_i`, whose
  coefficient of :math:`s^m` is by Faà di Bruno's formula a fixed combination of trees
  (``curve_derivative``; the curves are chosen once, exactly, by ``eomlib.trees.curve_plan``).
* ``method="recursion"``: the reference, the recursion of THEORY §2 applied literally to
  functions (Lie derivatives as nested ``jax.jvp``).  Exponentially slower; used to test the
  tree evaluation.

No Hessian is ever formed: only Hessian-vector products and higher directional derivatives.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import jax

from .budget import check_order_cost
from . import trees as _trees
from .cse import eliminate_common_subexpressions
from .dataparallel import is_data_parallel, jit_with_loss
from .flat import flatten_problem
from .smoothness import warn_if_not_smooth
from .validate import check_callable, check_method, check_order, check_theta


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
    A tree :math:`[\\tau_1,\\dots,\\tau_m]` is ``multiderivative`` of ``field`` along the
    values of its children, leaves (the array :math:`F(x)` itself) first, so the outer
    derivatives of every tree run along the *same arrays*: the nested derivatives that two
    trees have in common (:math:`F''[F, F'F]` inside :math:`F'''[F, F, F'F]`, or
    :math:`F^{(k)}[F,\\dots,F]` inside :math:`F^{(k+1)}[F,\\dots,F]`) are then one
    computation to XLA's common-subexpression elimination.
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

        The children of every tree are evaluated first.  A tree whose value is then known
        (it is the child of a larger tree, as the lower-order terms of a modified field are)
        costs one scaled addition.  The other trees are grouped by their children but the
        last.  A group of one is evaluated as :math:`w\,F(\tau)`, the weight kept outside
        the derivative so that its directions stay the shared arrays (a weight folded into
        a direction makes :math:`F''[F, wF]` a derivative along two *different* arrays,
        which is about twice the work of :math:`F''[F, F]`).  A larger group is contracted
        before differentiating, by multilinearity of :math:`F^{(m)}`:
        :math:`\sum_i w_i F^{(m)}[\dots, v_i] = F^{(m)}[\dots, \sum_i w_i v_i]`.
        """
        for tree in weights:
            for child in tree:
                self.value(child)
        total = None
        groups: dict = {}
        for tree, w in weights.items():
            if not tree or tree in self._memo:  # the leaf F(x), or a value already known
                term = w * self.value(tree)
                total = term if total is None else total + term
            else:
                groups.setdefault(tree[:-1], []).append((w, tree[-1]))
        for key, items in groups.items():
            if len(items) == 1:
                w, last = items[0]
                term = w * self.value(key + (last,))
            else:
                direction = sum(w * self.value(last) for w, last in items)
                term = multiderivative(self.field, self.x, [self.value(c) for c in key] + [direction])
            total = term if total is None else total + term
        return total


def curve_derivative(field: Callable, x, derivatives) -> jax.Array:
    r""":math:`\frac{d^m}{ds^m}F(c(s))\big|_{s=0}` along a curve with :math:`c(0) = x` and
    :math:`c^{(i)}(0) =` ``derivatives[i - 1]``, i = 1…m.

    m nested ``jax.jvp``: level k differentiates level k − 1 at :math:`(x, c', \dots,
    c^{(k-1)})` along :math:`(c', \dots, c^{(k)})`, i.e. the total derivative along the
    curve (Faà di Bruno: :math:`(F\circ c)'' = F''[c', c'] + F'[c'']`, …).  Curves that share
    their first derivatives share those levels.
    """

    def level(k: int) -> Callable:
        if k == 0:
            return lambda y, *us: field(y)
        lower = level(k - 1)
        return lambda y, *us: jax.jvp(lower, (y,) + us[: k - 1], us[:k])[1]

    return level(len(derivatives))(x, *derivatives)


CURVE_ORDERS = (2, 4)
"""Orders whose modified field is evaluated with a curve plan (``eomlib.trees.curve_plan``)
rather than tree by tree: there the plan needs fewer derivative passes (order 2: one degree-2
curve instead of ``F'[·]`` and ``F''[F, F]``; order 4: 9 passes instead of about 14).  At
order 3 the two measure the same and the trees are kept."""


def _linear(values: list, combination) -> jax.Array:
    """``Σ w·values[i]``; a lone weight 1 returns the array itself (shared, not copied)."""
    if len(combination) == 1 and combination[0][1] == 1:
        return values[combination[0][0]]
    return sum(float(w) * values[i] for i, w in combination)


def _curve_plan_values(plan, field: Callable, x) -> list:
    values: list = []
    for step in plan.steps:
        if step[0] == "field":
            values.append(field(x))
        elif step[0] == "line":
            values.append(multiderivative(field, x, [values[0]] * step[1]))
        else:
            values.append(curve_derivative(field, x, [_linear(values, u) for u in step[1]]))
    return values


CSE_FROM_ORDER = 1
"""Modified fields of this order and above are traced through
``eomlib.cse.eliminate_common_subexpressions`` (order 0 is the gradient alone).  At order
1 XLA already shares most of the gradient and its ``jvp``, but not all: through a layer norm
the order-1 solve of chapter 5 runs about 15 % faster deduplicated."""


def _deduplicated(fn: Callable, order: int) -> Callable:
    return eliminate_common_subexpressions(fn) if order >= CSE_FROM_ORDER else fn


def modified_field_fn(field: Callable, order: int) -> Callable:
    r"""``(x, lr) ↦ modified_field(field, x, order, lr)`` as one function: from
    order ``CSE_FROM_ORDER`` on its repeated derivatives are bound once (``eomlib.cse``),
    and it is traced once however often a solver calls it.  Refuses an order beyond
    ``eomlib._core.budget.MAX_COUNTER_TERM``."""
    check_order_cost(order)
    return _deduplicated(lambda y, eta: _modified_field(field, y, order, eta), order)


def modified_field(field: Callable, x, order: int, lr) -> jax.Array:
    r"""The order-``order`` modified field :math:`\sum_{j\le order+1}\eta^{j-1}F_j(x)` of
    ``field`` (:math:`F = -\nabla f`, flat), ``lr`` = η possibly traced."""
    return modified_field_fn(field, order)(x, lr)


def _modified_field(field: Callable, x, order: int, lr) -> jax.Array:
    plan = _trees.curve_plan(order) if order in CURVE_ORDERS else None
    if plan is None:
        return TreeEvaluator(field, x).combination(flat_modified_field_weights(order, lr))
    values = _curve_plan_values(plan, field, x)
    weights: dict = {}
    for j, output in enumerate(plan.outputs):
        for i, w in output:
            weights[i] = weights.get(i, 0.0) + float(w) * lr**j
    return sum(w * values[i] for i, w in weights.items())


def modified_field_term_fn(field: Callable, j: int) -> Callable:
    """``x ↦ modified_field_term(field, x, j)`` as one function (see
    ``modified_field_fn``)."""
    check_order_cost(j - 1, "the counter term of order")
    return _deduplicated(lambda y: _modified_field_term(field, y, j), j - 1)


def modified_field_term(field: Callable, x, j: int) -> jax.Array:
    """:math:`F_j(x)` alone (:math:`\\xi_k = -F_{k+1}`)."""
    return modified_field_term_fn(field, j)(x)


def _modified_field_term(field: Callable, x, j: int) -> jax.Array:
    plan = _trees.curve_plan(j - 1) if j - 1 in CURVE_ORDERS else None
    if plan is None:
        weights = {t: float(c) for t, c in _trees.modified_field_term(j)}
        return TreeEvaluator(field, x).combination(weights)
    return _linear(_curve_plan_values(plan, field, x), plan.outputs[j - 1])


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

    The functions evaluate the trees of :func:`eomlib.trees.counter_term_trees` at θ with
    nested Jacobian-vector products of the gradient (no Hessian is formed); they are pure,
    so ``jax.jit`` and ``jax.vmap`` apply.  Called with a loss whose gradient has a kink or
    jump (e.g. relu), they warn once (a ``UserWarning``): the higher derivatives then miss
    the curvature concentrated at the kinks (see :func:`eomlib.non_smooth_reason`).

    Args:
        loss: a JAX-differentiable function θ ↦ scalar, θ any pytree.
        order: number of counter terms, an integer ≥ 0 (0 returns ``()``).
        method: ``"trees"`` (fast, default) or ``"recursion"`` (literal reference: Lie
            derivatives as nested ``jax.jvp``, exponentially slower; for tests).

    Returns:
        A tuple of ``order`` functions ``(xi_1, …, xi_order)``; ``xi_k(theta)`` returns
        :math:`\xi_k(\theta)` as a pytree like ``theta``.

    Raises:
        ValueError: if ``order`` is not a non-negative integer or above 8 (the highest
            order eomlib compiles, ``eomlib._core.budget.MAX_COUNTER_TERM``: the message
            gives the estimated compile time), ``method`` is not ``"trees"`` or
            ``"recursion"``, or ``loss`` is not callable.

    Example:
        >>> xi_1, xi_2 = eomlib.counter_terms(loss, 2)
        >>> xi_1(theta)  # ½ H g, a pytree like theta
    """
    order = check_order(order)
    check_method(method)
    check_callable(loss)
    check_order_cost(order)

    def make(k: int) -> Callable:
        def xi_k(theta):
            check_theta(theta, "theta")
            warn_if_not_smooth(loss, theta, order)
            if is_data_parallel(loss):  # compiled with the data as an input: it stays sharded
                return _counter_term_jit(loss, theta, k, method)
            return _counter_term(loss, theta, k, method)

        xi_k.__name__ = f"xi_{k}"
        xi_k.__doc__ = f"Counter term ξ_{k}(θ) of the EoM (pytree like θ)."
        return xi_k

    return tuple(make(k) for k in range(1, order + 1))


def _counter_term(loss, theta, k: int, method: str):
    """ξ_k(θ) as a pytree like θ (the body of the functions of :func:`counter_terms`)."""
    problem = flatten_problem(loss, theta)
    field = _negated(problem.grad)
    if method == "trees":
        flat = -modified_field_term(field, problem.x0, k + 1)
    else:
        flat = -_reference_fields(field, k)[k](problem.x0)
    return problem.unravel(flat)


_counter_term_jit = jit_with_loss(("loss", "k", "method"))(_counter_term)


def counter_term_coefficients(k: int) -> list:
    r"""ξ_k as a human-readable list of ``(tree, coefficient)`` in terms of ``g`` and its
    derivatives: tree ``[•]`` is ``H g``, ``[•,•]`` is ``∇³f[g,g]``, and so on.

    (The sign differs from :func:`eomlib.trees.counter_term_trees`, which is written in
    the field ``F = -g``: a tree with ``n`` nodes carries the factor ``(-1)^n``.)

    In general a tree with root children :math:`\tau_1, \dots, \tau_m` is
    :math:`\nabla^{m+1} f[v_1, \dots, v_m]`, :math:`v_i` the children's vectors, and ``•``
    is ``g`` itself; a tree with n nodes involves derivatives of f up to order n.

    Args:
        k: the index of the counter term, an integer ≥ 1.

    Returns:
        A list of ``(str, fractions.Fraction)`` pairs: the tree in bracket notation
        (:func:`eomlib.trees.tree_to_str`) and its exact coefficient in ξ_k.

    Raises:
        ValueError: if ``k`` is not an integer ≥ 1.

    Example:
        >>> eomlib.counter_term_coefficients(2)  # ξ_2 = ⅓ H²g + 1/12 ∇³f[g,g]
        [('[•,•]', Fraction(1, 12)), ('[[•]]', Fraction(1, 3))]
    """
    if check_order(k) < 1:
        raise ValueError(f"k must be an integer >= 1 (ξ_1, ξ_2, ...), got {k}.")
    return [
        (_trees.tree_to_str(t), c * (-1) ** _trees.num_nodes(t))
        for t, c in _trees.counter_term_trees(k)
    ]


__all__ = ["counter_terms", "counter_term_coefficients", "curve_derivative", "modified_field",
           "multiderivative", "TreeEvaluator"]
