r"""Exact moments of SGD and of its stochastic modified equations on linear least squares.

The problem is

.. math::  f(\theta) = \frac{1}{2N}\sum_{i=1}^N (x_i^\top\theta - y_i)^2
           = \tfrac12\theta^\top H\theta - b^\top\theta + \mathrm{const},
           \qquad H = \tfrac1N X^\top X,\quad b = \tfrac1N X^\top y,

with per-example gradients :math:`g_i(\theta) = x_i(x_i^\top\theta - y_i) = G_i u`, where
:math:`u = [\theta; 1]` and :math:`G_i = [x_i x_i^\top,\ -x_i y_i]` (a d×(d+1) matrix).  Because
every map is affine in θ, the first and second moments of SGD (batches of B examples drawn
uniformly *with replacement*) obey closed linear recursions, and those of the stochastic
modified equation (SME) of Li, Tai & E (ICML 2017; JMLR 2019) closed linear ODEs: an exact
weak-error test with no Monte Carlo.

Write :math:`S_u = E[u u^\top] = \begin{pmatrix} S & m\\ m^\top & 1\end{pmatrix}` with
:math:`m = E\theta`, :math:`S = E[\theta\theta^\top]`.  Two d×d averages appear throughout:

.. math::  C(S_u) = \frac1N\sum_i G_i S_u G_i^\top = \frac1N X^\top \mathrm{diag}(q) X,
           \quad q_i = z_i^\top S_u z_i,\ z_i = [x_i; -y_i];
           \qquad \bar G S_u \bar G^\top,\ \ \bar G = [H,\ -b],

so that :math:`E[\Sigma(\Theta)] = \frac1B\,[C(S_u) - \bar G S_u \bar G^\top]` is the expected
covariance of one batch gradient.  The cost of one step is O(N d²); this is the one module
of eomlib that holds d×d matrices, so it refuses d > 200 (:data:`MAX_DIM`): for larger
models the ensemble (Monte-Carlo) functions are the way out.
"""

from __future__ import annotations

import numbers
from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .blowup import OK
from .solve import DEFAULT_ATOL, DEFAULT_RTOL, solve_saved
from .validate import (
    DivergenceError,
    check_lr,
    check_num_steps,
    check_sweep,
    guard_traced,
    is_concrete,
)

MAX_DIM = 200
SME_ORDERS = (0, 1, 2)
HORIZON_TOL = 1e-9


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def _check_data(X, y, theta0):
    """Shapes and finiteness of the data and the start; returns float64 arrays."""
    X_shape, y_shape, t_shape = jnp.shape(X), jnp.shape(y), jnp.shape(theta0)
    if len(X_shape) != 2 or X_shape[0] < 1 or X_shape[1] < 1:
        raise ValueError(f"X must be a 2-D array of shape (N, d) with N, d >= 1 (one example "
                         f"per row), got shape {X_shape}.")
    N, d = X_shape
    if d > MAX_DIM:
        raise ValueError(
            f"X has d = {d} features, more than {MAX_DIM}: the exact moment recursions hold "
            f"d×d second-moment matrices and cost O(N d²) per step, so this module refuses "
            f"d > {MAX_DIM}. For larger models use the ensemble (Monte-Carlo) functions, "
            f"which never form a d×d matrix.")
    if y_shape != (N,):
        raise ValueError(f"y must be a 1-D array of N = {N} targets (one per row of X), got "
                         f"shape {y_shape}.")
    if t_shape != (d,):
        raise ValueError(f"theta0 must be a 1-D array of shape (d,) = ({d},) to match X's "
                         f"{d} columns, got shape {t_shape}.")
    for name, arr in (("X", X), ("y", y), ("theta0", theta0)):
        dtype = jnp.result_type(arr)
        if dtype == jnp.bool_ or not (jnp.issubdtype(dtype, jnp.floating)
                                      or jnp.issubdtype(dtype, jnp.integer)):
            raise ValueError(f"{name} must be a real (floating-point) array, got dtype {dtype}.")
        if is_concrete(arr) and not np.all(np.isfinite(np.asarray(arr))):
            raise ValueError(f"{name} contains NaN or infinite values; the data and the start "
                             f"must be finite.")
    if not jax.config.jax_enable_x64:
        raise ValueError("eomlib's linear moments are computed in float64: enable it with "
                         "jax.config.update('jax_enable_x64', True) before creating arrays.")
    as64 = partial(jnp.asarray, dtype=jnp.float64)
    return as64(X), as64(y), as64(theta0)


