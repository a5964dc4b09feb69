r"""Heavy-ball momentum and its modified flow (the EoM of momentum, to first order in η).

Polyak's heavy ball (HB) with learning rate :math:`\eta` and momentum :math:`\beta\in[0,1)`,

.. math::  \theta_{k+1} = \theta_k - \eta\, g(\theta_k) + \beta\,(\theta_k - \theta_{k-1}),
           \qquad \theta_{-1} = \theta_0 \quad(\text{start from rest}),

with :math:`g = \nabla f`, follows, once a transient of a few steps has died out, the flow

.. math::  \frac{d\theta}{dt} = -\frac{g}{1-\beta} - \eta\,\frac{1+\beta}{2(1-\beta)^3}\,Hg
           + O(\eta^2), \qquad t_k = k\eta,

which is gradient flow on the modified loss
:math:`f/(1-\beta) + \eta\frac{1+\beta}{4(1-\beta)^3}\|g\|^2`, provided the flow starts from
the *shifted* point

.. math::  \theta(0) = \theta_0 + \frac{\eta\beta}{(1-\beta)^2}\, g(\theta_0).

Derivation (Taylor matching).  Insert :math:`\theta_k = \theta(k\eta)`,
:math:`\dot\theta = F = F_0 + \eta F_1`, into
:math:`\theta_{k+1} - (1+\beta)\theta_k + \beta\theta_{k-1} = -\eta g(\theta_k)`; with
:math:`\theta(t\pm\eta) = \theta \pm \eta F + \tfrac{\eta^2}{2}F'F + O(\eta^3)` the left side is
:math:`\eta(1-\beta)F + \tfrac{\eta^2}{2}(1+\beta)F'F + O(\eta^3)`.  Order :math:`\eta` gives
:math:`F_0 = -g/(1-\beta)` (the effective learning rate :math:`\eta/(1-\beta)`), order
:math:`\eta^2` gives
:math:`F_1 = -\frac{1+\beta}{2(1-\beta)}F_0'F_0 = -\frac{1+\beta}{2(1-\beta)^3}Hg`.
The recurrence has a second, fast solution (the velocity forgets its past like
:math:`\beta^k`); starting from rest excites it, and while it decays it leaves the
:math:`O(\eta)` offset above: for a constant gradient,
:math:`\theta_k = \theta_0 - \frac{k\eta}{1-\beta}g + \frac{\eta\beta}{(1-\beta)^2}(1-\beta^k)g`.

For :math:`\beta = 0` everything reduces to gradient descent and its order-1 EoM
:math:`\dot\theta = -g - \tfrac{\eta}{2}Hg` (no shift).  Learning rate and momentum are
*traced* arguments: one compilation serves every :math:`(\eta, \beta)`, and ``jax.vmap``
batches sweeps over either.  No Hessian is formed (Hessian-vector products only).
"""

from __future__ import annotations

import numbers
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .dataparallel import jit_with_loss
from .blowup import finish_run, loss_flags, raise_for_status, run_status
from .errors import fit_slope
from .flat import flatten_problem, unravel_stack
from .smoothness import warn_if_not_smooth
from .solve import Solver, check_run, solve_rescaled
from .validate import (check_callable, check_loss, check_lr, check_real_scalar, check_sweep,
                       check_theta, check_values, guard_traced)

#: The flows compared by :func:`eomlib.momentum.momentum_error_sweep`:
#: name ↦ (order, shifted start).
VARIANTS = {
    "plain": (0, False),
    "counter_term": (1, False),
    "counter_term_shifted": (1, True),
}


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------

def check_beta(beta):
    """``beta`` must be a real scalar in [0, 1). Returns it unchanged (tracers pass through)."""
    return check_real_scalar(beta, "beta", low=0.0, high=1.0, low_inclusive=True,
                             sweep_hint="to sweep momenta use jax.vmap over beta")


def _guard_beta(x, beta):
    """``x`` with a run-time check that a traced ``beta`` lies in [0, 1)."""
    return guard_traced(x, beta, "beta", low=0.0, high=1.0, low_inclusive=True)


def check_momentum_order(order) -> int:
    """``order`` must be 0 (the flow −g/(1−β)) or 1 (with the O(η) counter term)."""
    if (isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral)
            or order not in (0, 1)):
        raise ValueError(
            "order must be 0 (the flow -g/(1-beta)) or 1 (with the O(lr) counter term); "
            f"valid orders: 0, 1. Got {order!r}."
        )
    return int(order)


