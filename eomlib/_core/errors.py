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

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .dataparallel import batch_mesh, jit_with_loss
from .batching import check_batching, check_workers, run_split
from .sharding import mesh_members, pad_batch, replicate, to_host
from .blowup import finish_run, raise_for_status
from .budget import check_order_cost
from .counterterms import modified_field_term_fn
from .cse import eliminate_common_subexpressions
from .descent import gd_flat, gd_flat_checked
from .fields import flat_eom_field
from .flat import flatten_problem, take_leading
from .solve import (Solver, check_run, eom_flat, eom_flat_checked, flow_name, solve_rescaled,
                    solve_saved)
from .validate import check_sweep


def discretization_error(loss: Callable, theta0, lr, num_steps: int, order: int, *,
                         solver: Solver | None = None, max_num_steps: int | None = None,
                         **solver_options) -> jax.Array:
    r"""Measured error :math:`e_k = \|\theta_{\rm EoM}(k\eta) - \theta_k\|`, k = 0…n.

    ``order`` is the EoM order γ (0 = gradient flow).  At a fixed horizon
    :math:`T = n\eta`, :math:`\max_k e_k = O(\eta^{\gamma+1})`.  Works under ``jax.vmap``
    over ``lr``.  ``max_num_steps`` bounds ``num_steps`` over calls that should share one
    compilation (a slider at a fixed horizon: pass round(T/η_min)).  Returns an array of
    shape ``(num_steps + 1,)``.

    GD comes from :func:`eomlib.gd_trajectory` and the EoM from
    :func:`eomlib.eom_trajectory` (sampled exactly at :math:`t_k = k\eta`); the norm is the
    Euclidean norm over all parameters.  :func:`eomlib.predicted_error` predicts it.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays; float64 for error studies,
            since float32 round-off hides the errors of high orders).
        lr: the learning rate η, a finite scalar > 0 (may be traced: ``jax.vmap`` over it).
        num_steps: n, the number of GD steps, an integer ≥ 0.
        order: the EoM order γ, an integer ≥ 0 (0 = gradient flow).
        solver: the ODE solver's settings (:class:`eomlib.Solver`; default ``Solver()``:
            Dopri8, rtol 1e-10, atol 1e-12).
        max_num_steps: an upper bound on ``num_steps`` over calls that should share one
            compilation (see :func:`eomlib.gd_trajectory`), an integer ≥ ``num_steps`` or
            None (default: ``num_steps``).
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            Solver's fields (instead of ``solver``).

    Returns:
        :math:`e_0, \dots, e_n` (:math:`e_0 = 0`), an array of shape ``(num_steps + 1,)``.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if GD or the EoM overflows to NaN/inf or the solver
            fails; the message reports η·λ_max(θ_0).

    Example:
        >>> e = eomlib.discretization_error(loss, theta0, 0.1, 50, 1)
        >>> e.max()  # O(η²) at a fixed horizon
    """
    gd = gd_flat_checked(loss, theta0, lr, num_steps, max_num_steps, padded=True)
    eom = eom_flat_checked(loss, theta0, lr, num_steps, order, solver=solver,
                           max_num_steps=max_num_steps, padded=True, **solver_options)
    return take_leading(_row_norms(eom - gd), num_steps + 1)


@jax.jit
def _row_norms(xs):
    """Euclidean norm of each row (jitted on the padded grid: one program per grid size)."""
    return jnp.linalg.norm(xs, axis=-1)


@jit_with_loss(("loss", "grid", "order", "rtol", "atol", "max_steps"))
def predicted_flat(loss, theta0, lr, num_steps, grid, order, rtol, atol, max_steps):
    """Flat EoM solution and predicted error vectors δ_k (stacked), and the run's status."""
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
    (xs, eps), status, _ = solve_rescaled(tau_field, y0, lr, num_steps, grid, rtol, atol,
                                          max_steps)
    return xs, lr ** (order + 1) * eps, status


