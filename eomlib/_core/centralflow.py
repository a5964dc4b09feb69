r"""The central flow of full-batch gradient descent (the maths: :mod:`eomlib.centralflow`)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .dataparallel import jit_with_loss
from .blowup import _TRACED_MESSAGES, check_status, loss_status, solver_status, worst
from .complementarity import solve_sdcp
from .flat import flatten_problem, unravel_stack
from .spectra import hvp
from .solve import Solver, solver_settings
from .validate import (check_callable, check_finite_start, check_lr, check_num_steps,
                       check_positive_int, check_real_scalar, check_theta, guard_traced,
                       is_concrete)

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-8
THRESHOLD = 1.95
RELAXATION = 0.25
EIG_TOL = 1e-2
RESTARTS = 2  # block-Lanczos rounds at each saved point (1 inside the field)
INITIAL_RESTARTS = 12
DEPTH = 3
STEP_BUDGET = 4096  # solver steps per GD step


class EigenSolverError(RuntimeError):
    """The eigen-solver could not resolve the Hessian eigenvalues at the edge of stability.

    Raised by :func:`eomlib.centralflow.central_flow` (and the functions built on it) when, at
    some GD step, an eigenvector at the edge is not resolved (its Lanczos residual divided by
    the gap to the nearest eigenvalue not at the edge exceeds ``eig_tol``: the eigenvalues are
    too close for ``krylov_depth`` blocks), when the eigen-solve has not converged (a tracked
    pair's residual exceeds ``eig_tol`` times λ_max: its estimates may be far too low, so that
    the edge would be missed), or when an eigenvalue beyond the ``num_eigs``
    tracked ones is at the edge too (too many).  The message names the step, the eigenvalues
    and the argument to raise.  A subclass of ``RuntimeError``.
    """


class CentralFlow(NamedTuple):
    r"""The output of :func:`eomlib.centralflow.central_flow`, saved at GD steps k = 0…n.

    Attributes:
        trajectory: θ(kη), a pytree like θ0 with a leading axis of length n + 1.
        loss: :math:`f(\theta(k\eta))`, shape (n + 1,).
        predicted_loss: GD's predicted time-averaged loss :math:`f + \mathrm{tr}X/\eta`, shape
            (n + 1,).
        eigenvalues: the top ``num_eigs`` Hessian eigenvalues along the flow (descending),
            shape (n + 1, num_eigs).
        sigma: the eigenvalues of X (of GD's oscillation covariance Σ; descending), shape
            (n + 1, num_eigs); zero below the edge.
        num_edge: how many eigenvalues are at the edge (:math:`\lambda_i > c/\eta`), (n + 1,).
        resolution: the worst Lanczos residual / gap of an eigenvector at the edge, (n + 1,)
            (0 where none is at the edge).
        sdcp_residual: the complementarity problem's relative KKT residual, (n + 1,).
        solver_steps: the ODE solver's accepted steps over GD step k (0 at k = 0), (n + 1,).
    """

    trajectory: object
    loss: jax.Array
    predicted_loss: jax.Array
    eigenvalues: jax.Array
    sigma: jax.Array
    num_edge: jax.Array
    resolution: jax.Array
    sdcp_residual: jax.Array
    solver_steps: jax.Array


class Settings(NamedTuple):
    """Static settings of a central-flow run (hashable: the jit key)."""

    num_eigs: int
    depth: int
    rtol: float
    atol: float
    max_steps: int


def block_krylov(grad, x, u0, depth: int):
    r"""Block Lanczos: Ritz pairs of H(x) in :math:`\mathrm{span}\{U, HU, \dots, H^{p-1}U\}`.

    ``u0`` (b, d) is the start block (rows; e.g. the previous step's eigenvectors), ``depth``
    p ≥ 1 the number of blocks; each block is orthonormalised against all earlier ones (twice)
    and multiplied by H in one batched Hessian-vector product, so p calls cost p·b products.
    Returns the top b Ritz values (descending), their Ritz vectors (rows, (b, d)) and residuals
    :math:`\|Hy - \theta y\|` (exact: :math:`HQ` is known, no extra product).
    """
    b, d = u0.shape
    matvec = jax.vmap(lambda v: hvp(grad, x, v))
    q, _ = jnp.linalg.qr(u0.T)  # (d, b)
    basis, images = [], []
    for j in range(depth):
        z = matvec(q.T).T
        basis.append(q)
        images.append(z)
        # the next block: z orthogonalised against the basis, twice ("twice is enough"), then
        # once more after its QR, since a column of z that lies in the span of the others and
        # of the basis (the Krylov space is exhausted in that direction) leaves only rounding
        # noise, which QR normalises; the second pass makes that an orthogonal direction
        q = _orthogonalise(z, basis)
        q = _orthogonalise(jnp.linalg.qr(q)[0], basis)
        # the last block may be narrower: the basis never exceeds the d dimensions
        q = jnp.linalg.qr(q)[0][:, :max(0, min(b, d - (j + 1) * b))]
    qs, hq = jnp.concatenate(basis, axis=1), jnp.concatenate(images, axis=1)
    t = qs.T @ hq
    values, s = jnp.linalg.eigh(0.5 * (t + t.T))
    values, s = values[::-1][:b], s[:, ::-1][:, :b]
    vectors, hy = (qs @ s).T, (hq @ s).T
    residuals = jnp.linalg.norm(hy - values[:, None] * vectors, axis=1)
    return values, vectors, residuals


def _orthogonalise(w, basis):
    for _ in range(2):
        for prev in basis:
            w = w - prev @ (prev.T @ w)
    return w


def refine(grad, x, u0, depth: int, restarts: int):
    """``restarts`` rounds of :func:`block_krylov`, each started from the last one's vectors."""
    out = block_krylov(grad, x, u0, depth)
    for _ in range(restarts - 1):
        out = block_krylov(grad, x, out[1], depth)
    return out


def eigen_gradients(grad, x, vectors):
    r""":math:`G_{ij} = \nabla_x (u_i^\top \nabla^2 f(x)\, u_j)` for all pairs, shape (k, k, d)."""
    k = vectors.shape[0]
    rows, cols = np.triu_indices(k)

    def one(ui, uj):
        return jax.grad(lambda y: jnp.vdot(ui, hvp(grad, y, uj)))(x)

    upper = jax.vmap(one)(vectors[rows], vectors[cols])
    g = jnp.zeros((k, k, x.shape[0]), x.dtype).at[rows, cols].set(upper)
    return g.at[cols, rows].set(upper)


def edge_multiplier(g, values, gij, lr, mask, relaxation):
    r"""X, the SDCP's solution, from the gradient ``g``, the tracked eigenvalues, :math:`G_{ij}`
    and the ``mask`` of the eigenvalues at the edge; returns ``(X, kkt_residual)``."""
    k = values.shape[0]
    pair = (mask[:, None] & mask[None, :]).astype(g.dtype)
    gij = gij * pair[..., None]
    eye = jnp.eye(k, dtype=g.dtype)
    # R = 2/η I − Λ − ρ dH_U/dτ, dθ/dτ = −η g − (η/2) Σ X_kl G_kl
    a = (2.0 / lr) * eye - jnp.diag(values) + relaxation * lr * jnp.einsum("ijd,d->ij", gij, g)
    b = 0.5 * relaxation * lr * jnp.einsum("ijd,kld->ijkl", gij, gij)
    return solve_sdcp(a, b, mask)


def edge_info(problem, x, lr, u0, cfg, threshold, relaxation, restarts: int = 1):
    """Everything the central flow needs at ``x``: loss, gradient, tracked eigenpairs (block
    Lanczos from ``u0``, ``restarts`` rounds), G_ij, the multiplier X and dθ/dτ."""
    value, g = problem.value_and_grad(x)
    values, vectors, residuals = refine(problem.grad, x, u0, cfg.depth, restarts)
    k = cfg.num_eigs
    mask = values[:k] > threshold / lr  # the eigenvalues at the edge
    gij = jax.lax.cond(jnp.any(mask), lambda: eigen_gradients(problem.grad, x, vectors[:k]),
                       lambda: jnp.zeros((k, k) + x.shape, x.dtype))  # not needed below it
    xmat, kkt = edge_multiplier(g, values[:k], gij, lr, mask, relaxation)
    dx = -lr * (g + 0.5 * jnp.einsum("ij,ijd->d", xmat, gij))
    return dict(dx=dx, value=value, values=values, vectors=vectors, residuals=residuals,
                x=xmat, mask=mask, kkt=kkt)


def resolution(values, residuals, mask):
    """max over eigenvalues at the edge of (residual) / (gap to the nearest tracked eigenvalue,
    or the guard one beyond them, that is not at the edge); 0 when none is at the edge."""
    edge = jnp.zeros(values.shape, bool).at[:mask.shape[0]].set(mask)
    gaps = jnp.abs(values[:, None] - values[None, :])
    gap = jnp.min(jnp.where(edge[None, :], jnp.inf, gaps), axis=1)
    ratio = residuals / jnp.maximum(gap, jnp.finfo(values.dtype).tiny)
    return jnp.max(jnp.where(edge, ratio, 0.0))


def diagnostics(info, lr, threshold, num_eigs):
    """The saved row of a :class:`CentralFlow` at one point (before stacking)."""
    values = info["values"]
    return dict(
        loss=info["value"],
        predicted_loss=info["value"] + jnp.trace(info["x"]) / lr,
        eigenvalues=values[:num_eigs],
        sigma=jnp.linalg.eigvalsh(info["x"])[::-1],
        num_edge=jnp.sum(info["mask"]),
        resolution=resolution(values, info["residuals"], info["mask"]),
        convergence=jnp.max(info["residuals"][:num_eigs]) / jnp.maximum(
            jnp.abs(values[0]), jnp.finfo(values.dtype).tiny),
        sdcp_residual=info["kkt"],
        beyond=values[num_eigs] > threshold / lr,  # the guard eigenvalue is at the edge too
    )


def _solve_step(field, x, args, cfg):
    dtype = x.dtype
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, a: field(y, a)), diffrax.Tsit5(),
        t0=jnp.zeros((), dtype), t1=jnp.ones((), dtype), dt0=None, y0=x, args=args,
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=diffrax.PIDController(rtol=cfg.rtol, atol=cfg.atol),
        max_steps=cfg.max_steps, throw=False)
    return sol.ys[0], solver_status(sol), sol.stats["num_steps"]


