r"""Gradient descent, full batch: :math:`\theta_{k+1} = \theta_k - \eta\nabla f(\theta_k)`."""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp

from .blowup import all_finite, ensure_finite
from .flat import flatten_problem, grid_size, take_leading, unravel_stack
from .validate import check_loss, check_lr, check_max_num_steps, check_num_steps, check_theta


@partial(jax.jit, static_argnames=("loss", "grid"))
def gd_flat(loss: Callable, theta0, lr, num_steps, grid: int):
    """GD iterates as flat vectors, shape ``(grid + 1, d)``, and a finiteness flag.

    ``num_steps`` may be traced; rows after ``num_steps`` repeat the last iterate.
    """
    problem = flatten_problem(loss, theta0)

    def step(x, k):
        # cond, not where: past num_steps (a padded grid) no gradient is computed; under
        # vmap both branches run, as where would.
        x_next = jax.lax.cond(k < num_steps, lambda y: y - lr * problem.grad(y), lambda y: y, x)
        return x_next, x_next

    _, xs = jax.lax.scan(step, problem.x0, jnp.arange(grid))
    xs = jnp.concatenate([problem.x0[None], xs], axis=0)
    return xs, all_finite(xs)


def gd_trajectory(loss: Callable, theta0, lr, num_steps: int, *, max_num_steps: int | None = None):
    r"""The gradient-descent iterates :math:`\theta_0, \dots, \theta_n`.

    .. math::  \theta_{k+1} = \theta_k - \eta \nabla f(\theta_k)

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays).
        lr: the learning rate η > 0 (may be traced: ``jax.vmap`` over it for sweeps).
        num_steps: n ≥ 0.
        max_num_steps: an upper bound on ``num_steps`` over calls that should share one
            compilation (a slider whose n = round(T/η) varies: pass the largest n).  The
            program is compiled for a power-of-two padded length; default ``num_steps``.

    Returns:
        A pytree like ``theta0`` whose leaves have a new leading axis of length n + 1.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        DivergenceError: if the iterates overflow to NaN/inf; the message reports
            η·λ_max(θ_0).
    """
    xs = gd_flat_checked(loss, theta0, lr, num_steps, max_num_steps)
    return unravel_stack(theta0, xs)


def gd_flat_checked(loss, theta0, lr, num_steps, max_num_steps=None, *, padded=False):
    """Validated :func:`gd_flat`; raises on overflow. Returns the flat iterates (with
    ``padded``, the whole padded grid: rows after ``num_steps`` repeat the last)."""
    check_lr(lr)
    num_steps = check_num_steps(num_steps)
    grid = grid_size(check_max_num_steps(max_num_steps, num_steps))
    check_theta(theta0)
    check_loss(loss, theta0)
    xs, ok = gd_flat(loss, theta0, lr, num_steps, grid)
    xs = ensure_finite(xs, ok, "gradient descent", loss, theta0, lr)
    return xs if padded else take_leading(xs, num_steps + 1)
