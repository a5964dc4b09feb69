r"""Two-parameter losses for pictures, and quadratics with a known exact EoM."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["curved_valley", "quadratic", "exact_quadratic_flow", "sharpening_valley"]


def curved_valley(theta):
    r"""A curved valley in the plane, :math:`f(x, y) = \tfrac12(y - x^2/2)^2 + x^2/8`.

    Its minimum is at the origin; the valley floor is the parabola :math:`y = x^2/2`, along
    which gradient flow bends while GD with a finite step cuts corners.

    Args:
        theta: the point :math:`(x, y)`, an array whose first two entries are used.

    Returns:
        The scalar :math:`f(x, y)`.

    Example:
        >>> import jax.numpy as jnp
        >>> from eomlib.book import toys
        >>> toys.curved_valley(jnp.array([1.0, 0.5]))  # 0.125, on the valley floor
    """
    x, y = theta[0], theta[1]
    return 0.5 * (y - 0.5 * x**2) ** 2 + x**2 / 8.0


def quadratic(matrix):
    r"""The loss :math:`f(\theta) = \tfrac12 \theta^\top A \theta` for a symmetric ``matrix`` A.

    Its gradient is :math:`A\theta` and its Hessian A everywhere, so GD is the linear map
    :math:`\theta \mapsto (I - \eta A)\theta` (see :func:`eomlib.book.toys.exact_quadratic_flow`).

    Args:
        matrix: the symmetric d × d matrix A (array-like).

    Returns:
        The loss, a function of a length-d vector θ to a scalar.

    Raises:
        ValueError: if ``matrix`` is not square, or not symmetric (to ``numpy.allclose``).

    Example:
        >>> import jax.numpy as jnp
        >>> from eomlib.book import toys
        >>> toys.quadratic(jnp.diag(jnp.array([1.0, 10.0])))(jnp.ones(2))  # 5.5
    """
    a = jnp.asarray(matrix)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"matrix must be square, got shape {a.shape}.")
    if not np.allclose(np.asarray(a), np.asarray(a).T):
        raise ValueError("matrix must be symmetric.")

    def loss(theta):
        return 0.5 * theta @ a @ theta

    return loss


def exact_quadratic_flow(matrix, theta0, lr, times):
    r"""The exact EoM of GD on :math:`\tfrac12\theta^\top A\theta`:
    :math:`\dot\theta = \frac1\eta\log(I-\eta A)\,\theta`.

    Evaluated in the eigenbasis of A at ``times`` (array): each component evolves as
    :math:`(1-\eta\lambda_i)^{t/\eta}`, complex when :math:`\eta\lambda_i > 1` (GD's sign
    oscillation), so the result is complex in general. At :math:`t = k\eta` it equals GD.

    Args:
        matrix: the symmetric d × d matrix A (array-like).
        theta0: the initial point :math:`\theta(0)`, a length-d vector.
        lr: the learning rate η > 0.
        times: the times t ≥ 0 to evaluate at, a 1-D array.

    Returns:
        A complex numpy array of shape ``(len(times), d)``, row j being :math:`\theta(t_j)`
        (real up to rounding where every :math:`\eta\lambda_i < 1`).

    Example:
        >>> import numpy as np
        >>> from eomlib.book import toys
        >>> toys.exact_quadratic_flow(np.diag([1.0, 3.0]), np.ones(2), 0.5, np.arange(4) * 0.5)
    """
    w, v = np.linalg.eigh(np.asarray(matrix))
    c = v.T @ np.asarray(theta0)
    growth = (1 - lr * w).astype(complex)
    powers = growth[None, :] ** (np.asarray(times)[:, None] / lr)
    return (powers * c[None, :]) @ v.T


def sharpening_valley(theta, alpha: float = 1.0, beta: float = 1.0):
    r"""A three-parameter loss that sharpens without end, for the edge of stability:
    :math:`f(x, w_1, w_2) = \tfrac12 (w_1 + w_2^2)\, x^2 - \alpha w_1 + \tfrac12\beta w_2^2`.

    At x = 0 the sharpness is :math:`S = w_1 + w_2^2` (the curvature along x, when it exceeds
    β) and the gradient in :math:`w_1` is :math:`-\alpha`: gradient flow sharpens at the rate
    α forever.  Gradient descent with step η has the exact 2-cycle :math:`x = \pm\sqrt{2\alpha}`
    on :math:`S = 2/\eta` (there the mean force on :math:`w_1`, :math:`\tfrac12 x^2 - \alpha`,
    vanishes).  The central flow keeps :math:`S = 2/\eta` with
    :math:`\sigma^2 = 2(\alpha - 2\beta w_2^2)/(1 + 4w_2^2)` (→ 2α), and moves along
    :math:`w_1 = 2/\eta - w_2^2` with :math:`dw_2/dt = -(\beta + \sigma^2) w_2`: faster than
    gradient flow's :math:`-\beta w_2`, the implicit regularisation of the oscillation.

    Args:
        theta: the point :math:`(x, w_1, w_2)`, an array of 3 entries.
        alpha: α > 0, the sharpening rate.
        beta: β ≥ 0, the curvature along :math:`w_2`.

    Returns:
        The scalar loss.

    Example:
        >>> toys.sharpening_valley(jnp.array([0.0, 20.0, 0.0]))  # -20.0
    """
    x, w1, w2 = theta[0], theta[1], theta[2]
    return 0.5 * (w1 + w2**2) * x**2 - alpha * w1 + 0.5 * beta * w2**2
