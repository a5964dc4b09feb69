r"""The small semidefinite complementarity problem of the central flow.

Given a symmetric k×k matrix :math:`A` and a positive semidefinite linear operator
:math:`\mathcal B` on symmetric k×k matrices, SDCP(A, B) asks for :math:`X` with

.. math::  X \succeq 0, \qquad A + \mathcal B[X] \succeq 0, \qquad \langle X, A + \mathcal B[X]\rangle = 0.

Because :math:`\mathcal B` is positive semidefinite, these are the optimality conditions of the
convex quadratic programme :math:`\min_{X\succeq 0} \tfrac12\langle X, \mathcal B[X]\rangle +
\langle A, X\rangle` (the form the official central-flow code solves with CVXOPT).  Here k is
the number of tracked Hessian eigenvalues (a handful), so the problem is tiny; it is solved in
JAX, jittably, without an external solver:

1. if :math:`A \succeq 0`, then :math:`X = 0`;
2. otherwise the stationary point :math:`\mathcal B[X] = -A` (a pseudo-inverse on the k²
   entries): when it is positive semidefinite it is the solution (every eigenvalue at the edge
   is held there);
3. otherwise accelerated projected gradient descent (FISTA with restarts, projection onto the
   PSD cone by an eigendecomposition) from the projected stationary point, for a fixed number
   of iterations; its KKT residual is returned so that a caller can see how well it converged.

A mask restricts X to the rows and columns of the eigenvalues counted at the edge (X is zero
elsewhere); with one such eigenvalue the problem is scalar and solved exactly:
:math:`X = \max(0, -A_{11}/\mathcal B_{11,11})`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

NUM_ITERS = 300


def project_psd(m):
    """The nearest (Frobenius) positive semidefinite matrix to the symmetric part of ``m``."""
    m = 0.5 * (m + m.T)
    w, v = jnp.linalg.eigh(m)
    return (v * jnp.maximum(w, 0.0)) @ v.T


def solve_sdcp(a, b, mask, num_iters: int = NUM_ITERS):
    r"""Solve SDCP(A, B) with X supported on the rows/columns where ``mask`` is True.

    Args:
        a: A, a symmetric (k, k) array.
        b: the operator :math:`\mathcal B` as a (k, k, k, k) array,
            :math:`\mathcal B[X]_{ij} = \sum_{kl} b_{ijkl} X_{kl}`, symmetric and positive
            semidefinite as a k²×k² matrix.
        mask: (k,) booleans, the indices X may use.
        num_iters: projected-gradient iterations of the fallback (step 3), static.

    Returns:
        ``(X, residual)``: X, symmetric PSD (k, k), zero outside the mask, and the KKT
        residual :math:`\|X - \Pi_{\succeq 0}(X - (A + \mathcal B[X])/\|\mathcal B\|)\|`
        relative to :math:`\|X\|` (0 when X = 0 is the exact answer).
    """
    k = a.shape[0]
    dtype = a.dtype
    pair = (mask[:, None] & mask[None, :]).astype(dtype)
    flat_mask = pair.reshape(-1)
    a = 0.5 * (a + a.T) * pair
    bm = b.reshape(k * k, k * k)
    bm = 0.5 * (bm + bm.T) * flat_mask[:, None] * flat_mask[None, :]
    evals, evecs = jnp.linalg.eigh(bm)
    tiny = jnp.finfo(dtype).tiny
    scale = jnp.maximum(evals[-1], tiny)  # ‖B‖: normalise so that the gradient step is 1
    a_n, b_n = a / scale, bm / scale
    w_n = evals / scale
    apply = lambda x: (b_n @ x.reshape(-1)).reshape(k, k)  # noqa: E731

    # 2. the stationary point B[X] = -A on the mask (pseudo-inverse: B is singular on the
    #    antisymmetric part and wherever two G_ij coincide)
    keep = w_n > 1e3 * jnp.finfo(dtype).eps
    inv = jnp.where(keep, 1.0 / jnp.where(keep, w_n, 1.0), 0.0)
    x_u = -(evecs @ (inv * (evecs.T @ a_n.reshape(-1)))).reshape(k, k)
    x_u = 0.5 * (x_u + x_u.T) * pair
    x_u_eigs = jnp.linalg.eigvalsh(x_u + (1.0 - pair) * jnp.eye(k, dtype=dtype))
    size = jnp.maximum(jnp.max(jnp.abs(x_u)), tiny)
    stationary = jnp.linalg.norm(apply(x_u) + a_n) <= jnp.sqrt(jnp.finfo(dtype).eps) * jnp.maximum(
        jnp.linalg.norm(a_n), tiny)
    interior = (jnp.min(x_u_eigs) >= -1e3 * jnp.finfo(dtype).eps * size) & stationary

    def kkt(x):
        return jnp.linalg.norm(x - project_psd((x - (a_n + apply(x))) * pair)) / jnp.maximum(
            jnp.linalg.norm(x), tiny)

    def fista():
        def body(_, carry):
            x, y, t, f_prev = carry
            x_new = project_psd((y - (a_n + apply(y))) * pair) * pair
            f_new = 0.5 * jnp.vdot(x_new, apply(x_new)) + jnp.vdot(a_n, x_new)
            restart = f_new > f_prev  # adaptive restart when the objective goes up
            t_new = jnp.where(restart, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)))
            y_new = jnp.where(restart, x_new, x_new + ((t - 1.0) / t_new) * (x_new - x))
            return x_new, y_new, t_new, f_new

        x0 = project_psd(x_u) * pair
        f0 = 0.5 * jnp.vdot(x0, apply(x0)) + jnp.vdot(a_n, x0)
        x, *_ = jax.lax.fori_loop(0, num_iters, body, (x0, x0, jnp.ones((), dtype), f0))
        return x

    a_psd = jnp.min(jnp.linalg.eigvalsh(a_n + (1.0 - pair) * jnp.eye(k, dtype=dtype))) >= 0
    x = jax.lax.cond(a_psd, lambda: jnp.zeros_like(a),
                     lambda: jax.lax.cond(interior, lambda: x_u, fista))
    x = 0.5 * (x + x.T)
    residual = jnp.where(a_psd, 0.0, kkt(x))
    return x, residual