def predicted_error_vectors(loss: Callable, theta0, lr, num_steps: int, order: int, *,
                            solver: Solver | None = None, max_num_steps: int | None = None,
                            **solver_options) -> jax.Array:
    r"""The predicted error vectors δ_k (flat, shape ``(n + 1, d)``), see module docstring.

    :math:`\delta_k = \delta(k\eta)` solves the tangent equation

    .. math::  \dot\delta = J(\theta(t))\,\delta + \eta^{\gamma+1}\xi_{\gamma+1}(\theta(t)),
               \qquad \delta(0) = 0,

    along the order-γ EoM solution :math:`\theta(t)`, :math:`J` the Jacobian of the
    order-γ field: the leading-order prediction of :math:`\theta_{\rm EoM}(k\eta) -
    \theta_k`.  It is integrated jointly with :math:`\theta` using Jacobian-vector products
    only.  The vectors are flat, in the order of ``jax.flatten_util.ravel_pytree(theta0)``;
    their norms are :func:`eomlib.predicted_error`.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays; float64 for error studies,
            since float32 round-off hides the errors of high orders).
        lr: the learning rate η, a finite scalar > 0 (may be traced: ``jax.vmap`` over it).
        num_steps: n, the number of GD steps, an integer ≥ 0.
        order: the EoM order γ, an integer ≥ 0 (0 = gradient flow).
        solver: the ODE solver's settings (:class:`eomlib.Solver`; default ``Solver()``:
            Dopri8, rtol 1e-10, atol 1e-12).
        max_num_steps: an upper bound on ``num_steps`` over calls that should share one
            compilation (see :func:`eomlib.gd_trajectory`), an integer ≥ ``num_steps`` or
            None (default: ``num_steps``).
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            Solver's fields (instead of ``solver``).

    Returns:
        :math:`\delta_0, \dots, \delta_n` (:math:`\delta_0 = 0`) as rows, an array of shape
        ``(num_steps + 1, d)``, d the number of parameters.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if the EoM solution or the error prediction overflows to
            NaN/inf or the solver fails; the message reports η·λ_max(θ_0).

    Example:
        >>> deltas = eomlib.predicted_error_vectors(loss, theta0, 0.1, 50, 1)
        >>> deltas[-1]  # the predicted θ_EoM(50η) − θ_50, flat
    """
    run = check_run(loss, theta0, lr, num_steps, order, solver, max_num_steps, solver_options,
                    copies=2)
    check_order_cost(run.order + 1, "the error prediction of order γ + 1 =")
    return _predicted(loss, theta0, lr, run)


def _predicted(loss, theta0, lr, run, padded=False):
    _, deltas, status = predicted_flat(loss, theta0, lr, *run)
    return finish_run(deltas, status, f"the order-{run.order} error prediction", loss, theta0,
                      lr, run.num_steps, padded, run.max_steps)


def predicted_error(loss: Callable, theta0, lr, num_steps: int, order: int, *,
                    solver: Solver | None = None, max_num_steps: int | None = None,
                    **solver_options) -> jax.Array:
    r"""Leading-order prediction of :func:`eomlib.discretization_error`: :math:`\|\delta(k\eta)\|`.

    :math:`\delta` solves :math:`\dot\delta = J\delta + \eta^{\gamma+1}\xi_{\gamma+1}(\theta)`,
    :math:`\delta(0)=0`, along the order-γ EoM solution, :math:`J` the Jacobian of the
    order-γ field (see :func:`eomlib.predicted_error_vectors`).  Its relative
    deviation from the measured error is :math:`O(\eta)`.  ``max_num_steps`` as in
    :func:`eomlib.discretization_error`.  Shape ``(num_steps + 1,)``.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays; float64 for error studies,
            since float32 round-off hides the errors of high orders).
        lr: the learning rate η, a finite scalar > 0 (may be traced: ``jax.vmap`` over it).
        num_steps: n, the number of GD steps, an integer ≥ 0.
        order: the EoM order γ, an integer ≥ 0 (0 = gradient flow).
        solver: the ODE solver's settings (:class:`eomlib.Solver`; default ``Solver()``:
            Dopri8, rtol 1e-10, atol 1e-12).
        max_num_steps: an upper bound on ``num_steps`` over calls that should share one
            compilation (see :func:`eomlib.gd_trajectory`), an integer ≥ ``num_steps`` or
            None (default: ``num_steps``).
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            Solver's fields (instead of ``solver``).

    Returns:
        :math:`\|\delta_0\|, \dots, \|\delta_n\|`, an array of shape ``(num_steps + 1,)``.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if the EoM solution or the error prediction overflows to
            NaN/inf or the solver fails; the message reports η·λ_max(θ_0).

    Example:
        >>> predicted = eomlib.predicted_error(loss, theta0, 0.1, 50, 1)
        >>> predicted / eomlib.discretization_error(loss, theta0, 0.1, 50, 1)  # ≈ 1 for k > 0
    """
    run = check_run(loss, theta0, lr, num_steps, order, solver, max_num_steps, solver_options,
                    copies=2)
    check_order_cost(run.order + 1, "the error prediction of order γ + 1 =")
    deltas = _predicted(loss, theta0, lr, run, padded=True)
    return take_leading(_row_norms(deltas), run.num_steps + 1)


