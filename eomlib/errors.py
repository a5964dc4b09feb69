r"""Discretization error of the EoM: measured, and predicted by the tangent equation.

Measured: :math:`e_k = \|\theta_{\rm EoM}(t_k) - \theta_k\|` (Euclidean norm over all
parameters), :math:`\theta_k` the GD iterates.

Predicted (leading order in :math:`\eta`): GD follows the flow of the full modified field,
which differs from the order-:math:`\gamma` field by :math:`\eta^{\gamma+1}F_{\gamma+2}
= -\eta^{\gamma+1}\xi_{\gamma+1}`.  The error :math:`\delta = \theta_{\rm EoM} - \theta_{\rm GD}`
therefore obeys the linearised (tangent) equation

.. math::  \dot\delta = J(\theta(t))\,\delta + \eta^{\gamma+1}\xi_{\gamma+1}(\theta(t)),
           \qquad \delta(0) = 0,

with :math:`J` the Jacobian of the order-:math:`\gamma` field along the EoM solution.  We
integrate :math:`\varepsilon = \delta/\eta^{\gamma+1}` (well scaled) together with
:math:`\theta`, using Jacobian-vector products only.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .batching import check_batching, check_workers, map_members, run_split
from .blowup import ensure_finite
from .counterterms import modified_field_term_fn
from .cse import eliminate_common_subexpressions
from .descent import gd_flat, gd_flat_checked
from .fields import flat_eom_field
from .flat import flatten_problem, take_leading
from .solve import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    _checked_args,
    eom_flat,
    eom_flat_checked,
    solve_rescaled,
    solve_saved,
)
from .validate import check_sweep


def discretization_error(loss: Callable, theta0, lr, num_steps: int, order: int, *,
                         rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                         max_steps: int | None = None,
                         max_num_steps: int | None = None) -> jax.Array:
    r"""Measured error :math:`e_k = \|\theta_{\rm EoM}(k\eta) - \theta_k\|`, k = 0…n.

    ``order`` is the EoM order γ (0 = gradient flow).  At a fixed horizon
    :math:`T = n\eta`, :math:`\max_k e_k = O(\eta^{\gamma+1})`.  Works under ``jax.vmap``
    over ``lr``.  ``max_num_steps`` bounds ``num_steps`` over calls that should share one
    compilation (a slider at a fixed horizon: pass round(T/η_min)).  Returns an array of
    shape ``(num_steps + 1,)``.
    """
    gd = gd_flat_checked(loss, theta0, lr, num_steps, max_num_steps, padded=True)
    eom = eom_flat_checked(loss, theta0, lr, num_steps, order, rtol=rtol, atol=atol,
                           max_steps=max_steps, max_num_steps=max_num_steps, padded=True)
    return take_leading(_row_norms(eom - gd), num_steps + 1)


@jax.jit
def _row_norms(xs):
    """Euclidean norm of each row (jitted on the padded grid: one program per grid size)."""
    return jnp.linalg.norm(xs, axis=-1)


@partial(jax.jit, static_argnames=("loss", "grid", "order", "rtol", "atol", "max_steps"))
def predicted_flat(loss, theta0, lr, num_steps, grid, order, rtol, atol, max_steps):
    """Flat EoM solution and predicted error vectors δ_k (stacked), a finiteness flag."""
    problem = flatten_problem(loss, theta0)
    field = flat_eom_field(problem.grad, order)

    def negated_grad(x):
        return -problem.grad(x)

    source_term = modified_field_term_fn(negated_grad, order + 2)  # ξ_{γ+1} = −F_{γ+2}

    @eliminate_common_subexpressions  # the jvp and the source share their derivatives at x
    def tau_field(y, eta):
        x, eps = y
        fx, jeps = jax.jvp(lambda z: field(z, eta), (x,), (eps,))
        return eta * fx, eta * (jeps - source_term(x))

    y0 = (problem.x0, jnp.zeros_like(problem.x0))
    (xs, eps), ok, _ = solve_rescaled(tau_field, y0, lr, num_steps, grid, rtol, atol, max_steps)
    return xs, lr ** (order + 1) * eps, ok


def predicted_error_vectors(loss: Callable, theta0, lr, num_steps: int, order: int, *,
                            rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                            max_steps: int | None = None,
                            max_num_steps: int | None = None) -> jax.Array:
    """The predicted error vectors δ_k (flat, shape ``(n + 1, d)``), see module docstring."""
    num_steps, grid, order, rtol, atol, max_steps = _checked_args(
        loss, theta0, lr, num_steps, order, rtol, atol, max_steps, max_num_steps)
    return take_leading(_predicted_padded(loss, theta0, lr, num_steps, grid, order, rtol, atol,
                                          max_steps), num_steps + 1)


def _predicted_padded(loss, theta0, lr, num_steps, grid, order, rtol, atol, max_steps):
    _, deltas, ok = predicted_flat(loss, theta0, lr, num_steps, grid, order, rtol, atol,
                                   max_steps)
    return ensure_finite(deltas, ok, f"the order-{order} error prediction", loss, theta0, lr)


def predicted_error(loss: Callable, theta0, lr, num_steps: int, order: int, *,
                    rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                    max_steps: int | None = None, max_num_steps: int | None = None) -> jax.Array:
    r"""Leading-order prediction of :func:`discretization_error`: :math:`\|\delta(k\eta)\|`.

    :math:`\delta` solves :math:`\dot\delta = J\delta + \eta^{\gamma+1}\xi_{\gamma+1}(\theta)`,
    :math:`\delta(0)=0`, along the order-γ EoM solution (module docstring).  Its relative
    deviation from the measured error is :math:`O(\eta)`.  ``max_num_steps`` as in
    :func:`discretization_error`.  Shape ``(num_steps + 1,)``.
    """
    num_steps, grid, order, rtol, atol, max_steps = _checked_args(
        loss, theta0, lr, num_steps, order, rtol, atol, max_steps, max_num_steps)
    deltas = _predicted_padded(loss, theta0, lr, num_steps, grid, order, rtol, atol, max_steps)
    return take_leading(_row_norms(deltas), num_steps + 1)


def fit_slope(lrs, errors) -> float:
    """Least-squares slope of ``log(errors)`` against ``log(lrs)`` (the empirical error order)."""
    lrs = np.asarray(lrs, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if lrs.shape != errors.shape or lrs.ndim != 1 or lrs.size < 2:
        raise ValueError(
            f"lrs and errors must be 1-D arrays of the same length >= 2, got shapes "
            f"{lrs.shape} and {errors.shape}."
        )
    if np.any(lrs <= 0) or np.any(errors <= 0) or not np.all(np.isfinite(errors)):
        raise ValueError("lrs and errors must be finite and > 0 to fit a log-log slope.")
    return float(np.polyfit(np.log(lrs), np.log(errors), 1)[0])


class ErrorSweep(NamedTuple):
    """Result of :func:`error_sweep`: one row per learning rate."""

    lrs: np.ndarray  # (m,)
    num_steps: np.ndarray  # (m,) GD steps n_i for each learning rate
    errors: np.ndarray  # (m, grid + 1); row i is e_k for k ≤ n_i, then repeats e_{n_i}
    max_error: np.ndarray  # (m,) max_k≤n_i e_k

    def slope(self) -> float:
        """Fitted log–log slope of ``max_error`` against ``lrs`` (γ + 1 in theory)."""
        return fit_slope(self.lrs, self.max_error)


@partial(jax.jit, static_argnames=("loss", "grid", "order", "rtol", "atol", "max_steps", "batching"))
def _sweep_flat(loss, theta0, lrs, ns, grid, order, rtol, atol, max_steps, batching="vmap"):
    def one(lr, n):
        gd, gd_ok = gd_flat(loss, theta0, lr, n, grid)
        eom, eom_ok, _ = eom_flat(loss, theta0, lr, n, grid, order, rtol, atol, max_steps)
        return jnp.linalg.norm(eom - gd, axis=-1), gd_ok & eom_ok

    return map_members(one, batching)(lrs, ns)


SHARED_FLOW_MAX_ELEMENTS = 2**25
"""Largest ``m·(grid + 1)·d`` (the saved gradient flow of a whole sweep) for which an
order-0 :func:`error_sweep` solves gradient flow once for all learning rates."""


@partial(jax.jit, static_argnames=("loss", "grid", "rtol", "atol", "max_steps", "batching"))
def _gf_sweep_flat(loss, theta0, lrs, ns, grid, rtol, atol, max_steps, batching="vmap"):
    r"""Order 0: gradient flow does not depend on η, so one solve in real time t, saved at
    every :math:`t = k\eta_i` (k ≤ n_i) of every learning rate, serves the whole sweep."""
    problem = flatten_problem(loss, theta0)
    times = (jnp.minimum(jnp.arange(grid + 1)[None, :], ns[:, None]) * lrs[:, None]).reshape(-1)
    order = jnp.argsort(times)
    rank = jnp.zeros_like(order).at[order].set(jnp.arange(order.size))
    t1 = jnp.maximum(times[order[-1]], jnp.max(lrs))  # all n = 0: integrate to one η
    flow, flow_ok, _ = solve_saved(lambda x, _: -problem.grad(x), problem.x0, None, times[order],
                                   t1, rtol, atol, max_steps)
    flows = flow[rank].reshape(lrs.shape + (grid + 1, -1))

    def one(lr, n, gf):
        gd, gd_ok = gd_flat(loss, theta0, lr, n, grid)
        return jnp.linalg.norm(gf - gd, axis=-1), gd_ok & flow_ok

    return map_members(one, batching)(lrs, ns, flows)


def error_sweep(loss: Callable, theta0, lrs, order: int, *, horizon: float | None = None,
                num_steps: int | None = None, rtol: float = DEFAULT_RTOL,
                atol: float = DEFAULT_ATOL, max_steps: int | None = None,
                batching: str = "auto", workers: int | None = None) -> ErrorSweep:
    r"""Discretization error for many learning rates in one batched call.

    Give either ``horizon`` (a fixed time T: learning rate :math:`\eta_i` runs
    :math:`n_i = \mathrm{round}(T/\eta_i)` steps, the setting in which
    :math:`\max_k e_k = O(\eta^{\gamma+1})`) or ``num_steps`` (the same n for all).
    One compilation serves every learning rate (the step counts are traced).

    ``batching`` (:mod:`eomlib.batching`): ``"vmap"`` runs the learning rates side by side
    (accelerators), ``"map"`` one after another inside the compiled program, split over
    ``workers`` cores (default: all this process may use); ``"auto"`` takes ``"map"`` on a
    CPU and ``"vmap"`` otherwise.  The errors agree to the solver's tolerance either way.

    At order 0 gradient flow is the same for every η: it is solved once, in real time, and
    saved at every :math:`t = k\eta_i` (unless that would hold more than
    ``SHARED_FLOW_MAX_ELEMENTS`` numbers); only the GD runs are batched.
    """
    lrs_np, ns = check_sweep(lrs, horizon, num_steps)
    batching = check_batching(batching)
    _, grid, order, rtol, atol, max_steps = _checked_args(
        loss, theta0, float(lrs_np[0]), int(ns.max()), order, rtol, atol, max_steps)
    x0 = flatten_problem(loss, theta0).x0
    dtype, workers = x0.dtype, check_workers(workers)

    def call(lrs_part, ns_part):
        return _sweep_flat(loss, theta0, np.asarray(lrs_part, dtype), np.asarray(ns_part), grid,
                           order, rtol, atol, max_steps, batching)

    if order == 0 and len(lrs_np) * (grid + 1) * x0.size <= SHARED_FLOW_MAX_ELEMENTS:
        errors, ok = _gf_sweep_flat(loss, theta0, np.asarray(lrs_np, dtype), np.asarray(ns), grid, rtol,
                                    atol, max_steps, batching)
    elif batching == "map":
        errors, ok = run_split(call, (lrs_np, ns), workers)
    else:
        errors, ok = call(lrs_np, ns)
    errors, ok = np.asarray(errors), np.asarray(ok)
    for i in np.nonzero(~ok)[0]:
        ensure_finite(jnp.asarray(errors[i]), False, f"the GD or order-{order} EoM run at lr={lrs_np[i]:g}",
                      loss, theta0, float(lrs_np[i]))
    max_error = np.array([errors[i, : ns[i] + 1].max() for i in range(len(ns))])
    return ErrorSweep(lrs_np, ns, errors, max_error)