def _check_shift(shift) -> bool:
    if not isinstance(shift, (bool, np.bool_)):
        raise ValueError(f"shift must be True or False, got {shift!r}.")
    return bool(shift)


def _stability_note(beta) -> str:
    b = float(beta)
    return (f"heavy-ball momentum with beta = {b:g} (stable on a quadratic while "
            f"lr·λ_max < 2(1 + beta) = {2 * (1 + b):g})")


# ---------------------------------------------------------------------------------------------
# Flat maths
# ---------------------------------------------------------------------------------------------

def momentum_coefficients(beta):
    r"""``(a, c, s)`` with field :math:`-a\,g - \eta\,c\,Hg` and shift :math:`\eta\,s\,g(\theta_0)`.

    :math:`a = 1/(1-\beta)`, :math:`c = (1+\beta)/(2(1-\beta)^3)`, :math:`s = \beta/(1-\beta)^2`.

    ``a`` scales the gradient (the effective learning rate is :math:`a\eta`), ``c`` the
    counter term (:func:`eomlib.momentum.momentum_counter_term`) and ``s`` the initial shift
    (:func:`eomlib.momentum.initial_shift`).  At β = 0 they are ``(1, 1/2, 0)``, gradient
    descent's.

    Args:
        beta: the momentum β ∈ [0, 1).  A float, a numpy or JAX array (elementwise) or a
            JAX tracer (a traced β is not checked: a pure formula).

    Returns:
        A tuple ``(a, c, s)`` of three scalars, or arrays shaped like ``beta``.

    Raises:
        ValueError: if a concrete ``beta`` has an entry outside [0, 1).

    Example:
        >>> from eomlib import momentum
        >>> momentum.momentum_coefficients(0.5)   # (2.0, 6.0, 2.0)
    """
    check_values(beta, "beta", low=0.0, high=1.0)
    return 1.0 / (1.0 - beta), (1.0 + beta) / (2.0 * (1.0 - beta) ** 3), beta / (1.0 - beta) ** 2


def flat_momentum_field(grad: Callable, order: int) -> Callable:
    r"""``(x, lr, beta) ↦ -g/(1-β) - [order = 1] η(1+β)/(2(1-β)^3) H g`` for a flat ``grad``.

    :math:`g` and :math:`Hg` share one linearisation of the gradient (no Hessian is formed).
    """

    def field(x, lr, beta):
        a, c, _ = momentum_coefficients(beta)
        if order == 0:
            return -a * grad(x)
        g, hvp = jax.linearize(grad, x)
        return -a * g - lr * c * hvp(g)

    return field


@jit_with_loss(("loss", "grid"))
def heavy_ball_flat(loss: Callable, theta0, lr, beta, num_steps, grid: int):
    """HB iterates as flat vectors, shape ``(grid + 1, d)``, and the run's status (the
    iterates and the loss at every iterate are checked).

    ``num_steps`` may be traced; rows after ``num_steps`` repeat the last iterate.
    """
    problem = flatten_problem(loss, theta0)

    def step(carry, k):
        x, x_prev, defined, bounded = carry
        value, g = problem.value_and_grad(x)
        x_next = x - lr * g + beta * (x - x_prev)
        active = k < num_steps
        d, b = loss_flags(value)
        carry = (jnp.where(active, x_next, x), jnp.where(active, x, x_prev),
                 defined & (d | ~active), bounded & (b | ~active))
        return carry, carry[0]

    yes = jnp.bool_(True)
    (last, _, defined, bounded), xs = jax.lax.scan(step, (problem.x0, problem.x0, yes, yes),
                                                   jnp.arange(grid))
    xs = jnp.concatenate([problem.x0[None], xs], axis=0)
    d, b = loss_flags(problem.loss(last))
    return xs, run_status(xs, defined & d, bounded & b)


def _flat_start(grad, x0, lr, beta, shift):
    _, _, s = momentum_coefficients(beta)
    return x0 + shift * lr * s * grad(x0)


