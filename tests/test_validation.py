"""Every bad input raises a ValueError naming the argument; overflow raises DivergenceError."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eomlib
from eomlib import models
from eomlib._core.smoothness import warn_if_not_smooth


def loss2(theta):
    return jnp.sum(theta**2) + jnp.sum(theta**4)


THETA = jnp.array([0.5, -0.2])


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), -float("inf"), True, "0.1",
                                np.array([0.1, 0.2])])
def test_bad_lr(lr):
    for call in (lambda: eomlib.gd_trajectory(loss2, THETA, lr, 3),
                 lambda: eomlib.eom_trajectory(loss2, THETA, lr, 3, 1),
                 lambda: eomlib.discretization_error(loss2, THETA, lr, 3, 1),
                 lambda: eomlib.predicted_error(loss2, THETA, lr, 3, 1)):
        with pytest.raises(ValueError, match="lr"):
            call()


@pytest.mark.parametrize("order", [-1, 1.5, "2", None, True])
def test_bad_order(order):
    with pytest.raises(ValueError, match="order"):
        eomlib.eom_trajectory(loss2, THETA, 0.1, 3, order)
    with pytest.raises(ValueError, match="order"):
        eomlib.counter_terms(loss2, order)
    with pytest.raises(ValueError, match="order"):
        eomlib.eom_vector_field(loss2, order)
    with pytest.raises(ValueError, match="order"):
        eomlib.discretization_error(loss2, THETA, 0.1, 3, order)


@pytest.mark.parametrize("n", [-1, 2.0, "3", None])
def test_bad_num_steps(n):
    with pytest.raises(ValueError, match="num_steps"):
        eomlib.gd_trajectory(loss2, THETA, 0.1, n)
    with pytest.raises(ValueError, match="num_steps"):
        eomlib.eom_trajectory(loss2, THETA, 0.1, n, 0)


@pytest.mark.parametrize("theta", [jnp.array([jnp.nan, 1.0]), {"a": jnp.array([1.0, jnp.inf])},
                                   jnp.array([1, 2]), {}])
def test_bad_theta(theta):
    with pytest.raises(ValueError, match="theta0"):
        eomlib.gd_trajectory(lambda t: 0.0 * sum(jnp.sum(x) for x in jax.tree_util.tree_leaves(t)),
                             theta, 0.1, 3)


def test_loss_must_return_scalar():
    with pytest.raises(ValueError, match="scalar"):
        eomlib.gd_trajectory(lambda t: t**2, THETA, 0.1, 3)
    with pytest.raises(ValueError, match="scalar"):
        eomlib.eom_trajectory(lambda t: t**2, THETA, 0.1, 3, 1)
    with pytest.raises(ValueError, match="loss"):
        eomlib.gd_trajectory("not a function", THETA, 0.1, 3)


def test_a_valid_loss_is_checked_once_per_kind_of_parameters():
    """check_loss traces a loss once per structure, shapes and dtypes of θ (eomlib.memo):
    a repeated call (a slider move) traces nothing, not even the jitted run's loss again."""
    from eomlib._core.validate import check_loss

    traces = []

    def loss(theta):
        if isinstance(theta, jax.core.Tracer):
            traces.append(1)
        return jnp.sum(theta**2)

    check_loss(loss, THETA)
    check_loss(loss, 2 * THETA)
    assert len(traces) == 1
    check_loss(loss, jnp.ones(3))
    assert len(traces) == 2
    eomlib.gd_trajectory(loss, THETA, 0.1, 3)
    seen = len(traces)
    eomlib.gd_trajectory(loss, -THETA, 0.2, 3)
    assert len(traces) == seen

    def vector(theta):
        return theta if theta.shape[0] == 3 else jnp.sum(theta)

    check_loss(vector, THETA)  # valid for two parameters, not cached for three
    with pytest.raises(ValueError, match="scalar"):
        check_loss(vector, jnp.ones(3))


def test_bad_tolerances_and_sweeps():
    with pytest.raises(ValueError, match="rtol"):
        eomlib.eom_trajectory(loss2, THETA, 0.1, 3, 1, rtol=0.0)
    with pytest.raises(ValueError, match="atol"):
        eomlib.eom_trajectory(loss2, THETA, 0.1, 3, 1, atol=float("nan"))
    with pytest.raises(ValueError, match="horizon"):
        eomlib.error_sweep(loss2, THETA, [0.1], 1)
    with pytest.raises(ValueError, match="lr"):
        eomlib.error_sweep(loss2, THETA, [0.1, -0.1], 1, horizon=1.0)
    with pytest.raises(ValueError, match="lrs"):
        eomlib.fit_slope([0.1], [1.0])
    with pytest.raises(ValueError, match="method"):
        eomlib.counter_terms(loss2, 1, method="jet")
    with pytest.raises(ValueError, match="k must"):
        eomlib.counter_term_coefficients(0)


def test_gd_overflow_reports_eta_lambda():
    loss = lambda t: 0.5 * 3.0 * jnp.sum(t**2)  # noqa: E731  λ = 3, η = 1 → ηλ = 3
    with pytest.raises(eomlib.DivergenceError, match=r"η·λ_max\(θ_0\) = 1 × 3 = 3 \(above 2"):
        eomlib.gd_trajectory(loss, jnp.array([1.0, 2.0]), 1.0, 2000)
    # finite divergence is a result, not an error
    traj = eomlib.gd_trajectory(loss, jnp.array([1.0, 2.0]), 1.0, 10)
    assert np.all(np.isfinite(traj)) and abs(float(traj[-1, 0])) == 2.0**10


def test_ode_blowup_reports_eta_lambda():
    loss = lambda t: -jnp.sum(t**3)  # noqa: E731  GF blows up in finite time 1/(3θ_0)
    with pytest.raises(eomlib.DivergenceError, match="η·λ_max"):
        eomlib.eom_trajectory(loss, jnp.array([1.0]), 0.1, 10, 0)


def test_overflow_inside_vmap_is_not_silent():
    loss = lambda t: 0.5 * 3.0 * jnp.sum(t**2)  # noqa: E731
    with pytest.raises(Exception, match="overflowed"):
        jax.block_until_ready(
            jax.vmap(lambda lr: eomlib.gd_trajectory(loss, jnp.array([1.0]), lr, 2000))(jnp.array([0.1, 1.0])))


def test_relu_with_counter_terms_warns_once():
    relu = lambda t: jnp.sum(jax.nn.relu(t) ** 3)  # noqa: E731
    tanh = lambda t: jnp.sum(jnp.tanh(t) ** 3)  # noqa: E731
    theta = jnp.array([0.5, -0.2])
    with pytest.warns(UserWarning, match="not smooth"):
        warn_if_not_smooth(relu, theta, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_not_smooth(relu, theta, 2)  # once only
        warn_if_not_smooth(tanh, theta, 3)
        warn_if_not_smooth(lambda t: jnp.sum(jax.nn.relu(t)), theta, 0)  # order 0: never