def _check_batch_size(batch_size, N: int) -> int:
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(f"batch_size must be an integer in [1, N] = [1, {N}], got "
                         f"{batch_size!r}.")
    if not 1 <= batch_size <= N:
        raise ValueError(f"batch_size must be an integer in [1, N] = [1, {N}] (examples are "
                         f"drawn with replacement from the N rows of X), got {batch_size}.")
    return int(batch_size)


def _check_order(order) -> int:
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral) \
            or int(order) not in SME_ORDERS:
        raise ValueError(f"order must be 0 (gradient flow), 1 (SME order 1) or 2 (SME order 2),"
                         f" got {order!r}.")
    return int(order)


def _raise_if_bad(values, status, what: str, lr):
    """Raise :class:`DivergenceError` for a non-finite result or a failed solve (concrete
    values), or attach the same check as a run-time error (traced values)."""
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in values]))
    if is_concrete((finite, status)):
        if int(status) != OK or not bool(finite):
            cause = ("the ODE solver failed" if int(status) != OK and bool(finite)
                     else "the moments overflowed to NaN/inf")
            raise DivergenceError(
                f"{what} with lr = {float(np.max(np.asarray(lr))):g}: {cause}. SGD on least "
                f"squares is unstable once η·λ_max(H) approaches 2 (H = XᵀX/N); use a smaller "
                f"learning rate.")
        return values
    bad = jnp.logical_or(status != OK, ~finite)
    return eqx.error_if(values, bad, f"eomlib: {what}: the moments overflowed or the ODE "
                                     f"solver failed under jax.jit/jax.vmap.")


# --------------------------------------------------------------------------------------
# the maths
# --------------------------------------------------------------------------------------

def _stats(X, y):
    N = X.shape[0]
    return X.T @ X / N, X.T @ y / N


def _second_moment_terms(X, y, H, b, m, S):
    r"""``(A, C, D)`` with :math:`A = \bar G S_u P^\top = HS - b m^\top`,
    :math:`C = \frac1N\sum_i G_i S_u G_i^\top` and :math:`D = \bar G S_u \bar G^\top`."""
    N = X.shape[0]
    Sx = X @ S  # (N, d)
    q = jnp.sum(Sx * X, axis=1) - 2.0 * y * (X @ m) + y ** 2  # z_iᵀ S_u z_i
    C = (X * q[:, None]).T @ X / N
    Hm = H @ m
    A = H @ S - jnp.outer(b, m)
    D = H @ S @ H - jnp.outer(Hm, b) - jnp.outer(b, Hm) + jnp.outer(b, b)
    return A, C, D


def _sym(S):
    return 0.5 * (S + S.T)


def _sgd_step(X, y, H, b, lr, inv_b, m, S):
    r"""One step of the exact SGD moment recursion (see :func:`sgd_moments`)."""
    A, C, D = _second_moment_terms(X, y, H, b, m, S)
    m_next = m - lr * (H @ m - b)
    S_next = S - lr * (A + A.T) + lr ** 2 * (D + inv_b * (C - D))
    return m_next, _sym(S_next)


