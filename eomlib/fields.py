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

from .counterterms import _reference_fields, modified_field_fn
from .flat import flatten_problem
from .models import warn_if_loss_not_smooth
from .validate import check_order


def flat_eom_field(grad: Callable, order: int, *, method: str = "trees") -> Callable:
    """``(x, lr) ↦ Σ_{j ≤ order+1} lr^{j-1} F_j(x)`` for a flat gradient ``grad``."""

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
    The output has the pytree structure of ``theta``; ``lr`` may be traced.
    """
    order = check_order(order)
    if method not in ("trees", "recursion"):
        raise ValueError(f"method must be 'trees' or 'recursion', got {method!r}.")
    warn_if_loss_not_smooth(loss, order)

    def field(theta, lr):
        problem = flatten_problem(loss, theta)
        return problem.unravel(flat_eom_field(problem.grad, order, method=method)(problem.x0, lr))

    field.__doc__ = f"Order-{order} EoM field (theta, lr) ↦ dθ/dt."
    return field


def modified_loss(loss: Callable, lr) -> Callable:
    r"""The modified loss :math:`\tilde f = f + \frac{\eta}{4}\|\nabla f\|^2`.

    Its gradient flow is the order-1 EoM, since :math:`\nabla\|\nabla f\|^2 = 2Hg`
    (the implicit gradient regularisation of Barrett & Dherin, 2021).  No such loss exists
    for :math:`\xi_2` and beyond: they are not gradients.
    """
    warn_if_loss_not_smooth(loss, 1)

    def tilde_f(theta):
        g = ravel_pytree(jax.grad(loss)(theta))[0]
        return loss(theta) + lr / 4.0 * jnp.vdot(g, g)

    return tilde_f
