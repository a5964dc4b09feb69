r"""Solving the EoM with diffrax, saved exactly at the gradient-descent times.

We integrate in rescaled time :math:`\tau = t/\eta`,

.. math::  \frac{d\theta}{d\tau} = \eta\,\tilde F_\gamma(\theta), \qquad \tau = 0, 1, \dots, n,

so that step :math:`k` of GD and the save point :math:`\tau = k` coincide for every learning
rate: one save grid serves a whole ``vmap`` over :math:`\eta`.  The solver is diffrax's
8th-order Dormand–Prince method with a PID step-size controller; the default tolerances
(``rtol = 1e-10``, ``atol = 1e-12``) resolve discretization errors down to about
:math:`10^{-10}` in float64.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Callable, NamedTuple

import diffrax
import jax
import jax.numpy as jnp

from .dataparallel import jit_with_loss
from .blowup import finish_run, loss_status, solver_status, worst
from .budget import check_order_cost, check_saved_size
from .fields import flat_eom_field
from .flat import flatten_problem, grid_size, unravel_stack
from .validate import (
    check_finite_start,
    check_method,
    check_loss,
    check_lr,
    check_max_num_steps,
    check_num_steps,
    check_order,
    check_theta,
    check_tolerance,
)
from .smoothness import warn_if_not_smooth

DEFAULT_RTOL = 1e-10
DEFAULT_ATOL = 1e-12
SOLVER_OPTIONS = ("rtol", "atol", "max_steps")


def default_max_steps(num_steps: int) -> int:
    """Solver step budget: generous for stiff counter terms, finite so blow-ups terminate."""
    return 4096 + 256 * grid_size(num_steps)


@dataclasses.dataclass(frozen=True)
class Solver:
    r"""How eomlib solves its ODEs: diffrax's 8th-order Dormand–Prince method (``Dopri8``)
    with a PID step-size controller, in rescaled time τ = t/η, saved exactly at τ = 0, 1, …, n.

    Every function that solves an ODE takes ``solver=Solver(...)``; the keywords ``rtol=``,
    ``atol=`` and ``max_steps=`` may be passed instead, as shorthands for the same fields.
    The object is hashable, so it is a static argument under ``jax.jit`` (a new tolerance
    compiles a new program; a new learning rate does not).

    Args:
        rtol: relative tolerance, > 0 (default ``1e-10``: float64 errors resolved down to
            about 1e-10).
        atol: absolute tolerance, > 0 (default ``1e-12``).
        max_steps: the solver's step budget, a positive integer, or None for
            ``4096 + 256 · grid`` (grid the padded step count): generous for stiff counter
            terms, finite so that a blow-up ends with an error instead of a hang.

    Example:
        >>> eomlib.eom_trajectory(loss, theta0, 0.1, 50, 2, solver=eomlib.Solver(rtol=1e-8))
    """

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    max_steps: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "rtol", check_tolerance(self.rtol, "rtol"))
        object.__setattr__(self, "atol", check_tolerance(self.atol, "atol"))
        steps = self.max_steps
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)
                                  or steps < 1):
            raise ValueError(f"max_steps must be a positive integer or None, got {steps!r}.")
        object.__setattr__(self, "max_steps", None if steps is None else int(steps))

    def budget(self, num_steps: int) -> int:
        """The step budget for a run padded to ``grid_size(num_steps)``."""
        return self.max_steps if self.max_steps is not None else default_max_steps(num_steps)


def solver_settings(solver=None, options=None) -> Solver:
    """The :class:`Solver` of a public call: ``solver`` (default ``Solver()``), or one built
    from the shorthand keywords in ``options`` (``rtol``, ``atol``, ``max_steps``)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(SOLVER_OPTIONS))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}; the "
                        f"solver's options are {', '.join(SOLVER_OPTIONS)} (or solver=eomlib.Solver(...)).")
    if solver is None:
        return Solver(**options)
    if not isinstance(solver, Solver):
        raise ValueError(f"solver must be an eomlib.Solver, got {type(solver).__name__}.")
    if options:
        return dataclasses.replace(solver, **options)
    return solver


def solve_rescaled(field_tau: Callable, y0, lr, num_steps, grid: int, rtol: float, atol: float,
                   max_steps: int):
    """Solve ``dy/dτ = field_tau(y, lr)`` on τ ∈ [0, n], saved at τ = 0, 1, …, n.

    ``lr`` is passed to ``field_tau`` unchanged, so it may be any pytree of traced
    parameters (the momentum flows pass ``(lr, beta)``).
    ``num_steps`` (n) may be traced; the save grid has the static length ``grid + 1`` and
    rows after n repeat the value at τ = n.  Returns ``(ys, status, stats)``: ``ys`` stacked
    along a new leading axis (pytree like ``y0``), the run's status (``eomlib._core.blowup``:
    OK, or why the solver failed or produced NaN/inf) and diffrax's statistics.
    """
    dtype = jax.tree_util.tree_leaves(y0)[0].dtype
    ts = jnp.minimum(jnp.arange(grid + 1), num_steps).astype(dtype)
    t1 = jnp.maximum(num_steps, 1).astype(dtype)  # n = 0: integrate to 1, save only τ = 0
    return solve_saved(field_tau, y0, lr, ts, t1, rtol, atol, max_steps)


