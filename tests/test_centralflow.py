"""The central flow (eomlib.centralflow): known answers, the edge constraint, the
complementarity problem, a port of the official formulas, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

from eomlib import centralflow as cf
from eomlib.book import toys

ETA = 0.1
ALPHA, BETA = 1.0, 1.0
TIGHT = dict(rtol=1e-10, atol=1e-12)


def valley(theta):
    return toys.sharpening_valley(theta, ALPHA, BETA)


def two_edges(theta):
    """Two sharp directions x1, x2 whose curvatures s1, s2 depend on w, coupled by x1 x2 w2."""
    x1, x2, w1, w2, w3 = theta
    s1 = w1 + w2**2
    s2 = 0.9 * w1 + 0.5 * w3**2 + 0.1 * w2
    loss_w = -ALPHA * w1 + 0.5 * (w2**2 + w3**2) + 0.3 * w2 * w3
    return 0.5 * s1 * x1**2 + 0.5 * s2 * x2**2 + 0.2 * x1 * x2 * w2 + loss_w


def on_edge(w2, eta=ETA):
    return jnp.array([0.0, 2.0 / eta - w2**2, w2])


# --- the complementarity problem ----------------------------------------------------------

def _random_sdcp(seed, k):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(k, k, 7))
    g = 0.5 * (g + g.transpose(1, 0, 2))
    b = np.einsum("ijd,kld->ijkl", g, g)
    a = rng.normal(size=(k, k))
    return 0.5 * (a + a.T), b


@pytest.mark.parametrize("seed", range(6))
def test_sdcp_solution_satisfies_the_complementarity_conditions(seed):
    a, b = _random_sdcp(seed, 3)
    x, residual = cf.solve_sdcp(jnp.asarray(a), jnp.asarray(b), jnp.ones(3, bool))
    x = np.asarray(x)
    r = a + np.einsum("ijkl,kl->ij", b, x)
    scale = np.abs(a).max()
    assert np.linalg.eigvalsh(x).min() > -1e-9 * max(1, np.abs(x).max())
    assert np.linalg.eigvalsh(r).min() > -1e-6 * scale
    assert abs(np.vdot(x, r)) < 1e-6 * scale * max(1, np.abs(x).max())
    assert float(residual) < 1e-5
    # and it minimises the quadratic programme: no PSD matrix does better
    obj = lambda m: 0.5 * np.einsum("ij,ijkl,kl", m, b, m) + np.vdot(a, m)  # noqa: E731
    best = _psd_qp(a, b)
    assert obj(x) <= obj(best) + 1e-7 * max(1.0, abs(obj(best)))


def _psd_qp(a, b):
    """The QP min ½<X,B[X]> + <A,X> over X = LLᵀ, by BFGS from several starts (a reference
    independent of eomlib's solver)."""
    k = a.shape[0]
    rows, cols = np.tril_indices(k)

    def unpack(p):
        low = np.zeros((k, k))
        low[rows, cols] = p
        return low @ low.T

    obj = lambda p: 0.5 * np.einsum("ij,ijkl,kl", unpack(p), b, unpack(p)) + np.vdot(a, unpack(p))  # noqa: E731
    rng = np.random.default_rng(0)
    runs = [minimize(obj, rng.normal(size=rows.size), method="BFGS", options=dict(gtol=1e-12))
            for _ in range(8)]
    return unpack(min(runs, key=lambda r: r.fun).x)


def test_sdcp_is_zero_when_a_is_psd_and_scalar_when_one_index_is_masked_in():
    a, b = _random_sdcp(1, 3)
    x, _ = cf.solve_sdcp(jnp.asarray(a @ a.T), jnp.asarray(b), jnp.ones(3, bool))
    assert np.all(np.asarray(x) == 0)
    a[0, 0] = -abs(a[0, 0]) - 0.5
    x, _ = cf.solve_sdcp(jnp.asarray(a), jnp.asarray(b), jnp.array([True, False, False]))
    expected = np.zeros((3, 3))
    expected[0, 0] = -a[0, 0] / b[0, 0, 0, 0]
    np.testing.assert_allclose(np.asarray(x), expected, rtol=1e-12, atol=1e-14)


# --- known answers -----------------------------------------------------------------------

def _reduced_w2(w2_0, times):
    """The central flow on the valley's edge, as a scalar ODE: w1 = 2/η − w2²,
    dw2/dt = −(β + σ²) w2 with σ² = 2(α − 2β w2²)/(1 + 4 w2²)."""
    def rhs(_, w):
        sigma2 = 2 * (ALPHA - 2 * BETA * w[0] ** 2) / (1 + 4 * w[0] ** 2)
        return [-(BETA + sigma2) * w[0]]
    return solve_ivp(rhs, (0, times[-1]), [w2_0], t_eval=times, rtol=1e-12, atol=1e-14).y[0]


def test_central_flow_on_the_edge_matches_the_reduced_ode():
    n = 60
    run = cf.central_flow(valley, on_edge(0.4), ETA, n, num_eigs=1, **TIGHT)
    traj = np.asarray(run.trajectory)
    expected = _reduced_w2(0.4, ETA * np.arange(n + 1))
    np.testing.assert_allclose(traj[:, 2], expected, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(traj[:, 1] + traj[:, 2] ** 2, 2 / ETA, rtol=1e-9)
    sigma2 = 2 * (ALPHA - 2 * BETA * expected**2) / (1 + 4 * expected**2)
    np.testing.assert_allclose(np.asarray(run.sigma[1:, 0]), sigma2[1:], rtol=1e-6)
    # GD's predicted mean loss: f + σ²/η
    f = np.asarray(jax.vmap(valley)(jnp.asarray(traj)))
    np.testing.assert_allclose(np.asarray(run.predicted_loss[1:]), (f + sigma2 / ETA)[1:],
                               rtol=0, atol=1e-6 * 2 * ALPHA / ETA)  # σ² to 1e-6, times 1/η
    # and the projection speeds up w2's decay against gradient flow's rate β
    assert traj[-1, 2] < np.exp(-BETA * ETA * n) * 0.4 * 0.5


def test_gradient_flow_below_the_edge_then_pinned_at_two_over_eta():
    theta0 = jnp.array([0.3, 2 / ETA - 3.0, 0.5])  # S = 17.25: below the edge
    run = cf.central_flow(valley, theta0, ETA, 120, num_eigs=1)
    lam = np.asarray(run.eigenvalues[:, 0]) * ETA
    edge = np.asarray(run.num_edge) > 0
    first = int(np.argmax(edge))
    assert 0 < first < 110 and np.all(edge[first:])
    assert np.all(np.asarray(run.sigma[:first]) == 0)  # gradient flow before: no multiplier
    assert np.all(np.diff(lam[:first]) > 0)  # sharpening
    # from 1.95/η on it counts as at the edge, but S rises at gradient flow's rate until it
    # reaches 2/η (X = 0 while S < 2/η and not rising fast); once within 1e-3 of 2/η, the
    # relaxation (0.25 steps) pins it within 1e-5 after two more steps
    near = int(np.argmax(lam > 2 - 1e-3))
    assert first < near and np.abs(lam[near + 2:] - 2).max() < 1e-5
    assert np.all(lam <= 2 + 1e-5)


def test_gd_oscillates_around_the_central_flow_on_the_valley():
    theta0 = jnp.array([1.2, 0.995 * 2 / ETA, 1.0])
    n = 200
    run = cf.side_by_side(valley, theta0, ETA, n, orders=(), central_options=dict(num_eigs=1))
    gd = np.asarray(run.trajectories[0])
    central = np.asarray(run.trajectories[-1])
    gf = np.asarray(run.trajectories[1])
    # GD's slow coordinates (w1, w2) stay near the central flow's (w1 = 2/η − w2², w2 → 0: the
    # oscillation's implicit regularisation); gradient flow sharpens away (w1 grows at rate α)
    slow = slice(1, 3)
    err_central = np.linalg.norm(gd[10:, slow] - central[10:, slow], axis=1)
    err_gf = np.linalg.norm(gd[10:, slow] - gf[10:, slow], axis=1)
    assert err_central.max() < 0.05 * 2 / ETA  # GD's S wanders ±2.5 % around 2/η
    assert err_gf[-1] > 20 * err_central.max()
    assert gd[10:, 2].max() < 0.05 and central[10:, 2].max() < 0.1 < gf[10, 2]
    # the mean of GD's x² is the central flow's σ² (= 2α as w2 → 0), within 5 %
    tail = slice(n // 2, None)
    np.testing.assert_allclose(np.mean(gd[tail, 0] ** 2), 2 * ALPHA, rtol=0.05)
    np.testing.assert_allclose(np.asarray(run.central.sigma[-1, 0]), 2 * ALPHA, rtol=1e-3)
    # GD's loss, ½Sx² − αw1 ≈ 10x² − 20, swings by ±10 over a slow cycle of ~60 steps; its mean
    # over the last 100 steps is the predicted f + σ²/η (→ 0) to within 5 % of the swing scale
    # σ²/η = 20 (the 2 % offset of GD's mean x² from 2α)
    assert abs(np.mean(run.loss[0][tail]) - np.mean(run.predicted_loss[tail])) < 0.05 * 2 * ALPHA / ETA


# --- several eigenvalues -----------------------------------------------------------------

def test_several_tracked_eigenvalues_reduce_to_one_when_one_is_at_the_edge():
    # two_edges: s2 = 0.9 w1 + … stays below the edge while s1 is held at 2/η
    theta0 = jnp.array([0.05, 0.05, 19.5, 0.5, 0.3])
    one = cf.central_flow(two_edges, theta0, ETA, 40, num_eigs=1, **TIGHT)
    two = cf.central_flow(two_edges, theta0, ETA, 40, num_eigs=2, **TIGHT)
    assert np.all(np.asarray(two.num_edge[5:]) == 1)
    np.testing.assert_allclose(np.asarray(two.trajectory), np.asarray(one.trajectory),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.asarray(two.sigma[:, 1]), 0.0, atol=1e-14)
    np.testing.assert_allclose(np.asarray(two.sigma[:, 0]), np.asarray(one.sigma[:, 0]), rtol=1e-7,
                               atol=1e-12)


def test_one_eigenvalue_field_is_the_projection_formula():
    theta = jnp.array([0.01, 2 / ETA - 0.25, 0.5])  # S = 2/η exactly (x small)
    field, x, lam = cf.central_flow_field(valley, theta, ETA, num_eigs=1)
    h = jax.hessian(valley)(theta)
    w, v = np.linalg.eigh(np.asarray(h))
    u = v[:, -1]
    grad_s = np.asarray(jax.grad(lambda t: u @ jax.hessian(valley)(t) @ u)(theta))
    g = np.asarray(jax.grad(valley)(theta))
    # the stabilised multiplier: σ² = [2(λ − 2/η)/ρη − 2⟨∇S, g⟩] / ‖∇S‖² (ρ = 0.25)
    sigma2 = (2 * (w[-1] - 2 / ETA) / (0.25 * ETA) - 2 * grad_s @ g) / (grad_s @ grad_s)
    np.testing.assert_allclose(float(x[0, 0]), sigma2, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(field), -(g + 0.5 * sigma2 * grad_s), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(float(lam[0]), w[-1], rtol=1e-12)


# --- a port of the official formulas (centralflows/centralflows, minimal.py: step_central) --

def _official_substep(loss, w, lr, dt, threshold=1.95):
    """One Euler substep of the official central flow, written from its formulas with dense
    NumPy derivatives (time in GD steps): w + dt (dw_dt_stable + dw_dt_X · (metric ∘ X_vech))."""
    w = np.asarray(w)
    grad = np.asarray(jax.grad(loss)(jnp.asarray(w)))
    hess = np.asarray(jax.hessian(loss)(jnp.asarray(w)))
    third = np.asarray(jax.jacfwd(jax.hessian(loss))(jnp.asarray(w)))  # [i, j, param]
    eigs, vecs = np.linalg.eigh(hess)
    eigs, vecs = eigs[::-1], vecs[:, ::-1]
    k = int((eigs > threshold / lr).sum())
    if k == 0:
        return w - dt * lr * grad, np.zeros((0, 0))
    u = vecs[:, :k]
    rows, cols = np.triu_indices(k)
    nabla_h = np.stack([np.einsum("a,b,abd->d", u[:, i], u[:, j], third) for i, j in zip(rows, cols)])
    dw_stable = -lr * grad
    dw_x = -0.5 * lr * nabla_h.T

    def upper_to_mat(vals):  # pairs → symmetric k×k (last axis)
        out = np.zeros(vals.shape[:-1] + (k, k))
        out[..., rows, cols] = vals
        out[..., cols, rows] = vals
        return out

    dh_stable = upper_to_mat(nabla_h @ dw_stable)
    dh_x = -upper_to_mat(upper_to_mat((nabla_h @ dw_x).T).transpose(1, 2, 0))  # [k,k,k,k]
    a = (2 / lr) * np.eye(k) - (np.diag(eigs[:k]) + dt * dh_stable)
    b = dt * dh_x
    x = np.zeros((k, k)) if np.linalg.eigvalsh(a).min() >= 0 else _psd_qp(a, b)
    metric = np.where(rows == cols, 1.0, 2.0)
    return w + dt * (dw_stable + dw_x @ (metric * x[rows, cols])), x


@pytest.mark.parametrize("theta", [
    [0.02, 0.01, 20.2, 0.3, 0.4],     # one eigenvalue at the edge
    [0.03, -0.02, 21.8, 0.35, 1.2],   # two at the edge (s1 ≈ s2 ≈ 2/η)
    [0.0, 0.0, 15.0, 0.3, 0.4],       # below the edge: gradient flow
])
def test_field_agrees_with_a_port_of_the_official_step(theta):
    theta = jnp.asarray(theta)
    dt = 0.25  # the official default: four substeps per GD step = relaxation 0.25
    expected, x_official = _official_substep(two_edges, theta, ETA, dt)
    field, x, lam = cf.central_flow_field(two_edges, theta, ETA, num_eigs=2, relaxation=dt)
    ours = np.asarray(theta) + dt * ETA * np.asarray(field)  # field is dθ/dt; dτ = dt steps
    np.testing.assert_allclose(ours, expected, rtol=1e-7, atol=1e-9)
    k = x_official.shape[0]
    # X in the eigenbasis: compare basis-free, through tr X and ‖X‖
    np.testing.assert_allclose(np.trace(np.asarray(x)), np.trace(x_official) if k else 0.0,
                               rtol=1e-6, atol=1e-10)
    assert int(np.sum(np.asarray(lam) > 1.95 / ETA)) == k


# --- the side-by-side run and the running mean -------------------------------------------

def test_side_by_side_shapes_and_gd_row():
    import eomlib
    theta0 = jnp.array([0.3, 19.0, 0.5])
    run = cf.side_by_side(valley, theta0, ETA, 30, sharpness_every=10,
                          central_options=dict(num_eigs=1))
    assert run.names == ("gradient descent", "gradient flow", "EoM order 1", "EoM order 2",
                         "central flow")
    assert run.distance.shape == run.loss.shape == (5, 31)
    assert np.all(run.distance[:, 0] == 0) and np.all(run.distance[0] == 0)
    np.testing.assert_allclose(np.asarray(run.trajectories[0]),
                               np.asarray(eomlib.gd_trajectory(valley, theta0, ETA, 30)))
    np.testing.assert_array_equal(run.sharpness_steps, [0, 10, 20, 30])
    assert run.sharpness.shape == (5, 4)
    h0 = np.linalg.eigvalsh(np.asarray(jax.hessian(valley)(theta0)))[-1]
    np.testing.assert_allclose(run.sharpness[:, 0], h0, rtol=1e-8)


def test_time_average_is_the_centred_mean():
    v = np.random.default_rng(0).normal(size=50)
    avg = cf.time_average(v, 5)
    np.testing.assert_allclose(avg[10], v[8:13].mean())
    np.testing.assert_allclose(avg[0], v[0])
    np.testing.assert_allclose(avg[1], v[:3].mean())
    np.testing.assert_allclose(cf.time_average(v, 6), cf.time_average(v, 7))
    with pytest.raises(ValueError, match="window"):
        cf.time_average(v, 0)


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-0.1), "lr"),
    (dict(num_steps=-1), "num_steps"),
    (dict(num_eigs=0), "num_eigs"),
    (dict(num_eigs=3), "num_eigs"),
    (dict(krylov_depth=0), "krylov_depth"),
    (dict(threshold=2.5), "threshold"),
    (dict(relaxation=0.0), "relaxation"),
    (dict(eig_tol=-1.0), "eig_tol"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    args = dict(lr=ETA, num_steps=5, num_eigs=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cf.central_flow(valley, on_edge(0.3), args.pop("lr"), args.pop("num_steps"), **args)


def test_traced_learning_rate_compiles_once_and_is_checked():
    run = jax.jit(lambda eta: cf.central_flow(valley, on_edge(0.3), eta, 10, num_eigs=1).loss)
    np.testing.assert_allclose(run(ETA), cf.central_flow(valley, on_edge(0.3), ETA, 10, num_eigs=1).loss)
    with pytest.raises(Exception, match="lr must be a finite number"):
        jax.block_until_ready(run(-0.1))


def test_more_eigenvalues_at_the_edge_than_tracked_is_an_eigen_solver_error():
    theta0 = jnp.array([0.03, -0.02, 21.8, 0.35, 1.2])  # two at the edge
    with pytest.raises(cf.EigenSolverError, match="raise num_eigs"):
        cf.central_flow(two_edges, theta0, ETA, 5, num_eigs=1)


def _crowded(theta):
    # a quadratic plus a cubic, 40 parameters, λ_max ≈ 19.8 (at the edge 19.5 = 1.95/η) above
    # 39 eigenvalues crowded in [15, 19.4]
    diag = jnp.concatenate([jnp.array([19.8]), jnp.linspace(19.4, 15.0, 39)])
    return 0.5 * jnp.sum(diag * theta**2) + 0.1 * jnp.sum(theta**3) - jnp.sum(theta)


def test_an_unconverged_eigen_solve_is_an_error_not_a_missed_edge():
    # one block of num_eigs + 1 = 2 vectors (krylov_depth=1) estimates λ_max ≈ 17.1: it would
    # miss the edge; its residual says so
    with pytest.raises(cf.EigenSolverError, match="not converged.*raise krylov_depth"):
        cf.central_flow(_crowded, 0.01 * jnp.ones(40), ETA, 3, num_eigs=1, krylov_depth=1)
    run = cf.central_flow(_crowded, 0.01 * jnp.ones(40), ETA, 3, num_eigs=1, krylov_depth=3)
    assert float(run.eigenvalues[0, 0]) == pytest.approx(19.806, abs=1e-3)


def test_unresolved_eigenvectors_at_the_edge_are_an_eigen_solver_error():
    # λ_max at the edge, 0.4 above the next: with three blocks the residual is 5e-6 of λ_max
    # (converged to 1e-5) but 2e-4 of the gap; asking for 1e-5 must raise
    with pytest.raises(cf.EigenSolverError, match="not resolved.*raise krylov_depth"):
        cf.central_flow(_crowded, 0.01 * jnp.ones(40), ETA, 3, num_eigs=1, eig_tol=1e-5)


def test_a_blow_up_is_a_divergence_error():
    import eomlib
    # gradient flow of −Σθ⁴ from θ = 2 blows up at t = 1/(8·4) < η: within the first step
    with pytest.raises(eomlib.DivergenceError):
        cf.central_flow(lambda t: -jnp.sum(t**4), jnp.array([2.0, 1.0]), ETA, 3, num_eigs=1)


def test_two_independent_edges_are_two_single_central_flows():
    # two decoupled valleys, both at the edge: the flow of the sum is the pair of flows (X is
    # diagonal, one σ² per valley); the two eigenvalues meet at 2/η, where their eigenvectors
    # are arbitrary mixtures, and B is nearly singular (the barrier method's case)
    def valley_b(t):
        return toys.sharpening_valley(t, 0.1, 0.05)

    def both(t):
        return valley_b(t[:3]) + valley_b(t[3:])

    a, b = jnp.array([0.4, 0.995 * 2 / ETA, 0.5]), jnp.array([0.3, 0.99 * 2 / ETA, 0.4])
    pair = cf.central_flow(both, jnp.concatenate([a, b]), ETA, 30, num_eigs=2, **TIGHT)
    one_a = cf.central_flow(valley_b, a, ETA, 30, num_eigs=1, **TIGHT)
    one_b = cf.central_flow(valley_b, b, ETA, 30, num_eigs=1, **TIGHT)
    expected = np.concatenate([np.asarray(one_a.trajectory), np.asarray(one_b.trajectory)], axis=1)
    assert np.all(np.asarray(pair.num_edge[-10:]) == 2)
    np.testing.assert_allclose(np.asarray(pair.trajectory), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.sort(np.asarray(pair.sigma), axis=1),
                               np.sort(np.stack([one_a.sigma[:, 0], one_b.sigma[:, 0]], 1), axis=1),
                               rtol=1e-5, atol=1e-9)
