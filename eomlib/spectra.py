r"""Sharpness: the top Hessian eigenvalue :math:`\lambda_{\max}` without forming the Hessian.

Power iteration on :math:`v \mapsto Hv`, with Hessian-vector products computed as
``jax.jvp`` of ``jax.grad``.  The result is the Rayleigh quotient :math:`v^\top H v` of the
converged unit vector, i.e. the eigenvalue of largest magnitude (for the losses of this
book, the largest positive one: the quantity that sets the stability limit
:math:`\eta\lambda_{\max} < 2` of gradient descent).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp

from .flat import flatten_problem


def hvp(grad: Callable, x, v):
    """Hessian-vector product :math:`H(x)v` of the flat gradient ``grad`` (forward-over-reverse)."""
    return jax.jvp(grad, (x,), (v,))[1]


@partial(jax.jit, static_argnames=("loss", "num_iters"))
def _sharpness(loss, theta, key, num_iters):
    problem = flatten_problem(loss, theta)
    x = problem.x0
    v0 = jax.random.normal(key, x.shape, dtype=x.dtype)
    v0 = v0 / jnp.linalg.norm(v0)

    def body(_, v):
        w = hvp(problem.grad, x, v)
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(x.dtype).tiny)

    v = jax.lax.fori_loop(0, num_iters, body, v0)
    return jnp.vdot(v, hvp(problem.grad, x, v))


def sharpness(loss: Callable, theta, *, num_iters: int = 100, key=None) -> jax.Array:
    r""":math:`\lambda_{\max}(\nabla^2 f(\theta))` by ``num_iters`` steps of power iteration.

    Args:
        loss: θ ↦ scalar, θ any pytree.
        theta: the point at which the Hessian is taken.
        num_iters: power-iteration steps (each one Hessian-vector product).
        key: PRNG key for the start vector (default ``jax.random.PRNGKey(0)``).
    """
    if key is None:
        key = jax.random.PRNGKey(0)
    return _sharpness(loss, theta, key, int(num_iters))