def solve_saved(field: Callable, y0, args, ts, t1, rtol: float, atol: float, max_steps: int):
    """Solve ``dy/dt = field(y, args)`` from t = 0 to ``t1``, saved at the non-decreasing
    times ``ts`` (≤ t1), with the solver and step-size control of :func:`solve_rescaled`.
    Returns ``(ys, status, stats)`` as that does."""
    dtype = jax.tree_util.tree_leaves(y0)[0].dtype
    term = diffrax.ODETerm(lambda t, y, a: field(y, a))
    sol = diffrax.diffeqsolve(
        term,
        diffrax.Dopri8(),
        t0=jnp.zeros((), dtype),
        t1=t1,
        dt0=None,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
        throw=False,
    )
    return sol.ys, solver_status(sol), sol.stats


@jit_with_loss(("loss", "grid", "order", "rtol", "atol", "max_steps", "method"))
def eom_flat(loss, theta0, lr, num_steps, grid, order, rtol, atol, max_steps, method="trees"):
    """The order-``order`` EoM solution at τ = 0…grid (flat, padded after ``num_steps``),
    the run's status and the solver's statistics."""
    problem = flatten_problem(loss, theta0)
    field = flat_eom_field(problem.grad, order, method=method)
    xs, status, stats = solve_rescaled(lambda x, eta: eta * field(x, eta), problem.x0, lr,
                                       num_steps, grid, rtol, atol, max_steps)
    return xs, worst(status, loss_status(problem.loss, xs)), stats


def flow_name(order: int) -> str:
    """How messages name the order-``order`` flow."""
    return "gradient flow" if order == 0 else f"the order-{order} EoM solution"


class RunArgs(NamedTuple):
    """Validated arguments of a run: steps n, static grid length, order, solver settings."""

    num_steps: int
    grid: int
    order: int
    rtol: float
    atol: float
    max_steps: int


def check_run(loss, theta0, lr, num_steps, order=0, solver=None, max_num_steps=None,
              solver_options=None, *, copies: int = 1, series: int = 0) -> RunArgs:
    """Validate the arguments every trajectory, error and sweep function shares and resolve
    the solver settings (:func:`solver_settings`); ``grid`` is the static save-grid length
    for ``max_num_steps`` (default ``num_steps``).  Warns about a non-smooth loss when
    ``order`` ≥ 1.  Refuses a run whose ``copies`` saved trajectories (of grid + 1 rows of
    θ's size) and ``series`` scalar series cannot fit in memory, and an order whose counter terms cannot be compiled
    (:mod:`eomlib._core.budget`)."""
    check_lr(lr)
    num_steps = check_num_steps(num_steps)
    bound = check_max_num_steps(max_num_steps, num_steps)
    order = check_order(order)
    check_theta(theta0)
    check_loss(loss, theta0)
    check_finite_start(loss, theta0)
    warn_if_not_smooth(loss, theta0, order)
    settings = solver_settings(solver, solver_options)
    leaves = jax.tree_util.tree_leaves(theta0)
    check_saved_size(grid_size(bound) + 1, sum(int(jnp.size(a)) for a in leaves),
                     jnp.result_type(*leaves).itemsize, copies, series)
    check_order_cost(order)
    return RunArgs(num_steps, grid_size(bound), order, settings.rtol, settings.atol,
                   settings.budget(bound))


def eom_flat_checked(loss, theta0, lr, num_steps, order, *, solver=None, method="trees",
                     max_num_steps=None, padded=False, **solver_options):
    """Validated :func:`eom_flat`; raises on overflow. Returns the flat solution (with
    ``padded``, the whole padded grid)."""
    check_method(method)
    run = check_run(loss, theta0, lr, num_steps, order, solver, max_num_steps, solver_options)
    xs, status, _ = eom_flat(loss, theta0, lr, run.num_steps, run.grid, run.order, run.rtol,
                             run.atol, run.max_steps, method)
    return finish_run(xs, status, flow_name(run.order), loss, theta0, lr, run.num_steps,
                      padded, run.max_steps)


def eom_trajectory(loss: Callable, theta0, lr, num_steps: int, order: int, *,
                   solver: Solver | None = None, method: str = "trees",
                   max_num_steps: int | None = None, **solver_options):
    r"""The order-``order`` EoM solution sampled exactly at :math:`t_k = k\eta`, k = 0…n.

    Solves :math:`\dot\theta = -\nabla f - \eta\sum_{k\le order}\eta^{k-1}\xi_k` from
    :math:`\theta(0) = \theta_0` (order 0: gradient flow) with an adaptive 8th-order
    Runge–Kutta method in rescaled time τ = t/η.

    Args:
        loss: θ ↦ scalar, θ any pytree.
        theta0: start point (finite floats). Use float64 (``jax_enable_x64``) for error
            studies: float32 round-off (~1e-7) hides errors of high-order EoMs.
        lr: η > 0, may be traced (``jax.vmap`` over it).
        num_steps: n ≥ 0.
        order: γ ≥ 0, the number of counter terms.
        solver: the ODE solver's settings (:class:`eomlib.Solver`: tolerances and step
            budget); ``rtol=``, ``atol=``, ``max_steps=`` are accepted as shorthands.
        method: ``"trees"`` or ``"recursion"`` (the slow reference), see
            :func:`eomlib.counter_terms`.
        max_num_steps: an upper bound on ``num_steps`` over calls that should share one
            compilation (see :func:`eomlib.gd_trajectory`); default ``num_steps``.
        **solver_options: ``rtol``, ``atol``, ``max_steps`` (see ``solver``).

    Returns:
        A pytree like ``theta0`` with a leading axis of length n + 1, stacked like
        :func:`eomlib.gd_trajectory`.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        DivergenceError: if the solution overflows or the solver fails; the message
            reports η·λ_max(θ_0).
    """
    xs = eom_flat_checked(loss, theta0, lr, num_steps, order, solver=solver, method=method,
                          max_num_steps=max_num_steps, **solver_options)
    return unravel_stack(theta0, xs)
