r"""Small networks as pure functions of a parameter pytree, and the losses built from them.

Smooth activations (tanh, GELU, softplus) are the default: counter terms of order γ use
derivatives of the loss up to order γ + 2, which vanish almost everywhere for ReLU.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

ACTIVATIONS: dict = {
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
}
SMOOTH = ("tanh", "gelu", "softplus", "sigmoid")


def activation(name: str) -> Callable:
    """The activation function called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}.")
    return ACTIVATIONS[name]


_warned: set = set()


def warn_if_not_smooth(name: str, order: int) -> None:
    """Warn once per activation when a non-smooth one is used with counter terms (order ≥ 1)."""
    if order >= 1 and name not in SMOOTH and name not in _warned:
        _warned.add(name)
        warnings.warn(
            f"activation {name!r} is not smooth: its second and higher derivatives vanish almost "
            f"everywhere, so order-{order} counter terms miss the curvature of the kinks. "
            "Use tanh, gelu or softplus for EoM studies.",
            stacklevel=3,
        )


def init_mlp(key, sizes: Sequence[int], dtype=None) -> list:
    r"""Parameters of an MLP with layer widths ``sizes`` (LeCun-normal weights, zero biases).

    Returns a list of ``{"w": (n_in, n_out), "b": (n_out,)}`` dicts.
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive widths, got {sizes!r}.")
    dtype = dtype or jnp.result_type(float)
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": jax.random.normal(k, (n_in, n_out), dtype) / jnp.sqrt(jnp.asarray(n_in, dtype)),
            "b": jnp.zeros((n_out,), dtype),
        }
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])
    ]


def mlp(params: list, x, activation_name: str = "tanh"):
    """Forward pass: affine layers with ``activation_name`` between them, linear output."""
    act = activation(activation_name)
    h = x
    for layer in params[:-1]:
        h = act(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]


def mse_loss(model: Callable, x, y) -> Callable:
    r"""θ ↦ :math:`\frac{1}{2N}\sum_i \|{\rm model}(\theta, x_i) - y_i\|^2`."""

    def loss(theta):
        return 0.5 * jnp.mean(jnp.sum((model(theta, x) - y) ** 2, axis=-1))

    return loss


def cross_entropy_loss(model: Callable, x, labels) -> Callable:
    r"""θ ↦ mean softmax cross-entropy of ``model(θ, x)`` against integer ``labels``."""

    def loss(theta):
        logits = model(theta, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1))

    return loss


def accuracy(model: Callable, theta, x, labels) -> jax.Array:
    """Fraction of ``x`` classified as ``labels`` by the arg-max of ``model(θ, x)``."""
    return jnp.mean(jnp.argmax(model(theta, x), axis=-1) == labels)
