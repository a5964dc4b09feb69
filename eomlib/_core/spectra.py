r"""Sharpness: the top Hessian eigenvalues :math:`\lambda_{\max}` without forming the Hessian.

Every method here touches the Hessian :math:`H = \nabla^2 f(\theta)` only through
Hessian-vector products :math:`v \mapsto Hv`, computed as ``jax.jvp`` of ``jax.grad``
(forward-over-reverse, about the cost of two gradients).

* :func:`eomlib.spectra.sharpness`: power iteration.  After :math:`m` steps
  :math:`v_m \propto H^m v_0`, and the Rayleigh quotient :math:`v_m^\top H v_m` converges to
  the eigenvalue of largest *magnitude* at the rate :math:`|\lambda_2/\lambda_1|^{2m}`; when
  that one is negative, a second run on :math:`H - \rho I` turns it into
  :math:`\lambda_{\max}`.  :func:`eomlib.spectra.spectral_radius` is the magnitude itself.
* :func:`eomlib.spectra.top_eigenvalues`: the Lanczos method.  :math:`m` steps build an
  orthonormal basis :math:`Q_m` of the Krylov space
  :math:`\mathcal K_m = \mathrm{span}\{v_0, Hv_0, \dots, H^{m-1}v_0\}` in which
  :math:`T_m = Q_m^\top H Q_m` is tridiagonal; the eigenvalues of :math:`T_m` (Ritz values)
  are the best approximations to the extreme eigenvalues of :math:`H` that :math:`\mathcal K_m`
  allows.  The largest one is a lower bound, :math:`\mu^{(m)}_1 \le \lambda_{\max}`, that
  rises with m, and it converges much faster than power iteration (roughly like
  :math:`(1 - 2\sqrt{\text{gap}})^{2m}` instead of :math:`(1-\text{gap})^{2m}` for a relative
  spectral gap "gap").  The largest
  *algebraic* eigenvalues are returned, which is what the stability limit
  :math:`\eta\lambda_{\max} < 2` of gradient descent refers to.
* :func:`eomlib.spectra.sharpness_along`: either method on every (or every ``every``-th)
  iterate of a stacked trajectory, batched with ``jax.vmap``, optionally warm-started from
  given vectors (for instance the top eigenvectors of a previous call).

All of them are jittable with a fixed number of iterations (no data-dependent stopping).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .dataparallel import batch_mesh, jit_with_loss
from .flat import flatten_problem
from .sharding import mesh_members, pad_batch, replicate
from .validate import check_callable, check_positive_int, check_theta, is_concrete


def hvp(grad: Callable, x, v):
    r"""Hessian-vector product :math:`H(x)v` of the flat gradient ``grad`` (forward-over-reverse).

    Computed as ``jax.jvp(grad, (x,), (v,))``: a forward-mode derivative of the gradient,
    about the cost of two gradients, without forming :math:`H = \nabla^2 f(x)`.  Pure and
    jittable; ``jax.vmap`` over ``v`` (or ``x``) batches it.

    Args:
        grad: the gradient :math:`x \mapsto \nabla f(x)` of a loss of a *flat* vector, mapping
            shape (d,) to shape (d,), e.g. ``jax.grad(f)``.
        x: the point at which the Hessian is taken, shape (d,).
        v: the direction, shape (d,), of the dtype of ``x``.

    Returns:
        :math:`H(x)v`, an array of shape (d,).

    Raises:
        ValueError: if ``grad`` is not callable, or ``x`` and ``v`` are not flat float
            arrays of the same shape.

    Example:
        >>> grad = jax.grad(lambda x: jnp.sum(x**4))
        >>> spectra.hvp(grad, jnp.ones(3), jnp.array([1.0, 0.0, 0.0]))  # [12, 0, 0]
    """
    if not callable(grad):
        raise ValueError(f"grad must be a callable x ↦ ∇f(x) on flat vectors, got "
                         f"{type(grad).__name__}.")
    if jnp.ndim(x) != 1 or jnp.shape(v) != jnp.shape(x):
        raise ValueError(f"x and v must be flat vectors of one shape (d,), got shapes "
                         f"{jnp.shape(x)} and {jnp.shape(v)}.")
    if not (jnp.issubdtype(jnp.result_type(x), jnp.floating)
            and jnp.issubdtype(jnp.result_type(v), jnp.floating)):
        raise ValueError("x and v must be floating-point arrays.")
    return jax.jvp(grad, (x,), (v,))[1]


# ---------------------------------------------------------------------------------------------
# Power iteration
# ---------------------------------------------------------------------------------------------

def _normalise(v):
    return v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(v.dtype).tiny)


def power_iteration(matvec: Callable, v0, num_iters: int):
    r"""``num_iters`` steps of :math:`v \leftarrow Hv/\|Hv\|` from ``v0`` (flat, jittable).

    ``matvec`` is :math:`v \mapsto Hv` for a symmetric :math:`H`.  Returns the Rayleigh
    quotient :math:`\rho = v^\top H v` of the final unit vector :math:`v` (an estimate of the
    eigenvalue of largest magnitude) and :math:`v`.  The estimate converges at the rate
    :math:`|\lambda_2/\lambda_1|^{2m}` after m steps; it is slow when the top eigenvalues are
    close (prefer :func:`eomlib.spectra.lanczos` there).  A fixed number of steps, so it
    runs under ``jax.jit`` and ``jax.vmap``.

    Args:
        matvec: :math:`v \mapsto Hv` on flat vectors of shape (d,), for a symmetric
            :math:`H` (e.g. ``functools.partial(eomlib.spectra.hvp, grad, x)``).
        v0: the start vector, shape (d,), not necessarily normalised; it must not be zero
            or orthogonal to the top eigenvector (a random vector almost surely is not).
        num_iters: the number of steps m, an integer ≥ 0 (0 returns the Rayleigh quotient of
            the normalised ``v0``); each step is one call of ``matvec``, and one more call
            gives the final Rayleigh quotient.

    Returns:
        The pair ``(rho, v)``: the Rayleigh quotient, a scalar array, and the final unit
        vector, shape (d,).

    Example:
        >>> h = jnp.diag(jnp.array([3.0, 1.0]))
        >>> rho, v = spectra.power_iteration(lambda u: h @ u, jnp.ones(2), 50)  # rho ≈ 3
    """
    v = jax.lax.fori_loop(0, num_iters, lambda _, u: _normalise(matvec(u)), _normalise(v0))
    return jnp.vdot(v, matvec(v)), v


def power_lambda_max(matvec: Callable, v0, num_iters: int):
    """λ_max (algebraic) by power iteration: ``(rho, lam, v)``, ρ the dominant eigenvalue,
    λ_max and its unit vector.  When ρ < 0, a second run on H − ρI (eigenvalues
    λ_i − ρ ≥ 0 up to the error of ρ, the largest λ_max − ρ) finds λ_max."""
    rho, v = power_iteration(matvec, v0, num_iters)

    def shifted(_):
        _, u = power_iteration(lambda w: matvec(w) - rho * w, v0, num_iters)
        return jnp.vdot(u, matvec(u)), u

    lam, v = jax.lax.cond(rho < 0, shifted, lambda _: (rho, v), None)
    return rho, lam, v


@jit_with_loss(("loss", "num_iters"))
def _dominant(loss, theta, key, num_iters):
    problem = flatten_problem(loss, theta)
    x = problem.x0
    v0 = jax.random.normal(key, x.shape, dtype=x.dtype)
    rho, lam, _ = power_lambda_max(partial(hvp, problem.grad, x), v0, num_iters)
    return rho, lam


def _check_spectrum_args(loss, theta, num_iters, key):
    check_callable(loss)
    check_theta(theta, "theta")
    num_iters = check_positive_int(num_iters, "num_iters")
    return num_iters, jax.random.PRNGKey(0) if key is None else key


def _finite(value, what: str):
    if is_concrete(value) and not np.isfinite(float(value)):
        raise ValueError(f"{what} is {float(value)}: the loss or its Hessian-vector products are "
                         "not finite at theta.")
    return value


def sharpness(loss: Callable, theta, *, num_iters: int = 100, key=None) -> jax.Array:
    r""":math:`\lambda_{\max}(\nabla^2 f(\theta))`, the largest (algebraic) Hessian eigenvalue,
    by power iteration.

    :func:`eomlib.spectra.power_iteration` from a random start vector, with Hessian-vector
    products (:func:`eomlib.spectra.hvp`) only; the Hessian is never formed.  Power iteration
    finds the eigenvalue ρ of largest *magnitude*; when ρ < 0 (a saddle or a maximum whose
    most negative eigenvalue dominates) a second run on :math:`H - \rho I`, whose largest
    eigenvalue is :math:`\lambda_{\max} - \rho`, gives :math:`\lambda_{\max}`.  The estimate
    converges from below like :math:`|\lambda_2/\lambda_1|^{2m}`; for crowded top
    eigenvalues use :func:`eomlib.spectra.top_eigenvalues` (Lanczos).  Gradient descent is
    stable along the top Hessian direction while :math:`\eta\lambda_{\max} < 2`
    (:func:`eomlib.spectra.spectral_radius` gives :math:`\max_i|\lambda_i|` instead).  Jitted;
    compiled once per loss, parameter structure and ``num_iters``.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta: the point at which the Hessian is taken (pytree of finite float arrays).
        num_iters: power-iteration steps, an integer ≥ 1 (each one Hessian-vector product;
            default 100; twice as many when the dominant eigenvalue is negative).
        key: PRNG key for the start vector (default ``jax.random.PRNGKey(0)``).

    Returns:
        The estimate of :math:`\lambda_{\max}`, a scalar array.

    Raises:
        ValueError: if ``loss`` is not callable, ``theta`` is not a pytree of finite float
            arrays, ``num_iters`` is not an integer ≥ 1, or the result is not finite.

    Example:
        >>> lam = eomlib.sharpness(loss, theta0)
        >>> 2 / lam  # the largest stable learning rate along the top direction
    """
    num_iters, key = _check_spectrum_args(loss, theta, num_iters, key)
    return _finite(_dominant(loss, theta, key, num_iters)[1], "sharpness")


def spectral_radius(loss: Callable, theta, *, num_iters: int = 100, key=None) -> jax.Array:
    r""":math:`\max_i|\lambda_i(\nabla^2 f(\theta))|`, the Hessian eigenvalue of largest
    magnitude taken absolutely, by power iteration.

    The quantity that bounds the counter-term series of a quadratic (it converges for
    :math:`\eta\max_i|\lambda_i| < 1`, negative eigenvalues included), where
    :func:`eomlib.spectra.sharpness` is the one that sets GD's stability.  Power iteration
    (:func:`eomlib.spectra.power_iteration`) on Hessian-vector products; it converges like
    :math:`|\lambda_2/\lambda_1|^{2m}` in the ratio of the two largest magnitudes.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta: the point at which the Hessian is taken (pytree of finite float arrays).
        num_iters: power-iteration steps, an integer ≥ 1 (default 100).
        key: PRNG key for the start vector (default ``jax.random.PRNGKey(0)``).

    Returns:
        The estimate of :math:`\max_i|\lambda_i|`, a scalar array ≥ 0.

    Raises:
        ValueError: as :func:`eomlib.spectra.sharpness`.

    Example:
        >>> from eomlib import spectra
        >>> spectra.spectral_radius(loss, theta0)  # ≥ eomlib.sharpness(loss, theta0)
    """
    num_iters, key = _check_spectrum_args(loss, theta, num_iters, key)
    return _finite(jnp.abs(_dominant(loss, theta, key, num_iters)[0]), "spectral_radius")


# ---------------------------------------------------------------------------------------------
# Lanczos
# ---------------------------------------------------------------------------------------------

class Lanczos(NamedTuple):
    r"""The output of :func:`eomlib.spectra.lanczos`: :math:`HQ^\top \approx Q^\top T`.

    ``alphas`` (m,) is the diagonal of the tridiagonal :math:`T_m`, ``betas`` (m,) its
    off-diagonal (``betas[j]`` couples basis vectors j and j + 1; the last one is the norm
    of the residual), ``basis`` (m, d) the orthonormal Lanczos vectors as rows.
    :func:`eomlib.spectra.ritz_pairs` turns it into eigenvalue and eigenvector estimates.

    Attributes:
        alphas: the diagonal :math:`\alpha_j = q_j^\top H q_j` of :math:`T_m`, shape (m,).
        betas: the off-diagonal of :math:`T_m`, shape (m,): ``betas[j]`` couples basis
            vectors j and j + 1; ``betas[m - 1]`` is the norm of the final residual (0 where
            the recurrence restarted).
        basis: the orthonormal Lanczos vectors :math:`q_0, \dots, q_{m-1}` as rows, the
            matrix :math:`Q_m^\top`, shape (m, d).

    Example:
        >>> result = spectra.lanczos(matvec, v0, 20)
        >>> result.alphas.shape, result.basis.shape  # ((20,), (20, d))
    """

    alphas: jax.Array
    betas: jax.Array
    basis: jax.Array


def lanczos(matvec: Callable, v0, num_iters: int) -> Lanczos:
    r"""``num_iters`` Lanczos steps for a symmetric operator, with full reorthogonalisation.

    The three-term recurrence

    .. math::  \beta_j q_{j+1} = Hq_j - \alpha_j q_j - \beta_{j-1} q_{j-1},
               \qquad \alpha_j = q_j^\top H q_j,

    builds an orthonormal basis of the Krylov space of ``v0``; in floating point the
    :math:`q_j` lose orthogonality once a Ritz value converges, so each new vector is
    instead orthogonalised against *all* previous ones (twice: "twice is enough"), at a cost
    :math:`O(m d)` per step that is negligible next to the Hessian-vector product for the
    small :math:`m` used here.  If the Krylov space is exhausted (:math:`\beta_j \approx 0`,
    e.g. ``v0`` is an eigenvector), the recurrence restarts from the coordinate vector
    :math:`e_i` least represented in the basis (:math:`i = \arg\min_i \sum_j q_{j,i}^2`,
    whose orthogonal part has squared norm at least :math:`1 - (j+1)/d > 0`) with
    :math:`\beta_j = 0`, so :math:`T_m` stays the projection of :math:`H` onto an
    orthonormal basis.  Flat vectors; jittable and vmappable (no random numbers inside).

    Args:
        matvec: :math:`v \mapsto Hv` on flat vectors of shape (d,), for a symmetric
            :math:`H` (e.g. ``functools.partial(eomlib.spectra.hvp, grad, x)``).
        v0: the start vector, shape (d,), not necessarily normalised, not zero.
        num_iters: m, the number of Lanczos steps and of calls of ``matvec``, an integer with
            1 ≤ m ≤ d (a static Python integer: it fixes the output shapes).

    Returns:
        A :class:`eomlib.spectra.Lanczos` ``(alphas, betas, basis)`` of shapes (m,), (m,)
        and (m, d).

    Raises:
        ValueError: if ``num_iters`` is not in the range 1 ≤ num_iters ≤ d.

    Example:
        >>> h = jnp.diag(jnp.arange(1.0, 6.0))
        >>> result = spectra.lanczos(lambda u: h @ u, jnp.ones(5), 5)
        >>> spectra.ritz_pairs(result)[0]  # [5, 4, 3, 2, 1]: m = d is exact
    """
    d, m = v0.shape[0], int(num_iters)
    if not 1 <= m <= d:
        raise ValueError(f"num_iters must be an integer with 1 <= num_iters <= d = {d}, got {m}.")
    dtype = v0.dtype
    basis = jnp.zeros((m + 1, d), dtype).at[0].set(_normalise(v0))
    # A restart is triggered when the residual is this small relative to ‖Hq_j‖.
    threshold = 1e3 * jnp.finfo(dtype).eps
    tiny = jnp.finfo(dtype).tiny

    def orthogonalise(w, basis):
        w = w - basis.T @ (basis @ w)
        return w - basis.T @ (basis @ w)

    def step(j, carry):
        basis, alphas, betas = carry
        q = basis[j]
        w = matvec(q)
        alpha = jnp.vdot(q, w)
        scale = jnp.linalg.norm(w)
        w = orthogonalise(w, basis)  # rows > j are still zero
        beta = jnp.linalg.norm(w)
        broken = beta <= threshold * jnp.maximum(scale, tiny)
        least = jnp.argmin(jnp.sum(basis**2, axis=0))
        fresh = _normalise(orthogonalise(jnp.zeros((d,), dtype).at[least].set(1.0), basis))
        q_next = jnp.where(broken, fresh, w / jnp.maximum(beta, tiny))
        beta = jnp.where(broken, 0.0, beta)
        return basis.at[j + 1].set(q_next), alphas.at[j].set(alpha), betas.at[j].set(beta)

    basis, alphas, betas = jax.lax.fori_loop(
        0, m, step, (basis, jnp.zeros((m,), dtype), jnp.zeros((m,), dtype)))
    return Lanczos(alphas, betas, basis[:m])


def ritz_pairs(result: Lanczos):
    r"""Ritz values (descending) and Ritz vectors (rows, flat) of a Lanczos result.

    The eigenpairs :math:`(\theta_i, s_i)` of the tridiagonal :math:`T_m` give the Ritz
    pairs :math:`(\theta_i, Q_m^\top s_i)`; the residual of pair i is
    :math:`\|H y_i - \theta_i y_i\| = |\beta_m\, s_{m,i}|`.  The Ritz values lie in
    :math:`[\lambda_{\min}, \lambda_{\max}]`; the extreme ones converge first.  Jittable.

    Args:
        result: a :class:`eomlib.spectra.Lanczos` from :func:`eomlib.spectra.lanczos`
            (m steps on vectors of size d).

    Returns:
        The pair ``(values, vectors)``: the Ritz values :math:`\theta_1 \ge \dots \ge
        \theta_m`, shape (m,), and the matching unit Ritz vectors :math:`y_i` as rows,
        shape (m, d).

    Example:
        >>> values, vectors = spectra.ritz_pairs(spectra.lanczos(matvec, v0, 20))
        >>> values[0]  # the estimate of λ_max, a lower bound
    """
    a, b = result.alphas, result.betas
    t = jnp.diag(a) + jnp.diag(b[:-1], 1) + jnp.diag(b[:-1], -1)
    values, vectors = jnp.linalg.eigh(t)
    values, vectors = values[::-1], vectors[:, ::-1]
    return values, vectors.T @ result.basis


def _lanczos_top(matvec, v0, num_iters):
    """Ritz values (descending) and the top Ritz vector."""
    values, vectors = ritz_pairs(lanczos(matvec, v0, num_iters))
    return values, vectors[0]


@jit_with_loss(("loss", "num_iters", "k"))
def _top_eigenvalues(loss, theta, v0, key, num_iters, k):
    problem = flatten_problem(loss, theta)
    x = problem.x0
    v0 = jax.random.normal(key, x.shape, x.dtype) if v0 is None else v0
    values, vector = _lanczos_top(partial(hvp, problem.grad, x), v0, num_iters)
    return values[:k], vector


def top_eigenvalues(loss: Callable, theta, k: int = 1, *, num_iters: int = 30, key=None,
                    v0=None, return_vector: bool = False):
    r"""The ``k`` largest eigenvalues of :math:`\nabla^2 f(\theta)`, by the Lanczos method.

    ``num_iters`` Lanczos steps (:func:`eomlib.spectra.lanczos`, one Hessian-vector product
    each, full reorthogonalisation) and the top ``k`` Ritz values, in descending order.
    Ritz values are lower bounds on the true eigenvalues and converge fastest at the ends
    of the spectrum.  On the book's digits network at the edge of stability, where the top
    eigenvalues crowd together, 20 steps give :math:`\lambda_{\max}` to about 1e-5 relative
    and 30 steps to about 1e-9.  ``num_iters`` is capped at the number of parameters d (at
    m = d the Krylov space is the whole space and the result is exact).

    Args:
        loss: θ ↦ scalar, θ any pytree.
        theta: the point at which the Hessian is taken.
        k: how many eigenvalues, an integer with 1 ≤ k ≤ min(num_iters, d) (default 1).
        num_iters: Lanczos steps m, an integer ≥ 1 (default 30), capped at d.
        key: PRNG key for the start vector (default ``jax.random.PRNGKey(0)``); unused when
            ``v0`` is given.
        v0: optional start vector (a pytree like ``theta``, not zero), e.g. the top
            eigenvector at a nearby point (warm start); a random one if None (default).
        return_vector: also return the top Ritz vector (pytree like ``theta``, unit norm;
            default False).

    Returns:
        The ``k`` largest Ritz values in descending order, an array of shape ``(k,)``; with
        ``return_vector``, the pair ``(values, vector)``.

    Raises:
        ValueError: if ``loss`` is not callable, ``theta`` has no leaves, a non-float leaf
            or a non-finite value, ``k`` or ``num_iters`` is not an integer in its range, or
            ``v0`` does not have the size of ``theta``.

    Example:
        >>> eomlib.top_eigenvalues(loss, theta, k=3)  # shape (3,), descending
        >>> values, v = eomlib.top_eigenvalues(loss, theta, return_vector=True)
    """
    check_callable(loss)
    check_theta(theta, "theta")
    problem = flatten_problem(loss, theta)
    d = problem.x0.shape[0]
    num_iters = min(check_positive_int(num_iters, "num_iters"), d)
    k = check_positive_int(k, "k", num_iters)
    if key is None:
        key = jax.random.PRNGKey(0)
    v0_flat = None if v0 is None else _flat_start(v0, problem.x0, "v0")
    values, vector = _top_eigenvalues(loss, theta, v0_flat, key, num_iters, k)
    return (values, problem.unravel(vector)) if return_vector else values


def _flat_start(v0, x0, name: str):
    flat = ravel_pytree(v0)[0]
    if flat.shape != x0.shape:
        raise ValueError(f"{name} must have the structure and size of theta ({x0.shape[0]} "
                         f"numbers), got {flat.shape[0]}.")
    return flat.astype(x0.dtype)


# ---------------------------------------------------------------------------------------------
# Along a trajectory
# ---------------------------------------------------------------------------------------------

def ravel_stack(stack):
    """Flat vectors of a stacked pytree: shape (count, d)."""
    return jax.vmap(lambda p: ravel_pytree(p)[0])(stack)


@jit_with_loss(("loss", "every", "num_iters", "method", "v0_kind", "mesh"))
def _sharpness_along_jit(loss, traj, v0, key, every, num_iters, method, v0_kind, mesh=None):
    """Everything inside one program: slicing, flattening, the batched eigensolver."""
    template = jax.tree_util.tree_map(lambda a: a[0], traj)
    grad = flatten_problem(loss, template).grad
    unravel = ravel_pytree(template)[1]
    xs = ravel_stack(jax.tree_util.tree_map(lambda a: a[::every], traj))
    count, d = xs.shape
    keys = jax.random.split(key, count)
    if v0_kind == "none":
        v0s = jax.vmap(lambda k: jax.random.normal(k, (d,), xs.dtype))(keys)
    elif v0_kind == "single":
        v0s = jnp.broadcast_to(ravel_pytree(v0)[0].astype(xs.dtype), (count, d))
    else:
        v0s = ravel_stack(v0).astype(xs.dtype)

    def one(x, v0):
        matvec = partial(hvp, grad, x)
        if method == "power":
            return power_lambda_max(matvec, v0, num_iters)[1:]
        values, vector = _lanczos_top(matvec, v0, num_iters)
        return values[0], vector

    if mesh is not None:  # an equal share of the points per device: repeat the last one
        xs, v0s = pad_batch((xs, v0s), mesh.size)
    values, vectors = mesh_members(one, "vmap", mesh)(xs, v0s)
    if values.shape[0] != count:  # drop the padding (without it the values stay sharded)
        values, vectors = values[:count], vectors[:count]
    return values, jax.vmap(unravel)(vectors)


def sharpness_along(loss: Callable, traj, *, every: int = 1, method: str = "lanczos",
                    num_iters: int | None = None, key=None, v0=None,
                    return_vectors: bool = False, mesh=None):
    r""":math:`\lambda_{\max}(\nabla^2 f(\theta_k))` on the iterates of a stacked trajectory.

    ``traj`` is a pytree whose leaves carry a leading axis over iterates (as returned by
    :func:`eomlib.gd_trajectory` or :func:`eomlib.eom_trajectory`); the iterates
    :math:`\theta_0, \theta_{m}, \theta_{2m}, \dots` (``m = every``) are evaluated in one
    ``jax.vmap``-batched, jitted call, each with its own ``num_iters`` Hessian-vector
    products.  Any stack of points works, e.g. the trajectories of several learning rates
    reshaped into one stack.

    Args:
        loss: θ ↦ scalar, θ any pytree.
        traj: the stacked iterates (pytree of finite float arrays, every leaf with the same
            leading axis of length n + 1 ≥ 1).
        every: evaluate every ``every``-th iterate (1 = all, the default), an integer ≥ 1.
        method: ``"lanczos"`` (default) or ``"power"`` (power iteration, shifted when the
            dominant eigenvalue is negative, as in :func:`eomlib.spectra.sharpness`); both give the
            largest algebraic eigenvalue.
        num_iters: Hessian-vector products per iterate, an integer ≥ 1 (default None: 20
            for Lanczos, 100 for power iteration; Lanczos is capped at the number of
            parameters).
        key: PRNG key for random start vectors (default ``jax.random.PRNGKey(0)``); each
            iterate gets its own subkey.  Unused when ``v0`` is given.
        v0: warm start (default None: random).  Either one pytree like an iterate (the same
            start for all), or a stacked pytree with one start per evaluated iterate
            (leading axis ``ceil((n + 1) / every)``), e.g. the ``vectors`` of a previous call.
        return_vectors: also return the top eigenvector estimates (stacked pytree, one unit
            vector per evaluated iterate; default False).
        mesh: the devices to spread the evaluated iterates over (:mod:`eomlib.sharding`): a
            ``jax.sharding.Mesh``, None (default: all devices, when there are several) or
            False; the values equal the single-device ones.

    Returns:
        An array of shape ``(ceil((n + 1) / every),)`` with :math:`\lambda_{\max}` at the
        iterates ``0, every, 2·every, …``; with ``return_vectors``, ``(values, vectors)``.

    Raises:
        ValueError: if ``loss`` is not callable, ``method`` is not ``"lanczos"`` or
            ``"power"``, ``every`` or ``num_iters`` is not a positive integer, ``traj`` is not
            a stack of finite float arrays with one common leading length, or ``v0`` has
            neither the size of one iterate nor that of the stack of evaluated iterates.

    Example:
        >>> traj = eomlib.gd_trajectory(loss, theta0, 0.1, 200)
        >>> lam = eomlib.sharpness_along(loss, traj, every=10)  # shape (21,)
        >>> 0.1 * lam  # η·λ_max along the run: the edge of stability is at 2
    """
    check_callable(loss)
    if method not in ("lanczos", "power"):
        raise ValueError(f"method must be 'lanczos' or 'power', got {method!r}.")
    every = check_positive_int(every, "every")
    leaves = jax.tree_util.tree_leaves(traj)
    if not leaves or any(jnp.ndim(a) < 1 for a in leaves):
        raise ValueError("traj must be a pytree of arrays with a leading axis over iterates "
                         "(as returned by eomlib.gd_trajectory).")
    length = jnp.shape(leaves[0])[0]
    if length < 1 or any(jnp.shape(a)[0] != length for a in leaves):
        raise ValueError("every leaf of traj must have the same leading length >= 1 (the "
                         f"number of iterates), got {[jnp.shape(a)[0] for a in leaves]}.")
    check_theta(traj, "traj")
    d = sum(int(np.prod(jnp.shape(a)[1:])) for a in leaves)
    count = -(-length // every)  # ceil
    if num_iters is None:
        num_iters = 20 if method == "lanczos" else 100
    num_iters = check_positive_int(num_iters, "num_iters")
    if method == "lanczos":
        num_iters = min(num_iters, d)
    if key is None:
        key = jax.random.PRNGKey(0)
    if v0 is None:
        v0_kind = "none"
    else:
        v0_leaves = jax.tree_util.tree_leaves(v0)
        size = sum(int(np.size(a)) for a in v0_leaves)
        if size == d:
            v0_kind = "single"
        elif size == count * d and all(jnp.shape(a)[:1] == (count,) for a in v0_leaves):
            v0_kind = "stack"
        else:
            raise ValueError(f"v0 must be a pytree like one iterate ({d} numbers), or a stack of "
                             f"{count} of them (leading axis {count}), got {size} numbers.")
    mesh = batch_mesh(mesh, loss)
    traj, v0, key = replicate((traj, v0, key), mesh)
    values, vectors = _sharpness_along_jit(loss, traj, v0, key, every, num_iters, method, v0_kind,
                                           mesh)
    return (values, vectors) if return_vectors else values


def gradient_curvature(loss: Callable, theta) -> jax.Array:
    r"""The curvature of the loss along its gradient, :math:`g^\top H g / g^\top g`.

    A Rayleigh quotient, so it lies in :math:`[\lambda_{\min}, \lambda_{\max}]`; times η it is
    the :math:`\eta\lambda` that a gradient-descent step actually feels (for a quadratic
    whose gradient is an eigenvector, exactly :math:`\eta\lambda`).  One Hessian-vector
    product; pure and jittable, so ``jax.vmap`` it over a stacked trajectory.  Zero where
    the gradient vanishes.

    Args:
        loss: θ ↦ scalar, JAX-differentiable, θ any pytree.
        theta: the point (pytree of float arrays), concrete or traced.

    Returns:
        :math:`g^\top H g / g^\top g` at ``theta`` (0 where :math:`g = 0`), a scalar array.

    Raises:
        ValueError: if ``loss`` is not callable or ``theta`` is not a pytree of float arrays
            (finite, when concrete).

    Example:
        >>> eomlib.gradient_curvature(loss, theta0)
        >>> jax.vmap(lambda th: eomlib.gradient_curvature(loss, th))(traj)  # per iterate
    """
    check_callable(loss)
    check_theta(theta, "theta")
    problem = flatten_problem(loss, theta)
    g = problem.grad(problem.x0)
    gg = jnp.vdot(g, g)
    ghg = jnp.vdot(g, hvp(problem.grad, problem.x0, g))
    return jnp.where(gg > 0, ghg / jnp.where(gg > 0, gg, 1), 0.0)
