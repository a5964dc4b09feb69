"""Flat-vector views of a loss on pytree parameters.

All of eomlib's maths acts on the flat vector θ ∈ R^d obtained with
:func:`jax.flatten_util.ravel_pytree`; results are unflattened to the caller's pytree.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import numpy as np
from jax.flatten_util import ravel_pytree


class FlatProblem(NamedTuple):
    """A loss seen as a function of the flat vector ``x`` (``theta = unravel(x)``)."""

    x0: jax.Array
    unravel: Callable
    loss: Callable  # x ↦ f(unravel(x))
    grad: Callable  # x ↦ ∇f (flat)
    value_and_grad: Callable  # x ↦ (f, ∇f (flat))


def flatten_problem(loss: Callable, theta) -> FlatProblem:
    """Flatten ``theta`` and wrap ``loss`` and its gradient to act on the flat vector."""
    x0, unravel = ravel_pytree(theta)

    def flat_loss(x):
        return loss(unravel(x))

    def flat_grad(x):
        return ravel_pytree(jax.grad(loss)(unravel(x)))[0]

    def flat_value_and_grad(x):
        value, g = jax.value_and_grad(loss)(unravel(x))
        return value, ravel_pytree(g)[0]

    return FlatProblem(x0, unravel, flat_loss, flat_grad, flat_value_and_grad)


HOST_SLICE_MAX_ELEMENTS = 1 << 20
"""Arrays up to this size (8 MiB in float64) are trimmed on the host on any device."""


def _host_sliceable(x) -> bool:
    """A concrete array that is cheap to trim on the host: on the CPU, or small."""
    if isinstance(x, jax.core.Tracer):
        return False
    devices = getattr(x, "devices", None)
    on_cpu = devices is None or all(d.platform == "cpu" for d in devices())
    return on_cpu or x.size <= HOST_SLICE_MAX_ELEMENTS


def _home(x):
    """The single device holding ``x`` (None: several, or not a JAX array)."""
    devices = x.devices() if hasattr(x, "devices") else ()
    return next(iter(devices)) if len(devices) == 1 else None


def take_leading(xs, length: int):
    """``xs[:length]`` along the leading axis, without compiling a program per length.

    The solvers return arrays padded to a power-of-two grid; a slider whose step count
    moves with η asks for a new length on almost every move, and an eager JAX slice (or a
    ``vmap`` over the new shape) compiles a small XLA program for each new shape.  On the
    CPU, and for small arrays on any device, the slice is taken by numpy and placed with
    :func:`jax.device_put` (no compilation, one copy; ``jnp.asarray`` would compile a
    program per shape).  Large arrays on accelerators, and tracers, get an ordinary JAX
    slice.
    """
    if xs.shape[0] == length:
        return xs
    if _host_sliceable(xs):
        return jax.device_put(np.ascontiguousarray(np.asarray(xs)[:length]), _home(xs))
    return xs[:length]


def unravel_stack(like, xs: jax.Array):
    """Unflatten a stack of flat vectors ``xs[k]`` (ravelled like the pytree ``like``, with
    :func:`jax.flatten_util.ravel_pytree`) into one pytree with a leading axis.

    On the CPU (and for small concrete arrays anywhere) the columns are split and reshaped
    with numpy, the leaf shapes and dtypes read off ``like`` itself: a new stack length
    compiles nothing and nothing is traced.  Otherwise ``jax.vmap`` of the unravel function.
    """
    if not _host_sliceable(xs):
        return jax.vmap(ravel_pytree(like)[1])(xs)
    leaves, treedef = jax.tree_util.tree_flatten(like)
    flat = np.asarray(xs)
    out, start = [], 0
    for leaf in leaves:
        shape, dtype = np.shape(leaf), jax.numpy.result_type(leaf)
        size = int(np.prod(shape, dtype=int))
        block = flat[:, start:start + size].reshape((flat.shape[0], *shape))
        out.append(jax.device_put(np.ascontiguousarray(block, dtype=dtype), _home(xs)))
        start += size
    if start != flat.shape[-1]:
        raise ValueError(f"xs holds vectors of length {flat.shape[-1]}, but like ravels to {start}.")
    return jax.tree_util.tree_unflatten(treedef, out)


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
