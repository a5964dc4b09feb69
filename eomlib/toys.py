r"""Two-parameter losses for pictures, and quadratics with a known exact EoM."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def curved_valley(theta):
    r"""A curved valley in the plane, :math:`f(x, y) = \tfrac12(y - x^2/2)^2 + x^2/8`.

    Its minimum is at the origin; the valley floor is the parabola :math:`y = x^2/2`, along
    which gradient flow bends while GD with a finite step cuts corners.
    """
    x, y = theta[0], theta[1]
    return 0.5 * (y - 0.5 * x**2) ** 2 + x**2 / 8.0


def quadratic(matrix):
    r"""The loss :math:`f(\theta) = \tfrac12 \theta^\top A \theta` for a symmetric ``matrix`` A."""
    a = jnp.asarray(matrix)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"matrix must be square, got shape {a.shape}.")
    if not np.allclose(np.asarray(a), np.asarray(a).T):
        raise ValueError("matrix must be symmetric.")

    def loss(theta):
        return 0.5 * theta @ a @ theta

    return loss


def exact_quadratic_flow(matrix, theta0, lr, times):
    r"""The exact EoM of GD on :math:`\tfrac12\theta^\top A\theta`: :math:`\dot\theta = \frac1\eta\log(I-\eta A)\,\theta`.

    Evaluated in the eigenbasis of A at ``times`` (array): each component evolves as
    :math:`(1-\eta\lambda_i)^{t/\eta}`, complex when :math:`\eta\lambda_i > 1` (GD's sign
    oscillation), so the result is complex in general. At :math:`t = k\eta` it equals GD.
    """
    w, v = np.linalg.eigh(np.asarray(matrix))
    c = v.T @ np.asarray(theta0)
    growth = (1 - lr * w).astype(complex)
    powers = growth[None, :] ** (np.asarray(times)[:, None] / lr)
    return (powers * c[None, :]) @ v.T
