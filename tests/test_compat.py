"""What eomlib assumes of the JAX it runs on, checked directly (so that a JAX release that
changes it fails here, by name, rather than through a tolerance somewhere else).

Run on the pin (``make test``) and on the declared floor (``make test-compat``)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np

import eomlib
from eomlib._core import cse, jaxcompat


def test_the_default_prng_draws_the_numbers_the_book_was_written_with():
    """Chapters and tests draw θ0 from jax.random.PRNGKey(seed); the default PRNG (threefry,
    ``jax_threefry_partitionable`` on since jax 0.5) must give these values on every supported
    JAX, or every seeded number in the book moves."""
    assert jax.config.jax_threefry_partitionable
    np.testing.assert_allclose(
        jax.random.normal(jax.random.PRNGKey(0), (3,), dtype=jnp.float64),
        [-0.2058421394796434, -0.7847657764467411, 1.8160866726679836], rtol=1e-15)
    np.testing.assert_allclose(
        jax.random.normal(jax.random.split(jax.random.PRNGKey(1))[1], (2, 2), dtype=jnp.float64)
        .ravel(), [0.7158846030601348, 0.0395597240741493, 0.7112768202319031,
                   -0.4008015774360876], rtol=1e-15)


def test_the_jaxpr_adapters_find_what_they_need():
    assert jaxcompat.AVAILABLE
    assert jaxcompat.typeof(jnp.ones((2, 3))).shape == (2, 3)


def test_common_subexpression_elimination_runs_without_falling_back():
    """On every supported JAX the deduplication pass works: no RuntimeWarning, and the
    order-4 field of a small loss has far fewer matrix products than as traced."""
    w = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)

    def loss(theta):
        return jnp.sum(jnp.tanh(theta @ w) ** 2)

    theta = jnp.linspace(0.1, 0.3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        field = eomlib.eom_vector_field(loss, 4)
        fast = jax.jit(field)(theta, 0.1)
    slow = jax.jit(eomlib.eom_vector_field(loss, 4, method="recursion"))(theta, 0.1)
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-14)
    assert not cse._WARNED

    def count_dots(fn):
        return str(jax.make_jaxpr(fn)(theta, 0.1)).count("dot_general")

    raw = count_dots(lambda x, lr: eomlib._core.counterterms._modified_field(
        lambda y: -jax.grad(loss)(y), x, 4, lr))
    deduplicated = count_dots(jax.jit(field))
    assert deduplicated < raw / 2, (deduplicated, raw)