def fit_slope(lrs, errors) -> float:
    r"""Least-squares slope of ``log(errors)`` against ``log(lrs)`` (the empirical error order).

    At a fixed horizon the maximal error of the order-γ EoM scales like
    :math:`\eta^{\gamma+1}`, so the slope estimates γ + 1.

    Args:
        lrs: the learning rates, a 1-D array-like of at least 2 distinct values > 0.
        errors: the errors at those learning rates, a 1-D array-like of the same length,
            finite and > 0.

    Returns:
        The fitted slope, a Python float.

    Raises:
        ValueError: if the shapes differ, are not 1-D or have fewer than 2 entries, a
            value is ≤ 0 or not finite, or the learning rates are all equal.

    Example:
        >>> eomlib.fit_slope([0.1, 0.05, 0.025], [4e-3, 1e-3, 2.5e-4])  # 2.0
    """
    lrs = np.asarray(lrs, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if lrs.shape != errors.shape or lrs.ndim != 1 or lrs.size < 2:
        raise ValueError(
            f"lrs and errors must be 1-D arrays of the same length >= 2, got shapes "
            f"{lrs.shape} and {errors.shape}."
        )
    if not np.all(np.isfinite(lrs) & (lrs > 0)) or not np.all(np.isfinite(errors) & (errors > 0)):
        raise ValueError("lrs and errors must be finite and > 0 to fit a log-log slope, got "
                         f"lrs {lrs.tolist()} and errors {errors.tolist()}.")
    if np.unique(lrs).size < 2:
        raise ValueError(f"lrs must hold at least 2 distinct learning rates to fit a slope, got "
                         f"{lrs.tolist()}.")
    return float(np.polyfit(np.log(lrs), np.log(errors), 1)[0])


class ErrorSweep(NamedTuple):
    r"""Result of :func:`eomlib.error_sweep`: one row per learning rate.

    Attributes:
        lrs: the learning rates η_i, shape (m,).
        num_steps: the GD step count n_i of each learning rate, shape (m,).
        errors: the measured errors, shape (m, grid + 1), grid the padded length (the
            next power of two ≥ max(8, max_i n_i)); row i is e_k for k ≤ n_i, then repeats
            e_{n_i}.
        max_error: :math:`\max_{k \le n_i} e_k` for each learning rate, shape (m,).

    Example:
        >>> sweep = eomlib.error_sweep(loss, theta0, [0.1, 0.05, 0.025], 1, horizon=2.0)
        >>> sweep.max_error, sweep.slope()  # the slope is about γ + 1 = 2
    """

    lrs: np.ndarray  # (m,)
    num_steps: np.ndarray  # (m,) GD steps n_i for each learning rate
    errors: np.ndarray  # (m, grid + 1); row i is e_k for k ≤ n_i, then repeats e_{n_i}
    max_error: np.ndarray  # (m,) max_k≤n_i e_k

    def slope(self) -> float:
        """Fitted log–log slope of ``max_error`` against ``lrs`` (γ + 1 in theory).

        :func:`eomlib.fit_slope` of the sweep's ``lrs`` and ``max_error``.

        Returns:
            The slope, a Python float.

        Raises:
            ValueError: if the sweep has fewer than 2 learning rates or a maximal error is
                0 or not finite.

        Example:
            >>> eomlib.error_sweep(loss, theta0, [0.1, 0.05], 1, horizon=2.0).slope()
        """
        return fit_slope(self.lrs, self.max_error)


@jit_with_loss(("loss", "grid", "order", "rtol", "atol", "max_steps", "batching", "mesh"))
def _sweep_flat(loss, theta0, lrs, ns, grid, order, rtol, atol, max_steps, batching="vmap",
                mesh=None):
    def one(theta0, lr, n):  # θ0 an argument, not closed over: on a mesh, an input of each device
        gd, gd_status = gd_flat(loss, theta0, lr, n, grid)
        eom, eom_status, _ = eom_flat(loss, theta0, lr, n, grid, order, rtol, atol, max_steps)
        return jnp.linalg.norm(eom - gd, axis=-1), gd_status, eom_status

    return mesh_members(one, batching, mesh, num_shared=1)(theta0, lrs, ns)


SHARED_FLOW_MAX_ELEMENTS = 2**25
"""Largest ``m·(grid + 1)·d`` (the saved gradient flow of a whole sweep) for which an
order-0 :func:`eomlib.error_sweep` solves gradient flow once for all learning rates."""


@jit_with_loss(("loss", "grid", "rtol", "atol", "max_steps", "batching", "mesh"))
def _gf_sweep_flat(loss, theta0, lrs, ns, grid, rtol, atol, max_steps, batching="vmap", mesh=None):
    r"""Order 0: gradient flow does not depend on η, so one solve in real time t, saved at
    every :math:`t = k\eta_i` (k ≤ n_i) of every learning rate, serves the whole sweep."""
    problem = flatten_problem(loss, theta0)
    times = (jnp.minimum(jnp.arange(grid + 1)[None, :], ns[:, None]) * lrs[:, None]).reshape(-1)
    order = jnp.argsort(times)
    rank = jnp.zeros_like(order).at[order].set(jnp.arange(order.size))
    t1 = jnp.maximum(times[order[-1]], jnp.max(lrs))  # all n = 0: integrate to one η
    flow, flow_status, _ = solve_saved(lambda x, _: -problem.grad(x), problem.x0, None, times[order],
                                   t1, rtol, atol, max_steps)
    flows = flow[rank].reshape(lrs.shape + (grid + 1, -1))

    def one(theta0, flow_status, lr, n, gf):
        gd, gd_status = gd_flat(loss, theta0, lr, n, grid)
        return jnp.linalg.norm(gf - gd, axis=-1), gd_status, flow_status

    return mesh_members(one, batching, mesh, num_shared=2)(theta0, flow_status, lrs, ns, flows)


def raise_for_runs(lrs, gd_status, flow_status, order: int, loss, theta0, max_steps: int):
    """Raise :class:`DivergenceError` for the first learning rate whose GD run or flow
    failed, naming which of the two it was."""
    for lr, gd, flow in zip(lrs, gd_status, flow_status):
        raise_for_status(gd, f"gradient descent at lr={lr:g}", loss, theta0, float(lr))
        raise_for_status(flow, f"{flow_name(order)} at lr={lr:g}", loss, theta0, float(lr),
                         max_steps=max_steps)


def error_sweep(loss: Callable, theta0, lrs, order: int, *, horizon: float | None = None,
                num_steps: int | None = None, solver: Solver | None = None,
                batching: str = "auto", workers: int | None = None, mesh=None,
                **solver_options) -> ErrorSweep:
    r"""Discretization error for many learning rates in one batched call.

    Give either ``horizon`` (a fixed time T: learning rate :math:`\eta_i` runs
    :math:`n_i = \mathrm{round}(T/\eta_i)` steps, the setting in which
    :math:`\max_k e_k = O(\eta^{\gamma+1})`) or ``num_steps`` (the same n for all).
    One compilation serves every learning rate (the step counts are traced).

    ``batching`` (``eomlib.batching``): ``"vmap"`` runs the learning rates side by side
    (accelerators), ``"map"`` one after another inside the compiled program, split over
    ``workers`` cores (default: all this process may use); ``"auto"`` takes ``"map"`` on a
    CPU and ``"vmap"`` otherwise.  The errors agree to the solver's tolerance either way.

    At order 0 gradient flow is the same for every η: it is solved once, in real time, and
    saved at every :math:`t = k\eta_i` (unless that would hold more than
    ``SHARED_FLOW_MAX_ELEMENTS`` numbers); only the GD runs are batched.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays; float64 for error studies).
        lrs: the learning rates η_i, a non-empty 1-D array-like of finite values > 0.
        order: the EoM order γ, an integer ≥ 0 (0 = gradient flow).
        horizon: a time T ≥ max η_i: η_i runs n_i = round(T/η_i) ≥ 1 steps.  Give exactly one
            of ``horizon`` and ``num_steps`` (default None).
        num_steps: the same n, an integer ≥ 0, for every η (default None).
        solver: the ODE solver's settings (:class:`eomlib.Solver`; default ``Solver()``:
            Dopri8, rtol 1e-10, atol 1e-12).
        batching: ``"auto"`` (default), ``"vmap"`` or ``"map"``, see above.
        workers: the number of cores the ``"map"`` batching splits the learning rates over,
            an integer ≥ 1, or None (default) for all cores this process may use.
        mesh: the devices to spread the learning rates over (:mod:`eomlib.sharding`): a
            ``jax.sharding.Mesh``, None (default: all devices, when there are several) or
            False (one device).  Each device runs its share of the learning rates (batched
            as ``batching`` says); the results equal the single-device ones.
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            Solver's fields (instead of ``solver``).

    Returns:
        An :class:`eomlib.ErrorSweep` ``(lrs, num_steps, errors, max_error)``.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if GD or the EoM overflows at some η_i or the solver fails
            (the message names η_i).

    Example:
        >>> sweep = eomlib.error_sweep(loss, theta0, [0.1, 0.05, 0.025], 1, horizon=2.0)
        >>> sweep.slope()  # about γ + 1 = 2
    """
    lrs_np, ns = check_sweep(lrs, horizon, num_steps)
    batching = check_batching(batching)
    workers = check_workers(workers)
    at_once = len(lrs_np) if batching == "vmap" else min(workers, len(lrs_np))
    _, grid, order, rtol, atol, max_steps = check_run(
        loss, theta0, float(lrs_np[0]), int(ns.max()), order, solver, None, solver_options,
        copies=2 * at_once, series=len(lrs_np))
    x0 = flatten_problem(loss, theta0).x0
    dtype = x0.dtype

    mesh = batch_mesh(mesh, loss)
    m = len(lrs_np)
    # with a mesh, every device gets an equal share: pad by repeating the last learning rate
    lrs_run, ns_run = pad_batch((lrs_np, ns), mesh.size) if mesh is not None else (lrs_np, ns)
    theta0 = replicate(theta0, mesh)

    def call(lrs_part, ns_part):
        return _sweep_flat(loss, theta0, np.asarray(lrs_part, dtype), np.asarray(ns_part), grid,
                           order, rtol, atol, max_steps, batching, mesh)

    if order == 0 and len(lrs_run) * (grid + 1) * x0.size <= SHARED_FLOW_MAX_ELEMENTS:
        outs = _gf_sweep_flat(loss, theta0, np.asarray(lrs_run, dtype), np.asarray(ns_run), grid,
                              rtol, atol, max_steps, batching, mesh)
    elif batching == "map" and mesh is None:
        outs = run_split(call, (lrs_run, ns_run), workers)
    else:
        outs = call(lrs_run, ns_run)
    errors, gd_status, flow_status = (o[:m] for o in to_host(tuple(outs)))
    raise_for_runs(lrs_np, gd_status, flow_status, order, loss, theta0, max_steps)
    max_error = np.array([errors[i, : ns[i] + 1].max() for i in range(len(ns))])
    return ErrorSweep(lrs_np, ns, errors, max_error)


class PredictionSweep(NamedTuple):
    """Result of :func:`eomlib.prediction_sweep`: one row per learning rate, each of length n_i + 1
    (a list of arrays, since the step counts differ).

    Attributes:
        lrs: the learning rates η_i, shape (m,).
        num_steps: the GD step count n_i of each learning rate, shape (m,).
        gd_loss: a list of m arrays; entry i is the loss f(θ_k) along GD, k = 0…n_i, shape
            (n_i + 1,).
        measured: a list of m arrays; entry i is the measured error
            e_k = ‖θ_EoM(kη_i) − θ_k‖, shape (n_i + 1,).
        predicted: a list of m arrays; entry i is ‖δ(kη_i)‖, the tangent equation's
            prediction of e_k, shape (n_i + 1,).

    Example:
        >>> sweep = eomlib.prediction_sweep(loss, theta0, [0.1, 0.05], 1, horizon=2.0)
        >>> sweep.measured[1], sweep.predicted[1]  # η = 0.05, 40 steps
    """

    lrs: np.ndarray  # (m,)
    num_steps: np.ndarray  # (m,) n_i
    gd_loss: list  # f(θ_k) along GD, k = 0…n_i
    measured: list  # e_k = ‖θ_EoM(kη) − θ_k‖
    predicted: list  # ‖δ(kη)‖, the tangent equation's prediction of e_k


@jit_with_loss(("loss", "grid", "order", "rtol", "atol", "max_steps", "batching", "mesh"))
def _prediction_sweep_flat(loss, theta0, lrs, ns, grid, order, rtol, atol, max_steps,
                           batching="vmap", mesh=None):
    def one(theta0, lr, n):  # θ0 an argument: on a mesh, an input of each device
        flat_loss = flatten_problem(loss, theta0).loss
        gd, gd_status = gd_flat(loss, theta0, lr, n, grid)
        eom, deltas, eom_status = predicted_flat(loss, theta0, lr, n, grid, order, rtol, atol,
                                                 max_steps)
        return (jax.vmap(flat_loss)(gd), jnp.linalg.norm(eom - gd, axis=-1),
                jnp.linalg.norm(deltas, axis=-1), gd_status, eom_status)

    return mesh_members(one, batching, mesh, num_shared=1)(theta0, lrs, ns)


def prediction_sweep(loss: Callable, theta0, lrs, order: int, *, horizon: float | None = None,
                     num_steps: int | None = None, solver: Solver | None = None,
                     batching: str = "vmap", mesh=None, **solver_options) -> PredictionSweep:
    r"""Measured and predicted discretization error, and GD's loss, for several learning
    rates in one compiled, batched program.

    For each :math:`\eta_i` it returns the quantities of :func:`eomlib.discretization_error`
    (:math:`e_k`) and :func:`eomlib.predicted_error` (:math:`\|\delta(k\eta_i)\|`) and the
    loss :math:`f(\theta_k)` along GD, k = 0…n_i.  The EoM solution is the one integrated
    jointly with the tangent equation, so one solve per η serves both errors.  The relative
    gap :math:`\|\delta\|/e - 1` is :math:`O(\eta)`: halving η roughly halves it.

    Args:
        loss: θ ↦ scalar, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays; float64 for error studies).
        lrs: a non-empty 1-D array-like of learning rates η_i, finite and > 0.
        order: the EoM order γ, an integer ≥ 0 (0 = gradient flow).
        horizon: a time T ≥ max η_i: η_i runs n_i = round(T/η_i) ≥ 1 steps.  Give exactly one
            of ``horizon`` and ``num_steps`` (default None).
        num_steps: the same n, an integer ≥ 0, for every η (default None).
        solver: the ODE solver's settings (:class:`eomlib.Solver`; default ``Solver()``:
            Dopri8, rtol 1e-10, atol 1e-12).
        batching: ``"vmap"`` (default: the learning rates side by side), ``"map"`` (one
            after another) or ``"auto"`` (``"map"`` on a CPU), as for
            :func:`eomlib.error_sweep`.
        mesh: the devices to spread the learning rates over (:mod:`eomlib.sharding`), as for
            :func:`eomlib.error_sweep`: a ``jax.sharding.Mesh``, None (default: all devices,
            when there are several) or False (one device).  With ``"map"`` the results equal
            the single-device ones to round-off; with ``"vmap"`` a device's batch is
            narrower than one device's, XLA vectorises differently, and the adaptive solves
            may take other steps: they agree to the solver's tolerance.
        **solver_options: ``rtol``, ``atol``, ``max_steps`` as shorthands for the
            Solver's fields (instead of ``solver``).

    Returns:
        A :class:`eomlib.PredictionSweep` ``(lrs, num_steps, gd_loss, measured, predicted)``.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if GD or the EoM overflows at some η_i or the solver fails
            (the message names η_i).

    Example:
        >>> sweep = eomlib.prediction_sweep(loss, theta0, [0.1, 0.05], 1, horizon=2.0)
        >>> sweep.predicted[0][-1] / sweep.measured[0][-1]   # close to 1
    """
    lrs_np, ns = check_sweep(lrs, horizon, num_steps)
    batching = check_batching(batching)
    run = check_run(loss, theta0, float(lrs_np.max()), int(ns.max()), order, solver, None,
                    solver_options, copies=3 * len(lrs_np), series=3 * len(lrs_np))
    check_order_cost(run.order + 1, "the error prediction of order γ + 1 =")
    dtype = flatten_problem(loss, theta0).x0.dtype
    mesh = batch_mesh(mesh, loss)
    m = len(lrs_np)
    # with a mesh, every device gets an equal share: pad by repeating the last learning rate
    lrs_run, ns_run = pad_batch((lrs_np, ns), mesh.size) if mesh is not None else (lrs_np, ns)
    outs = _prediction_sweep_flat(loss, replicate(theta0, mesh), np.asarray(lrs_run, dtype),
                                  np.asarray(ns_run), *run[1:], batching, mesh)
    gd_loss, measured, predicted, gd_status, flow_status = (o[:m] for o in to_host(tuple(outs)))
    raise_for_runs(lrs_np, gd_status, flow_status, run.order, loss, theta0, run.max_steps)
    rows = [slice(0, n + 1) for n in ns]
    return PredictionSweep(lrs_np, ns, [gd_loss[i, r] for i, r in enumerate(rows)],
                           [measured[i, r] for i, r in enumerate(rows)],
                           [predicted[i, r] for i, r in enumerate(rows)])
