"""Mini-batch SGD, its per-epoch modified flows and its stochastic modified equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eomlib
from eomlib import sgd

jax.config.update("jax_enable_x64", True)

N, D, B = 16, 3, 4
_rng = np.random.default_rng(0)
_X = _rng.normal(size=(N, D))
DATA = {"x": jnp.asarray(_X), "y": jnp.asarray(_X @ np.array([1.0, -2.0, 0.5]) + 0.3 * _rng.normal(size=N))}
THETA0 = {"w": jnp.array([0.3, -0.2, 0.1]), "c": jnp.array(0.0)}


def loss(theta, batch):
    """A tanh regression, the mean over the batch's examples (θ a dict pytree)."""
    return 0.5 * jnp.mean((jnp.tanh(batch["x"] @ theta["w"]) + theta["c"] - batch["y"]) ** 2)


def flat(tree):
    return jnp.concatenate([tree["w"], tree["c"][..., None]], axis=-1)


def test_cyclic_sgd_is_the_loop_over_fixed_batches():
    lr, epochs = 0.1, 3
    traj = sgd.sgd_trajectory(loss, THETA0, lr, DATA, B, epochs, scheme="cyclic")
    theta, rows = THETA0, [flat(THETA0)]
    for _ in range(epochs):
        for k in range(N // B):
            batch = jax.tree_util.tree_map(lambda a: a[k * B:(k + 1) * B], DATA)
            g = jax.grad(loss)(theta, batch)
            theta = jax.tree_util.tree_map(lambda t, gi: t - lr * gi, theta, g)
            rows.append(flat(theta))
    np.testing.assert_allclose(flat(traj), jnp.stack(rows), rtol=0, atol=1e-13)
    by_epoch = sgd.sgd_trajectory(loss, THETA0, lr, DATA, B, epochs, scheme="cyclic", save="epoch")
    np.testing.assert_allclose(flat(by_epoch), jnp.stack(rows)[:: N // B], atol=1e-13)


def test_one_batch_of_everything_is_gradient_descent():
    full = lambda th: loss(th, DATA)  # noqa: E731
    gd = eomlib.gd_trajectory(full, THETA0, 0.2, 6)
    for scheme in ("cyclic", "reshuffle"):
        s = sgd.sgd_trajectory(loss, THETA0, 0.2, DATA, N, 6, scheme=scheme, key=jax.random.key(3))
        np.testing.assert_allclose(flat(s), flat(gd), atol=1e-12)
    # with m = 1 batch the modified field is the order-1 EoM: −g − η/2 Hg
    field = sgd.sgd_modified_field(loss, DATA, N)
    eom = eomlib.eom_vector_field(full, 1)
    np.testing.assert_allclose(flat(field(THETA0, 0.3)), flat(eom(THETA0, 0.3)), atol=1e-12)


def test_an_ensemble_is_its_runs_and_the_seeds_matter():
    keys = jax.random.split(jax.random.key(0), 3)
    ens = sgd.sgd_ensemble(loss, THETA0, 0.1, DATA, B, 2, keys, scheme="replacement")
    for r in range(3):
        one = sgd.sgd_trajectory(loss, THETA0, 0.1, DATA, B, 2, scheme="replacement", key=keys[r], save="epoch")
        np.testing.assert_allclose(flat(ens)[r], flat(one), atol=1e-13)
    assert float(jnp.abs(flat(ens)[0, -1] - flat(ens)[1, -1]).max()) > 1e-6


def _max_epoch_distance(a, b):
    return float(jnp.max(jnp.linalg.norm(flat(a) - flat(b), axis=-1)))


@pytest.mark.parametrize("order,slope", [(0, 1.0), (1, 2.0)])
def test_cyclic_modified_flow_follows_sgd_one_order_faster(order, slope):
    lrs, horizon, m = [0.04, 0.02, 0.01], 2.0, N // B
    errors = []
    for lr in lrs:
        epochs = int(round(horizon / (m * lr)))
        s = sgd.sgd_trajectory(loss, THETA0, lr, DATA, B, epochs, scheme="cyclic", save="epoch")
        f = sgd.sgd_flow_trajectory(loss, THETA0, lr, DATA, B, epochs, order=order, scheme="cyclic")
        errors.append(_max_epoch_distance(s, f))
    # the flow of order γ matches one epoch to O(η^{γ+2}); over T/(mη) epochs: O(η^{γ+1})
    assert abs(eomlib.fit_slope(lrs, errors) - slope) < 0.3, errors


@pytest.mark.parametrize("order,slope", [(0, 1.0), (1, 2.0)])
def test_reshuffle_mean_follows_smiths_modified_loss(order, slope):
    lrs, horizon, m, runs = [0.04, 0.02, 0.01], 2.0, N // B, 20_000
    errors, stderr = [], []
    for lr in lrs:
        epochs = int(round(horizon / (m * lr)))
        ens = sgd.sgd_ensemble(loss, THETA0, lr, DATA, B, epochs, jax.random.split(jax.random.key(1), runs))
        mean, err = sgd.monte_carlo_mean(flat(ens))
        f = sgd.sgd_flow_trajectory(loss, THETA0, lr, DATA, B, epochs, order=order, scheme="reshuffle")
        errors.append(float(jnp.max(jnp.linalg.norm(mean - flat(f), axis=-1))))
        stderr.append(float(jnp.max(err)))
    assert max(e / s for e, s in zip(errors, stderr)) > 5, (errors, stderr)  # bias, not noise
    assert abs(eomlib.fit_slope(lrs, errors) - slope) < 0.3, errors


def test_modified_loss_is_the_potential_of_the_reshuffle_field():
    f_sgd = sgd.sgd_modified_loss(loss, DATA, B)
    field = sgd.sgd_modified_field(loss, DATA, B, scheme="reshuffle")
    grad = jax.grad(f_sgd)(THETA0, 0.1)
    np.testing.assert_allclose(flat(field(THETA0, 0.1)), -flat(grad), atol=1e-12)
    # B = N: no batch noise, the EoM's modified loss f + η/4 ‖∇f‖²
    full = lambda th: loss(th, DATA)  # noqa: E731
    np.testing.assert_allclose(sgd.sgd_modified_loss(loss, DATA, N)(THETA0, 0.3),
                               eomlib.modified_loss(full, 0.3)(THETA0), atol=1e-13)
    # B < N: the regulariser adds the batch-gradient variance, > 0
    assert float(f_sgd(THETA0, 0.1)) > float(eomlib.modified_loss(full, 0.1)(THETA0))


def test_order1_sme_on_least_squares_has_the_exact_moments():
    """The SDE solver (Euler–Maruyama, matrix-free noise) against the SME's exact moments."""
    X = DATA["x"][:8]
    y = DATA["y"][:8]
    data = {"x": X, "y": y}
    lsq = lambda th, b: 0.5 * jnp.mean((b["x"] @ th - b["y"]) ** 2)  # noqa: E731
    theta0 = jnp.array([1.0, 0.5, -0.5])
    lr, n, runs = 0.1, 10, 4000
    paths = sgd.sme_ensemble(lsq, theta0, lr, data, 2, n, jax.random.split(jax.random.key(5), runs),
                             order=1, substeps=16)
    means, second = sgd.sme_moments(X, y, theta0, lr, 2, n, 1)
    final = paths[:, -1]
    mean, err = sgd.monte_carlo_mean(final)
    assert float(jnp.max(jnp.abs(mean - means[-1]) / err)) < 4.5
    cov = jnp.cov(final.T)
    exact_cov = second[-1] - jnp.outer(means[-1], means[-1])
    assert float(jnp.max(jnp.abs(jnp.diag(cov) / jnp.diag(exact_cov) - 1))) < 0.15  # 4000 paths: ≈ 2.2 % s.e.


def test_order2_sme_differs_from_order1_by_the_drift_correction():
    keys = jax.random.split(jax.random.key(7), 4)
    one = sgd.sme_ensemble(loss, THETA0, 0.1, DATA, B, 5, keys, order=1)
    two = sgd.sme_ensemble(loss, THETA0, 0.1, DATA, B, 5, keys, order=2)
    gap = float(jnp.max(jnp.abs(flat(one) - flat(two))))
    assert 1e-6 < gap < 1e-1


def test_named_errors_for_bad_input():
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 16\]"):
        sgd.sgd_trajectory(loss, THETA0, 0.1, DATA, 17, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="disagree in length"):
        sgd.sgd_trajectory(loss, THETA0, 0.1, {"x": DATA["x"], "y": DATA["y"][:5]}, 4, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="lr"):
        sgd.sgd_trajectory(loss, THETA0, -0.1, DATA, 4, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="lr"):
        sgd.sgd_trajectory(loss, THETA0, 0.0, DATA, 4, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="pass key="):
        sgd.sgd_trajectory(loss, THETA0, 0.1, DATA, 4, 1, scheme="reshuffle")
    with pytest.raises(ValueError, match="do not split into batches of 5"):
        sgd.sgd_trajectory(loss, THETA0, 0.1, DATA, 5, 1, scheme="cyclic")
    with pytest.raises(ValueError, match="scheme must be one of"):
        sgd.sgd_trajectory(loss, THETA0, 0.1, DATA, 4, 1, scheme="shuffle")
    with pytest.raises(ValueError, match="SME"):
        sgd.sgd_flow_trajectory(loss, THETA0, 0.1, DATA, 4, 1, scheme="replacement")
    with pytest.raises(ValueError, match=r"about 40[01] samples are needed"):
        sgd.monte_carlo_mean(jnp.array([0.0, 1.0, 2.0, 3.0]), max_stderr=0.0645)
    with pytest.raises(ValueError, match="at least 2 samples"):
        sgd.monte_carlo_mean(jnp.array([1.0]))
    with pytest.raises(ValueError, match="save_every"):
        sgd.sme_ensemble(loss, THETA0, 0.1, DATA, 4, 5, jax.random.split(jax.random.key(0), 2), save_every=2)


def test_divergence_is_named():
    with pytest.raises(eomlib.DivergenceError, match="SGD"):
        sgd.sgd_trajectory(lambda th, b: jnp.mean(jnp.exp(b["x"] @ th["w"] * 50.0)) + th["c"] ** 2,
                           THETA0, 10.0, DATA, 4, 3, scheme="cyclic")


def test_traced_learning_rates_do_not_recompile_and_bad_ones_fail():
    run = jax.jit(lambda lr: flat(sgd.sgd_trajectory(loss, THETA0, lr, DATA, B, 1, scheme="cyclic")))
    a, b = run(0.1), run(0.05)
    assert run._cache_size() == 1 and float(jnp.abs(a - b).max()) > 0
    with pytest.raises(Exception, match="lr must be a finite number"):
        jax.block_until_ready(run(-0.1))


def test_sme_ensembles_model_sgds_spread_where_gradient_flow_has_none():
    """Weak errors by ensembles (tanh regression, SGD with replacement): the SMEs' variance is
    SGD's to within the error bars and O(η) relative (for a quadratic of curvature λ the
    stationary variances of SGD, SME-1 and SME-2 are ησ²/2λ · (1 + ηλ/2, 1, 1 − ηλ/2)); the
    order-2 drift removes the O(η) bias of the mean that the order-1 SME keeps; gradient
    flow's variance is zero, many error bars away."""
    lr, n, runs = 0.1, 20, 20_000
    keys = jax.random.split(jax.random.key(11), runs)
    sgd_runs = flat(sgd.sgd_ensemble(loss, THETA0, lr, DATA, B, n // (N // B), keys,
                                     scheme="replacement"))[:, -1]
    mean_sgd, mean_err = sgd.monte_carlo_mean(sgd_runs)
    var_sgd = float(jnp.var(sgd_runs, axis=0, ddof=1).sum())
    err = var_sgd * np.sqrt(2 / (runs - 1))  # standard error of a (near-Gaussian) variance
    lam = float(eomlib.sharpness(lambda th: loss(th, DATA), THETA0))
    bias = {}
    for order in (1, 2):
        paths = flat(sgd.sme_ensemble(loss, THETA0, lr, DATA, B, n,
                                      jax.random.split(jax.random.key(12 + order), runs), order=order))[:, -1]
        var_sme = float(jnp.var(paths, axis=0, ddof=1).sum())
        assert abs(var_sme - var_sgd) < 4 * np.sqrt(2) * err + lr * lam * var_sgd, (order, var_sme, var_sgd)
        bias[order] = float(jnp.linalg.norm(jnp.mean(paths, axis=0) - mean_sgd))
    noise = 4 * np.sqrt(2) * float(jnp.linalg.norm(mean_err))
    assert bias[1] > noise and bias[2] < bias[1] / 2, (bias, noise)
    assert var_sgd > 20 * err  # gradient flow (variance 0) is off by many error bars


def test_a_learning_rate_sweep_of_the_flow_compiles_once():
    from eomlib._core.sgd import sgd_flow_flat

    sizes = []
    for lr, epochs in ((0.05, 10), (0.04, 12), (0.03, 16)):  # one padded grid of 16 epochs
        f = sgd.sgd_flow_trajectory(loss, THETA0, lr, DATA, B, epochs, scheme="reshuffle")
        assert f["w"].shape == (epochs + 1, D)
        sizes.append(sgd_flow_flat._cache_size())
    assert sizes[0] == sizes[1] == sizes[2], sizes  # the first call may compile, the others reuse it
