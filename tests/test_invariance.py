"""Scale- and translation-invariant groups: symmetry checks, tracked quantities, closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
from eomlib import data, invariance as inv, models
from eomlib._core import invariance as core_inv

LR, N = 0.2, 30


def first_layer(theta):
    return theta[0]


def output_bias(theta):
    return theta[-1]["b"]


@pytest.fixture(scope="module")
def ln_net():
    """64-8-10 tanh MLP with layer normalisation (ε = 0) on 64 digits; non-zero output biases."""
    ds = data.digits(n_train=64, seed=0)
    theta = models.init_mlp(jax.random.PRNGKey(0), [64, 8, 10])
    theta[-1]["b"] = 0.5 + 0.3 * jax.random.normal(jax.random.PRNGKey(1), (10,))
    loss = models.cross_entropy_loss(models.layernorm_mlp, ds.x, ds.labels)
    return loss, theta, ds


@pytest.fixture(scope="module")
def gd_run(ln_net):
    """GD on f + (λ/2)‖θ‖² for N steps, (lr, λ) traced: one compilation."""
    loss, theta, _ = ln_net
    return jax.jit(lambda lr, lam: eomlib.gd_trajectory(inv.weight_decayed(loss, lam), theta,
                                                        lr, N))


@pytest.fixture(scope="module")
def eom_runs(ln_net):
    """GF and the order-1 EoM on f + (λ/2)‖θ‖², λ traced: one compilation per order."""
    loss, theta, _ = ln_net
    runs = {}
    for order in (0, 1):
        fn = jax.jit(lambda lr, lam, order=order: eomlib.eom_trajectory(
            inv.weight_decayed(loss, lam), theta, lr, N, order))
        runs[order] = {lam: fn(LR, lam) for lam in (0.0, 0.2)}
    return runs


# ----------------------------------------------------------------------------- selectors


def test_group_mask_accepts_functions_masks_and_none(ln_net):
    _, theta, _ = ln_net
    d = flat(theta).size
    by_fn = inv.group_mask(theta, first_layer)
    by_mask = inv.group_mask(theta, [{"b": True, "w": True}, {"b": False, "w": False}])
    np.testing.assert_array_equal(by_fn, by_mask)
    assert float(by_fn.sum()) == 64 * 8 + 8
    assert float(inv.group_mask(theta, None).sum()) == d
    assert float(inv.group_mask(theta, lambda th: th[0]["w"][:, :2]).sum()) == 128
    per_row = [{"b": np.zeros(8, bool), "w": np.array([True] + [False] * 63)[:, None]},
               {"b": False, "w": False}]
    assert float(inv.group_mask(theta, per_row).sum()) == 8


@pytest.mark.parametrize("bad", [
    lambda th: (th[0]["b"], th[0]["b"]),                       # duplicates
    lambda th: 2.0 * th[0]["b"],                               # rescales
    [{"b": False, "w": False}, {"b": False, "w": False}],      # empty
    [{"b": True, "w": True}],                                  # wrong structure
    [{"b": 1.0, "w": 1.0}, {"b": 0.0, "w": 0.0}],              # not booleans
    lambda th: th["nope"],                                     # fails
])
def test_group_mask_rejects_bad_selectors(ln_net, bad):
    _, theta, _ = ln_net
    with pytest.raises(ValueError):
        inv.group_mask(theta, bad)


def test_function_selector_masks_are_computed_once_per_selector_and_shapes(ln_net):
    """A function's mask is remembered per selector and kind of θ (eomlib.memo): the second
    call, and a trajectory of such θ, reuse it; θ of other shapes get their own; the entry
    dies with the selector."""
    import gc

    _, theta, _ = ln_net
    calls = []

    def weights(th):
        calls.append(1)
        return th[0]["w"]

    mask = inv.group_mask(theta, weights)
    seen = len(calls)
    assert inv.group_mask(theta, weights) is mask and len(calls) == seen
    traj = jax.tree_util.tree_map(lambda a: jnp.stack([a, 2 * a]), theta)
    sq = float(jnp.sum(theta[0]["w"] ** 2))
    np.testing.assert_allclose(inv.group_sq_norm(traj, weights), [sq, 4 * sq], rtol=1e-14)
    assert len(calls) == seen
    small = models.init_mlp(jax.random.PRNGKey(2), [3, 2, 2])
    assert float(inv.group_mask(small, weights).sum()) == 6 and len(calls) > seen
    entries = len(core_inv._FUNCTION_MASKS)
    del weights
    gc.collect()
    assert len(core_inv._FUNCTION_MASKS) == entries - 2


# ----------------------------------------------------------------------------- symmetry checks


def test_layernorm_layer_is_scale_invariant_and_plain_mlp_is_not(ln_net):
    loss, theta, ds = ln_net
    ok = inv.check_scale_invariance(loss, theta, first_layer)
    assert ok and ok.holds and ok.max_residual < 1e-12, ok
    plain = models.cross_entropy_loss(models.mlp, ds.x, ds.labels)
    bad = inv.check_scale_invariance(plain, theta, first_layer)
    assert not bad and bad.second_order > 1e-2 and bad.transform > 1e-3, bad
    with pytest.raises(ValueError, match="not scale-invariant"):
        inv.check_scale_invariance(plain, theta, first_layer, strict=True)
    assert inv.check_scale_invariance(loss, theta, first_layer, strict=True).holds


def test_softmax_output_bias_is_translation_invariant(ln_net):
    loss, theta, _ = ln_net
    ok = inv.check_translation_invariance(loss, theta, output_bias)
    assert ok and ok.max_residual < 1e-12, ok
    # the first layer's weights are not (a shift of all of them moves the pre-activations)
    bad = inv.check_translation_invariance(loss, theta, lambda th: th[0]["w"][:, 0])
    assert not bad and bad.first_order > 1e-3, bad
    with pytest.raises(ValueError, match="not translation-invariant"):
        inv.check_translation_invariance(loss, theta, lambda th: th[0]["w"][:, 0], strict=True)


def test_checks_on_toys():
    theta = jnp.array([0.6, -1.3])
    assert inv.check_scale_invariance(inv.polar_angle, theta)
    assert not inv.check_translation_invariance(inv.polar_angle, theta)
    sq = lambda th: 0.5 * jnp.sum(th**2) + th[0]  # noqa: E731  neither symmetry
    assert not inv.check_scale_invariance(sq, theta)
    assert not inv.check_translation_invariance(sq, theta)
    diff = lambda th: jnp.sin(th[0] - th[1]) ** 2  # noqa: E731  translation invariant
    assert inv.check_translation_invariance(diff, theta)
    # a symmetry broken at the 1e-6 level is caught, and tol is honoured
    almost = lambda th: inv.polar_angle(th) + 1e-6 * th[0]  # noqa: E731
    weak = inv.check_scale_invariance(almost, theta)
    assert not weak and inv.check_scale_invariance(almost, theta, tol=1e-3)
    with pytest.raises(ValueError):
        inv.check_scale_invariance(inv.polar_angle, theta, tol=-1.0)


# ----------------------------------------------------------------------------- GD closed forms


def test_gd_norm_growth_is_sum_of_squared_steps(ln_net, gd_run):
    loss, _, _ = ln_net
    lr = 0.5
    gd = gd_run(lr, 0.0)
    sq = inv.group_sq_norm(gd, first_layer)
    g2 = inv.group_grad_sq_norm(loss, gd, first_layer)
    growth = float(sq[-1] - sq[0])
    assert growth > 0.05  # GD really grows the norm
    assert abs(growth - lr**2 * float(g2[:-1].sum())) < 1e-10
    np.testing.assert_allclose(inv.gd_sq_norm(sq[0], g2, lr), sq, rtol=0, atol=1e-10)


def test_gd_weight_decay_recursion_and_angle_are_exact(ln_net, gd_run):
    loss, _, _ = ln_net
    lr, lam, n = 0.5, 0.05, N
    gd = gd_run(lr, lam)
    sq = inv.group_sq_norm(gd, first_layer)
    g2 = inv.group_grad_sq_norm(loss, gd, first_layer)  # gradient of the undecayed loss
    np.testing.assert_allclose(inv.gd_sq_norm(sq[0], g2, lr, lam), sq, rtol=0, atol=1e-10)
    # θ_k·θ_{k+1} = (1 − ηλ)‖θ_k‖²  ⇒  cos Δ_k = (1 − ηλ)‖θ_k‖/‖θ_{k+1}‖
    angle = inv.angular_update(gd, first_layer)
    np.testing.assert_allclose(np.cos(angle), (1 - lr * lam) * np.sqrt(sq[:-1] / sq[1:]),
                               rtol=0, atol=1e-12)
    # the output biases' sum decays geometrically, exactly
    s = inv.group_sum(gd, output_bias)
    np.testing.assert_allclose(s, inv.gd_sum(s[0], lr, lam, n), rtol=1e-12)


def test_weight_decay_on_a_group_only():
    theta = {"a": jnp.array([1.0, 2.0]), "b": jnp.array([3.0])}
    base = lambda th: jnp.sum(jnp.sin(th["a"])) * th["b"][0]  # noqa: E731
    assert abs(float(inv.weight_decayed(base, 0.3)(theta) - base(theta)) - 0.15 * 14) < 1e-12
    decayed = inv.weight_decayed(base, 0.3, lambda th: th["b"])
    assert abs(float(decayed(theta) - base(theta)) - 0.15 * 9) < 1e-12
    for bad in (-0.1, float("nan"), jnp.ones(2), True):
        with pytest.raises(ValueError, match="weight_decay"):
            inv.weight_decayed(base, bad)


def test_equilibrium_on_the_polar_angle_toy():
    """‖g‖²‖θ‖² = 1 exactly: GD with weight decay settles at ‖θ*‖⁴ = η/(λ(2 − ηλ))."""
    lr, lam, n = 0.1, 0.05, 4000
    gd = eomlib.gd_trajectory(inv.weight_decayed(inv.polar_angle, lam), jnp.array([1.0, 0.0]),
                              lr, n)
    c = inv.unit_grad_sq_norm(inv.group_grad_sq_norm(inv.polar_angle, gd), inv.group_sq_norm(gd))
    np.testing.assert_allclose(c, 1.0, rtol=1e-12)
    norm = float(jnp.sqrt(inv.group_sq_norm(gd)[-1]))
    assert abs(norm / float(inv.equilibrium_norm(lr, lam, 1.0)) - 1) < 1e-9
    angle = float(inv.angular_update(gd)[-1])
    assert abs(angle - float(inv.equilibrium_angle(lr, lam))) < 1e-9
    assert abs(angle / np.sqrt(2 * lr * lam) - 1) < lr * lam  # arccos(1 − x) = √(2x)(1 + x/12 + …)
    # the order-1 EoM's rate vanishes at its own (slightly smaller) equilibrium
    star = float(inv.equilibrium_norm(lr, lam, 1.0, dynamics="eom1")) ** 2
    assert abs(float(inv.eom1_norm_rate(lr, 1.0 / star, star, lam))) < 1e-12
    with pytest.raises(ValueError, match="dynamics"):
        inv.equilibrium_norm(lr, lam, 1.0, dynamics="gf")


# ----------------------------------------------------------------------------- EoM


def _toy(th):
    """Scale invariant in (th[0], th[1]), not in th[2]."""
    u = th[:2] / jnp.linalg.norm(th[:2])
    return jnp.sin(3 * u[0]) * jnp.cos(th[2]) + u[1] ** 3 + th[2] ** 2


TOY_THETA = jnp.array([0.7, -0.4, 0.3])
TOY_GROUP = jnp.array([True, True, False])


def test_counter_terms_projected_on_the_group():
    """θ_S·ξ_1 = −½‖g_S‖² and θ_S·ξ_2 = −½ g_Sᵀ H g."""
    assert inv.check_scale_invariance(_toy, TOY_THETA, TOY_GROUP)
    proj = inv.counter_term_projections(_toy, TOY_THETA, TOY_GROUP, order=2)
    assert proj.measured.shape == proj.predicted.shape == (2,)
    assert np.all(np.abs(np.asarray(proj.predicted)) > 1e-2)
    np.testing.assert_allclose(proj.measured, proj.predicted, rtol=1e-10)
    with pytest.raises(ValueError, match="order"):
        inv.counter_term_projections(_toy, TOY_THETA, TOY_GROUP, order=0)


def test_eom_norm_rates_with_weight_decay_are_exact():
    """Order-1 EoM: d‖θ_S‖²/dt = η‖g_S‖² − λ(2 + ηλ)‖θ_S‖²; GF: −2λ‖θ_S‖² (decay on all θ)."""
    lr, lam = 0.3, 0.07
    decayed = inv.weight_decayed(_toy, lam)
    mask = inv.group_mask(TOY_THETA, TOY_GROUP)
    v = mask * TOY_THETA
    g2 = float(jnp.sum(mask * jax.grad(_toy)(TOY_THETA) ** 2))
    sq = float(v @ v)
    rate = 2 * float(v @ eomlib.eom_vector_field(decayed, 1)(TOY_THETA, lr))
    want = float(inv.eom1_norm_rate(lr, g2, sq, lam))
    assert abs(rate - want) < 1e-12 * abs(want), (rate, want)
    rate1 = float(inv.norm_rate(decayed, TOY_THETA, TOY_GROUP, lr=lr, order=1))
    assert abs(rate1 - want) < 1e-12 * abs(want)
    gf_rate = float(inv.norm_rate(decayed, TOY_THETA, TOY_GROUP))
    assert abs(gf_rate + 2 * lam * sq) < 1e-12 * abs(gf_rate)


def test_gf_keeps_the_norm_and_the_eom_grows_it_like_gd(ln_net, gd_run, eom_runs):
    loss, _, _ = ln_net
    gd = gd_run(LR, 0.0)
    gd_growth = inv.group_sq_norm(gd, first_layer) - float(inv.group_sq_norm(gd, first_layer)[0])
    gf = inv.group_sq_norm(eom_runs[0][0.0], first_layer)
    eom = inv.group_sq_norm(eom_runs[1][0.0], first_layer)
    assert np.abs(gf - gf[0]).max() < 1e-9
    miss = abs(float(eom[-1] - eom[0] - gd_growth[-1])) / float(gd_growth[-1])
    assert miss < 0.15, miss  # GF misses 100% of the growth
    # Kunin et al.: ‖θ(t)‖² ≈ ‖θ0‖² + η∫‖g‖², along the order-1 EoM, to O(η²) of the growth
    g2 = inv.group_grad_sq_norm(loss, eom_runs[1][0.0], first_layer)
    law = inv.integrated_sq_norm(eom[0], g2, LR)
    assert np.abs(law - eom).max() < 0.03 * float(gd_growth[-1])
    # both are solved to solver precision; s = 1·b is conserved without weight decay
    for order in (0, 1):
        s = inv.group_sum(eom_runs[order][0.0], output_bias)
        assert np.abs(s - s[0]).max() < 1e-10


def test_translation_sum_follows_the_order_gamma_rate(eom_runs):
    lam = 0.2
    for order in (0, 1):
        s = inv.group_sum(eom_runs[order][lam], output_bias)
        np.testing.assert_allclose(s, inv.flow_sum(s[0], LR, lam, N, order), rtol=1e-10)
        # and its norm decays at twice the same rate with weight decay: −2λ‖θ‖² for GF


def test_decay_rates_and_mismatch_orders():
    lam, horizon = 0.5, 4.0
    np.testing.assert_allclose(inv.flow_sum(1.0, 0.1, lam, 40), inv.gd_sum(1.0, 0.1, lam, 40),
                               rtol=1e-13)
    np.testing.assert_allclose(inv.flow_sum(2.0, 0.1, lam, 40, 0),
                               2 * np.exp(-lam * 0.1 * np.arange(41)), rtol=1e-13)
    assert abs(float(inv.decay_rate(0.1, lam, 30)) - float(inv.decay_rate(0.1, lam))) < 1e-14
    assert float(inv.decay_rate(0.1, lam, 0)) == -lam
    # at a fixed horizon the order-γ sum misses GD's by O(η^{γ+1})
    lrs = np.array([0.2, 0.1, 0.05, 0.025])
    for order in range(4):
        miss = [abs(np.exp(float(inv.decay_rate(lr, lam, order)) * horizon)
                    - (1 - lr * lam) ** round(horizon / lr)) for lr in lrs]
        assert abs(eomlib.fit_slope(lrs, miss) - (order + 1)) < 0.1, (order, miss)


def test_tracked_quantities_work_under_vmap(gd_run):
    runs = [gd_run(lr, 0.0) for lr in (0.1, 0.3)]
    batch = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), *runs)
    tracked = jax.vmap(lambda tr: inv.track(tr, first_layer))(batch)
    assert tracked.sq_norm.shape == (2, N + 1) and tracked.angle.shape == (2, N)
    one = inv.track(runs[1], first_layer)
    np.testing.assert_allclose(tracked.sq_norm[1], one.sq_norm, rtol=1e-13)
    np.testing.assert_allclose(tracked.angle[1], one.angle, rtol=1e-9)
    assert float(tracked.angle[1].min()) > 0


# --------------------------------------------------------------------------- weight_decay_sweep


@pytest.fixture(scope="module")
def small_ln_net():
    """A 16-4-10 layer-normalised tanh MLP on 32 digits (8×8 pooled to 4×4): a cheap net."""
    ds = data.digits(n_train=32, seed=0)
    x = ds.x.reshape(-1, 8, 8)[:, ::2, ::2].reshape(-1, 16)
    theta = models.init_mlp(jax.random.PRNGKey(2), [16, 4, 10])
    theta[-1]["b"] = 0.5 + 0.3 * jax.random.normal(jax.random.PRNGKey(3), (10,))
    return models.cross_entropy_loss(models.layernorm_mlp, x, ds.labels), theta


@pytest.mark.parametrize("order", [None, 1])  # 1: the flow path (order 0 shares it)
def test_weight_decay_sweep_equals_the_runs_one_by_one(small_ln_net, order):
    """Each row is what gd_trajectory / eom_trajectory on weight_decayed(f, λ_i) and the group
    functions give for run i alone (the same arithmetic: 1e-12), NaN after n_i."""
    loss, theta = small_ln_net
    lrs, decays, steps = [0.2, 0.1], [0.0, 0.05], [6, 12]
    sweep = inv.weight_decay_sweep(loss, theta, lrs, decays, steps, order=order,
                                   scale_group=first_layer, sum_group=output_bias)
    assert sweep.num_steps == tuple(steps) and sweep.sq_norm.shape == (2, 13)
    for i, (lr, lam, n) in enumerate(zip(lrs, decays, steps)):
        decayed = inv.weight_decayed(loss, lam)
        traj = (eomlib.gd_trajectory(decayed, theta, lr, n) if order is None
                else eomlib.eom_trajectory(decayed, theta, lr, n, order, max_num_steps=12))
        tol = 1e-12 if order is None else 1e-9  # flows: the solver's own steps differ slightly
        np.testing.assert_allclose(sweep.sq_norm[i, : n + 1], inv.group_sq_norm(traj, first_layer),
                                   rtol=tol)
        np.testing.assert_allclose(sweep.total[i, : n + 1], inv.group_sum(traj, output_bias),
                                   rtol=tol, atol=tol)
        np.testing.assert_allclose(sweep.grad_sq_norm[i, : n + 1],
                                   inv.group_grad_sq_norm(loss, traj, first_layer), rtol=tol)
        assert np.all(np.isnan(np.asarray(sweep.sq_norm[i, n + 1:])))


def test_weight_decay_sweep_keeps_gd_s_norm_law(small_ln_net):
    """GD's scale-group norm obeys ‖θ_{k+1}‖² = (1−ηλ)²‖θ_k‖² + η²‖g_k‖² (exact)."""
    loss, theta = small_ln_net
    lr, lam, n = 0.2, 0.05, 20
    sweep = inv.weight_decay_sweep(loss, theta, [lr], [lam], [n], scale_group=first_layer)
    sq, g2 = np.asarray(sweep.sq_norm[0]), np.asarray(sweep.grad_sq_norm[0])
    np.testing.assert_allclose(sq[1:], (1 - lr * lam) ** 2 * sq[:-1] + lr**2 * g2[:-1], rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"lrs": [0.1, 0.1], "weight_decays": [0.0], "num_steps": [3, 3]}, "same length"),
    ({"lrs": [0.1], "weight_decays": [-1.0], "num_steps": [3]}, "weight_decays must be finite"),
    ({"lrs": [-0.1], "weight_decays": [0.0], "num_steps": [3]}, "lr must be"),
    ({"lrs": [0.1], "weight_decays": [0.0], "num_steps": [2.5]}, "num_steps must be"),
    ({"lrs": [], "weight_decays": [], "num_steps": []}, "non-empty"),
    ({"lrs": [0.1], "weight_decays": [0.0], "num_steps": [3], "order": -1}, "order must be"),
])
def test_weight_decay_sweep_rejects_bad_runs(small_ln_net, kwargs, match):
    loss, theta = small_ln_net
    with pytest.raises(ValueError, match=match):
        inv.weight_decay_sweep(loss, theta, **kwargs)


def test_weight_decay_sweep_names_the_run_that_diverged():
    loss = lambda th: 0.5 * jnp.sum(th**2)  # noqa: E731  λ_max = 1
    with pytest.raises(eomlib.DivergenceError, match=r"weight decay 0\.5 \(run 1\)"):
        inv.weight_decay_sweep(loss, jnp.ones(2), [0.1, 3.0], [0.0, 0.5], [5, 2000])