def _sme_field(X, y, H, b, lr, inv_b, order, m, S):
    r"""(dm/dt, dS/dt) of the order-``order`` SME (see :func:`sme_moments`)."""
    d = H.shape[0]
    K = jnp.eye(d) + 0.5 * lr * H if order == 2 else jnp.eye(d)
    KH, c = K @ H, K @ b
    dm = -KH @ m + c
    AS = -KH @ S + jnp.outer(c, m)
    dS = AS + AS.T
    if order >= 1:
        _, C, D = _second_moment_terms(X, y, H, b, m, S)
        dS = dS + lr * inv_b * (C - D)
    return dm, _sym(dS)


def _sgd_scan(X, y, theta0, lr, inv_b, num_steps: int):
    H, b = _stats(X, y)

    def body(carry, _):
        nxt = _sgd_step(X, y, H, b, lr, inv_b, *carry)
        return nxt, nxt

    init = (theta0, jnp.outer(theta0, theta0))
    _, (ms, Ss) = jax.lax.scan(body, init, None, length=num_steps)
    return (jnp.concatenate([theta0[None], ms]), jnp.concatenate([init[1][None], Ss]))


def _sgd_final(X, y, theta0, lr, inv_b, num_steps):
    """SGD's moments after a (possibly traced) number of steps."""
    H, b = _stats(X, y)
    init = (theta0, jnp.outer(theta0, theta0))
    return jax.lax.fori_loop(0, num_steps,
                             lambda _, c: _sgd_step(X, y, H, b, lr, inv_b, *c), init)


def _sme_solve(X, y, theta0, lr, inv_b, order: int, ts, t1, rtol, atol, max_steps):
    """The SME moments at the rescaled times ``ts`` (τ = t/η), and the solver status."""
    H, b = _stats(X, y)

    def field_tau(state, eta):  # d/dτ = η · d/dt
        dm, dS = _sme_field(X, y, H, b, eta, inv_b, order, *state)
        return eta * dm, eta * dS

    init = (theta0, jnp.outer(theta0, theta0))
    ys, status, _ = solve_saved(field_tau, init, lr, ts, t1, rtol, atol, max_steps)
    return ys, status


def _max_steps(num_steps) -> int:
    return 4096 + 256 * int(num_steps)


@partial(jax.jit, static_argnames=("num_steps",))
def _sgd_moments_jit(X, y, theta0, lr, inv_b, num_steps):
    return _sgd_scan(X, y, theta0, lr, inv_b, num_steps)


@partial(jax.jit, static_argnames=("num_steps", "order"))
def _sme_moments_jit(X, y, theta0, lr, inv_b, num_steps, order):
    ts = jnp.arange(num_steps + 1, dtype=jnp.float64)
    t1 = jnp.asarray(max(num_steps, 1), jnp.float64)
    (ms, Ss), status = _sme_solve(X, y, theta0, lr, inv_b, order, ts, t1, DEFAULT_RTOL,
                                  DEFAULT_ATOL, _max_steps(num_steps))
    return ms, Ss, status


# --------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------

