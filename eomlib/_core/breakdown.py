r"""Where the EoM breaks: the quadratic in closed form, and the one-step error on any loss.

For :math:`f(\theta) = \tfrac12\lambda\theta^2` gradient descent multiplies θ by
:math:`1 - x` per step, with :math:`x = \eta\lambda`, and the counter terms are
:math:`\xi_j = \frac{\lambda^j}{j+1}\,g` (only products of Hessians survive in them).  The
order-γ EoM is therefore the linear flow

.. math::  \dot\theta = -\lambda\, s_\gamma(x)\,\theta, \qquad
           s_\gamma(x) = \sum_{j=0}^{\gamma}\frac{x^j}{j+1},

and over one step (time η) it multiplies θ by :math:`e^{E_\gamma(x)}` with the *step
exponent* :math:`E_\gamma(x) = -x\,s_\gamma(x)`.  As :math:`\gamma\to\infty`, :math:`E_\gamma`
is the Taylor series of :math:`\log(1 - x)`, whose radius of convergence is :math:`x = 1`:

* :math:`x < 1`: :math:`E_\gamma \to \log(1-x)`, and the full series reproduces GD exactly at
  :math:`t = k\eta`; each order removes one power of x from the error.
* :math:`x = 1`: GD jumps to the minimum in one step, :math:`\log 0 = -\infty`; every
  truncation is finite.
* :math:`x > 1`: the series diverges, and the exact step exponent is complex,
  :math:`\log(1-x) = \log|1-x| + i\pi`: the real part is the decay (growth, for
  :math:`x > 2`) of :math:`|1-x|^k`, the imaginary part the sign flip of every step.  No real
  flow reproduces it.

With the exact exponent, each Hessian eigendirection's gradient component is multiplied by
:math:`\log(1 - \eta\lambda_i)/(\eta\lambda_i)`
(:func:`eomlib.breakdown.principal_flow_multiplier`), the
principal flow of Rosca et al. (2023), exact for quadratics.

All closed forms take ``x`` as an array (numpy broadcasting) and ``θ_0 = 1``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .dataparallel import jit_with_loss
from .blowup import OK, check_status, raise_for_status
from .fields import flat_eom_field
from .flat import flatten_problem
from .smoothness import warn_if_not_smooth
from .solve import Solver, solve_rescaled, solver_settings
from .validate import check_lr, check_num_steps, check_order, check_theta, check_values, is_concrete

# ---------------------------------------------------------------------------------------------
# The quadratic f = λθ²/2 in closed form (x = ηλ)
# ---------------------------------------------------------------------------------------------


def _real(x, name: str = "x") -> np.ndarray:
    """``x`` as a float array, every entry a finite real number (ValueError otherwise)."""
    return np.asarray(check_values(x, name), dtype=float)


def log_series_coefficients(order: int) -> np.ndarray:
    r"""The coefficients :math:`c_j = 1/(j+1)`, j = 0…``order``, of
    :math:`-\log(1-x)/x = \sum_{j\ge0} c_j x^j`.

    For :math:`f = \tfrac12\theta^\top A\theta` they are the counter terms,
    :math:`\xi_j = c_j A^j g` (and :math:`c_0 = 1` is the gradient itself).

    Args:
        order: the EoM order γ, a Python integer ≥ 0 (0 is gradient flow).

    Returns:
        A float array of shape ``(order + 1,)``: :math:`1, \tfrac12, \dots, 1/(\gamma+1)`.

    Raises:
        ValueError: if ``order`` is not a non-negative integer, or an argument is not finite
            and real (or out of the range stated above).

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.log_series_coefficients(3)   # [1, 1/2, 1/3, 1/4]
    """
    order = check_order(order)
    return 1.0 / np.arange(1, order + 2)


def eom_step_exponent(x, order: int) -> np.ndarray:
    r""":math:`E_\gamma(x) = -\sum_{j=0}^{\gamma} \frac{x^{j+1}}{j+1}`: the log of the factor by
    which the order-γ EoM multiplies θ over one step, for :math:`f = \tfrac12\lambda\theta^2`,
    :math:`x = \eta\lambda` (real for every x).

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array).
        order: the EoM order γ, a Python integer ≥ 0.

    Returns:
        A real float array shaped like ``x``.

    Raises:
        ValueError: if ``order`` is not a non-negative integer, or an argument is not finite
            and real (or out of the range stated above).

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.eom_step_exponent([0.1, 0.5, 1.5], 2)
    """
    x = _real(x)
    return -x * np.polynomial.polynomial.polyval(x, log_series_coefficients(order))


def exact_step_exponent(x) -> np.ndarray:
    r"""The exact step exponent :math:`\log(1 - x)` on the principal branch (complex):
    :math:`\log|1-x| + i\pi` for :math:`x > 1`, :math:`-\infty` at :math:`x = 1`.

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array).

    Returns:
        A complex array shaped like ``x`` (real part :math:`-\infty` where x = 1).

    Raises:
        ValueError: if ``x`` has an entry that is not a finite real number.

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.exact_step_exponent([0.5, 1.5])   # [log 0.5, log 0.5 + iπ]
    """
    x = _real(x)
    with np.errstate(divide="ignore"):
        return np.log(np.abs(1 - x)) + 1j * np.pi * (x > 1)


def exponent_error(x, order: int) -> np.ndarray:
    r""":math:`|E_\gamma(x) - \log(1-x)|`: how far the order-γ EoM's step exponent is from the
    exact one (the error of its vector field, in units of one step).

    For :math:`x < 1` it is the tail :math:`\sum_{j>\gamma} x^{j+1}/(j+1)`, decreasing with
    the order; it is infinite at :math:`x = 1` and at least :math:`\pi` for :math:`x > 1`.

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array).
        order: the EoM order γ, a Python integer ≥ 0.

    Returns:
        A real array shaped like ``x``, ≥ 0 (``inf`` where x = 1).

    Raises:
        ValueError: if ``order`` is not a non-negative integer, or an argument is not finite
            and real (or out of the range stated above).

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.exponent_error([0.1, 0.5, 0.9], 3)
    """
    with np.errstate(invalid="ignore"):
        return np.abs(eom_step_exponent(x, order) - exact_step_exponent(x))


def principal_flow_multiplier(x) -> np.ndarray:
    r""":math:`\log(1 - x)/x` (complex): the factor by which the exact EoM, and the principal
    flow of Rosca et al. (2023), multiplies a gradient component along a Hessian eigenvector
    with :math:`x = \eta\lambda` (gradient flow: −1).  Its real part is negative (descent)
    for :math:`x < 2` and positive (ascent: GD diverges) for :math:`x > 2`.

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array); x = 0 gives the
            limit −1.

    Returns:
        A complex array shaped like ``x`` (real part :math:`-\infty` where x = 1).

    Raises:
        ValueError: if ``x`` has an entry that is not a finite real number.

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.principal_flow_multiplier([0.0, 0.5, 3.0])
    """
    x = _real(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, -1.0 + 0j, exact_step_exponent(x) / np.where(x == 0, 1, x))


def quadratic_gd(x, num_steps: int) -> np.ndarray:
    r"""GD on :math:`\tfrac12\lambda\theta^2` from :math:`\theta_0 = 1`: :math:`(1 - x)^k`,
    k = 0…n, along a new last axis.

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array).
        num_steps: the number of steps n, an integer ≥ 0.

    Returns:
        A real array of shape ``x.shape + (n + 1,)``: the iterates θ_k.

    Raises:
        ValueError: if ``x`` is not finite and real, or ``num_steps`` not an integer ≥ 0.

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.quadratic_gd(1.5, 4)   # [1, -0.5, 0.25, -0.125, 0.0625]
    """
    k = np.arange(check_num_steps(num_steps) + 1)
    return (1 - _real(x))[..., None] ** k


def quadratic_eom(x, order: int, num_steps: int) -> np.ndarray:
    r"""The order-γ EoM solution at :math:`t = k\eta` from :math:`\theta_0 = 1`:
    :math:`e^{kE_\gamma(x)}`, k = 0…n, along a new last axis (always positive).

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array).
        order: the EoM order γ, a Python integer ≥ 0.
        num_steps: the number of steps n, an integer ≥ 0.

    Returns:
        A real array of shape ``x.shape + (n + 1,)``: θ(kη), comparable with
        :func:`eomlib.breakdown.quadratic_gd`.

    Raises:
        ValueError: if ``order`` is not a non-negative integer, or an argument is not finite
            and real (or out of the range stated above).

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.quadratic_eom(1.5, 2, 4)
    """
    k = np.arange(check_num_steps(num_steps) + 1)
    return np.exp(eom_step_exponent(x, order)[..., None] * k)


def quadratic_exact_flow(x, steps) -> np.ndarray:
    r"""The exact flow :math:`\theta(t) = e^{(t/\eta)\log(1-x)}` (complex) at times
    :math:`t/\eta` = ``steps`` (any reals): at integer steps it is GD, in between its real
    part interpolates GD's sign flips, :math:`|1-x|^{t/\eta}\cos(\pi t/\eta)` for x > 1.

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array).
        steps: the times :math:`t/\eta` in units of steps, real numbers (a scalar or a 1-D
            array; not necessarily integers).

    Returns:
        A complex array of shape ``x.shape + (len(steps),)`` (``x.shape + (1,)`` for a
        scalar ``steps``).  At x = 1 it is 1 at t = 0 and 0 after.

    Raises:
        ValueError: if ``x`` or ``steps`` has an entry that is not a finite real number.

    Example:
        >>> import numpy as np
        >>> from eomlib import breakdown
        >>> breakdown.quadratic_exact_flow(1.5, np.linspace(0, 4, 41)).real
    """
    x = _real(x)
    steps = _real(steps, "steps")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(exact_step_exponent(x)[..., None] * steps)
    # x = 1: θ = 0 for t > 0, and 1 at t = 0 (where the product above is 0 · ∞)
    return np.where(steps == 0, 1.0 + 0j, np.where(np.isnan(out), 0.0, out))


def quadratic_eom_error(x, order: int, num_steps: int) -> np.ndarray:
    r""":math:`\max_{k\le n}|e^{kE_\gamma(x)} - (1-x)^k|`: the largest distance between the
    order-γ EoM and GD over n steps, for :math:`\theta_0 = 1`.

    Args:
        x: :math:`\eta\lambda`, any real numbers (a scalar or an array).
        order: the EoM order γ, a Python integer ≥ 0.
        num_steps: the number of steps n, an integer ≥ 0.

    Returns:
        A real array shaped like ``x``, ≥ 0.

    Raises:
        ValueError: if ``order`` is not a non-negative integer, or an argument is not finite
            and real (or out of the range stated above).

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.quadratic_eom_error([0.1, 0.5, 1.5], 2, 20)
    """
    return np.max(np.abs(quadratic_eom(x, order, num_steps) - quadratic_gd(x, num_steps)),
                  axis=-1)


def relative_step_error(x, order: int) -> np.ndarray:
    r""":math:`|e^{E_\gamma(x)} - (1 - x)|/|x|`: the one-step error of the order-γ EoM on
    :math:`\tfrac12\lambda\theta^2` relative to the length of the GD step, :math:`|x|\,|\theta|`.

    Small x: :math:`\approx x^{\gamma+1}/(\gamma+2)`.  For :math:`x > 1` it exceeds
    :math:`(x-1)/x`, since the EoM keeps the sign of θ that GD flips; at :math:`x = 2` (the
    edge of stability) it is :math:`(1 + e^{E_\gamma(2)})/2 \ge \tfrac12` for every order.

    Args:
        x: :math:`\eta\lambda` ≠ 0 (a scalar or an array; negative for negative curvature).
        order: the EoM order γ, a Python integer ≥ 0.

    Returns:
        A real array shaped like ``x``, ≥ 0.

    Raises:
        ValueError: if ``order`` is not a non-negative integer, or an argument is not finite
            and real (or out of the range stated above).

    Example:
        >>> from eomlib import breakdown
        >>> breakdown.relative_step_error([0.01, 0.1, 2.0], 1)
    """
    x = _real(x)
    if np.any(x == 0):
        raise ValueError("x must be finite and non-zero (the error is relative to the step "
                         "length |x|·|θ|), got 0.")
    return np.abs(np.exp(eom_step_exponent(x, order)) - (1 - x)) / np.abs(x)


# ---------------------------------------------------------------------------------------------
# Any loss: the one-step (local) error of the EoM
# ---------------------------------------------------------------------------------------------


@jit_with_loss(("loss", "order", "rtol", "atol", "max_steps"))
def _local_error_jit(loss, points, lr, order, rtol, atol, max_steps):
    template = jax.tree_util.tree_map(lambda a: a[0], points)
    grad = flatten_problem(loss, template).grad
    field = flat_eom_field(grad, order)
    xs = jax.vmap(lambda p: ravel_pytree(p)[0])(points)

    def one(x):
        ys, status, _ = solve_rescaled(lambda y, eta: eta * field(y, eta), x, lr, 1, 1, rtol,
                                       atol, max_steps)
        return jnp.linalg.norm(ys[1] - (x - lr * grad(x))), status

    return jax.vmap(one)(xs)


def local_error(loss: Callable, points, lr, order: int, *, solver: Solver | None = None,
                **solver_options) -> jax.Array:
    r"""The one-step error of the order-γ EoM at each point of a stack.

    .. math::  \ell(\theta) = \big\|\varphi^{(\gamma)}_\eta(\theta)
               - (\theta - \eta\nabla f(\theta))\big\|,

    :math:`\varphi^{(\gamma)}_\eta` the flow of the order-γ EoM over time η (one GD step).
    Away from the breakdown :math:`\ell = O(\eta^{\gamma+2})`; it is the rate at which the
    global error :math:`e_k` of :func:`eomlib.discretization_error` is fed along training.
    All points are solved in one ``jax.vmap``-batched call; ``lr`` is traced, so one
    compilation serves every learning rate.

    Args:
        loss: θ ↦ scalar, JAX-differentiable (γ + 1 times), θ any pytree.
        points: a pytree of finite float arrays whose leaves carry a common leading axis over
            points (e.g. a trajectory from :func:`eomlib.gd_trajectory`, or a slice
            ``traj[::m]`` of it).
        lr: the learning rate η > 0 (one compilation serves every η).
        order: the EoM order γ, a Python integer ≥ 0 (0 is gradient flow).
        solver: the ODE solver's settings (:class:`eomlib.Solver`); default ``None``, the
            default ``Solver()``.
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            :class:`eomlib.Solver` fields (they override those of ``solver``).

    Returns:
        A JAX array of shape ``(number of points,)``: :math:`\ell` at each point.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range (also if
            the leaves of ``points`` lack a common leading axis).
        TypeError: on a keyword other than ``rtol``, ``atol``, ``max_steps``.
        eomlib.DivergenceError: if the EoM step from some point overflows or the solver fails
            (the message names the point).

    Example:
        >>> from eomlib import breakdown
        >>> traj = eomlib.gd_trajectory(loss, theta0, 0.1, 100)
        >>> breakdown.local_error(loss, traj[::10], 0.1, 2)
    """
    check_lr(lr)
    order = check_order(order)
    settings = solver_settings(solver, solver_options)
    leaves = jax.tree_util.tree_leaves(points)
    if not leaves or any(jnp.ndim(a) < 1 for a in leaves) \
            or len({jnp.shape(a)[0] for a in leaves}) != 1:
        raise ValueError("points must be a pytree of arrays sharing a leading axis over points "
                         "(as returned by eomlib.gd_trajectory).")
    check_theta(points, "points")
    warn_if_not_smooth(loss, jax.tree_util.tree_map(lambda a: a[0], points), order)
    errors, status = _local_error_jit(loss, points, lr, order, settings.rtol, settings.atol,
                                      settings.budget(1))
    if is_concrete((errors, status, lr)):
        bad = np.nonzero(np.asarray(status) != OK)[0]
        if bad.size:
            i = int(bad[0])
            raise_for_status(status[i], f"the order-{order} EoM step from point {i}", loss,
                             jax.tree_util.tree_map(lambda a: a[i], points), lr,
                             max_steps=settings.budget(1))
        return errors
    return check_status(errors, jnp.max(status), f"the order-{order} EoM steps", loss, points,
                        lr)
