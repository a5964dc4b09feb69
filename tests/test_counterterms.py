"""Counter terms against dense closed forms, the quadratic formula and the reference recursion."""

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
import eomlib._core.counterterms
import eomlib._core.flat
from eomlib import trees
from eomlib._core import trees as core_trees


def dense_derivatives(loss, theta):
    """g, H, T = ∇³f (tensor) of the flat loss: dense, for tests only."""
    x0, unravel = jax.flatten_util.ravel_pytree(theta)

    def f(x):
        return loss(unravel(x))

    g = jax.grad(f)(x0)
    h = jax.hessian(f)(x0)
    t = jax.jacfwd(jax.hessian(f))(x0)
    return g, h, t


def test_xi1_xi2_match_dense_closed_forms(tiny_net):
    loss, theta = tiny_net
    g, h, t = dense_derivatives(loss, theta)
    xi1, xi2 = eomlib.counter_terms(loss, 2)
    np.testing.assert_allclose(flat(xi1(theta)), 0.5 * h @ g, rtol=1e-12, atol=1e-14)
    t_gg = jnp.einsum("ijk,j,k->i", t, g, g)
    expected = h @ h @ g / 3 + t_gg / 12
    np.testing.assert_allclose(flat(xi2(theta)), expected, rtol=1e-12, atol=1e-14)


def test_xi3_matches_dense_closed_form(tiny_net):
    loss, theta = tiny_net
    g, h, t = dense_derivatives(loss, theta)
    xi3 = eomlib.counter_terms(loss, 3)[2]
    t_gg = jnp.einsum("ijk,j,k->i", t, g, g)
    t_ghg = jnp.einsum("ijk,j,k->i", t, g, h @ g)
    expected = h @ h @ h @ g / 4 + h @ t_gg / 12 + t_ghg / 12
    np.testing.assert_allclose(flat(xi3(theta)), expected, rtol=1e-11, atol=1e-14)


