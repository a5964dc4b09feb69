"""Counter terms against dense closed forms, the quadratic formula and the reference recursion."""

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
from eomlib import trees


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
    problem = eomlib.flat.flatten_problem(loss, theta)

    def field(x):
        return -problem.grad(x)

    tau = trees.make_tree([trees.LEAF, trees.LEAF])
    sigma = (trees.LEAF,)
    x = problem.x0
    ev = eomlib.counterterms.TreeEvaluator(field, x)
    direct = jax.jvp(lambda y: eomlib.counterterms.TreeEvaluator(field, y).value(tau), (x,),
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