@jit_with_loss(("loss", "grid", "order", "rtol", "atol", "max_steps"))
def momentum_flow_flat(loss, theta0, lr, beta, shift, num_steps, grid, order, rtol, atol,
                       max_steps):
    """The modified flow at τ = t/η = 0…grid (flat, padded after ``num_steps``), its status
    and the solver's statistics.  ``shift`` is a traced 0/1 factor on the initial shift."""
    problem = flatten_problem(loss, theta0)
    field = flat_momentum_field(problem.grad, order)
    x0 = _flat_start(problem.grad, problem.x0, lr, beta, shift)
    return solve_rescaled(lambda x, args: args[0] * field(x, *args), x0, (lr, beta),
                          num_steps, grid, rtol, atol, max_steps)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------

def heavy_ball_trajectory(loss: Callable, theta0, lr, beta, num_steps: int):
    r"""The heavy-ball iterates :math:`\theta_0, \dots, \theta_n`.

    .. math::  \theta_{k+1} = \theta_k - \eta\nabla f(\theta_k) + \beta(\theta_k - \theta_{k-1}),
               \qquad \theta_{-1} = \theta_0.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays); the method starts at rest.
        lr: the learning rate η > 0 (may be traced).
        beta: the momentum β ∈ [0, 1) (may be traced: ``jax.vmap`` over it). β = 0 is GD.
        num_steps: the number of steps n, a Python integer ≥ 0.

    Returns:
        A pytree like ``theta0`` whose leaves have a new leading axis of length n + 1,
        stacked like :func:`eomlib.gd_trajectory`.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if the iterates overflow to NaN/inf.

    Example:
        >>> from eomlib import momentum
        >>> hb = momentum.heavy_ball_trajectory(loss, theta0, 0.05, 0.9, 200)
    """
    xs = heavy_ball_flat_checked(loss, theta0, lr, beta, num_steps)
    return unravel_stack(theta0, xs)


def heavy_ball_flat_checked(loss, theta0, lr, beta, num_steps):
    """Validated ``heavy_ball_flat``; raises on overflow (flat iterates)."""
    check_beta(beta)
    run = check_run(loss, theta0, lr, num_steps)
    xs, status = heavy_ball_flat(loss, theta0, lr, beta, run.num_steps, run.grid)
    what = "heavy-ball momentum"
    if not isinstance(beta, jax.core.Tracer):
        what = _stability_note(beta)
    xs = finish_run(xs, status, what, loss, theta0, lr, run.num_steps)
    return _guard_beta(xs, beta)


def momentum_counter_term(loss: Callable) -> Callable:
    r"""The counter term of heavy-ball momentum, ``(theta, beta) ↦ ξ^β(θ)``.

    .. math::  \xi^\beta = \frac{1+\beta}{2(1-\beta)^3}\, H g, \qquad
               \dot\theta = -\frac{g}{1-\beta} - \eta\,\xi^\beta + O(\eta^2).

    For β = 0 it is the counter term :math:`\xi_1 = \tfrac12 Hg` of gradient descent
    (:func:`eomlib.counter_terms`).  :math:`Hg` is a Hessian-vector product (``jax.jvp`` of
    ``jax.grad``); ``beta`` may be traced.  The output has the pytree structure of θ.

    Args:
        loss: θ ↦ scalar, JAX-differentiable twice, θ any pytree.

    Returns:
        A function ``xi(theta, beta)``: ``theta`` a pytree of float arrays, ``beta`` the
        momentum β ∈ [0, 1) (a float, checked, or a tracer, checked at run time); it returns
        :math:`\xi^\beta(\theta)`, a pytree like ``theta``.

    Raises:
        ValueError: if ``loss`` is not callable; when ``xi`` is called, if ``beta`` is out of
            [0, 1) or ``theta`` is not a pytree of finite floats.

    Example:
        >>> from eomlib import momentum
        >>> xi = momentum.momentum_counter_term(loss)
        >>> xi(theta0, 0.9)
    """

    check_callable(loss)

    def xi(theta, beta):
        check_beta(beta)
        check_theta(theta, "theta")
        warn_if_not_smooth(loss, theta, 1)
        problem = flatten_problem(loss, theta)
        _, c, _ = momentum_coefficients(beta)
        g, hvp = jax.linearize(problem.grad, problem.x0)
        return problem.unravel(_guard_beta(c * hvp(g), beta))

    return xi