def test_counter_terms_preserve_pytree_structure(tiny_net):
    loss, theta = tiny_net
    for xi in eomlib.counter_terms(loss, 3):
        out = xi(theta)
        assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(theta)
        for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(theta)):
            assert a.shape == b.shape and a.dtype == b.dtype


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_quadratic_counter_terms_are_powers_of_a(quadratic, k):
    loss, theta, a = quadratic
    g = a @ flat(theta)
    xi_k = eomlib.counter_terms(loss, k)[k - 1]
    expected = np.linalg.matrix_power(np.asarray(a), k) @ np.asarray(g) / (k + 1)
    np.testing.assert_allclose(flat(xi_k(theta)), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_tree_evaluation_equals_reference_recursion(tiny_net, order):
    loss, theta = tiny_net
    fast = eomlib.counter_terms(loss, order)[order - 1](theta)
    ref = eomlib.counter_terms(loss, order, method="recursion")[order - 1](theta)
    np.testing.assert_allclose(flat(fast), flat(ref), rtol=1e-10, atol=1e-13)


def test_order4_coefficients_match_theory():
    """ξ_4 in terms of g: the nine elementary differentials and their coefficients."""
    expected = {
        "[[[[•]]]]": Fraction(1, 5),  # H⁴g
        "[[[•,•]]]": Fraction(3, 40),  # H² T(g,g)
        "[[•,[•]]]": Fraction(1, 10),  # H T(g,Hg)
        "[•,[[•]]]": Fraction(1, 20),  # T(g,H²g)
        "[[•],[•]]": Fraction(1, 60),  # T(Hg,Hg)
        "[•,[•,•]]": Fraction(1, 120),  # T(g,T(g,g))
        "[[•,•,•]]": Fraction(1, 180),  # H Q(g,g,g)
        "[•,•,[•]]": Fraction(-1, 120),  # Q(g,g,Hg)
        "[•,•,•,•]": Fraction(-1, 720),  # P(g,g,g,g)
    }
    assert dict(eomlib.counter_term_coefficients(4)) == expected


def test_tree_counts_and_quadratic_coefficients():
    # F_j consists of trees with j nodes; the tall tree [[…[•]…]] has coefficient 1/(k+1) in ξ_k.
    for k in range(1, 7):
        terms = trees.counter_term_trees(k)
        assert all(trees.num_nodes(t) == k + 1 for t, _ in terms)
        tall = trees.LEAF
        for _ in range(k):
            tall = (tall,)
        coeff = dict(eomlib.counter_term_coefficients(k))[trees.tree_to_str(tall)]
        assert coeff == Fraction(1, k + 1)
    assert len(trees.counter_term_trees(4)) == 9


def test_graft_is_the_derivative_of_elementary_differentials(tiny_net):
    """d/dx F(τ)(x)·F(σ) equals Σ of grafted trees, checked numerically for τ = [•,•]."""
    loss, theta = tiny_net
    problem = eomlib._core.flat.flatten_problem(loss, theta)

    def field(x):
        return -problem.grad(x)

    tau = trees.make_tree([trees.LEAF, trees.LEAF])
    sigma = (trees.LEAF,)
    x = problem.x0
    ev = eomlib._core.counterterms.TreeEvaluator(field, x)
    direct = jax.jvp(lambda y: eomlib._core.counterterms.TreeEvaluator(field, y).value(tau), (x,),
                     (ev.value(sigma),))[1]
    grafted = ev.combination({t: float(m) for t, m in trees.graft(tau, sigma).items()})
    np.testing.assert_allclose(direct, grafted, rtol=1e-12, atol=1e-14)


def test_modified_loss_gradient_is_order1_field(tiny_net):
    loss, theta = tiny_net
    lr = 0.3
    field = eomlib.eom_vector_field(loss, 1)(theta, lr)
    grad_mod = jax.grad(eomlib.modified_loss(loss, lr))(theta)
    np.testing.assert_allclose(flat(field), -flat(grad_mod), rtol=1e-12, atol=1e-14)


def test_vector_field_orders(tiny_net):
    loss, theta = tiny_net
    lr = 0.2
    g = flat(jax.grad(loss)(theta))
    np.testing.assert_allclose(flat(eomlib.eom_vector_field(loss, 0)(theta, lr)), -g, rtol=1e-14)
    xis = eomlib.counter_terms(loss, 3)
    expected = -g - sum(lr ** k * flat(xi(theta)) for k, xi in enumerate(xis, start=1))
    got = flat(eomlib.eom_vector_field(loss, 3)(theta, lr))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    ref = flat(eomlib.eom_vector_field(loss, 3, method="recursion")(theta, lr))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_xi2_is_not_a_gradient(tiny_net):
    """ξ_2 has a non-symmetric Jacobian (non-zero curl): it is no modified loss's gradient."""
    loss, theta = tiny_net
    x0, unravel = jax.flatten_util.ravel_pytree(theta)
    xi2 = eomlib.counter_terms(loss, 2)[1]
    jac = jax.jacfwd(lambda x: flat(xi2(unravel(x))))(x0)
    asym = np.abs(np.asarray(jac - jac.T)).max()
    assert asym > 1e-3 * np.abs(np.asarray(jac)).max()
    xi1 = eomlib.counter_terms(loss, 1)[0]
    jac1 = jax.jacfwd(lambda x: flat(xi1(unravel(x))))(x0)
    np.testing.assert_allclose(jac1, jac1.T, atol=1e-12)
    assert math.isfinite(asym)


# --- An independent reference, and random pytree networks --------------------------------------


def taylor_along(fun, coefficients):
    """``[s^i] fun(Σ_j coefficients[j] s^j)`` for i = 0…m, by m nested jvps in the scalar s."""
    m = len(coefficients) - 1

    def curve(s):
        out = coefficients[m]
        for c in reversed(coefficients[:m]):
            out = c + s * out
        return out

    def derivatives(i):  # s ↦ (d⁰, …, dⁱ)/ds of fun∘curve
        if i == 0:
            return lambda s: (fun(curve(s)),)
        lower = derivatives(i - 1)

        def f(s):
            primal, tangent = jax.jvp(lower, (s,), (jnp.ones_like(s),))
            return primal + (tangent[-1],)

        return f

    values = derivatives(m)(jnp.zeros((), coefficients[0].dtype))
    return [v / math.factorial(i) for i, v in enumerate(values)]


def modified_field_from_gd(grad, x, order):
    """F_1, …, F_{order+1} at x from gradient descent alone: no trees, no Lie derivatives.

    The EoM's flow through time kη is the k-th GD iterate x_k for every k.  Expanded in η,
    x_k(η) = Σ_p η^p P_p(k) where P_p is a polynomial in k of degree ≤ p, and comparing with
    the flow at t = kη gives F_p = P_p'(0).  The Taylor coefficients of x_{k+1}(η) =
    x_k(η) − η g(x_k(η)) come from nested jvps along the curve η ↦ x_k(η); P_p'(0) from
    P_p(0), …, P_p(p) by Newton's forward differences, P'(0) = Σ_i (−1)^{i+1} Δ^i P(0) / i.
    """
    n = order + 1
    iterate = [x] + [jnp.zeros_like(x)] * n  # x_0(η) = x
    iterates = [iterate]
    for _ in range(n):
        g = taylor_along(grad, iterate[:n])
        iterate = [iterate[0]] + [iterate[p] - g[p - 1] for p in range(1, n + 1)]
        iterates.append(iterate)
    terms = []
    for p in range(1, n + 1):
        weights = [Fraction(0)] * (p + 1)
        for i in range(1, p + 1):
            for k in range(i + 1):
                weights[k] += Fraction((-1) ** (i + 1), i) * (-1) ** (i - k) * math.comb(i, k)
        terms.append(sum(float(w) * iterates[k][p] for k, w in enumerate(weights) if w))
    return terms


def random_pytree_net(seed: int):
    """A small smooth network whose parameters are a mixed pytree (dict, list, tuple, scalar)."""
    keys = jax.random.split(jax.random.PRNGKey(100 + seed), 8)
    x = jax.random.normal(keys[0], (5, 3))
    y = jax.random.normal(keys[1], (5, 2))
    act = [jnp.tanh, jax.nn.softplus, jnp.sin][seed % 3]

    def loss(theta):
        h = act(x @ theta["layers"][0]["w"] + theta["layers"][0]["b"])
        w2, b2 = theta["layers"][1]
        out = theta["scale"] * (h @ w2) + b2
        return 0.5 * jnp.mean((out - y) ** 2) + 0.1 * jnp.mean(jnp.cos(out))

    theta = {
        "layers": [
            {"w": 0.7 * jax.random.normal(keys[2], (3, 3)), "b": 0.1 * jax.random.normal(keys[3], (3,))},
            (0.7 * jax.random.normal(keys[4], (3, 2)), 0.1 * jax.random.normal(keys[5], (2,))),
        ],
        "scale": jnp.asarray(1.0 + 0.1 * seed),
    }
    return loss, theta


def flat_gradient(loss, theta):
    x0, unravel = jax.flatten_util.ravel_pytree(theta)
    return x0, lambda x: jax.flatten_util.ravel_pytree(jax.grad(loss)(unravel(x)))[0]


def test_gd_reference_equals_recursion(tiny_net):
    """The GD-iterate reference agrees with the literal recursion (so it can stand in at order 5)."""
    loss, theta = tiny_net
    x0, grad = flat_gradient(loss, theta)
    terms = modified_field_from_gd(grad, x0, 3)
    np.testing.assert_allclose(terms[0], -grad(x0), rtol=1e-14)
    for k, xi in enumerate(eomlib.counter_terms(loss, 3, method="recursion"), start=1):
        np.testing.assert_allclose(-terms[k], flat(xi(theta)), rtol=1e-11, atol=1e-14)


def test_trees_equal_recursion_on_a_random_pytree_net():
    loss, theta = random_pytree_net(1)
    fast = eomlib.counter_terms(loss, 3)
    ref = eomlib.counter_terms(loss, 3, method="recursion")
    for xi_fast, xi_ref in zip(fast, ref):
        out = xi_fast(theta)
        assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(theta)
        np.testing.assert_allclose(flat(out), flat(xi_ref(theta)), rtol=1e-10, atol=1e-13)


def check_against_gd_reference(loss, theta, order, lr=0.3):
    """ξ_1…ξ_order and the EoM fields of orders 0…order against ``modified_field_from_gd``."""
    x0, grad = flat_gradient(loss, theta)
    terms = modified_field_from_gd(grad, x0, order)
    for k, xi in enumerate(eomlib.counter_terms(loss, order), start=1):
        expected = -terms[k]
        np.testing.assert_allclose(flat(xi(theta)), expected, rtol=1e-10,
                                   atol=1e-12 * float(jnp.abs(expected).max()))
    for gamma in range(order + 1):
        field = eomlib.eom_vector_field(loss, gamma)(theta, lr)
        expected = sum(lr**j * terms[j] for j in range(gamma + 1))
        np.testing.assert_allclose(flat(field), expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("seed", [0, 2])
def test_trees_equal_gd_reference_on_random_pytree_nets(seed):
    loss, theta = random_pytree_net(seed)
    check_against_gd_reference(loss, theta, 4)


@pytest.mark.slow
def test_order5_equals_gd_reference_on_a_small_pytree():
    """Order 5 (the reference recursion takes minutes there) on a 5-parameter pytree."""
    x = jnp.array([[0.3, -1.2], [1.1, 0.4], [-0.7, 0.9]])
    y = jnp.array([0.5, -0.2, 0.8])

    def loss(theta):
        w, (b, c) = theta["w"], theta["bc"]
        return jnp.mean((c * jnp.tanh(x @ w + b) - y) ** 2) + 0.05 * jnp.sum(jnp.sin(w))

    theta = {"w": jnp.array([0.8, -0.5]), "bc": (jnp.asarray(0.2), jnp.array([1.3]))}
    check_against_gd_reference(loss, theta, 5)


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4])
def test_curve_plans_give_the_modified_field_terms_exactly(order):
    plan = core_trees.curve_plan(order)
    for j, output in enumerate(plan.outputs, start=1):
        assert plan.value_of(output) == dict(trees.modified_field_term(j))
    assert core_trees.curve_plan(5) is None


def test_curve_derivative_is_faa_di_bruno(tiny_net):
    """(F∘c)''' = F'''[c',c',c'] + 3F''[c',c''] + F'[c'''] for a curve with given derivatives."""
    from eomlib._core.counterterms import curve_derivative, multiderivative

    loss, theta = tiny_net
    x0, grad = flat_gradient(loss, theta)

    def field(x):
        return -grad(x)

    u1, u2, u3 = (jax.random.normal(k, x0.shape) for k in jax.random.split(jax.random.PRNGKey(7), 3))
    got = curve_derivative(field, x0, [u1, u2, u3])
    expected = (multiderivative(field, x0, [u1, u1, u1]) + 3 * multiderivative(field, x0, [u1, u2])
                + multiderivative(field, x0, [u3]))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(curve_derivative(field, x0, [u1, u2]),
                               multiderivative(field, x0, [u1, u1]) + multiderivative(field, x0, [u2]),
                               rtol=1e-12, atol=1e-13)
