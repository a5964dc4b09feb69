"""Heavy-ball momentum and its modified flow (eomlib.momentum)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
from eomlib import momentum
from eomlib.book import toys


def _hand_heavy_ball(loss, theta, lr, beta, n):
    """θ_{k+1} = θ_k − η∇f(θ_k) + β(θ_k − θ_{k−1}), θ_{−1} = θ_0, on pytrees, by a Python loop."""
    xs, prev, x = [theta], theta, theta
    grad = jax.jit(jax.grad(loss))
    for _ in range(n):
        g = grad(x)
        x, prev = jax.tree_util.tree_map(lambda p, q, gi: p - lr * gi + beta * (p - q), x, prev, g), x
        xs.append(x)
    return np.stack([np.asarray(flat(t)) for t in xs])


def _stack_flat(traj, n):
    return np.stack([np.asarray(flat(jax.tree_util.tree_map(lambda a: a[k], traj))) for k in range(n + 1)])


def test_heavy_ball_matches_hand_loop_and_keeps_pytree(tiny_net):
    loss, theta = tiny_net
    traj = momentum.heavy_ball_trajectory(loss, theta, 0.1, 0.7, 6)
    assert jax.tree_util.tree_structure(traj) == jax.tree_util.tree_structure(theta)
    assert traj["w1"].shape == (7, 2, 4)
    np.testing.assert_allclose(_stack_flat(traj, 6), _hand_heavy_ball(loss, theta, 0.1, 0.7, 6),
                               rtol=1e-13, atol=1e-14)


def test_heavy_ball_is_traced_in_lr_and_beta(tiny_net):
    loss, theta = tiny_net
    betas = jnp.array([0.0, 0.3, 0.6])
    batched = jax.vmap(lambda b: momentum.heavy_ball_trajectory(loss, theta, 0.1, b, 4))(betas)
    for i, b in enumerate([0.0, 0.3, 0.6]):
        single = momentum.heavy_ball_trajectory(loss, theta, 0.1, b, 4)
        np.testing.assert_allclose(batched["w2"][i], single["w2"], rtol=1e-13)
    gd = eomlib.gd_trajectory(loss, theta, 0.1, 4)
    np.testing.assert_allclose(batched["w1"][0], gd["w1"], rtol=1e-14)  # β = 0 is GD


def test_beta_zero_reduces_to_gd_eom(tiny_net):
    loss, theta = tiny_net
    lr, n = 0.1, 20
    field = jax.jit(momentum.momentum_eom_field(loss, 1))
    gd_field = jax.jit(eomlib.eom_vector_field(loss, 1))
    np.testing.assert_allclose(flat(field(theta, lr, 0.0)), flat(gd_field(theta, lr)), rtol=1e-13)
    np.testing.assert_allclose(flat(jax.jit(momentum.momentum_counter_term(loss))(theta, 0.0)),
                               flat(jax.jit(eomlib.counter_terms(loss, 1)[0])(theta)), rtol=1e-13)
    assert np.all(flat(momentum.initial_shift(loss, theta, lr, 0.0)) == 0.0)
    assert float(momentum.modified_momentum_loss(loss, lr, 0.0)(theta)) == pytest.approx(
        float(eomlib.modified_loss(loss, lr)(theta)), rel=1e-14)
    ours = momentum.momentum_flow_trajectory(loss, theta, lr, 0.0, n, 1, shift=True)
    ref = eomlib.eom_trajectory(loss, theta, lr, n, 1)
    np.testing.assert_allclose(_stack_flat(ours, n), _stack_flat(ref, n), rtol=1e-8, atol=1e-10)


def test_counter_term_and_field_match_dense_hessian(tiny_net):
    loss, theta = tiny_net
    x0, unravel = jax.flatten_util.ravel_pytree(theta)
    flat_loss = lambda x: loss(unravel(x))  # noqa: E731
    xi = jax.jit(momentum.momentum_counter_term(loss))
    field = jax.jit(momentum.momentum_eom_field(loss, 1))
    field0 = jax.jit(momentum.momentum_eom_field(loss, 0))
    grad_and_hessian = jax.jit(lambda x: (jax.grad(flat_loss)(x), jax.hessian(flat_loss)(x)))
    lr = 0.05
    for seed, beta in [(0, 0.3), (1, 0.9)]:
        x = x0 + 0.3 * jax.random.normal(jax.random.PRNGKey(seed), x0.shape)
        g, h = grad_and_hessian(x)
        dense_xi = (1 + beta) / (2 * (1 - beta) ** 3) * h @ g
        np.testing.assert_allclose(flat(xi(unravel(x), beta)), dense_xi, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(flat(field(unravel(x), lr, beta)), -g / (1 - beta) - lr * dense_xi,
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(flat(field0(unravel(x), lr, beta)), -g / (1 - beta), rtol=1e-13)


def test_modified_loss_gradient_is_the_field(tiny_net):
    loss, theta = tiny_net
    field = jax.jit(momentum.momentum_eom_field(loss, 1))
    grad_tilde = jax.jit(lambda th, lr, beta: jax.grad(momentum.modified_momentum_loss(loss, lr, beta))(th))
    for lr, beta in [(0.1, 0.5), (0.02, 0.9)]:
        np.testing.assert_allclose(-flat(grad_tilde(theta, lr, beta)), flat(field(theta, lr, beta)),
                                   rtol=1e-12, atol=1e-14)


def test_shift_is_exact_for_a_constant_gradient():
    """For f = c·θ, HB is θ_k = θ_0 − kηc/(1−β) + ηβ/(1−β)²(1−β^k)c: the shifted flow misses
    it by exactly ηβ^{k+1}/(1−β)²·|c|, the unshifted one by ηβ(1−β^k)/(1−β)²·|c|."""
    c = jnp.array([0.6, -0.8])  # |c| = 1
    loss = lambda th: c @ th  # noqa: E731
    theta, lr, beta, n = jnp.array([0.5, 1.0]), 0.1, 0.6, 30
    hb = np.asarray(momentum.heavy_ball_trajectory(loss, theta, lr, beta, n))
    k = np.arange(n + 1)
    for shift, expected in [(True, lr * beta ** (k + 1) / (1 - beta) ** 2),
                            (False, lr * beta * (1 - beta**k) / (1 - beta) ** 2)]:
        flow = np.asarray(momentum.momentum_flow_trajectory(loss, theta, lr, beta, n, 1, shift))
        np.testing.assert_allclose(np.linalg.norm(flow - hb, axis=1), expected, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(momentum.initial_shift(loss, theta, lr, beta),
                               lr * beta / (1 - beta) ** 2 * c, rtol=1e-14)


def test_error_slopes_plain_counter_term_and_shift(tiny_net):
    """At a fixed horizon: slope 1 for −g/(1−β), 1 with the counter term but no shift, 2 with both."""
    loss, theta = tiny_net
    sweep = momentum.momentum_error_sweep(loss, theta, [0.05, 0.025, 0.0125, 0.00625], 0.5,
                                          horizon=1.0)
    slopes = {name: sweep.slope(name) for name in momentum.VARIANTS}
    expected = {"plain": 1.0, "counter_term": 1.0, "counter_term_shifted": 2.0}
    for name, value in slopes.items():
        assert abs(value - expected[name]) < 0.3, (name, slopes, sweep.final_error)
    assert sweep.final_error["counter_term_shifted"].min() > 1e-7  # above the solver's floor
    assert np.all(sweep.final_error["counter_term_shifted"] < sweep.final_error["plain"])
    assert sweep.errors["plain"].shape == (4, 257)


@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5, float("nan"), True, "0.5", np.array([0.1, 0.2])])
def test_invalid_beta(tiny_net, beta):
    loss, theta = tiny_net
    with pytest.raises(ValueError, match="beta"):
        momentum.heavy_ball_trajectory(loss, theta, 0.1, beta, 3)
    with pytest.raises(ValueError, match="beta"):
        momentum.momentum_flow_trajectory(loss, theta, 0.1, beta, 3)


def test_invalid_arguments(tiny_net):
    loss, theta = tiny_net
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        momentum.heavy_ball_trajectory(loss, theta, 0.1, 1.0, 3)
    with pytest.raises(ValueError, match="lr"):
        momentum.heavy_ball_trajectory(loss, theta, 0.0, 0.5, 3)
    with pytest.raises(ValueError, match="lr"):
        momentum.initial_shift(loss, theta, -1.0, 0.5)
    for order in (2, -1, 1.0, True):
        with pytest.raises(ValueError, match="valid orders: 0, 1"):
            momentum.momentum_flow_trajectory(loss, theta, 0.1, 0.5, 3, order)
    with pytest.raises(ValueError, match="valid orders: 0, 1"):
        momentum.momentum_eom_field(loss, 2)
    with pytest.raises(ValueError, match="shift"):
        momentum.momentum_flow_trajectory(loss, theta, 0.1, 0.5, 3, 1, shift="yes")
    with pytest.raises(ValueError, match="num_steps"):
        momentum.heavy_ball_trajectory(loss, theta, 0.1, 0.5, -2)
    with pytest.raises(ValueError, match="horizon"):
        momentum.momentum_error_sweep(loss, theta, [0.1, 0.05], 0.5)
    with pytest.raises(ValueError, match="beta"):
        momentum.momentum_error_sweep(loss, theta, [0.1, 0.05], 1.2, horizon=1.0)
    sweep_name = momentum.MomentumErrorSweep(np.ones(2), 0.5, np.ones(2), {}, {"plain": np.ones(2)})
    with pytest.raises(ValueError, match="name"):
        sweep_name.slope("gd")


def test_divergence_is_reported_with_the_momentum_range():
    loss = toys.quadratic(jnp.diag(jnp.array([100.0, 1.0])))
    theta = jnp.array([1.0, 1.0])
    # ηλ = 20 > 2(1 + β) = 3: HB grows by a factor ≈ 18.5 per step and overflows.
    with pytest.raises(eomlib.DivergenceError, match=r"2\(1 \+ beta\) = 3"):
        momentum.heavy_ball_trajectory(loss, theta, 0.2, 0.5, 300)
