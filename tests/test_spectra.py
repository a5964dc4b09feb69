"""Sharpness by power iteration and Lanczos, against dense eigenvalues on small problems."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
from eomlib import spectra


def random_symmetric(seed, eigenvalues):
    """A dense symmetric matrix with the given spectrum, in a random orthonormal basis."""
    d = len(eigenvalues)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    a = (q * np.asarray(eigenvalues)) @ q.T
    return jnp.asarray(0.5 * (a + a.T))


_HESSIANS: dict = {}


def dense_hessian(loss, theta):
    """The dense Hessian (a test reference only), one jitted program per loss."""
    if loss not in _HESSIANS:
        _HESSIANS[loss] = jax.jit(jax.hessian(
            lambda z, t: loss(jax.flatten_util.ravel_pytree(t)[1](z))))
    return np.asarray(_HESSIANS[loss](flat(theta), theta))


def descending_eigenvalues(matrix):
    return np.linalg.eigvalsh(np.asarray(matrix))[::-1]


@pytest.fixture(scope="module")
def random_quadratic():
    """f = ½θᵀAθ + Σθ on a dict pytree (d = 12); eigenvalues of both signs, the most negative
    one of largest magnitude, so λ_max ≠ the eigenvalue of largest |λ|."""
    eigs = np.array([2.0, 1.6, 1.3, 1.1, 0.7, 0.5, 0.2, 0.05, -0.1, -0.4, -0.8, -3.0])
    a = random_symmetric(7, eigs)

    def loss(theta):
        v = jnp.concatenate([theta["u"], theta["v"].ravel()])
        return 0.5 * v @ a @ v + jnp.sum(v)  # the linear term does not change the Hessian

    theta = {"u": jnp.linspace(-1.0, 1.0, 4), "v": jnp.ones((2, 4))}
    return loss, theta, a


def test_lanczos_and_power_iteration_on_random_quadratic(random_quadratic):
    loss, theta, a = random_quadratic
    dense = descending_eigenvalues(a)
    # m = d: the Krylov space is the whole space and the Ritz values are the eigenvalues.
    np.testing.assert_allclose(spectra.top_eigenvalues(loss, theta, 3, num_iters=12), dense[:3],
                               rtol=1e-12)
    # num_iters beyond d is capped at d (the same compiled program).
    np.testing.assert_allclose(spectra.top_eigenvalues(loss, theta, 3, num_iters=50), dense[:3],
                               rtol=1e-12)
    # Lanczos and sharpness return the largest *algebraic* eigenvalue (2, the stability
    # limit; sharpness shifts its power iteration when the dominant eigenvalue is negative);
    # spectral_radius the largest magnitude (|−3|).
    np.testing.assert_allclose(eomlib.sharpness(loss, theta, num_iters=300), dense[0], rtol=1e-6)
    np.testing.assert_allclose(spectra.spectral_radius(loss, theta, num_iters=300), 3.0, rtol=1e-6)


def test_lanczos_basis_ritz_bounds_and_residuals(random_quadratic):
    _, _, a = random_quadratic
    matvec = partial(jnp.matmul, a)
    result = spectra.lanczos(matvec, jnp.ones(12), 8)
    q = np.asarray(result.basis)
    np.testing.assert_allclose(q @ q.T, np.eye(8), atol=1e-12)  # orthonormal
    alphas, betas = np.asarray(result.alphas), np.asarray(result.betas)
    tops = []
    for m in range(1, 9):  # the leading m×m block of T_8 is T_m, the tridiagonal after m steps
        t = np.diag(alphas[:m]) + np.diag(betas[:m - 1], 1) + np.diag(betas[:m - 1], -1)
        tops.append(np.linalg.eigvalsh(t)[-1])
    # Ritz values are lower bounds on λ_max = 2 that rise with the number of steps.
    assert np.all(np.diff(tops) >= -1e-12) and tops[-1] <= 2.0 + 1e-12 and 2.0 - tops[-1] < 1e-3
    values, vectors = spectra.ritz_pairs(result)
    assert np.all(np.diff(np.asarray(values)) <= 0)  # descending
    np.testing.assert_allclose(values[0], tops[-1], rtol=1e-12)
    # ‖H y − θ y‖ = |β_m s_m| for the top Ritz pair (θ, y = Qᵀs).
    s_top = np.linalg.eigh(t)[1][:, -1]
    residual = np.linalg.norm(matvec(vectors[0]) - values[0] * vectors[0])
    np.testing.assert_allclose(residual, abs(betas[-1] * s_top[-1]), rtol=1e-6)
    with pytest.raises(ValueError, match="num_iters"):
        spectra.lanczos(matvec, jnp.ones(12), 13)


def test_tiny_tanh_net_against_dense_hessian(tiny_net):
    loss, theta = tiny_net
    dense = descending_eigenvalues(dense_hessian(loss, theta))
    np.testing.assert_allclose(spectra.top_eigenvalues(loss, theta, 3, num_iters=17), dense[:3],
                               rtol=1e-10)
    np.testing.assert_allclose(eomlib.sharpness(loss, theta), dense[0], rtol=1e-6)


def test_lanczos_restarts_after_breakdown():
    """Start on an eigenvector: the Krylov space is exhausted at once; a restart recovers."""
    eigs = [2.0, 1.0, 0.5, -0.3, -1.0]
    a = random_symmetric(2, eigs)
    v = np.linalg.eigh(np.asarray(a))[1][:, 1]  # the eigenvector of 0.5

    def loss(theta):
        return 0.5 * theta @ a @ theta

    values = spectra.top_eigenvalues(loss, jnp.zeros(5), 3, num_iters=5, v0=jnp.asarray(v))
    np.testing.assert_allclose(values, [2.0, 1.0, 0.5], rtol=1e-10)


def test_lanczos_warm_start_and_vector(tiny_net):
    loss, theta = tiny_net
    w, v = np.linalg.eigh(dense_hessian(loss, theta))
    values, vector = spectra.top_eigenvalues(loss, theta, 3, num_iters=17, return_vector=True)
    assert jax.tree_util.tree_structure(vector) == jax.tree_util.tree_structure(theta)
    assert abs(abs(float(flat(vector) @ v[:, -1])) - 1) < 1e-8
    warm = spectra.top_eigenvalues(loss, theta, num_iters=2, v0=vector)
    np.testing.assert_allclose(warm, [w[-1]], rtol=1e-10)


def test_sharpness_along_matches_a_loop_and_dense(tiny_net):
    loss, theta = tiny_net
    traj = eomlib.gd_trajectory(loss, theta, 0.8, 8)
    points = [jax.tree_util.tree_map(lambda a, k=k: a[k], traj) for k in range(9)]
    dense = np.array([descending_eigenvalues(dense_hessian(loss, p))[0] for p in points])

    loop = np.array([float(spectra.top_eigenvalues(loss, p, 3, num_iters=17)[0]) for p in points])
    np.testing.assert_allclose(loop, dense, rtol=1e-10)

    along, vectors = spectra.sharpness_along(loss, traj, num_iters=14, return_vectors=True)
    assert along.shape == (9,) and vectors["w1"].shape == (9, 2, 4)
    np.testing.assert_allclose(along, dense, rtol=1e-6)

    # Warm start from the vectors of the first call: two more steps converge to round-off.
    warm = spectra.sharpness_along(loss, traj, num_iters=2, v0=vectors)
    np.testing.assert_allclose(warm, dense, rtol=1e-9)

    # Power iteration on iterates 0, 4, 8, all started from one shared vector (broadcast).
    first = jax.tree_util.tree_map(lambda a: a[0], vectors)
    power = spectra.sharpness_along(loss, traj, every=4, method="power", num_iters=300, v0=first)
    assert power.shape == (3,)
    np.testing.assert_allclose(power, dense[::4], rtol=1e-6)


def test_gradient_curvature_is_the_rayleigh_quotient_of_the_gradient(tiny_net):
    loss, theta = tiny_net
    h = dense_hessian(loss, theta)
    g = np.asarray(flat(jax.grad(loss)(theta)))
    traj = eomlib.gd_trajectory(loss, theta, 0.5, 3)
    batched = jax.jit(jax.vmap(partial(spectra.gradient_curvature, loss)))(traj)
    assert batched.shape == (4,)
    np.testing.assert_allclose(batched[0], g @ h @ g / (g @ g), rtol=1e-12)
    assert float(spectra.gradient_curvature(lambda t: jnp.sum(t**2), jnp.zeros(3))) == 0.0


def test_input_validation(tiny_net):
    loss, theta = tiny_net
    traj = eomlib.gd_trajectory(loss, theta, 0.5, 3)
    bad_calls = {
        "method": lambda: spectra.sharpness_along(loss, traj, method="arnoldi"),
        "every": lambda: spectra.sharpness_along(loss, traj, every=0),
        "num_iters": lambda: spectra.sharpness_along(loss, traj, num_iters=0),
        "traj": lambda: spectra.sharpness_along(loss, {"a": jnp.ones(3), "b": jnp.ones(4)}),
        "v0": lambda: spectra.sharpness_along(loss, traj, v0=jnp.ones(5)),
        "loss": lambda: spectra.sharpness_along("loss", traj),
    }
    for name, call in bad_calls.items():
        with pytest.raises(ValueError, match=name):
            call()
    with pytest.raises(ValueError, match="traj"):
        spectra.sharpness_along(loss, {"w": jnp.array([[jnp.nan, 1.0]])})
    with pytest.raises(ValueError, match="k"):
        spectra.top_eigenvalues(loss, theta, 5, num_iters=4)
    with pytest.raises(ValueError, match="num_iters"):
        spectra.top_eigenvalues(loss, theta, num_iters=2.5)
    with pytest.raises(ValueError, match="v0"):
        spectra.top_eigenvalues(loss, theta, v0=jnp.ones(3))
    with pytest.raises(ValueError, match="theta"):
        spectra.top_eigenvalues(loss, {"w": jnp.array([1, 2])})