def sgd_moments(X, y, theta0, lr, batch_size: int, num_steps: int):
    r"""Exact mean and second moment of SGD on linear least squares, steps 0…n.

    SGD draws at each step a batch of ``batch_size`` = B indices
    :math:`i_1,\dots,i_B` uniformly *with replacement* from the N examples and steps

    .. math::  \theta_{k+1} = \theta_k - \frac{\eta}{B}\sum_{j=1}^B g_{i_j}(\theta_k)
               = \frac1B \sum_{j=1}^B M_{i_j} u_k,
               \qquad M_i = [\,I - \eta x_i x_i^\top,\ \ \eta x_i y_i\,],\ u_k = [\theta_k; 1].

    The batch's indices are independent of each other and of θ_k, so with
    :math:`S_u = E[u_k u_k^\top]` and :math:`\bar M = \frac1N\sum_i M_i`,

    .. math::  m_{k+1} = \bar M\,[m_k; 1] = m_k - \eta(H m_k - b), \qquad
               S_{k+1} = \frac1B\,\frac1N\sum_i M_i S_u M_i^\top
                         + \Big(1 - \frac1B\Big)\bar M S_u \bar M^\top .

    The mean is exactly full-batch gradient descent's iterate; with
    :math:`M_i = [I, 0] - \eta G_i` the second moment is evaluated as
    :math:`S_{k+1} = S_k - \eta(A + A^\top) + \eta^2[\,D + \tfrac1B(C - D)\,]` with
    :math:`A = H S_k - b m_k^\top`, :math:`C = \frac1N\sum_i G_i S_u G_i^\top`,
    :math:`D = \bar G S_u \bar G^\top` (module docstring), at cost O(N d²) per step.
    The start is deterministic: :math:`m_0 = \theta_0`, :math:`S_0 = \theta_0\theta_0^\top`.

    Args:
        X: data, shape (N, d), finite, d <= 200.
        y: targets, shape (N,), finite.
        theta0: the deterministic start, shape (d,), finite.
        lr: the learning rate η, a finite scalar > 0; may be a JAX tracer (``jax.jit`` or
            ``jax.vmap`` over η compile once).
        batch_size: B, an integer in [1, N] (B = N still samples with replacement, so it
            still has variance).
        num_steps: n, an integer >= 0 (static: the output length).

    Returns:
        ``(means, second_moments)``: float64 arrays of shapes (n+1, d) and (n+1, d, d),
        row k holding :math:`E\theta_k` and :math:`E[\theta_k\theta_k^\top]`.

    Raises:
        ValueError: X not 2-D, y not of shape (N,), theta0 not of shape (d,), non-finite
            data, d > 200 (use the ensemble functions), batch_size not an integer in
            [1, N], lr not a finite number > 0, num_steps not an integer >= 0.
        DivergenceError: the moments overflowed (η·λ_max(H) too large).
    """
    X, y, theta0 = _check_data(X, y, theta0)
    B = _check_batch_size(batch_size, X.shape[0])
    check_lr(lr)
    num_steps = check_num_steps(num_steps)
    lr = guard_traced(jnp.asarray(lr, jnp.float64), lr, "lr")
    ms, Ss = _sgd_moments_jit(X, y, theta0, lr, 1.0 / B, num_steps)
    return tuple(_raise_if_bad((ms, Ss), jnp.int32(OK), "sgd_moments", lr))


def sme_moments(X, y, theta0, lr, batch_size: int, horizon_steps: int, order: int):
    r"""Exact mean and second moment of the stochastic modified equation at t_k = kη.

    The SME of Li, Tai & E (ICML 2017, JMLR 2019) for SGD with batch size B:

    .. math::  d\Theta = -\nabla \tilde f(\Theta)\,dt + (\eta\,\Sigma(\Theta))^{1/2}\,dW,
               \qquad \Sigma(\theta) = \frac1B\Big[\frac1N\sum_i g_i g_i^\top - g g^\top\Big]

    (Σ the covariance of one batch gradient sampled with replacement, g = ∇f), with
    ``order`` 0: :math:`\tilde f = f` and no noise (gradient flow); ``order`` 1:
    :math:`\tilde f = f`; ``order`` 2: :math:`\tilde f = f + \frac\eta4\|\nabla f\|^2`, i.e. the
    drift :math:`-(I + \frac\eta2 H)(H\Theta - b)`.  The drift is affine,
    :math:`-K(H\Theta - b)` with K = I or :math:`I + \frac\eta2 H`, so by Itô's formula the
    moments obey the linear ODEs

    .. math::  \frac{dm}{dt} = -KH m + Kb, \qquad
               \frac{dS}{dt} = (-KH S + Kb\,m^\top) + (\cdot)^\top + \eta\,E[\Sigma(\Theta)],
               \qquad E[\Sigma(\Theta)] = \frac1B\Big[\frac1N\sum_i G_i S_u G_i^\top
                                                     - \bar G S_u \bar G^\top\Big]

    (the last term absent at order 0).  They are solved with diffrax (Dopri8, PID control,
    rtol 1e-10, atol 1e-12) in rescaled time τ = t/η, saved exactly at τ = 0, 1, …, n, the
    times of SGD's steps.

    Args:
        X: data, shape (N, d), finite, d <= 200.
        y: targets, shape (N,), finite.
        theta0: the deterministic start Θ(0), shape (d,), finite.
        lr: the learning rate η, a finite scalar > 0; may be a JAX tracer.
        batch_size: B, an integer in [1, N].
        horizon_steps: n, an integer >= 0: the solution is saved at t = kη, k = 0…n.
        order: 0 (gradient flow), 1 or 2 (SME of that weak order).

    Returns:
        ``(means, second_moments)``: float64 arrays of shapes (n+1, d) and (n+1, d, d) at
        t_k = kη.

    Raises:
        ValueError: bad X, y or theta0 (shapes, finiteness, d > 200), batch_size not an
            integer in [1, N], lr not a finite number > 0, horizon_steps not an integer
            >= 0, order not 0, 1 or 2.
        DivergenceError: the ODE solver failed or the moments overflowed.
    """
    X, y, theta0 = _check_data(X, y, theta0)
    B = _check_batch_size(batch_size, X.shape[0])
    check_lr(lr)
    try:
        n = check_num_steps(horizon_steps)
    except ValueError as exc:
        raise ValueError(str(exc).replace("num_steps", "horizon_steps")) from None
    order = _check_order(order)
    lr = guard_traced(jnp.asarray(lr, jnp.float64), lr, "lr")
    ms, Ss, status = _sme_moments_jit(X, y, theta0, lr, 1.0 / B, n, order)
    return tuple(_raise_if_bad((ms, Ss), status, f"sme_moments (order {order})", lr))


