r"""Runs with weight decay batched in one program: GD, gradient flow or the order-γ EoM on
:math:`f + \frac\lambda2\|\theta\|^2` for several (η, λ, n) at once, tracking the norm of a
scale-invariant group and the sum of a translation-invariant one (chapters 5–7 of the book).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .dataparallel import jit_with_loss
from .blowup import raise_for_status
from .descent import gd_flat
from .flat import flatten_problem, grid_size
from .invariance import group_mask, weight_decayed
from .solve import Solver, check_run, eom_flat, flow_name
from .validate import check_lr, check_num_steps


class WeightDecaySweep(NamedTuple):
    r"""The result of :func:`~eomlib.invariance.weight_decay_sweep`: one row per run
    i = 0…m−1, one column per step k = 0…max n; entries after run i's own n_i are NaN.

    Attributes:
        sq_norm: shape ``(m, max n + 1)``, :math:`\|\theta_{S,k}\|^2` of the scale group.
        grad_sq_norm: shape ``(m, max n + 1)``, :math:`\|g_S(\theta_k)\|^2`, g the gradient
            of the *undecayed* loss f (what the closed forms of :mod:`eomlib.invariance` take).
        total: shape ``(m, max n + 1)``, :math:`\mathbf 1\cdot\theta_{T,k}` of the sum group.
        num_steps: the runs' step counts n_i, a tuple of ints.

    Example:
        >>> sweep = invariance.weight_decay_sweep(loss, theta0, [0.1, 0.05], [0.0, 0.0],
        ...                                       [100, 200], scale_group=lambda th: th[0])
        >>> sweep.sq_norm[1, : sweep.num_steps[1] + 1]  # run 1, all its steps
    """

    sq_norm: jax.Array
    grad_sq_norm: jax.Array
    total: jax.Array
    num_steps: tuple


def _tracked(grad, xs, scale_mask, sum_mask):
    # gradients in batches of 16 iterates: a vmap over the whole run would hold the
    # activations of every iterate at once (tens of GB for a network at the paper scale)
    g2 = jax.lax.map(lambda x: jnp.sum(scale_mask * grad(x) ** 2), xs, batch_size=16)
    return jnp.sum(scale_mask * xs**2, -1), g2, jnp.sum(sum_mask * xs, -1)


@jit_with_loss(("loss", "grid"))
def _gd_runs(loss, theta0, scale_mask, sum_mask, lrs, decays, ns, grid):
    grad = flatten_problem(loss, theta0).grad

    def one(lr, decay, n):
        xs, status = gd_flat(weight_decayed(loss, decay), theta0, lr, n, grid)
        return (*_tracked(grad, xs, scale_mask, sum_mask), status)

    return jax.vmap(one)(lrs, decays, ns)  # GD is cheap: the runs in lockstep


@jit_with_loss(("loss", "grid", "order", "rtol", "atol", "max_steps"))
def _flow_runs(loss, theta0, scale_mask, sum_mask, lrs, decays, ns, grid, order, rtol, atol,
               max_steps):
    grad = flatten_problem(loss, theta0).grad

    def one(args):
        lr, decay, n = args
        xs, status, _ = eom_flat(weight_decayed(loss, decay), theta0, lr, n, grid, order, rtol,
                                 atol, max_steps)
        return (*_tracked(grad, xs, scale_mask, sum_mask), status)

    # lax.map: each adaptive solve takes its own steps (under vmap all would take the
    # smallest step of any run)
    return jax.lax.map(one, (lrs, decays, ns))


def _check_runs(lrs, weight_decays, num_steps) -> tuple:
    arrays = []
    for name, values in (("lrs", lrs), ("weight_decays", weight_decays)):
        arr = np.asarray(values)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number) \
                or np.iscomplexobj(arr) or arr.dtype == np.bool_:
            raise ValueError(f"{name} must be a non-empty 1-D sequence of real numbers, got "
                             f"{values!r}.")
        arrays.append(arr.astype(float))
    lrs, decays = arrays
    steps = list(num_steps) if np.ndim(num_steps) == 1 else None
    if steps is None or len(steps) != lrs.size or decays.size != lrs.size:
        raise ValueError("lrs, weight_decays and num_steps must be 1-D sequences of the same "
                         f"length (one entry per run), got lengths {lrs.size}, {decays.size} "
                         f"and {len(steps) if steps is not None else np.shape(num_steps)}.")
    if not np.all(np.isfinite(decays) & (decays >= 0)):
        raise ValueError(f"weight_decays must be finite and >= 0, got {decays.tolist()}.")
    return lrs, decays, steps


def weight_decay_sweep(loss: Callable, theta0, lrs, weight_decays, num_steps, *,
                       order: int | None = None, scale_group=None, sum_group=None,
                       solver: Solver | None = None, **solver_options) -> WeightDecaySweep:
    r"""Several runs on :math:`f + \frac{\lambda_i}2\|\theta\|^2`, one compiled program for
    all: GD (``order=None``) or the order-γ EoM (``order=γ``; 0 is gradient flow), tracking
    :math:`\|\theta_S\|^2`, :math:`\|g_S\|^2` and :math:`\mathbf 1\cdot\theta_T`.

    Run i starts at θ_0 with learning rate η_i, weight decay λ_i and n_i steps (the flows
    are sampled at :math:`t_k = k\eta_i`).  The same as calling
    :func:`eomlib.gd_trajectory` / :func:`eomlib.eom_trajectory` on
    :func:`~eomlib.invariance.weight_decayed` losses and
    :func:`~eomlib.invariance.group_sq_norm`, :func:`~eomlib.invariance.group_grad_sq_norm`
    and :func:`~eomlib.invariance.group_sum` on each trajectory, but the m runs share one
    compilation (GD in lockstep with ``vmap``, the flows one after another with
    ``lax.map``) and no trajectory is kept.

    Args:
        loss: the undecayed loss f, θ ↦ scalar, θ any pytree.
        theta0: the start θ_0 (pytree of finite float arrays).
        lrs: the learning rates η_i > 0, a 1-D sequence of m numbers.
        weight_decays: the weight decays λ_i ≥ 0, a 1-D sequence of m numbers.
        num_steps: the step counts n_i ≥ 0, a sequence of m integers.
        order: None (the default) for gradient descent, or the EoM order γ ≥ 0 of the flow.
        scale_group: the group S whose norm is tracked (a selector as in
            :func:`~eomlib.invariance.group_mask`; default None: all parameters).
        sum_group: the group T whose sum is tracked (default None: all parameters).
        solver: the ODE solver's settings for a flow (:class:`eomlib.Solver`); ``rtol=``,
            ``atol=``, ``max_steps=`` are accepted as shorthands.  Ignored for GD.
        **solver_options: ``rtol``, ``atol``, ``max_steps`` (see ``solver``).

    Returns:
        A :class:`~eomlib.invariance.WeightDecaySweep` of arrays of shape (m, max n_i + 1),
        NaN after each run's own n_i.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if a run overflows (or a flow's solver fails); the message
            names the run's η and λ and reports η·λ_max(θ_0).

    Example:
        >>> first_layer = lambda th: th[0]
        >>> gd = invariance.weight_decay_sweep(loss, theta0, [0.1, 0.1], [0.0, 5e-3],
        ...                                    [500, 500], scale_group=first_layer)
        >>> gf = invariance.weight_decay_sweep(loss, theta0, [0.1, 0.1], [0.0, 5e-3],
        ...                                    [500, 500], order=0, scale_group=first_layer)
        >>> gd.sq_norm[:, -1], gf.sq_norm[:, -1]  # the first layer's ‖θ‖² after 500 steps
    """
    lrs, decays, steps = _check_runs(lrs, weight_decays, num_steps)
    for lr in lrs:
        check_lr(lr)
    steps = tuple(check_num_steps(n) for n in steps)
    run = check_run(loss, theta0, lrs[0], max(steps), 0 if order is None else order, solver,
                    None, solver_options, copies=len(lrs) if order is None else 1,
                    series=3 * len(lrs))
    scale_mask = group_mask(theta0, scale_group)
    sum_mask = group_mask(theta0, sum_group)
    dtype = scale_mask.dtype
    args = (loss, theta0, scale_mask, sum_mask, jnp.asarray(lrs, dtype),
            jnp.asarray(decays, dtype), jnp.asarray(steps), grid_size(max(steps)))
    if order is None:
        what, (sq, g2, total, status) = "gradient descent", _gd_runs(*args)
    else:
        what = flow_name(run.order)
        sq, g2, total, status = _flow_runs(*args, run.order, run.rtol, run.atol, run.max_steps)
    for i, code in enumerate(np.asarray(status)):
        raise_for_status(code, f"{what} with weight decay {decays[i]:g} (run {i})",
                         weight_decayed(loss, float(decays[i])), theta0, float(lrs[i]),
                         sq[i], run.max_steps)
    width = max(steps) + 1
    past = jnp.arange(width)[None, :] > jnp.asarray(steps)[:, None]
    pad = lambda a: jnp.where(past, jnp.nan, a[:, :width])  # noqa: E731
    return WeightDecaySweep(pad(sq), pad(g2), pad(total), steps)
