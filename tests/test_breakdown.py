"""Where the EoM breaks: the quadratic's closed forms and the one-step error on a network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
from eomlib import breakdown
from eomlib.book import toys


def test_log_series_coefficients_are_the_quadratic_counter_terms():
    """ξ_j = A^j g / (j + 1) for f = ½θᵀAθ: the counter terms from eomlib agree."""
    a = jnp.array([[1.5, 0.3], [0.3, 0.6]])
    loss = toys.quadratic(a)
    theta = jnp.array([0.4, -0.7])
    g = a @ theta
    coefficients = breakdown.log_series_coefficients(4)
    np.testing.assert_allclose(coefficients, [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    xis = eomlib.counter_terms(loss, 4)
    values = jax.jit(lambda t: jnp.stack([xi(t) for xi in xis]))(theta)
    for j in range(1, 5):
        np.testing.assert_allclose(values[j - 1],
                                   coefficients[j] * np.linalg.matrix_power(a, j) @ g,
                                   rtol=1e-12)


def test_step_exponent_is_the_taylor_series_of_log():
    x = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(breakdown.eom_step_exponent(x, 0), -x)
    np.testing.assert_allclose(breakdown.eom_step_exponent(x, 1), -x - x**2 / 2)
    np.testing.assert_allclose(breakdown.eom_step_exponent(x, 400), np.log1p(-x), rtol=1e-12)
    # The error is the tail of the series: decreasing in the order below x = 1 ...
    for xi in (0.3, 0.9):
        errors = [breakdown.exponent_error(xi, g) for g in range(7)]
        assert np.all(np.diff(errors) < 0)
    # ... infinite at x = 1, and at least π (the imaginary part) beyond it, growing eventually.
    assert np.all(np.isinf([breakdown.exponent_error(1.0, g) for g in range(4)]))
    errors = np.array([breakdown.exponent_error(1.5, g) for g in range(7)])
    assert np.all(errors >= np.pi) and np.all(np.diff(errors) > 0)


def test_exact_flow_is_gd_at_the_steps_complex_beyond_one():
    steps = np.arange(8)
    for x in (0.3, 1.0, 1.5, 2.5):
        flow = breakdown.quadratic_exact_flow(x, steps)
        np.testing.assert_allclose(flow.real, breakdown.quadratic_gd(x, 7), atol=1e-13)
        np.testing.assert_allclose(flow.imag, 0, atol=1e-13)
    half = breakdown.quadratic_exact_flow(1.5, [0.5, 1.5])
    np.testing.assert_allclose(np.abs(half), 0.5 ** np.array([0.5, 1.5]), rtol=1e-12)
    np.testing.assert_allclose(half.real, 0, atol=1e-13)  # cos(π t/η) = 0 at half steps
    # The same flow as eomlib.book.toys.exact_quadratic_flow (eigenbasis form), for a 1-D matrix.
    eigenbasis = toys.exact_quadratic_flow([[3.0]], [1.0], 0.5, [0.0, 0.25, 1.0])[:, 0]
    np.testing.assert_allclose(eigenbasis, breakdown.quadratic_exact_flow(1.5, [0.0, 0.5, 2.0]),
                               atol=1e-13)


def test_quadratic_eom_and_errors():
    np.testing.assert_allclose(breakdown.quadratic_eom(0.5, 400, 5), 0.5 ** np.arange(6),
                               rtol=1e-10)
    err = [breakdown.quadratic_eom_error(0.4, g, 20) for g in range(5)]
    assert np.all(np.diff(err) < 0)
    rel = np.array([breakdown.relative_step_error(1.5, g) for g in range(12)])
    assert np.all(rel >= (1.5 - 1) / 1.5) and abs(rel[-1] - 1 / 3) < 1e-4  # the floor (x−1)/x
    np.testing.assert_allclose(breakdown.relative_step_error(1e-3, 1), 1e-6 / 3, rtol=1e-2)


def test_principal_flow_multiplier():
    m = breakdown.principal_flow_multiplier(np.array([0.0, 1e-8, 0.5, 1.99, 2.01]))
    np.testing.assert_allclose(m[:2], -1.0, rtol=1e-7)
    np.testing.assert_allclose(m[2], np.log(0.5) / 0.5)
    assert m[3].real < 0 < m[4].real
    np.testing.assert_allclose(m[3:].imag, np.pi / np.array([1.99, 2.01]))


def test_local_error_matches_the_closed_form_on_a_quadratic(quadratic):
    """f = ½θᵀAθ (θ a list pytree): one order-γ EoM step is exp(E_γ(ηA))θ, GD is (I − ηA)θ."""
    loss, theta, a = quadratic
    w, v = np.linalg.eigh(np.asarray(a))
    points = jax.tree_util.tree_map(lambda p: jnp.stack([p, 0.5 * p[::-1], -p]), theta)
    stack = np.stack([flat(jax.tree_util.tree_map(lambda p, i=i: p[i], points)) for i in range(3)])
    for lr in (1.0, 0.5, 0.25):  # ηλ_max = 1.6 (beyond the breakdown), 0.8, 0.4; one compilation
        errors = breakdown.local_error(loss, points, lr, 1)
        gap = np.exp(breakdown.eom_step_exponent(lr * w, 1)) - (1 - lr * w)
        expected = np.linalg.norm(((v * gap) @ v.T) @ stack.T, axis=0)
        np.testing.assert_allclose(errors, expected, rtol=1e-7)


def test_local_error_validation(tiny_net):
    loss, theta = tiny_net
    traj = eomlib.gd_trajectory(loss, theta, 0.3, 2)
    with pytest.raises(ValueError, match="lr"):
        breakdown.local_error(loss, traj, -0.1, 1)
    with pytest.raises(ValueError, match="order"):
        breakdown.local_error(loss, traj, 0.1, -1)
    with pytest.raises(ValueError, match="points"):
        breakdown.local_error(loss, {"a": jnp.ones(2), "b": jnp.ones(3)}, 0.1, 1)