class WeakErrorSweep(NamedTuple):
    r"""Weak errors of gradient flow and the SMEs against SGD at a horizon T, per η.

    Attributes:
        lrs: the learning rates η, shape (L,).
        num_steps: the step counts n = T/η, shape (L,).
        horizon: T.
        orders: ``(0, 1, 2)``: the row order of the error arrays (0 = gradient flow,
            1 = SME order 1, 2 = SME order 2).
        second_moment_errors: shape (3, L), the Frobenius norms
            :math:`\|E_{SGD}[\theta_n\theta_n^\top] - E[\Theta(T)\Theta(T)^\top]\|_F`.
        mean_errors: shape (3, L): :math:`\|E_{SGD}\theta_n - E\,\Theta(T)\|_2` (rows 0 and
            1 coincide: both means follow gradient flow).
        second_moment_slopes: shape (3,): least-squares slopes of log(error) against
            log(η) (the measured weak orders; NaN where an error is 0).
        mean_slopes: shape (3,): the same for the mean errors.
    """

    lrs: np.ndarray
    num_steps: np.ndarray
    horizon: float
    orders: tuple
    second_moment_errors: np.ndarray
    mean_errors: np.ndarray
    second_moment_slopes: np.ndarray
    mean_slopes: np.ndarray


@jax.jit
def _sweep_jit(X, y, theta0, lrs, ns, inv_b):
    def one(lr, n):
        m_sgd, S_sgd = _sgd_final(X, y, theta0, lr, inv_b, n)
        nf = n.astype(jnp.float64)
        rows_m, rows_s, statuses = [], [], []
        for order in SME_ORDERS:
            (ms, Ss), status = _sme_solve(X, y, theta0, lr, inv_b, order, nf[None], nf,
                                          DEFAULT_RTOL, DEFAULT_ATOL, 1 << 20)
            rows_m.append(jnp.linalg.norm(m_sgd - ms[0]))
            rows_s.append(jnp.linalg.norm(S_sgd - Ss[0]))
            statuses.append(status)
        finite = jnp.all(jnp.isfinite(m_sgd)) & jnp.all(jnp.isfinite(S_sgd))
        return jnp.stack(rows_s), jnp.stack(rows_m), jnp.max(jnp.stack(statuses)), finite

    return jax.vmap(one)(lrs, ns)


