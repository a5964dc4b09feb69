"""Common-subexpression elimination (eomlib._core.cse): same values, fewer equations, nothing merged
that differs."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flat

import eomlib
from eomlib._core import counterterms
from eomlib._core.cse import eliminate_common_subexpressions as cse


def count(fn, *args, primitive=None):
    """Equations (of one primitive) in the traced program, those inside ``jit`` calls included."""

    def walk(jaxpr):
        n = 0
        for e in jaxpr.eqns:
            if e.primitive.name == "jit":
                n += walk(e.params["jaxpr"].jaxpr)
            elif primitive is None or e.primitive.name == primitive:
                n += 1
        return n

    return walk(jax.make_jaxpr(fn)(*args).jaxpr)


def repeated(x, w):
    a = jnp.tanh(x @ w)
    b = jnp.tanh(x @ w)  # the same again
    c = jnp.sin(x) * jnp.cos(x) + jnp.cos(x) * jnp.sin(x)  # commuted operands
    return {"sum": a + b, "c": c, "t": (a * 2.0, a * 3.0)}


def test_values_equal_and_repeats_are_bound_once():
    x = jnp.arange(6.0).reshape(2, 3) / 7
    w = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)
    out, ref = cse(repeated)(x, w), repeated(x, w)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(ref)
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_array_equal(a, b)
    assert count(repeated, x, w, primitive="dot_general") == 2
    assert count(cse(repeated), x, w, primitive="dot_general") == 1
    assert count(cse(repeated), x, w, primitive="tanh") == 1
    assert count(cse(repeated), x, w, primitive="mul") == 3  # sin·cos once, then ·2 and ·3 apart


def test_differing_literals_and_parameters_are_not_merged():
    def fn(x):
        return jnp.sum(x, axis=0), jnp.sum(x, axis=1), x * 2.0, x * 3.0, x + 2, x.astype(jnp.float32)

    x = jnp.arange(12.0).reshape(3, 4)
    for a, b in zip(cse(fn)(x), fn(x)):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and a.shape == b.shape
    assert count(cse(fn), x) == count(fn, x)


def test_composes_with_jit_jvp_grad_and_vmap():
    def fn(x):
        y = jnp.tanh(x) * jnp.tanh(x)
        return jnp.sum(jax.jit(lambda z: z * jnp.exp(z))(y)) + jnp.sum(jnp.exp(y) * y)

    x = jnp.linspace(-1.0, 1.0, 5)
    v = jnp.cos(jnp.arange(5.0))
    np.testing.assert_allclose(jax.jit(cse(fn))(x), fn(x), rtol=1e-15)
    np.testing.assert_allclose(jax.jvp(cse(fn), (x,), (v,))[1], jax.jvp(fn, (x,), (v,))[1], rtol=1e-14)
    np.testing.assert_allclose(jax.grad(cse(fn))(x), jax.grad(fn)(x), rtol=1e-14)
    xs = jnp.stack([x, 2 * x, -x])
    np.testing.assert_allclose(jax.vmap(cse(fn))(xs), jax.vmap(fn)(xs), rtol=1e-14)
    # the inner jit is inlined, so its exp(y)·y meets the outer one
    assert count(cse(fn), x, primitive="exp") == 1


def test_side_effects_are_kept():
    seen = []

    def fn(x):
        jax.debug.callback(lambda v: seen.append(float(v)), x)
        jax.debug.callback(lambda v: seen.append(float(v)), x)
        return x * x

    assert float(jax.jit(cse(fn))(jnp.float64(3.0))) == 9.0
    jax.effects_barrier()
    assert seen == [3.0, 3.0]


@pytest.mark.parametrize("order", [2, 3, 4])
def test_deduplicated_field_equals_the_traced_one(digits_mlp, order, monkeypatch):
    """The EoM field with and without elimination agree to round-off, with far fewer products."""
    loss, theta = digits_mlp
    field = eomlib.eom_vector_field(loss, order)
    deduplicated = jax.jit(field)(theta, 0.3)
    n_dedup = count(field, theta, 0.3, primitive="dot_general")
    monkeypatch.setattr(counterterms, "CSE_FROM_ORDER", 99)
    plain_field = eomlib.eom_vector_field(loss, order)  # a new function: jit caches by function
    plain = jax.jit(plain_field)(theta, 0.3)
    n_plain = count(plain_field, theta, 0.3, primitive="dot_general")
    np.testing.assert_allclose(flat(deduplicated), flat(plain), rtol=1e-12, atol=1e-15)
    assert n_dedup < (0.5 if order < 4 else 0.15) * n_plain  # matrix products: 24/53, 48/108, 87/831


def test_traced_once_per_signature_unless_it_closes_over_a_tracer():
    traces = []

    def fn(x):
        traces.append(x.shape)
        return jnp.sin(x) * jnp.sin(x)

    once = cse(fn)
    x = jnp.linspace(0.0, 1.0, 4)
    expected = fn(x)
    for _ in range(3):
        np.testing.assert_array_equal(once(x), expected)
    jax.jit(once)(x + 1)  # same shapes and dtype: the kept jaxpr serves the jit trace too
    assert traces.count((4,)) == 2  # fn(x) itself, and one trace for all the wrapper's calls
    once(jnp.ones(5))
    assert traces.count((5,)) == 1

    scale = {}
    closing = cse(lambda y: jnp.sin(y) * scale["a"])

    @jax.jit
    def outer(a, y):
        scale["a"] = a  # the traced a becomes a constant of the jaxpr: not kept
        return closing(y)

    np.testing.assert_allclose(outer(2.0, x), 2.0 * jnp.sin(x), rtol=1e-15)
    scale["a"] = 5.0
    np.testing.assert_allclose(closing(x), 5.0 * jnp.sin(x), rtol=1e-15)
    np.testing.assert_allclose(outer(3.0, x + 0.5), 3.0 * jnp.sin(x + 0.5), rtol=1e-15)


def test_fields_through_scan_cond_and_custom_jvp_equal_the_recursion():
    """Losses whose jaxprs hold control flow (scan, cond) and custom_jvp functions (softplus):
    the deduplicated order-2 field equals the literal recursion."""
    key = jax.random.PRNGKey(0)
    xs = jax.random.normal(key, (6, 4, 2))

    def loss(th):
        def step(h, x):
            h = jax.nn.softplus(h @ th["u"] + x @ th["w"]) - 0.5
            return h, jnp.sum(h)

        h, outs = jax.lax.scan(step, jnp.zeros((4, 3)), xs)
        z = jax.lax.cond(jnp.sum(h) > 100.0, lambda v: v * 2.0, jnp.sin, h)
        return jnp.mean(z**2) + 0.01 * jnp.sum(outs)

    theta = {"u": 0.3 * jax.random.normal(key, (3, 3)), "w": jax.random.normal(jax.random.PRNGKey(2), (2, 3))}
    fast = jax.jit(eomlib.eom_vector_field(loss, 2))(theta, 0.1)
    ref = eomlib.eom_vector_field(loss, 2, method="recursion")(theta, 0.1)
    np.testing.assert_allclose(flat(fast), flat(ref), rtol=1e-10, atol=1e-13)


def test_falls_back_to_the_plain_function_with_one_warning(monkeypatch):
    """If the jaxpr walk fails (JAX internals changed in another release), the function runs
    as traced, with the same values, after one RuntimeWarning."""
    from eomlib._core import cse as cse_module

    def broken(*args, **kwargs):
        raise AttributeError("no such internal")

    monkeypatch.setattr(cse_module, "_evaluate", broken)
    monkeypatch.setattr(cse_module, "_WARNED", [])
    x = jnp.linspace(0.0, 1.0, 4)
    w = jnp.ones((3, 4)) / 3
    with pytest.warns(RuntimeWarning, match="not deduplicated"):
        out = cse(repeated)(x[None, :3], w)
    ref = repeated(x[None, :3], w)
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        jax.jit(cse(repeated))(x[None, :3], w)
    with pytest.raises(TypeError):  # an error of the function itself still surfaces
        cse(lambda v: v @ jnp.ones((5, 5)))(x)