@jit_with_loss(("loss", "num_steps", "cfg"))
def central_flat(loss, theta0, lr, num_steps, cfg, threshold, relaxation, key):
    """The central flow's flat solution at τ = 0…n, its saved diagnostics and status."""
    problem = flatten_problem(loss, theta0)
    x0 = problem.x0
    k = cfg.num_eigs
    u_init = jax.random.normal(key, (k + 1,) + x0.shape, x0.dtype)
    edge = threshold / lr

    def full(y, args):
        eta, u0 = args
        return edge_info(problem, y, eta, u0, cfg, threshold, relaxation)["dx"]

    def flow(y, args):
        return -args[0] * problem.grad(y)

    def at(y, u0, restarts=RESTARTS):
        info = edge_info(problem, y, lr, u0, cfg, threshold, relaxation, restarts)
        return info, diagnostics(info, lr, threshold, k)

    info0, row0 = at(x0, u_init, INITIAL_RESTARTS)
    row0 = dict(row0, solver_steps=jnp.zeros((), jnp.int32))

    def step(carry, _):
        x, u0, lam, status = carry

        def central():
            x1, status1, n1 = _solve_step(full, x, (lr, u0), cfg)
            info1, row1 = at(x1, u0)
            return x1, status1, info1, dict(row1, solver_steps=n1)

        def gradient_flow():  # below the edge at the start: try gradient flow over the step
            x1, status1, n1 = _solve_step(flow, x, (lr, u0), cfg)
            info1, row1 = at(x1, u0)
            return jax.lax.cond(info1["values"][0] > edge, central,
                                lambda: (x1, status1, info1, dict(row1, solver_steps=n1)))

        x1, status1, info1, row1 = jax.lax.cond(lam > edge, central, gradient_flow)
        return (x1, info1["vectors"], info1["values"][0], worst(status, status1)), (x1, row1)

    init = (x0, info0["vectors"], info0["values"][0], jnp.zeros((), jnp.int32))
    (_, _, _, status), (xs, rows) = jax.lax.scan(step, init, None, length=num_steps)
    xs = jnp.concatenate([x0[None], xs])
    rows = jax.tree_util.tree_map(lambda r0, r: jnp.concatenate([r0[None], r]), row0, rows)
    return xs, rows, worst(status, loss_status(problem.loss, xs))


