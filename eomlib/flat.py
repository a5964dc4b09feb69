"""Flat-vector views of a loss on pytree parameters.

All of eomlib's maths acts on the flat vector θ ∈ R^d obtained with
:func:`jax.flatten_util.ravel_pytree`; results are unflattened to the caller's pytree.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
from jax.flatten_util import ravel_pytree


class FlatProblem(NamedTuple):
    """A loss seen as a function of the flat vector ``x`` (``theta = unravel(x)``)."""

    x0: jax.Array
    unravel: Callable
    loss: Callable  # x ↦ f(unravel(x))
    grad: Callable  # x ↦ ∇f (flat)


def flatten_problem(loss: Callable, theta) -> FlatProblem:
    """Flatten ``theta`` and wrap ``loss`` and its gradient to act on the flat vector."""
    x0, unravel = ravel_pytree(theta)

    def flat_loss(x):
        return loss(unravel(x))

    def flat_grad(x):
        return ravel_pytree(jax.grad(loss)(unravel(x)))[0]

    return FlatProblem(x0, unravel, flat_loss, flat_grad)


def unravel_stack(unravel: Callable, xs: jax.Array):
    """Unflatten a stack of flat vectors ``xs[k]`` into one pytree with a leading axis."""
    return jax.vmap(unravel)(xs)


def grid_size(num_steps: int) -> int:
    """Static length of the save grid for ``num_steps`` steps: the next power of two ≥ 8.

    Jitted solvers take the number of steps as a *traced* integer and pad their outputs to
    this static size, so runs with 90 and 100 steps (a learning-rate sweep at a fixed
    horizon) share one compilation, and a ``vmap`` may batch different step counts.
    """
    size = 8
    while size < num_steps:
        size *= 2
    return size
