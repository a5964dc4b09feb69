"""Exact SGD / SME moments on linear least squares (eomlib._core.linear_moments)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

from eomlib._core.linear_moments import (  # noqa: E402
    sgd_moments,
    sme_moments,
    weak_error_sweep,
)


def problem(N, d, seed=0):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    X = jax.random.normal(k1, (N, d))
    y = X @ jnp.linspace(1.0, -1.0, d) + 0.5 * jax.random.normal(k2, (N,))
    theta0 = jnp.linspace(2.0, 1.0, d)
    return X, y, theta0


def sgd_runs(X, y, theta0, lr, B, n, keys):
    """Brute-force SGD, one run per key: batches of B indices drawn with replacement."""
    N = X.shape[0]

    def run(key):
        def step(theta, k):
            idx = jax.random.randint(k, (B,), 0, N)
            xb, yb = X[idx], y[idx]
            return theta - lr * xb.T @ (xb @ theta - yb) / B, None

        theta, _ = jax.lax.scan(step, theta0, jax.random.split(key, n))
        return theta

    return jax.vmap(run)(keys)


def literal_sgd_second_moment(X, y, m, S, lr, B):
    """E[M S_u Mᵀ] with the per-example maps M_i = [I − η x_i x_iᵀ, η x_i y_i], written out."""
    N, d = X.shape
    Su = jnp.block([[S, m[:, None]], [m[None, :], jnp.ones((1, 1))]])
    Ms = jnp.concatenate([jnp.eye(d)[None] - lr * jnp.einsum("ia,ib->iab", X, X),
                          (lr * X * y[:, None])[:, :, None]], axis=2)
    Mbar = Ms.mean(0)
    per = jnp.einsum("iab,bc,idc->iad", Ms, Su, Ms).mean(0)
    return per / B + (1 - 1 / B) * Mbar @ Su @ Mbar.T


# (a) ---------------------------------------------------------------------------------

def test_sgd_moments_match_monte_carlo():
    X, y, theta0 = problem(6, 2)
    lr, B, n, runs = 0.15, 2, 12, 20_000
    means, second = sgd_moments(X, y, theta0, lr, B, n)
    assert means.shape == (n + 1, 2) and second.shape == (n + 1, 2, 2)
    assert means.dtype == jnp.float64
    thetas = np.asarray(sgd_runs(X, y, theta0, lr, B, n,
                                 jax.random.split(jax.random.PRNGKey(42), runs)))
    outer = thetas[:, :, None] * thetas[:, None, :]
    se_mean = thetas.std(0, ddof=1) / np.sqrt(runs)
    se_outer = outer.std(0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(thetas.mean(0) - np.asarray(means[-1])) < 4 * se_mean)
    assert np.all(np.abs(outer.mean(0) - np.asarray(second[-1])) < 4 * se_outer)
    # the covariance too, and the Monte Carlo resolves it (many standard errors from zero)
    cov = np.asarray(second[-1] - jnp.outer(means[-1], means[-1]))
    centred = thetas - thetas.mean(0)
    dev = centred[:, :, None] * centred[:, None, :]
    se_cov = dev.std(0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(dev.mean(0) - cov) < 4 * se_cov)
    assert np.all(np.diag(cov) > 20 * np.diag(se_cov))


def test_sgd_recursion_equals_literal_per_example_maps():
    X, y, theta0 = problem(6, 2, seed=1)
    lr, B = 0.2, 3
    means, second = sgd_moments(X, y, theta0, lr, B, 5)
    for k in range(5):
        expected = literal_sgd_second_moment(X, y, means[k], second[k], lr, B)
        np.testing.assert_allclose(second[k + 1], expected, rtol=1e-12, atol=1e-12)


def test_full_batch_with_replacement_has_variance_and_gd_mean():
    X, y, theta0 = problem(6, 2)
    lr, n = 0.1, 20
    means, second = sgd_moments(X, y, theta0, lr, 6, n)
    # with replacement a batch of N examples is not the full batch: the iterates are random
    cov = second - jnp.einsum("ka,kb->kab", means, means)
    assert float(jnp.trace(cov[-1])) > 1e-4
    assert np.all(np.linalg.eigvalsh(np.asarray(cov[1:])) > -1e-14)
    # ... but for least squares the mean is exactly full-batch GD's iterate
    theta, N = theta0, X.shape[0]
    for k in range(n):
        theta = theta - lr * X.T @ (X @ theta - y) / N
    np.testing.assert_allclose(means[-1], theta, rtol=1e-13, atol=1e-13)


def test_traced_lr_vmap_matches_calls():
    X, y, theta0 = problem(6, 2)
    lrs = jnp.array([0.05, 0.1])
    ms, Ss = jax.vmap(lambda lr: sme_moments(X, y, theta0, lr, 2, 4, 1))(lrs)
    m1, S1 = sme_moments(X, y, theta0, 0.1, 2, 4, 1)
    # a vmapped adaptive solve takes the batch's common steps: equal to solver tolerance
    np.testing.assert_allclose(Ss[1], S1, rtol=1e-9)
    ms, Ss = jax.jit(jax.vmap(lambda lr: sgd_moments(X, y, theta0, lr, 2, 4)))(lrs)
    np.testing.assert_allclose(Ss[0], sgd_moments(X, y, theta0, 0.05, 2, 4)[1], rtol=1e-12)


# (b) ---------------------------------------------------------------------------------

def test_order_zero_is_deterministic_gradient_flow():
    X, y, theta0 = problem(6, 2)
    lr, n = 0.1, 10
    means, second = sme_moments(X, y, theta0, lr, 1, n, 0)
    np.testing.assert_allclose(second, jnp.einsum("ka,kb->kab", means, means), atol=1e-10)
    # gradient flow of a quadratic: θ(t) = θ* + exp(−Ht)(θ0 − θ*), at t = kη
    H, b = X.T @ X / 6, X.T @ y / 6
    star = jnp.linalg.solve(H, b)
    expected = star + jax.scipy.linalg.expm(-H * n * lr) @ (theta0 - star)
    np.testing.assert_allclose(means[-1], expected, rtol=1e-9, atol=1e-10)
    # the noisy SMEs have a positive covariance
    m1, S1 = sme_moments(X, y, theta0, lr, 1, n, 1)
    assert float(jnp.trace(S1[-1] - jnp.outer(m1[-1], m1[-1]))) > 1e-4


# (c) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 2])
def test_weak_error_orders(batch_size):
    # Li, Tai & E (ICML 2017; JMLR 2019), Theorem 3: the order-1 SME is a weak order-1
    # approximation of SGD and the order-2 SME (drift −∇(f + η/4‖∇f‖²), same diffusion)
    # a weak order-2 one: |E φ(θ_n) − E φ(Θ(nη))| = O(η), O(η²) on [0, T].  Gradient flow,
    # the noise-free order-0 equation, is also weak order 1 (SGD's mean is GD, an O(η)
    # perturbation of GF, and SGD's covariance is itself O(η)).  Test φ(θ) = θθᵀ.
    X, y, theta0 = problem(8, 2)
    lrs = np.array([1 / 16, 1 / 32, 1 / 64, 1 / 128])
    sweep = weak_error_sweep(X, y, theta0, lrs, batch_size, 1.0)
    assert sweep.orders == (0, 1, 2)
    np.testing.assert_array_equal(sweep.num_steps, [16, 32, 64, 128])
    gf, sme1, sme2 = sweep.second_moment_slopes
    assert abs(gf - 1) < 0.3 and abs(sme1 - 1) < 0.3 and abs(sme2 - 2) < 0.3, sweep
    assert np.all(sweep.second_moment_errors[2] < sweep.second_moment_errors[1])
    # the means: SGD's is GD's, GF is O(η) from it and the order-2 drift O(η²)
    np.testing.assert_allclose(sweep.mean_errors[0], sweep.mean_errors[1], rtol=1e-8)
    assert abs(sweep.mean_slopes[0] - 1) < 0.3 and abs(sweep.mean_slopes[2] - 2) < 0.3


# (d) ---------------------------------------------------------------------------------

def test_bad_inputs():
    X, y, theta0 = problem(6, 2)
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, N\]"):
        sgd_moments(X, y, theta0, 0.1, 0, 3)
    with pytest.raises(ValueError, match=r"batch_size .*\[1, 6\].*got 7"):
        sme_moments(X, y, theta0, 0.1, 7, 3, 1)
    with pytest.raises(ValueError, match="batch_size"):
        sgd_moments(X, y, theta0, 0.1, 2.0, 3)
    with pytest.raises(ValueError, match=r"y must be .*N = 6"):
        sgd_moments(X, y[:5], theta0, 0.1, 1, 3)
    with pytest.raises(ValueError, match=r"theta0 must .*\(2,\)"):
        sgd_moments(X, y, jnp.zeros(3), 0.1, 1, 3)
    with pytest.raises(ValueError, match="X must be a 2-D"):
        sgd_moments(X[:, 0], y, theta0, 0.1, 1, 3)
    with pytest.raises(ValueError, match="ensemble"):
        sgd_moments(jnp.zeros((3, 201)), jnp.zeros(3), jnp.zeros(201), 0.1, 1, 3)
    with pytest.raises(ValueError, match="NaN or infinite"):
        sgd_moments(X.at[0, 0].set(jnp.nan), y, theta0, 0.1, 1, 3)
    with pytest.raises(ValueError, match="lr must be"):
        sgd_moments(X, y, theta0, -0.1, 1, 3)
    with pytest.raises(ValueError, match="lr must be"):
        sgd_moments(X, y, theta0, float("inf"), 1, 3)
    with pytest.raises(ValueError, match="num_steps"):
        sgd_moments(X, y, theta0, 0.1, 1, -1)
    with pytest.raises(ValueError, match="horizon_steps"):
        sme_moments(X, y, theta0, 0.1, 1, 2.5, 1)
    with pytest.raises(ValueError, match="order must be 0"):
        sme_moments(X, y, theta0, 0.1, 1, 3, 3)
    with pytest.raises(ValueError, match="not a whole number of steps"):
        weak_error_sweep(X, y, theta0, [0.01, 0.08], 1, 1.0)
    with pytest.raises(ValueError, match="horizon"):
        weak_error_sweep(X, y, theta0, [0.01], 1, -1.0)
