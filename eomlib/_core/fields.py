r"""The EoM vector field and the modified loss.

The order-:math:`\gamma` EoM is

.. math::  \frac{d\theta}{dt} = -\nabla f(\theta) - \eta \sum_{k=1}^{\gamma} \eta^{k-1}\xi_k(\theta)
           = \sum_{j=1}^{\gamma+1} \eta^{j-1} F_j(\theta),

order 0 being gradient flow.  The learning rate is an *argument* of the returned field, so
``jax.jit(field)`` compiles once and serves every :math:`\eta` (sliders never recompile) and
``jax.vmap`` over :math:`\eta` batches a sweep.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .budget import check_order_cost
from .counterterms import _reference_fields, modified_field_fn
from .dataparallel import is_data_parallel, jit_with_loss
from .flat import flatten_problem
from .smoothness import warn_if_not_smooth
from .validate import (check_callable, check_lr, check_method, check_order, check_theta,
                       guard_traced)


def flat_eom_field(grad: Callable, order: int, *, method: str = "trees") -> Callable:
    """``(x, lr) ↦ Σ_{j ≤ order+1} lr^{j-1} F_j(x)`` for a flat gradient ``grad``."""
    check_method(method)

    def field_fn(x):
        return -grad(x)

    if method == "recursion":
        fields = _reference_fields(field_fn, order)
        return lambda x, lr: sum(lr ** (j - 1) * fields[j - 1](x) for j in range(1, order + 2))

    return modified_field_fn(field_fn, order)


def eom_vector_field(loss: Callable, order: int, *, method: str = "trees") -> Callable:
    r"""The order-``order`` EoM field as a function ``(theta, lr) ↦ dθ/dt``.

    .. math::  \frac{d\theta}{dt} = -\nabla f - \eta\sum_{k=1}^{order}\eta^{k-1}\xi_k

    ``order = 0`` is gradient flow, ``order = 1`` adds :math:`\tfrac{\eta}{2}Hg`, and so on.
    The output has the pytree structure of ``theta``; ``lr`` may be traced.  Because the
    learning rate is an argument, ``jax.jit(field)`` compiles once for every η and
    ``jax.vmap`` over ``lr`` batches a sweep.  No Hessian is formed: the counter terms are
    nested Jacobian-vector products of the gradient.  The field warns once (a
    ``UserWarning``) when ``order`` ≥ 1 and the loss is not smooth
    (:func:`eomlib.non_smooth_reason`).

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        order: the EoM order γ, the number of counter terms, an integer ≥ 0 (0 = gradient
            flow).
        method: ``"trees"`` (default) or ``"recursion"`` (the slow literal reference), see
            :func:`eomlib.counter_terms`.

    Returns:
        A function ``field(theta, lr)`` that returns dθ/dt, a pytree like ``theta``, for
        the learning rate ``lr`` = η (a scalar, possibly traced).

    Raises:
        ValueError: if ``loss`` is not callable, ``order`` is not a non-negative integer or
            ``method`` is not ``"trees"`` or ``"recursion"``; when the field is called, if
            ``lr`` is not a finite scalar > 0 or ``theta`` not a pytree of finite floats.

    Example:
        >>> field = jax.jit(eomlib.eom_vector_field(loss, 2))
        >>> field(theta, 0.1)  # dθ/dt of the order-2 EoM at η = 0.1
    """
    check_callable(loss)
    order = check_order(order)
    check_order_cost(order)
    check_method(method)

    def field(theta, lr):
        check_lr(lr)
        check_theta(theta, "theta")
        warn_if_not_smooth(loss, theta, order)
        if is_data_parallel(loss):  # compiled with the data as an input: it stays sharded
            return _field_jit(loss, theta, lr, order, method)
        return _field(loss, theta, lr, order, method)

    field.__doc__ = f"Order-{order} EoM field (theta, lr) ↦ dθ/dt."
    return field


def _field(loss, theta, lr, order: int, method: str):
    """dθ/dt of the order-``order`` EoM at ``theta`` (the body of :func:`eom_vector_field`)."""
    problem = flatten_problem(loss, theta)
    value = flat_eom_field(problem.grad, order, method=method)(problem.x0, lr)
    return problem.unravel(guard_traced(value, lr, "lr"))


_field_jit = jit_with_loss(("loss", "order", "method"))(_field)


def modified_loss(loss: Callable, lr) -> Callable:
    r"""The modified loss :math:`\tilde f = f + \frac{\eta}{4}\|\nabla f\|^2`.

    Its gradient flow is the order-1 EoM, since :math:`\nabla\|\nabla f\|^2 = 2Hg`
    (the implicit gradient regularisation of Barrett & Dherin, 2021).  No such loss exists
    for :math:`\xi_2` and beyond: they are not gradients.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        lr: the learning rate η, a finite scalar > 0 (may be traced: then it is checked at
            run time, see the README's error contract).

    Returns:
        The function :math:`\theta \mapsto f(\theta) + \frac{\eta}{4}\|\nabla f(\theta)\|^2`
        (a scalar), differentiable again with ``jax.grad``.  It warns once (a
        ``UserWarning``) when the loss is not smooth (:func:`eomlib.non_smooth_reason`).

    Raises:
        ValueError: if ``loss`` is not callable or a concrete ``lr`` is not a finite scalar
            > 0 (a traced one is checked at run time).

    Example:
        >>> tilde_f = eomlib.modified_loss(loss, 0.1)
        >>> -jax.grad(tilde_f)(theta)  # equals eomlib.eom_vector_field(loss, 1)(theta, 0.1)
    """

    check_callable(loss)
    check_lr(lr)

    def tilde_f(theta):
        warn_if_not_smooth(loss, theta, 1)
        g = ravel_pytree(jax.grad(loss)(theta))[0]
        return guard_traced(loss(theta) + lr / 4.0 * jnp.vdot(g, g), lr, "lr")

    return tilde_f