def momentum_eom_field(loss: Callable, order: int = 1) -> Callable:
    r"""The modified flow of heavy-ball momentum, ``(theta, lr, beta) ↦ dθ/dt``.

    .. math::  \frac{d\theta}{dt} = -\frac{g}{1-\beta}
               - [\text{order} = 1]\;\eta\,\frac{1+\beta}{2(1-\beta)^3}\,Hg .

    ``order = 0`` is the gradient flow with the effective learning rate :math:`\eta/(1-\beta)`;
    ``order = 1`` adds the counter term (:func:`eomlib.momentum.momentum_counter_term`).  At
    β = 0 it equals :func:`eomlib.eom_vector_field` of the same order.  ``lr`` and ``beta``
    may be traced; the output has the pytree structure of θ.

    Args:
        loss: θ ↦ scalar, JAX-differentiable (twice for order 1), θ any pytree.
        order: 0 (the flow −g/(1−β)) or 1 (with the O(η) counter term); default 1.

    Returns:
        A function ``field(theta, lr, beta)``: ``theta`` a pytree of float arrays, ``lr`` the
        learning rate η > 0, ``beta`` the momentum β ∈ [0, 1) (floats, checked, or tracers,
        checked at run time); it returns dθ/dt, a pytree like ``theta``.

    Raises:
        ValueError: if ``loss`` is not callable or ``order`` is not 0 or 1; when the field
            is called, if ``lr`` or ``beta`` is out of range or ``theta`` is not a pytree of
            finite floats.

    Example:
        >>> from eomlib import momentum
        >>> field = momentum.momentum_eom_field(loss, order=1)
        >>> field(theta0, 0.05, 0.9)
    """
    check_callable(loss)
    order = check_momentum_order(order)

    def field(theta, lr, beta):
        check_lr(lr)
        check_beta(beta)
        check_theta(theta, "theta")
        warn_if_not_smooth(loss, theta, order)
        problem = flatten_problem(loss, theta)
        value = flat_momentum_field(problem.grad, order)(problem.x0, lr, beta)
        return problem.unravel(_guard_beta(guard_traced(value, lr, "lr"), beta))

    field.__doc__ = f"Order-{order} heavy-ball modified field (theta, lr, beta) ↦ dθ/dt."
    return field


def modified_momentum_loss(loss: Callable, lr, beta) -> Callable:
    r"""The modified loss of heavy-ball momentum,

    .. math::  \tilde f_\beta = \frac{f}{1-\beta}
               + \eta\,\frac{1+\beta}{4(1-\beta)^3}\,\|\nabla f\|^2,

    whose gradient flow is the order-1 modified flow
    (:func:`eomlib.momentum.momentum_eom_field`), since :math:`\nabla\|\nabla f\|^2 = 2Hg`.
    At β = 0 it is :func:`eomlib.modified_loss`.  ``lr`` and ``beta`` may be traced.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        lr: the learning rate η > 0 (may be traced).
        beta: the momentum β ∈ [0, 1) (may be traced).

    Returns:
        A function ``theta ↦`` :math:`\tilde f_\beta(\theta)`, a scalar, differentiable
        with ``jax.grad``.

    Raises:
        ValueError: if ``lr`` or ``beta`` is out of range (checked when concrete).

    Example:
        >>> from eomlib import momentum
        >>> f_tilde = momentum.modified_momentum_loss(loss, 0.05, 0.9)
        >>> f_tilde(theta0)
    """
    check_callable(loss)
    check_lr(lr)
    check_beta(beta)

    def tilde_f(theta):
        warn_if_not_smooth(loss, theta, 1)
        a, c, _ = momentum_coefficients(beta)
        g = ravel_pytree(jax.grad(loss)(theta))[0]
        value = a * loss(theta) + lr * c / 2.0 * jnp.vdot(g, g)
        return _guard_beta(guard_traced(value, lr, "lr"), beta)

    return tilde_f


