r"""Gradient descent, gradient flow, the EoM and the central flow from one θ0, side by side.

At each GD step k the run reports, for every model (GD itself, gradient flow, the EoM of the
requested orders and the central flow, all in book time t = kη), the distance
:math:`\|\theta_{\text{model}}(k\eta) - \theta_k\|` to GD, the loss
:math:`f(\theta_{\text{model}}(k\eta))` and the sharpness :math:`\lambda_{\max}`; and the
central flow's prediction :math:`f + \mathrm{tr}X/\eta` of GD's time-averaged loss, to be read
against :func:`time_average` of GD's loss.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .centralflow import CentralFlow, central_flow
from .descent import gd_trajectory
from .solve import eom_trajectory
from .spectra import ravel_stack, sharpness_along
from .validate import check_order, check_positive_int


class SideBySide(NamedTuple):
    r"""The output of :func:`eomlib.centralflow.side_by_side`; F models, n + 1 GD times.

    Attributes:
        names: the F model names, GD first, the central flow last, e.g. ``("gradient
            descent", "gradient flow", "EoM order 1", "EoM order 2", "central flow")``.
        trajectories: the F stacked trajectories (pytrees like θ0, leading axis n + 1).
        distance: (F, n + 1), :math:`\|\theta_{\text{model}}(k\eta) - \theta_k\|` (row 0 zero).
        loss: (F, n + 1), the loss of each model at each GD time.
        sharpness: (F, len(sharpness_steps)), :math:`\lambda_{\max}` of each model at the
            evaluated steps (the central flow's from its own eigen-tracking).
        sharpness_steps: the evaluated GD steps 0, e, 2e, … (e = ``sharpness_every``).
        predicted_loss: (n + 1,), the central flow's prediction of GD's time-averaged loss.
        central: the full :class:`eomlib.centralflow.CentralFlow` (multipliers, eigenvalues).
    """

    names: tuple
    trajectories: tuple
    distance: np.ndarray
    loss: np.ndarray
    sharpness: np.ndarray
    sharpness_steps: np.ndarray
    predicted_loss: np.ndarray
    central: CentralFlow


def time_average(values, window: int):
    r"""The centred running mean of a series over ``window`` consecutive entries.

    Entry k is the mean of ``values[k - h : k + h + 1]`` with :math:`h = \lfloor w/2 \rfloor`
    (w = ``window``, made odd by rounding up), shortened symmetrically near the ends so
    that the mean stays centred.  GD's loss at the edge of stability oscillates from step to
    step; this is the time average the central flow predicts.

    Args:
        values: a 1-D array-like series (e.g. GD's loss per step).
        window: the averaging window, an integer ≥ 1.

    Returns:
        A NumPy array of the shape of ``values``.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1:
        raise ValueError(f"values must be a 1-D series, got shape {v.shape}.")
    h = check_positive_int(window, "window") // 2
    csum = np.concatenate([[0.0], np.cumsum(v)])
    k = np.arange(v.size)
    half = np.minimum(np.minimum(k, v.size - 1 - k), h)
    return (csum[k + half + 1] - csum[k - half]) / (2 * half + 1)


def side_by_side(loss: Callable, theta0, lr, num_steps: int, *, orders=(1, 2),
                 sharpness_every: int = 1, num_iters: int = 20, key=None,
                 central_options: dict | None = None) -> SideBySide:
    r"""Run GD, gradient flow, the EoM of each order in ``orders`` and the central flow from
    ``theta0`` and compare them at every GD step: distance to GD, loss, sharpness.

    The flows are sampled exactly at the GD times t = kη (:func:`eomlib.eom_trajectory`,
    :func:`eomlib.centralflow.central_flow`); the sharpness of GD, gradient flow and the EoMs
    is one batched Lanczos call over all their evaluated points
    (:func:`eomlib.spectra.sharpness_along`), the central flow's comes from its own tracking.

    Args:
        loss: θ ↦ scalar, θ any pytree.
        theta0: start point (finite floats; float64 recommended).
        lr: η > 0.
        num_steps: n ≥ 0 GD steps.
        orders: EoM orders to include (each an integer ≥ 1; default (1, 2); () for none).
        sharpness_every: evaluate the sharpness every this many steps (integer ≥ 1).
        num_iters: Lanczos steps per sharpness evaluation (integer ≥ 1, default 20).
        key: PRNG key for the Lanczos starts (default ``jax.random.PRNGKey(0)``).
        central_options: keyword arguments of :func:`eomlib.centralflow.central_flow`
            (``num_eigs``, ``threshold``, ``relaxation``, …).

    Returns:
        A :class:`eomlib.centralflow.SideBySide`.

    Raises:
        ValueError: on invalid arguments (naming them).
        DivergenceError: if GD or a flow overflows.
        EigenSolverError: from the central flow (see there).
    """
    orders = tuple(orders)
    for order in orders:
        if check_order(order) < 1:
            raise ValueError(f"orders must hold EoM orders >= 1 (gradient flow is always "
                             f"included), got {orders!r}.")
    check_positive_int(sharpness_every, "sharpness_every")
    central = central_flow(loss, theta0, lr, num_steps, key=key, **(central_options or {}))
    flows = [gd_trajectory(loss, theta0, lr, num_steps)]
    flows += [eom_trajectory(loss, theta0, lr, num_steps, order) for order in (0,) + orders]
    names = (("gradient descent", "gradient flow")
             + tuple(f"EoM order {order}" for order in orders) + ("central flow",))
    trajectories = tuple(flows) + (central.trajectory,)
    flat = jnp.stack([ravel_stack(t) for t in trajectories])  # (F, n + 1, d)
    distance = np.asarray(jnp.linalg.norm(flat - flat[0], axis=-1))
    losses = np.asarray(jnp.stack([jax.vmap(loss)(t) for t in trajectories]))
    steps = np.arange(0, num_steps + 1, sharpness_every)
    points = jax.tree_util.tree_map(lambda *a: jnp.stack(a)[:, ::sharpness_every], *flows)
    points = jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:]), points)
    lam = np.asarray(sharpness_along(loss, points, num_iters=num_iters, key=key))
    lam = np.concatenate([lam.reshape(len(flows), -1),
                          np.asarray(central.eigenvalues[::sharpness_every, 0])[None]])
    return SideBySide(names, trajectories, distance, losses, lam, steps,
                      np.asarray(central.predicted_loss), central)