def _slope(lrs, errors):
    if np.any(~np.isfinite(errors)) or np.any(errors <= 0):
        return float("nan")
    return float(np.polyfit(np.log(lrs), np.log(errors), 1)[0])


def weak_error_sweep(X, y, theta0, lrs, batch_size: int, horizon: float) -> WeakErrorSweep:
    r"""Weak errors at a horizon T of gradient flow, SME order 1 and SME order 2 against SGD.

    For each learning rate η (n = T/η steps, which must be an integer), compares SGD's exact
    moments after n steps (:func:`sgd_moments`) with those of the order-0, 1 and 2 flows at
    t = T (:func:`sme_moments`):

    .. math::  e_2(\eta) = \|E[\theta_n\theta_n^\top] - E[\Theta(T)\Theta(T)^\top]\|_F,
               \qquad e_1(\eta) = \|E\theta_n - E\,\Theta(T)\|_2,

    and fits the slopes p of :math:`\log e = p \log\eta + c` by least squares.  Li, Tai & E
    (Theorem 3) predict p = 1 for gradient flow and SME order 1, p = 2 for SME order 2, for
    η small enough.  One compilation serves the whole sweep (``jax.vmap`` over η).

    Args:
        X: data, shape (N, d), finite, d <= 200.
        y: targets, shape (N,), finite.
        theta0: the deterministic start, shape (d,), finite.
        lrs: learning rates, a non-empty 1-D array of finite numbers > 0, each <= horizon.
        batch_size: B, an integer in [1, N].
        horizon: T > 0, finite; T/η must be an integer (within a relative 1e-9) for every η.

    Returns:
        A :class:`WeakErrorSweep`.

    Raises:
        ValueError: bad X, y, theta0 or batch_size (as :func:`sgd_moments`), bad lrs or
            horizon, or a horizon that is not a whole number of steps of some η (choose
            η = T/n).
        DivergenceError: some run overflowed or its ODE solve failed.
    """
    X, y, theta0 = _check_data(X, y, theta0)
    B = _check_batch_size(batch_size, X.shape[0])
    if isinstance(horizon, (bool, np.bool_)) or not isinstance(horizon, numbers.Real):
        raise ValueError(f"horizon must be a finite time > 0, got {horizon!r}.")
    lrs_np, ns = check_sweep(lrs, horizon=float(horizon))
    off = np.abs(ns * lrs_np - horizon) > HORIZON_TOL * horizon
    if np.any(off):
        bad = lrs_np[off][0]
        raise ValueError(
            f"horizon T = {horizon:g} is not a whole number of steps of lr = {bad:g} "
            f"(T/lr = {horizon / bad:.12g}); the weak error compares SGD after n steps with "
            f"the flows at t = nη = T. Choose learning rates T/n for integers n, or a "
            f"horizon that is a multiple of every lr.")
    S_err, m_err, status, finite = _sweep_jit(X, y, theta0, jnp.asarray(lrs_np),
                                              jnp.asarray(ns), 1.0 / B)
    status, finite = np.asarray(status), np.asarray(finite)
    bad = (status != OK) | ~finite
    if np.any(bad):
        raise DivergenceError(
            f"weak_error_sweep: the run with lr = {lrs_np[bad][0]:g} overflowed or its ODE "
            f"solve failed; SGD on least squares is unstable once η·λ_max(H) approaches 2 "
            f"(H = XᵀX/N): use smaller learning rates.")
    S_err, m_err = np.asarray(S_err).T, np.asarray(m_err).T  # (3, L)
    return WeakErrorSweep(
        lrs=lrs_np, num_steps=ns, horizon=float(horizon), orders=SME_ORDERS,
        second_moment_errors=S_err, mean_errors=m_err,
        second_moment_slopes=np.array([_slope(lrs_np, e) for e in S_err]),
        mean_slopes=np.array([_slope(lrs_np, e) for e in m_err]))