def initial_shift(loss: Callable, theta0, lr, beta):
    r"""The displacement of the flow's start from :math:`\theta_0`:
    :math:`\frac{\eta\beta}{(1-\beta)^2}\,\nabla f(\theta_0)` (a pytree like ``theta0``).

    HB started from rest lags its slow dynamics: after the transient (decaying like
    :math:`\beta^k`) the iterates lie on the modified flow started at
    :math:`\theta_0 + \text{shift}`, i.e. :math:`\beta/(1-\beta)` steps behind the flow started
    at :math:`\theta_0`.  Zero for β = 0.  :func:`eomlib.momentum.momentum_flow_trajectory`
    applies it with ``shift=True``.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: HB's start θ_0 (pytree of finite float arrays).
        lr: the learning rate η > 0 (may be traced).
        beta: the momentum β ∈ [0, 1) (may be traced).

    Returns:
        The shift :math:`\frac{\eta\beta}{(1-\beta)^2}\nabla f(\theta_0)`, a pytree like
        ``theta0``.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.

    Example:
        >>> from eomlib import momentum
        >>> delta = momentum.initial_shift(loss, theta0, 0.05, 0.9)
    """
    check_lr(lr)
    check_beta(beta)
    check_theta(theta0)
    check_loss(loss, theta0)
    problem = flatten_problem(loss, theta0)
    _, _, s = momentum_coefficients(beta)
    shift = _guard_beta(guard_traced(lr * s * problem.grad(problem.x0), lr, "lr"), beta)
    return problem.unravel(shift)


def momentum_flow_trajectory(loss: Callable, theta0, lr, beta, num_steps: int, order: int = 1,
                             shift: bool = True, *, solver: Solver | None = None,
                             **solver_options):
    r"""The modified flow of heavy-ball momentum sampled at :math:`t_k = k\eta`, k = 0…n.

    Solves :math:`\dot\theta = -g/(1-\beta) - [\text{order}=1]\,\eta\frac{1+\beta}{2(1-\beta)^3}Hg`
    from :math:`\theta(0) = \theta_0 + [\text{shift}]\,\frac{\eta\beta}{(1-\beta)^2}g(\theta_0)`
    with diffrax (8th-order Runge–Kutta, rescaled time τ = t/η, saved at τ = 0, 1, …, n;
    see :class:`eomlib.Solver`).  At a fixed horizon the distance to the HB iterates is
    :math:`O(\eta)` unless both the counter term and the shift are used, then :math:`O(\eta^2)`.

    Args:
        loss: θ ↦ scalar, JAX-differentiable (twice for order 1), θ any pytree.
        theta0: HB's start θ_0 (pytree of finite float arrays; float64 for error studies).
        lr: the learning rate η > 0, may be traced.
        beta: the momentum β ∈ [0, 1), may be traced.
        num_steps: the number of steps n, a Python integer ≥ 0.
        order: 0 (the flow −g/(1−β)) or 1 (with the counter term); default 1.
        shift: start from the shifted point (True, the default;
            :func:`eomlib.momentum.initial_shift`) or from θ_0 (False).  Changing it does
            not recompile.
        solver: the ODE solver's settings (:class:`eomlib.Solver`); default ``None``, the
            default ``Solver()``.
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            :class:`eomlib.Solver` fields (they override those of ``solver``).

    Returns:
        A pytree like ``theta0`` with a leading axis of length n + 1: the flow at
        :math:`t_k = k\eta`, stacked like :func:`eomlib.momentum.heavy_ball_trajectory`.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        TypeError: on a keyword other than ``rtol``, ``atol``, ``max_steps``.
        eomlib.DivergenceError: if the solution overflows or the solver fails.

    Example:
        >>> from eomlib import momentum
        >>> flow = momentum.momentum_flow_trajectory(loss, theta0, 0.05, 0.9, 200, rtol=1e-8)
        >>> hb = momentum.heavy_ball_trajectory(loss, theta0, 0.05, 0.9, 200)
    """
    order = check_momentum_order(order)
    shift = _check_shift(shift)
    check_beta(beta)
    run = check_run(loss, theta0, lr, num_steps, order, solver, None, solver_options)
    problem = flatten_problem(loss, theta0)
    shift_factor = jnp.asarray(float(shift), problem.x0.dtype)  # traced: no recompilation
    xs, status, _ = momentum_flow_flat(loss, theta0, lr, beta, shift_factor, *run)
    xs = finish_run(xs, status, f"the order-{order} momentum flow", loss, theta0, lr,
                    run.num_steps, max_steps=run.max_steps)
    xs = _guard_beta(xs, beta)
    return unravel_stack(theta0, xs)


# ---------------------------------------------------------------------------------------------
# Error sweep over learning rates
# ---------------------------------------------------------------------------------------------

