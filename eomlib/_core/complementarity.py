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
3. otherwise a primal barrier (interior-point) method: damped Newton steps on
   ½⟨X, B[X]⟩ + ⟨A, X⟩ − μ log det X with μ halved at each of a fixed number of steps; its KKT
   residual is returned so that a caller can see how well it converged.

A mask restricts X to the rows and columns of the eigenvalues counted at the edge (X is zero
elsewhere); with one such eigenvalue the problem is scalar and solved exactly:
:math:`X = \max(0, -A_{11}/\mathcal B_{11,11})`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

NUM_ITERS = 60


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
        num_iters: Newton steps of the barrier method (step 3), static.

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
    keep = w_n > 1e-6  # nearly flat directions of B make the stationary point ill-posed
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

    def barrier():
        return _barrier_qp(a_n, b_n, mask, num_iters)

    a_psd = jnp.min(jnp.linalg.eigvalsh(a_n + (1.0 - pair) * jnp.eye(k, dtype=dtype))) >= 0
    x = jax.lax.cond(a_psd, lambda: jnp.zeros_like(a),
                     lambda: jax.lax.cond(interior, lambda: x_u, barrier))
    x = 0.5 * (x + x.T)
    residual = jnp.where(a_psd, 0.0, kkt(x))
    return x, residual


def _barrier_qp(a, bm, mask, num_iters: int):
    r"""min ½⟨X, B[X]⟩ + ⟨A, X⟩ over X ⪰ 0 on the mask, by a primal barrier method: Newton steps
    on :math:`\varphi_\mu = \tfrac12\langle X, B[X]\rangle + \langle A, X\rangle - \mu\log\det X`
    in the k(k+1)/2 coordinates of the symmetric block, μ halved at each step (down to a floor), each step
    damped to stay inside the cone.  Interior-point methods do not slow down when B is nearly
    singular (two eigenvalues at the edge that hardly interact), where projected gradients do.
    ``a`` (k, k) and ``bm`` (k², k²) are normalised (‖B‖ = 1), zero outside the mask."""
    k = a.shape[0]
    dtype = a.dtype
    rows, cols = np.triu_indices(k)
    basis = np.zeros((rows.size, k, k))
    basis[np.arange(rows.size), rows, cols] = 1.0
    basis[np.arange(rows.size), cols, rows] = 1.0
    basis = jnp.asarray(basis, dtype)  # E_q, symmetric
    free = (mask[rows] & mask[cols]).astype(dtype)
    flat = basis.reshape(rows.size, k * k)
    bq = (flat @ bm @ flat.T) * free[:, None] * free[None, :]  # ⟨E_q, B[E_r]⟩
    aq = (flat @ a.reshape(-1)) * free
    off = jnp.diag(1.0 - mask.astype(dtype))  # identity on the indices outside the mask
    size = jnp.maximum(jnp.linalg.norm(a), jnp.finfo(dtype).tiny)
    floor = 1e-12 * size * size

    def matrix(z):
        return jnp.einsum("q,qij->ij", z, basis) + off

    def body(i, carry):
        z, mu = carry
        zm = matrix(z)
        inv = jnp.linalg.inv(zm)
        grad = bq @ z + aq - mu * jnp.einsum("ij,qji->q", inv, basis)
        hess = bq + mu * jnp.einsum("ij,qjk,kl,rli->qr", inv, basis, inv, basis)
        hess = hess * free[:, None] * free[None, :] + jnp.diag(1.0 - free)
        step = -jnp.linalg.solve(hess, grad * free)
        # the longest step that keeps X positive definite, damped
        w, v = jnp.linalg.eigh(zm)
        half = (v / jnp.sqrt(w)) @ v.T
        lowest = jnp.linalg.eigvalsh(half @ jnp.einsum("q,qij->ij", step, basis) @ half)[0]
        alpha = jnp.minimum(1.0, jnp.where(lowest < 0, -0.95 / lowest, jnp.inf))
        new = z + alpha * step
        # μ stops at 1e-12 ‖A‖² (X's null directions resolved to ~1e-12 ‖X‖, far inside double
        # precision, where X's smallest eigenvalues would round to ≤ 0)
        return jnp.where(jnp.all(jnp.isfinite(new)), new, z), jnp.maximum(0.5 * mu, floor)

    z0 = jnp.where(jnp.asarray(rows == cols), size, 0.0) * free  # X = ‖A‖ I on the mask
    z, _ = jax.lax.fori_loop(0, num_iters, body, (z0, jnp.asarray(size * size, dtype)))
    return (matrix(z) - off) * (mask[:, None] & mask[None, :]).astype(dtype)