def check_central(loss, theta0, lr, num_steps, num_eigs, krylov_depth, threshold, relaxation,
                  eig_tol, solver, solver_options):
    """Validate the arguments of :func:`central_flow`; returns the static :class:`Settings`."""
    check_callable(loss)
    check_theta(theta0)
    check_lr(lr)
    num_steps = check_num_steps(num_steps)
    size = sum(int(jnp.size(a)) for a in jax.tree_util.tree_leaves(theta0))
    if size < 2:
        raise ValueError(f"the central flow needs at least 2 parameters (num_eigs tracked "
                         f"eigenvalues and one beyond them), theta0 has {size}.")
    num_eigs = check_positive_int(num_eigs, "num_eigs", size - 1,
                                  " (the number of top Hessian eigenvalues tracked)")
    most = -(-size // (num_eigs + 1))
    if krylov_depth is None:
        krylov_depth = min(DEPTH, most)
    krylov_depth = check_positive_int(krylov_depth, "krylov_depth", most,
                                      f" (blocks of num_eigs + 1 = {num_eigs + 1} vectors per "
                                      f"eigen-solve; at most ceil(d / (num_eigs + 1)) for d = "
                                      f"{size} parameters)")
    check_real_scalar(threshold, "threshold", low=0.0, high=2.0 + 1e-12)
    check_real_scalar(relaxation, "relaxation", low=0.0)
    check_real_scalar(eig_tol, "eig_tol", low=0.0)
    check_finite_start(loss, theta0)
    if solver is None and not solver_options:
        solver = Solver(rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, max_steps=STEP_BUDGET)
    settings = solver_settings(solver, solver_options)
    budget = settings.max_steps if settings.max_steps is not None else STEP_BUDGET
    return Settings(num_eigs, krylov_depth, settings.rtol, settings.atol, budget)


def check_eigen(rows, lr, threshold, num_eigs, krylov_depth, eig_tol):
    """Raise :class:`EigenSolverError` at the first GD step where an eigenvalue beyond the
    tracked ones is at the edge, the eigen-solve has not converged, or the eigenvectors at the
    edge are not resolved (concrete rows only)."""
    conv, res = np.asarray(rows["convergence"]), np.asarray(rows["resolution"])
    checks = (
        (np.asarray(rows["beyond"]), lambda k, lam:
            f"the eigenvalue after the num_eigs = {num_eigs} tracked ones is at the edge of "
            f"stability too (all tracked: {np.array2string(lam, precision=4)}, edge "
            f"{threshold:g}/η = {threshold / float(lr):.4g}): more eigenvalues are at the edge "
            f"than tracked; raise num_eigs."),
        (conv > eig_tol, lambda k, lam:
            f"the eigen-solve has not converged: the largest residual of the num_eigs = "
            f"{num_eigs} tracked eigenpairs is {conv[k]:.2e} of λ_max > eig_tol = {eig_tol:g} "
            f"(estimates {np.array2string(lam, precision=6)}, which may be far too low, i.e. "
            f"the edge may be missed): raise krylov_depth (now {krylov_depth})."),
        (res > eig_tol, lambda k, lam:
            f"the eigenvectors at the edge of stability are not resolved: block-Lanczos "
            f"residual / eigenvalue gap = {res[k]:.2e} > eig_tol = {eig_tol:g} (top eigenvalues "
            f"{np.array2string(lam, precision=6)}; those at the edge are too close to the rest "
            f"for krylov_depth = {krylov_depth} blocks): raise krylov_depth, or num_eigs so "
            f"that the close eigenvalues are tracked together."),
    )
    for bad, message in checks:
        if bad.any():
            k = int(np.argmax(bad))
            raise EigenSolverError(f"at GD step {k} " + message(k, np.asarray(rows["eigenvalues"])[k]))


def _guard_eigen(out, rows, eig_tol):
    bad = jnp.any(rows["beyond"]) | jnp.any(rows["resolution"] > eig_tol) \
        | jnp.any(rows["convergence"] > eig_tol)
    return eqx.error_if(out, bad, "eomlib: the central flow's eigen-solver could not resolve the "
                        "eigenvalues at the edge of stability (too close, or more at the edge than "
                        "num_eigs tracks). Run outside jax.jit/vmap for the step and the numbers.")


def central_flow(loss: Callable, theta0, lr, num_steps: int, *, num_eigs: int = 3,
                 krylov_depth: int | None = None, threshold: float = THRESHOLD,
                 relaxation: float = RELAXATION, eig_tol: float = EIG_TOL, key=None,
                 solver: Solver | None = None, **solver_options) -> CentralFlow:
    r"""The central flow of gradient descent from θ0, saved at the GD times t = kη, k = 0…n.

    Below the edge of stability it is gradient flow; where Hessian eigenvalues reach
    :math:`2/\eta` it keeps them there, with the multiplier X of the semidefinite
    complementarity problem (one eigenvalue at the edge:
    :math:`\sigma^2 = -2\langle\nabla S,\nabla f\rangle/\|\nabla S\|^2`, the gradient flow
    projected onto :math:`\{S = 2/\eta\}`), and predicts GD's time-averaged loss
    :math:`f + \mathrm{tr}X/\eta` (module docstring: the full equations).  Matrix-free: Lanczos
    (warm-started from the previous step's eigenvectors) and third-derivative products only.

    Args:
        loss: θ ↦ scalar, θ any pytree, three times differentiable.
        theta0: start point (finite floats; float64 recommended).
        lr: η > 0, GD's learning rate; may be traced (a new η does not recompile).
        num_steps: n ≥ 0, the number of GD steps (the flow runs to t = nη).
        num_eigs: how many top eigenvalues are tracked and may be at the edge together, an
            integer with 1 ≤ num_eigs < d (default 3).
        krylov_depth: p, the blocks of the block-Lanczos eigen-solve inside the field (each
            block num_eigs + 1 vectors, one batched Hessian-vector product), an integer with
            1 ≤ p ≤ ⌈d / (num_eigs + 1)⌉ (default min(3, that bound)).
        threshold: c in (0, 2]: an eigenvalue counts as at the edge above c/η (default 1.95,
            the official code's).
        relaxation: ρ > 0 in GD steps, the time over which an overshoot above 2/η is pulled
            back (default 0.25 = the official code's substep).
        eig_tol: the largest accepted (residual) / (eigenvalue gap) of an eigenvector at the
            edge (sin of its angle error, by Davis–Kahan) and (residual) / λ_max of every
            tracked eigenpair (default 1e-2).
        key: PRNG key of the fixed random part of the Lanczos starts (default
            ``jax.random.PRNGKey(0)``).
        solver: :class:`eomlib.Solver` (tolerances, steps per GD step; default rtol 1e-6,
            atol 1e-8, 4096); ``rtol=``, ``atol=``, ``max_steps=`` are shorthands.

    Returns:
        A :class:`eomlib.centralflow.CentralFlow`.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        DivergenceError: if the flow overflows or the solver fails.
        EigenSolverError: if the eigenvalues at the edge cannot be resolved (too close for
            ``krylov_depth``) or more are at the edge than ``num_eigs`` tracks.

    Example:
        >>> cf = eomlib.centralflow.central_flow(loss, theta0, 0.5, 300)
        >>> cf.eigenvalues[:, 0] * 0.5  # ≈ 2 once at the edge
    """
    cfg = check_central(loss, theta0, lr, num_steps, num_eigs, krylov_depth, threshold,
                        relaxation, eig_tol, solver, solver_options)
    key = jax.random.PRNGKey(0) if key is None else key
    xs, rows, status = central_flat(loss, theta0, lr, num_steps, cfg, float(threshold),
                                    float(relaxation), key)
    if is_concrete((xs, rows, lr)):
        check_status(xs, status, "the central flow", loss, theta0, lr, cfg.max_steps)
        check_eigen(rows, lr, float(threshold), cfg.num_eigs, cfg.depth, float(eig_tol))
    else:  # under jit/vmap: run-time errors attached to every output
        out = guard_traced((xs, rows), lr, "lr")
        out = eqx.branched_error_if(out, status != 0, status, _TRACED_MESSAGES)
        xs, rows = _guard_eigen(out, rows, float(eig_tol))
    rows.pop("beyond")
    rows.pop("convergence")
    return CentralFlow(trajectory=unravel_stack(theta0, xs), **rows)


def central_flow_field(loss: Callable, theta, lr, eigvecs=None, *, num_eigs: int = 3,
                       krylov_depth: int | None = None, threshold: float = THRESHOLD,
                       relaxation: float = RELAXATION, key=None):
    r"""The central flow's vector field dθ/dt at one point, and its multiplier.

    Returns :math:`d\theta/dt = -[\nabla f + \tfrac12\sum_{ij} X_{ij}\nabla(u_i^\top H u_j)]`
    (book time t = kη; :func:`central_flow` integrates η times it in τ = t/η) with X from the
    complementarity problem at ``theta`` (module docstring).

    Args:
        loss: θ ↦ scalar, θ any pytree.
        theta: the point (finite floats).
        lr: η > 0.
        eigvecs: a start for the eigen-solve: a stacked pytree like θ with a leading axis of
            up to num_eigs + 1 vectors (default: random), e.g. the eigenvectors at a nearby point.
        num_eigs, krylov_depth, threshold, relaxation: as in :func:`central_flow`.
        key: PRNG key for the random start (default ``jax.random.PRNGKey(0)``).

    Returns:
        ``(field, X, eigenvalues)``: dθ/dt (pytree like θ), the (num_eigs, num_eigs) multiplier
        X (GD's oscillation covariance in the eigenbasis), the tracked eigenvalues.
    """
    cfg = check_central(loss, theta, lr, 0, num_eigs, krylov_depth, threshold, relaxation,
                        EIG_TOL, None, {})
    key = jax.random.PRNGKey(0) if key is None else key
    return _field_at(loss, theta, lr, eigvecs, key, cfg, float(threshold), float(relaxation))


@jit_with_loss(("loss", "cfg"))
def _field_at(loss, theta, lr, eigvecs, key, cfg, threshold, relaxation):
    problem = flatten_problem(loss, theta)
    x = problem.x0
    k = cfg.num_eigs
    u0 = jax.random.normal(key, (k + 1,) + x.shape, x.dtype)
    if eigvecs is not None:
        given = jax.vmap(lambda v: ravel_pytree(v)[0])(eigvecs).astype(x.dtype)
        u0 = u0.at[:given.shape[0]].set(given[:k + 1])
    info = edge_info(problem, x, lr, u0, cfg, threshold, relaxation, INITIAL_RESTARTS)
    return problem.unravel(info["dx"] / lr), info["x"], info["values"][:k]