class MomentumErrorSweep(NamedTuple):
    r"""Result of :func:`eomlib.momentum.momentum_error_sweep`: one row per learning rate.

    ``errors[name]`` has shape ``(m, grid + 1)``: row i is
    :math:`e_k = \|\theta_{\rm flow}(k\eta_i) - \theta_k^{\rm HB}\|` for k ≤ n_i, then
    repeats :math:`e_{n_i}`.  ``final_error[name][i]`` is :math:`e_{n_i}`, the error at the
    horizon.  Names are the keys of :data:`eomlib.momentum.VARIANTS`.

    Attributes:
        lrs: the learning rates η_i, shape ``(m,)``.
        beta: the momentum β ∈ [0, 1) shared by every row, a float.
        num_steps: the HB step counts n_i, integers, shape ``(m,)``.
        errors: name ↦ the errors :math:`e_k`, shape ``(m, grid + 1)`` (grid ≥ max n_i, the
            padded save grid; row i repeats :math:`e_{n_i}` after k = n_i).
        final_error: name ↦ the errors at the horizon :math:`e_{n_i}`, shape ``(m,)``.

    Example:
        >>> sweep = momentum.momentum_error_sweep(loss, theta0, [0.02, 0.01], 0.5, horizon=1.0)
        >>> sweep.final_error["counter_term_shifted"]
    """

    lrs: np.ndarray  # (m,)
    beta: float
    num_steps: np.ndarray  # (m,)
    errors: dict  # name -> (m, grid + 1)
    final_error: dict  # name -> (m,)

    def slope(self, name: str) -> float:
        """Fitted log–log slope of ``final_error[name]`` against ``lrs``.

        Args:
            name: a key of :data:`eomlib.momentum.VARIANTS`: ``"plain"``,
                ``"counter_term"`` or ``"counter_term_shifted"``.

        Returns:
            The slope (a float, from :func:`eomlib.fit_slope`): about 1, 1 and 2 for the
            three names at a fixed horizon.

        Raises:
            ValueError: if ``name`` is not one of the sweep's variants.

        Example:
            >>> sweep.slope("counter_term_shifted")   # about 2
        """
        if name not in self.final_error:
            raise ValueError(f"name must be one of {sorted(self.final_error)}, got {name!r}.")
        return fit_slope(self.lrs, self.final_error[name])


@jit_with_loss(("loss", "grid", "rtol", "atol", "max_steps"))
def _momentum_sweep_flat(loss, theta0, lrs, beta, ns, grid, rtol, atol, max_steps):
    """Errors ``(m, len(VARIANTS), grid + 1)`` and flags ``(m,)``.

    The variants are stacked into one ODE state of shape ``(len(VARIANTS), d)``; the field is
    ``vmap``-ped over them with a traced 0/1 factor on the counter term, so it is traced once
    (one compilation, one solver loop per learning rate).
    """
    problem = flatten_problem(loss, theta0)
    counter = jnp.asarray([float(o) for o, _ in VARIANTS.values()], problem.x0.dtype)
    shifts = jnp.asarray([float(s) for _, s in VARIANTS.values()], problem.x0.dtype)

    def field(x, lr, beta, c):
        a, cc, _ = momentum_coefficients(beta)
        g, hvp = jax.linearize(problem.grad, x)
        return -a * g - c * lr * cc * hvp(g)

    def tau_field(xs, args):
        return args[0] * jax.vmap(lambda x, c: field(x, *args, c))(xs, counter)

    def one(lr, n):
        hb, hb_status = heavy_ball_flat(loss, theta0, lr, beta, n, grid)
        x0s = jax.vmap(lambda s: _flat_start(problem.grad, problem.x0, lr, beta, s))(shifts)
        ys, status, _ = solve_rescaled(tau_field, x0s, (lr, beta), n, grid, rtol, atol,
                                       max_steps)
        return jnp.linalg.norm(ys - hb[:, None, :], axis=-1).T, hb_status, status

    return jax.vmap(one)(lrs, ns)


