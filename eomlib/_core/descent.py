r"""Gradient descent, full batch: :math:`\theta_{k+1} = \theta_k - \eta\nabla f(\theta_k)`."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from .dataparallel import jit_with_loss
from .blowup import finish_run, loss_flags, run_status
from .flat import flatten_problem, unravel_stack
from .solve import check_run


@jit_with_loss(("loss", "grid"))
def gd_flat(loss: Callable, theta0, lr, num_steps, grid: int):
    """GD iterates as flat vectors, shape ``(grid + 1, d)``, and the run's status
    (``eomlib._core.blowup``: the iterates and the loss at every iterate are checked; the loss
    comes with each gradient, and once more at the last iterate).

    ``num_steps`` may be traced; rows after ``num_steps`` repeat the last iterate.
    """
    problem = flatten_problem(loss, theta0)

    yes = jnp.bool_(True)

    def gd_step(y):
        value, g = problem.value_and_grad(y)
        return y - lr * g, loss_flags(value)

    def step(carry, k):
        x, defined, bounded = carry
        # cond, not where: past num_steps (a padded grid) no gradient is computed; under
        # vmap both branches run, as where would.
        x_next, (d, b) = jax.lax.cond(k < num_steps, gd_step, lambda y: (y, (yes, yes)), x)
        return (x_next, defined & d, bounded & b), x_next

    (last, defined, bounded), xs = jax.lax.scan(step, (problem.x0, yes, yes), jnp.arange(grid))
    xs = jnp.concatenate([problem.x0[None], xs], axis=0)
    d, b = loss_flags(problem.loss(last))
    return xs, run_status(xs, defined & d, bounded & b)


def gd_trajectory(loss: Callable, theta0, lr, num_steps: int, *, max_num_steps: int | None = None):
    r"""The gradient-descent iterates :math:`\theta_0, \dots, \theta_n`.

    .. math::  \theta_{k+1} = \theta_k - \eta \nabla f(\theta_k)

    Full-batch GD in one jitted ``jax.lax.scan``; the number of steps is traced, so runs
    whose step counts fall in the same power-of-two bucket share one compilation.  Under
    ``jax.jit`` or ``jax.vmap`` an overflow becomes a run-time error instead of a
    :class:`eomlib.DivergenceError`.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays).
        lr: the learning rate η, a finite scalar > 0 (may be traced: ``jax.vmap`` over it
            for sweeps).
        num_steps: n, the number of GD steps, an integer ≥ 0.
        max_num_steps: an upper bound on ``num_steps`` over calls that should share one
            compilation (a slider whose n = round(T/η) varies: pass the largest n), an
            integer ≥ ``num_steps`` or None.  The program is compiled for a power-of-two
            padded length; default None: ``num_steps``.

    Returns:
        A pytree like ``theta0`` whose leaves have a new leading axis of length n + 1:
        :math:`\theta_0, \dots, \theta_n`.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if the iterates overflow to NaN/inf; the message reports
            η·λ_max(θ_0).

    Example:
        >>> traj = eomlib.gd_trajectory(loss, theta0, 0.1, 100)
        >>> jax.tree_util.tree_map(lambda a: a[-1], traj)  # θ_100
    """
    xs = gd_flat_checked(loss, theta0, lr, num_steps, max_num_steps)
    return unravel_stack(theta0, xs)


def gd_flat_checked(loss, theta0, lr, num_steps, max_num_steps=None, *, padded=False):
    """Validated ``gd_flat``; raises on overflow. Returns the flat iterates (with
    ``padded``, the whole padded grid: rows after ``num_steps`` repeat the last)."""
    run = check_run(loss, theta0, lr, num_steps, 0, None, max_num_steps)
    xs, ok = gd_flat(loss, theta0, lr, run.num_steps, run.grid)
    return finish_run(xs, ok, "gradient descent", loss, theta0, lr, run.num_steps, padded)
