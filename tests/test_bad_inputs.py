"""No silent wrong result: bad or unusual inputs raise an error that names the argument or the
cause — also under ``jax.jit`` and ``jax.vmap`` — and failures are diagnosed correctly.

The error contract (README): outside transformations a ``ValueError`` names the argument and
its range, a failed run raises ``eomlib.DivergenceError`` with the cause; under ``jit``/``vmap``
the same conditions stop the computation with an ``eomlib:`` message (equinox ``error_if``).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eomlib
from eomlib import breakdown, invariance, momentum, spectra
from eomlib._core import budget

THETA = jnp.array([0.5, -0.2])


def quartic(theta):
    return 0.5 * jnp.sum(theta**2) + 0.1 * jnp.sum(theta**4)


def bowl(theta):  # λ_max = 1 at 0
    return 0.5 * jnp.sum(theta**2)


def runtime_error_text(call) -> str:
    """The text of the error a transformed call raises at run time (equinox error_if)."""
    with pytest.raises(Exception) as info:
        jax.block_until_ready(call())
    return str(info.value)


# --------------------------------------------------------------------------- traced arguments


@pytest.mark.parametrize("lr", [-0.1, 0.0, float("nan")])
def test_traced_bad_lr_stops_gd_under_jit(lr):
    """A negative η under jit must not run gradient ascent; 0 and NaN are refused too."""
    text = runtime_error_text(lambda: jax.jit(
        lambda eta: eomlib.gd_trajectory(quartic, THETA, eta, 5))(lr))
    assert "eomlib: lr must be a finite number in (0, inf)" in text


def test_traced_zero_lr_in_a_vmapped_error_sweep_is_refused():
    """lr = 0 under vmap used to give all-zero errors."""
    text = runtime_error_text(lambda: jax.vmap(
        lambda eta: eomlib.discretization_error(quartic, THETA, eta, 4, 1))(jnp.array([0.1, 0.0])))
    assert "eomlib: lr must be" in text


def test_traced_good_lr_gives_the_same_numbers():
    direct = eomlib.discretization_error(quartic, THETA, 0.1, 6, 1)
    traced = jax.jit(lambda eta: eomlib.discretization_error(quartic, THETA, eta, 6, 1))(0.1)
    np.testing.assert_allclose(traced, direct, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("make", [
    lambda eta: eomlib.eom_vector_field(quartic, 1)(THETA, eta),
    lambda eta: eomlib.modified_loss(quartic, eta)(THETA),
    lambda eta: momentum.momentum_eom_field(quartic, 1)(THETA, eta, 0.5),
])
def test_traced_negative_lr_stops_fields_and_modified_losses(make):
    assert "eomlib: lr must be" in runtime_error_text(lambda: jax.jit(make)(-0.1))


@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5])
def test_traced_bad_beta_is_refused(beta):
    text = runtime_error_text(lambda: jax.jit(
        lambda b: momentum.heavy_ball_trajectory(quartic, THETA, 0.1, b, 4))(beta))
    assert "eomlib: beta must be a finite number in [0, 1)" in text
    text = runtime_error_text(lambda: jax.jit(
        lambda b: momentum.momentum_counter_term(quartic)(THETA, b))(beta))
    assert "eomlib: beta must be" in text


def test_divergence_under_jit_names_the_cause():
    text = runtime_error_text(lambda: jax.jit(
        lambda eta: eomlib.gd_trajectory(bowl, jnp.ones(2), eta, 1000))(3.0))
    assert "eomlib: the run overflowed to NaN/inf" in text


# --------------------------------------------------------------------------- the loss is checked


def test_loss_nan_at_theta0_is_named():
    with pytest.raises(ValueError, match=r"the loss is nan at theta0"):
        eomlib.gd_trajectory(lambda th: jnp.sum(jnp.log(th)), jnp.array([-1.0, 1.0]), 0.1, 3)


def test_gradient_not_finite_at_theta0_is_named():
    with pytest.raises(ValueError, match="gradient of the loss is not finite at theta0"):
        eomlib.eom_trajectory(lambda th: jnp.sum(jnp.sqrt(th)), jnp.array([0.0, 1.0]), 0.1, 3, 0)


def nan_outside(theta):
    """Finite inside the disc |θ|² < 2.5, NaN outside, where its gradient is 0."""
    return jnp.where(jnp.sum(theta**2) < 2.5, 0.5 * jnp.sum(theta**2), jnp.nan)


def test_loss_nan_off_a_region_where_gd_stops_is_not_a_result():
    """GD jumps out of the disc and stops there with a zero gradient: before, the run looked
    normal; now the loss is checked along the run."""
    with pytest.raises(eomlib.DivergenceError, match="loss became NaN along gradient descent"):
        eomlib.gd_trajectory(nan_outside, jnp.ones(2), 2.5, 5)


def test_nan_off_a_region_is_fine_while_gd_stays_inside():
    traj = eomlib.gd_trajectory(nan_outside, jnp.ones(2), 0.5, 5)
    assert np.all(np.isfinite(np.asarray(traj)))


# --------------------------------------------------------------------------- diagnoses


def test_exhausted_solver_budget_is_not_called_an_overflow():
    with pytest.raises(eomlib.DivergenceError) as info:
        eomlib.eom_trajectory(quartic, THETA, 0.1, 50, 1, max_steps=5)
    message = str(info.value)
    assert "used its whole step budget (max_steps = 5)" in message
    assert "overflowed" not in message


def test_gd_overflow_reports_lr_times_lambda_max():
    # the loss (½θ²) overflows before the iterates do: still an overflow, not a NaN loss
    with pytest.raises(eomlib.DivergenceError,
                       match=r"gradient descent overflowed \(the loss reached \+inf.*"
                             r"η·λ_max\(θ_0\) = 3 × 1 = 3 \(above 2"):
        eomlib.gd_trajectory(bowl, jnp.ones(2), 3.0, 1000)


def test_sweep_blames_gradient_descent_not_the_eom_series():
    """At η = 3 GD overflows while gradient flow is fine: the message says GD."""
    with pytest.raises(eomlib.DivergenceError) as info:
        eomlib.error_sweep(bowl, jnp.ones(2), [0.1, 3.0], 0, num_steps=1000)
    message = str(info.value)
    assert message.startswith("gradient descent at lr=3 overflowed")
    assert "EoM" not in message.split(";")[0]


def test_a_flow_that_blows_up_says_so():
    """Gradient flow of −θ⁴ reaches infinity in finite time."""
    with pytest.raises(eomlib.DivergenceError, match="ODE solver of gradient flow could not advance"):
        eomlib.eom_trajectory(lambda th: -jnp.sum(th**4), jnp.ones(2), 0.1, 100, 0)


# --------------------------------------------------------------------------- sharpness


def saddle(theta):  # eigenvalues 1 and −3
    return 0.5 * (theta[0] ** 2 - 3.0 * theta[1] ** 2)


def test_sharpness_is_the_largest_algebraic_eigenvalue():
    assert float(eomlib.sharpness(saddle, jnp.ones(2))) == pytest.approx(1.0, rel=1e-10)
    assert float(eomlib.sharpness(lambda t: -saddle(t), jnp.ones(2))) == pytest.approx(3.0, rel=1e-10)
    assert float(eomlib.sharpness(lambda t: -bowl(t), jnp.ones(2))) == pytest.approx(-1.0, rel=1e-10)
    traj = jnp.stack([jnp.ones(2)] * 2)
    np.testing.assert_allclose(eomlib.sharpness_along(saddle, traj, method="power"), 1.0, rtol=1e-10)
    np.testing.assert_allclose(eomlib.sharpness_along(saddle, traj), 1.0, rtol=1e-10)


def test_spectral_radius_is_the_largest_magnitude():
    assert float(spectra.spectral_radius(saddle, jnp.ones(2))) == pytest.approx(3.0, rel=1e-10)
    assert float(spectra.spectral_radius(bowl, jnp.ones(2))) == pytest.approx(1.0, rel=1e-10)


@pytest.mark.parametrize("call, match", [
    (lambda: eomlib.sharpness(saddle, jnp.ones(2), num_iters=0), "num_iters"),
    (lambda: eomlib.sharpness("loss", jnp.ones(2)), "loss must be a callable"),
    (lambda: eomlib.sharpness(saddle, jnp.array([1, 2])), "floating-point"),
    (lambda: spectra.spectral_radius(saddle, jnp.ones(2), num_iters=-1), "num_iters"),
    (lambda: eomlib.sharpness(lambda t: jnp.sum(jnp.sqrt(t)), jnp.array([0.0, 1.0])),
     "not finite"),
    (lambda: eomlib.sharpness_along(saddle, jnp.ones(())), "leading axis"),
    (lambda: eomlib.hvp(jax.grad(bowl), jnp.ones(2), jnp.ones(3)), "one shape"),
    (lambda: eomlib.hvp("grad", jnp.ones(2), jnp.ones(2)), "grad must be a callable"),
    (lambda: eomlib.hvp(jax.grad(bowl), jnp.ones(2), jnp.ones(2, int)), "floating-point"),
])
def test_spectra_validate(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- fields, sweeps, slopes


@pytest.mark.parametrize("call", [
    lambda: eomlib.eom_vector_field(quartic, 1)(THETA, -0.1),
    lambda: eomlib.modified_loss(quartic, -0.1),
    lambda: eomlib.modified_loss(quartic, float("nan")),
    lambda: momentum.modified_momentum_loss(quartic, -0.1, 0.5),
    lambda: momentum.momentum_eom_field(quartic)(THETA, 0.0, 0.5),
])
def test_fields_and_modified_losses_refuse_bad_lr(call):
    with pytest.raises(ValueError, match="lr must be"):
        call()


@pytest.mark.parametrize("call", [
    lambda: eomlib.eom_trajectory(quartic, THETA, 0.1, 3, 1, method="tres"),
    lambda: eomlib.eom_vector_field(quartic, 1, method="Trees"),
    lambda: eomlib.counter_terms(quartic, 1, method=None),
    lambda: eomlib.discretization_error(quartic, THETA, 0.1, 3, 1, method="x"),
])
def test_unknown_method_is_refused(call):
    with pytest.raises((ValueError, TypeError), match="method"):
        call()


def test_horizon_shorter_than_a_step_is_refused():
    with pytest.raises(ValueError, match=r"horizon T = 0.15 is shorter than one step of lr = 0.2"):
        eomlib.error_sweep(quartic, THETA, [0.1, 0.2], 1, horizon=0.15)
    with pytest.raises(ValueError, match="shorter than one step"):
        eomlib.prediction_sweep(quartic, THETA, [0.1, 0.2], 1, horizon=0.05)


@pytest.mark.parametrize("lrs, errors, match", [
    ([0.1, 0.1], [1e-3, 2e-3], "distinct"),
    ([0.1, 0.05], [1e-3, 0.0], "finite and > 0"),
    ([0.1, float("nan")], [1e-3, 1e-4], "finite and > 0"),
    ([0.1], [1e-3], "length >= 2"),
])
def test_fit_slope_refuses_what_has_no_slope(lrs, errors, match):
    with pytest.raises(ValueError, match=match):
        eomlib.fit_slope(lrs, errors)


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("call, match", [
    (lambda: invariance.equilibrium_angle(1.0, 3.0), r"lr \* weight_decay"),
    (lambda: invariance.equilibrium_angle(-0.1, 0.1), "lr must be"),
    (lambda: invariance.equilibrium_norm(0.1, 0.0, 1.0), "weight_decay"),
    (lambda: invariance.equilibrium_norm(1.0, 2.5, 1.0), r"lr \* weight_decay"),
    (lambda: invariance.equilibrium_norm(0.1, 0.1, -1.0), "unit_grad_sq"),
    (lambda: invariance.decay_rate(1.0, 1.5), r"lr \* weight_decay"),
    (lambda: invariance.decay_rate(0.1, -1.0, order=1), "weight_decay"),
    (lambda: invariance.flow_sum(1.0, 1.0, 2.0, 5), r"lr \* weight_decay"),
    (lambda: invariance.gd_sum(1.0, 0.0, 0.1, 5), "lr must be"),
    (lambda: invariance.gd_sq_norm(1.0, [1.0, -1.0], 0.1), "grad_sq_norms"),
    (lambda: invariance.eom1_norm_rate(0.1, -1.0), "grad_sq_norm"),
    (lambda: invariance.unit_grad_sq_norm([1.0], [-1.0]), "sq_norms"),
    (lambda: momentum.momentum_coefficients(1.0), "beta"),
    (lambda: breakdown.eom_step_exponent(float("nan"), 1), "x must be finite"),
    (lambda: breakdown.exact_step_exponent(1 + 2j), "x must be real"),
    (lambda: breakdown.quadratic_gd(0.5, 2.5), "num_steps"),
    (lambda: breakdown.quadratic_eom(0.5, 1, -1), "num_steps"),
    (lambda: breakdown.relative_step_error(0.0, 1), "x must be finite and non-zero"),
    (lambda: breakdown.quadratic_exact_flow(0.5, [0.0, float("inf")]), "steps"),
])
def test_closed_forms_refuse_values_outside_their_range(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_closed_forms_stay_jittable():
    """Traced arguments are not checked (pure formulas): jit still works."""
    value = jax.jit(invariance.equilibrium_angle)(0.1, 5e-4)
    assert float(value) == pytest.approx(np.arccos(1 - 5e-5))
    rate = jax.jit(lambda lr, lam: invariance.decay_rate(lr, lam))(0.1, 5e-4)
    assert float(rate) == pytest.approx(np.log1p(-5e-5) / 0.1)


# --------------------------------------------------------------------------- cost limits


def test_a_run_that_cannot_fit_in_memory_is_refused_at_once():
    """num_steps = 10⁹ used to sit for minutes; now the estimate comes at once."""
    with pytest.raises(ValueError, match=r"would save 1 × 1,073,741,825 rows × 2 numbers = 16 GiB"):
        eomlib.gd_trajectory(quartic, THETA, 0.1, 10**9)
    with pytest.raises(ValueError, match="GiB"):
        eomlib.error_sweep(quartic, THETA, np.linspace(0.01, 0.1, 64), 1, num_steps=10**8)


@pytest.mark.parametrize("order", [9, 10])
def test_orders_beyond_the_compile_limit_are_refused_with_an_estimate(order):
    """order = 10 used not to return in two minutes."""
    pattern = rf"order {order} needs the counter terms up to ξ_{order}: [\d,]+ rooted-tree terms, " \
              r"an estimated [\d,]+ min of compilation"
    with pytest.raises(ValueError, match=pattern):
        eomlib.discretization_error(quartic, THETA, 0.1, 3, order)
    with pytest.raises(ValueError, match=pattern):
        eomlib.counter_terms(quartic, order)
    with pytest.raises(ValueError, match=pattern):
        eomlib.eom_vector_field(quartic, order)(THETA, 0.1)


def test_the_error_prediction_needs_one_order_more():
    with pytest.raises(ValueError, match=re.escape("error prediction of order γ + 1 = 9")):
        eomlib.predicted_error(quartic, THETA, 0.1, 3, budget.MAX_COUNTER_TERM)


# --------------------------------------------------------------------------- widgets


@pytest.mark.parametrize("kwargs, match", [
    ({"lr_min": 0.0, "lr_max": 1.0, "value": 0.5, "log": True}, "0 < lr_min < lr_max"),
    ({"lr_min": -0.1, "lr_max": 1.0, "value": 0.5}, "0 <= lr_min < lr_max"),
    ({"lr_min": 1.0, "lr_max": 0.1, "value": 0.5}, "0 <= lr_min < lr_max"),
    ({"lr_min": 0.1, "lr_max": 1.0, "value": 2.0}, "value must lie in"),
    ({"lr_min": 0.1, "lr_max": 1.0, "value": 0.5, "step": 0.0}, "step must be"),
    ({"lr_min": 0.1, "lr_max": float("nan"), "value": 0.5}, "lr_max must be a finite number"),
])
def test_slider_ranges_are_checked(kwargs, match):
    from eomlib.book import widgets

    with pytest.raises(ValueError, match=match):
        widgets.lr_slider(lambda lr: None, **kwargs)


def test_the_tree_count_table_matches_the_trees():
    from eomlib import trees

    counts = np.cumsum([len(trees.counter_term_trees(k)) for k in range(1, 8)])
    assert tuple(counts) == budget.CUMULATIVE_TREE_TERMS[:7]