def momentum_error_sweep(loss: Callable, theta0, lrs, beta, *, horizon: float | None = None,
                         num_steps: int | None = None, solver: Solver | None = None,
                         **solver_options) -> MomentumErrorSweep:
    r"""Distance from HB to its modified flows, for many learning rates in one batched call.

    For each :math:`\eta_i` (``jax.vmap``; the step counts are traced, one compilation) the HB
    iterates are compared with three flows (:data:`eomlib.momentum.VARIANTS`), solved
    together as one ODE (one compilation for all of them):

    * ``"plain"``: :math:`\dot\theta = -g/(1-\beta)` from :math:`\theta_0`;
    * ``"counter_term"``: with the counter term, from :math:`\theta_0`;
    * ``"counter_term_shifted"``: with the counter term, from the shifted start
      (:func:`eomlib.momentum.initial_shift`).

    Give either ``horizon`` (fixed time T, :math:`n_i = \mathrm{round}(T/\eta_i)`) or
    ``num_steps``.  At a fixed horizon the error at T is :math:`O(\eta)`, :math:`O(\eta)` and
    :math:`O(\eta^2)` respectively (slopes 1, 1, 2: fit them with
    :meth:`eomlib.momentum.MomentumErrorSweep.slope`).  The error at T is the measure, not
    the maximum over the run: with the shift, the first steps carry the decaying transient
    (:math:`e_0` is the shift itself, :math:`O(\eta)`).

    Args:
        loss: θ ↦ scalar, JAX-differentiable twice, θ any pytree.
        theta0: HB's start θ_0 (pytree of finite float arrays; float64 for error studies).
        lrs: a non-empty 1-D array of learning rates η_i > 0.
        beta: the momentum β ∈ [0, 1), a concrete number (not a tracer: the sweep is
            batched over ``lrs``, not over β).
        horizon: a time T ≥ max η_i: η_i runs :math:`n_i = \mathrm{round}(T/\eta_i) \ge 1`
            steps.  Give exactly one of ``horizon`` and ``num_steps``; default ``None``.
        num_steps: the same n (a Python integer ≥ 0) for every η_i; default ``None``.
        solver: the ODE solver's settings (:class:`eomlib.Solver`); default ``None``, the
            default ``Solver()``.
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            :class:`eomlib.Solver` fields (they override those of ``solver``).

    Returns:
        A :class:`eomlib.momentum.MomentumErrorSweep` ``(lrs, beta, num_steps, errors,
        final_error)``, with one row per learning rate and one entry of ``errors`` and
        ``final_error`` per variant.

    Raises:
        ValueError: on invalid arguments (naming the argument and its valid range), a traced
            ``beta``, or unless exactly one of ``horizon`` and ``num_steps`` is given.
        TypeError: on a keyword other than ``rtol``, ``atol``, ``max_steps``.
        eomlib.DivergenceError: if HB or one of its flows overflows, or the solver fails, at
            some η_i (the message names it).

    Example:
        >>> from eomlib import momentum
        >>> sweep = momentum.momentum_error_sweep(loss, theta0, [0.04, 0.02, 0.01], 0.5,
        ...                                       horizon=1.0)
        >>> sweep.slope("counter_term_shifted")   # about 2
    """
    if isinstance(beta, jax.core.Tracer):
        raise ValueError("beta must be a concrete number in [0, 1) here (the sweep is over lrs).")
    check_beta(beta)
    lrs_np, ns = check_sweep(lrs, horizon, num_steps)
    _, grid, _, rtol, atol, max_steps = check_run(loss, theta0, float(lrs_np[0]), int(ns.max()),
                                                  1, solver, None, solver_options,
                                                  copies=4 * len(lrs_np),
                                                  series=3 * len(lrs_np))
    dtype = flatten_problem(loss, theta0).x0.dtype
    errors, hb_status, flow_status = (np.asarray(a) for a in _momentum_sweep_flat(
        loss, theta0, jnp.asarray(lrs_np, dtype), jnp.asarray(beta, dtype), jnp.asarray(ns),
        grid, rtol, atol, max_steps))
    for i, lr in enumerate(lrs_np):
        raise_for_status(hb_status[i], f"{_stability_note(beta)} at lr={lr:g}", loss, theta0,
                         float(lr))
        raise_for_status(flow_status[i], f"the modified flows of heavy ball at lr={lr:g}", loss,
                         theta0, float(lr), max_steps=max_steps)
    names = list(VARIANTS)
    per_name = {name: errors[:, j] for j, name in enumerate(names)}
    final = {name: per_name[name][np.arange(len(ns)), ns] for name in names}
    return MomentumErrorSweep(lrs_np, float(beta), ns, per_name, final)
