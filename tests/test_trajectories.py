"""GD and EoM trajectories: the exact quadratic EoM, error orders, prediction, jit/vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
from eomlib._core.solve import solve_rescaled


def test_gd_trajectory_matches_manual_loop_and_keeps_pytree(tiny_net):
    loss, theta = tiny_net
    traj = eomlib.gd_trajectory(loss, theta, 0.1, 5)
    assert jax.tree_util.tree_structure(traj) == jax.tree_util.tree_structure(theta)
    assert traj["w1"].shape == (6, 2, 4)
    x = theta
    for k in range(6):
        np.testing.assert_allclose(flat(jax.tree_util.tree_map(lambda a: a[k], traj)), flat(x),
                                   rtol=1e-14)
        x = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, x, jax.grad(loss)(x))


def test_zero_steps_returns_start(tiny_net):
    loss, theta = tiny_net
    for traj in (eomlib.gd_trajectory(loss, theta, 0.1, 0), eomlib.eom_trajectory(loss, theta, 0.1, 0, 1)):
        assert traj["w1"].shape == (1, 2, 4)
        np.testing.assert_array_equal(traj["w1"][0], theta["w1"])


def test_exact_quadratic_eom_reproduces_gd(quadratic):
    """dθ/dt = (1/η) log(I − ηA) θ passes exactly through the GD iterates (ηλ_max < 1)."""
    loss, theta, a = quadratic
    lr, n = 0.5, 20  # ηλ_max = 0.8
    w, v = np.linalg.eigh(np.asarray(a))
    log_map = jnp.asarray((v * (np.log1p(-lr * w) / lr)) @ v.T)
    x0 = flat(theta)
    xs, status, _ = solve_rescaled(lambda x, eta: eta * (log_map @ x), x0, lr, n, 32, 1e-12, 1e-14, 10_000)
    gd = eomlib.gd_trajectory(loss, theta, lr, n)
    gd_flat = np.concatenate([np.asarray(gd[0]), np.asarray(gd[1])], axis=1)
    assert int(status) == 0  # blowup.OK
    assert np.abs(np.asarray(xs[: n + 1]) - gd_flat).max() < 1e-10


def test_quadratic_error_falls_with_order(quadratic):
    loss, theta, _ = quadratic
    # ηλ_max = 0.4: the counter-term series converges geometrically, each order gains ~ηλ_max.
    errs = [float(eomlib.discretization_error(loss, theta, 0.25, 40, order).max()) for order in range(5)]
    assert all(b < 0.6 * a for a, b in zip(errs, errs[1:])), errs


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_error_order_is_gamma_plus_one(tiny_net, order):
    loss, theta = tiny_net
    sweep = eomlib.error_sweep(loss, theta, [0.2, 0.1, 0.05, 0.025], order, horizon=2.0)
    assert sweep.max_error.min() > 1e-8  # well above the solver's error floor
    assert abs(sweep.slope() - (order + 1)) < 0.3, (order, sweep.slope(), sweep.max_error)


def test_error_sweep_equals_single_runs(tiny_net):
    loss, theta = tiny_net
    sweep = eomlib.error_sweep(loss, theta, [0.2, 0.1], 1, horizon=1.0)
    for lr, n, row in zip(sweep.lrs, sweep.num_steps, sweep.errors):
        single = eomlib.discretization_error(loss, theta, float(lr), int(n), 1)
        np.testing.assert_allclose(row[: n + 1], single, rtol=1e-8, atol=1e-14)


def test_error_sweep_batchings_agree(tiny_net):
    """lax.map split over 2 workers (5 members: chunks padded), vmap, and one worker: the
    same rows in the order of lrs (to the solver's tolerance: vmap rounds differently and
    its adaptive steps follow)."""
    loss, theta = tiny_net
    lrs = [0.2, 0.05, 0.1, 0.15, 0.025]
    runs = {
        "map, 2 workers": eomlib.error_sweep(loss, theta, lrs, 1, horizon=1.0, batching="map", workers=2),
        "map, 1 worker": eomlib.error_sweep(loss, theta, lrs, 1, horizon=1.0, batching="map", workers=1),
        "vmap": eomlib.error_sweep(loss, theta, lrs, 1, horizon=1.0, batching="vmap"),
    }
    for name, sweep in runs.items():
        np.testing.assert_array_equal(sweep.lrs, lrs)
        np.testing.assert_allclose(sweep.errors, runs["vmap"].errors, rtol=0, atol=1e-9, err_msg=name)
    single = eomlib.discretization_error(loss, theta, 0.025, 40, 1)
    np.testing.assert_allclose(runs["map, 2 workers"].errors[4, :41], single, rtol=1e-8, atol=1e-14)
    with pytest.raises(ValueError, match="batching must be one of"):
        eomlib.error_sweep(loss, theta, lrs, 1, horizon=1.0, batching="pmap")
    with pytest.raises(ValueError, match="workers must be None"):
        eomlib.error_sweep(loss, theta, lrs, 1, horizon=1.0, workers=0)


@pytest.mark.parametrize("steps", [{"horizon": 1.0}, {"num_steps": 7}])
def test_order0_sweep_solves_gradient_flow_once(tiny_net, steps, monkeypatch):
    """Order 0: one gradient-flow solve saved at every t = kη_i equals a solve per learning
    rate and the single-η discretization_error (to the solver's tolerance)."""
    from eomlib._core import errors

    loss, theta = tiny_net
    lrs = [0.2, 0.05, 0.1, 0.15, 0.025]
    shared = eomlib.error_sweep(loss, theta, lrs, 0, **steps)
    monkeypatch.setattr(errors, "SHARED_FLOW_MAX_ELEMENTS", 0)  # one solve per learning rate
    separate = eomlib.error_sweep(loss, theta, lrs, 0, **steps)
    np.testing.assert_array_equal(shared.num_steps, separate.num_steps)
    np.testing.assert_allclose(shared.errors, separate.errors, rtol=1e-7, atol=1e-11)
    for i in (0, 4):
        single = eomlib.discretization_error(loss, theta, lrs[i], int(shared.num_steps[i]), 0)
        np.testing.assert_allclose(shared.errors[i, : len(single)], single, rtol=1e-7, atol=1e-11)
    assert shared.errors[:, 0].max() == 0.0 and shared.max_error.min() > 1e-4


def test_predicted_error_matches_measured_for_gradient_flow(tiny_net):
    loss, theta = tiny_net
    lr, n = 0.01, 100
    assert lr * float(eomlib.sharpness(loss, theta)) < 0.05
    measured = eomlib.discretization_error(loss, theta, lr, n, 0)
    predicted = eomlib.predicted_error(loss, theta, lr, n, 0)
    rel = np.abs(np.asarray(predicted[1:]) / np.asarray(measured[1:]) - 1)
    assert rel.max() < 0.05, rel.max()
    # and the vectors point the same way
    delta = eomlib.predicted_error_vectors(loss, theta, lr, n, 0)[-1]

    def last(traj):
        return flat(jax.tree_util.tree_map(lambda a: a[-1], traj))

    diff = last(eomlib.eom_trajectory(loss, theta, lr, n, 0)) - last(eomlib.gd_trajectory(loss, theta, lr, n))
    cos = float(jnp.vdot(delta, diff) / (jnp.linalg.norm(delta) * jnp.linalg.norm(diff)))
    assert cos > 0.999


def test_predicted_error_improves_with_eta_for_order1(tiny_net):
    loss, theta = tiny_net
    ratios = []
    for lr, n in [(0.04, 25), (0.02, 50)]:
        m = eomlib.discretization_error(loss, theta, lr, n, 1)[-1]
        p = eomlib.predicted_error(loss, theta, lr, n, 1)[-1]
        ratios.append(abs(float(p / m) - 1))
    assert ratios[1] < ratios[0] and ratios[1] < 0.1, ratios


def test_lr_change_does_not_recompile(tiny_net):
    base_loss, theta = tiny_net
    traces = []

    def loss(th):
        traces.append(1)  # runs only while JAX traces
        return base_loss(th)

    field = jax.jit(eomlib.eom_vector_field(loss, 2))
    field(theta, 0.1)
    count = len(traces)
    for lr in (0.05, 0.2, 0.33):
        jax.block_until_ready(field(theta, lr))
    assert len(traces) == count

    eomlib.eom_trajectory(loss, theta, 0.1, 10, 1)
    count = len(traces)
    for lr in (0.05, 0.2):
        eomlib.eom_trajectory(loss, theta, lr, 10, 1)
        eomlib.gd_trajectory(loss, theta, lr, 10)
    eomlib.gd_trajectory(loss, theta, 0.3, 10)
    eomlib.eom_trajectory(loss, theta, 0.3, 12, 1)  # same padded save grid: no retrace either
    traced_gd_once = 1
    assert len(traces) - count <= traced_gd_once * 3  # only gd's first trace (loss+grad+check)


def test_slider_at_fixed_horizon_compiles_once(tiny_net):
    """n = round(T/η) crosses power-of-two buckets as η moves; max_num_steps pins one grid."""
    base_loss, theta = tiny_net
    traces = []

    def loss(th):
        traces.append(1)
        return base_loss(th)

    horizon, lr_min = 2.0, 0.05
    bound = int(round(horizon / lr_min))

    def slider(lr):
        n = int(round(horizon / lr))
        return (eomlib.discretization_error(loss, theta, lr, n, 1, max_num_steps=bound),
                eomlib.predicted_error(loss, theta, lr, n, 1, max_num_steps=bound))

    slider(0.1)
    count = len(traces)
    for lr in (0.05, 0.3, 0.7, 0.13):  # n = 40, 7, 3, 15: four different power-of-two buckets
        measured, predicted = slider(lr)
        assert measured.shape == predicted.shape == (int(round(horizon / lr)) + 1,)
    assert len(traces) == count
    # padding changes nothing but the compiled length
    lr, n = 0.3, 7
    np.testing.assert_allclose(eomlib.discretization_error(base_loss, theta, lr, n, 1, max_num_steps=bound),
                               eomlib.discretization_error(base_loss, theta, lr, n, 1), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(eomlib.gd_trajectory(base_loss, theta, lr, n, max_num_steps=bound)["w1"],
                               eomlib.gd_trajectory(base_loss, theta, lr, n)["w1"], rtol=0, atol=0)
    for bad in (n - 1, 7.5, True):
        with pytest.raises(ValueError, match="max_num_steps must be None or an integer >= num_steps"):
            eomlib.eom_trajectory(base_loss, theta, lr, n, 1, max_num_steps=bad)


def test_vmap_over_lr_equals_loop(tiny_net):
    loss, theta = tiny_net
    lrs = jnp.array([0.05, 0.1, 0.2])
    batched = jax.vmap(lambda lr: eomlib.discretization_error(loss, theta, lr, 10, 1))(lrs)
    looped = jnp.stack([eomlib.discretization_error(loss, theta, float(lr), 10, 1) for lr in lrs])
    # equal to the solver's tolerance (rtol 1e-10 on θ ~ 1): on a GPU the batched products
    # round differently, so the adaptive steps differ there by that much (3e-7 relative here)
    np.testing.assert_allclose(batched, looped, rtol=1e-9, atol=1e-9)
    traj = jax.vmap(lambda lr: eomlib.eom_trajectory(loss, theta, lr, 5, 2))(lrs)
    assert traj["w1"].shape == (3, 6, 2, 4)
    gd = jax.vmap(lambda lr: eomlib.gd_trajectory(loss, theta, lr, 5))(lrs)
    np.testing.assert_allclose(gd["b1"][1], eomlib.gd_trajectory(loss, theta, 0.1, 5)["b1"], rtol=1e-14)
    pred = jax.vmap(lambda lr: eomlib.predicted_error(loss, theta, lr, 5, 0))(lrs)
    assert pred.shape == (3, 6)


def test_sharpness_matches_dense_eigenvalue(tiny_net, quadratic):
    loss, theta, a = quadratic
    assert abs(float(eomlib.sharpness(loss, theta)) - 1.6) < 1e-8
    loss, theta = tiny_net
    x0, unravel = jax.flatten_util.ravel_pytree(theta)
    h = jax.hessian(lambda x: loss(unravel(x)))(x0)
    eig = np.linalg.eigvalsh(np.asarray(h))
    top = eig[np.argmax(np.abs(eig))]
    assert abs(float(eomlib.sharpness(loss, theta, num_iters=500)) - top) < 1e-6 * abs(top)


def test_host_trimming_and_unflattening_match_jax():
    """take_leading / unravel_stack (numpy on the CPU) equal the JAX slice and vmap(unravel),
    leaf dtypes included, on a pytree that mixes float32 and float64 leaves."""
    from jax.flatten_util import ravel_pytree

    from eomlib._core.flat import take_leading, unravel_stack

    theta = {"a": jnp.ones((2, 3), jnp.float32), "b": [jnp.arange(4.0), jnp.asarray(0.5)]}
    x, unravel = ravel_pytree(theta)
    xs = jnp.stack([x, 2 * x, 3 * x])
    host, ref = unravel_stack(theta, xs), jax.vmap(unravel)(xs)
    assert jax.tree_util.tree_structure(host) == jax.tree_util.tree_structure(ref)
    for h, r in zip(jax.tree_util.tree_leaves(host), jax.tree_util.tree_leaves(ref)):
        assert h.dtype == r.dtype and h.shape == r.shape
        np.testing.assert_array_equal(h, r)
    with pytest.raises(ValueError, match="like ravels to 2"):
        unravel_stack({"a": jnp.ones(2)}, xs)
    np.testing.assert_array_equal(take_leading(xs, 2), xs[:2])
    assert take_leading(xs, 3) is xs
    traced = jax.jit(lambda a: take_leading(a, 2))(xs)  # tracers take the JAX slice
    np.testing.assert_array_equal(traced, xs[:2])
