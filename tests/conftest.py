import jax
import jax.numpy as jnp
import pytest

jax.config.update("jax_enable_x64", True)

import eomlib  # noqa: E402
from eomlib import data, models  # noqa: E402


def tiny_net_problem(seed: int = 0):
    """A 2-4-1 tanh network on 6 points: θ is a dict pytree (d = 17)."""
    key = jax.random.PRNGKey(seed)
    k_x, k_y, k_w1, k_w2 = jax.random.split(key, 4)
    x = jax.random.normal(k_x, (6, 2))
    y = jnp.sin(x[:, :1])

    def loss(theta):
        h = jnp.tanh(x @ theta["w1"] + theta["b1"])
        return 0.5 * jnp.mean((h @ theta["w2"] - y) ** 2)

    theta = {
        "w1": jax.random.normal(k_w1, (2, 4)),
        "b1": 0.1 * jnp.arange(4.0),
        "w2": 0.5 * jax.random.normal(k_w2, (4, 1)),
    }
    return loss, theta


@pytest.fixture(scope="session")
def tiny_net():
    return tiny_net_problem()


@pytest.fixture(scope="session")
def quadratic():
    """f = ½ θᵀAθ with eigenvalues in (0, 1.6], θ a list pytree."""
    rng = jax.random.PRNGKey(3)
    q, _ = jnp.linalg.qr(jax.random.normal(rng, (4, 4)))
    eigs = jnp.array([1.6, 0.9, 0.4, 0.1])
    a = (q * eigs) @ q.T
    a = 0.5 * (a + a.T)

    def loss(theta):
        v = jnp.concatenate([theta[0], theta[1]])
        return 0.5 * v @ a @ v

    theta = [jnp.array([1.0, -0.5]), jnp.array([0.3, 0.8])]
    return loss, theta, a


@pytest.fixture(scope="session")
def digits_mlp():
    """The book's digits network: 64-16-10 tanh MLP, 128 images, cross-entropy (d = 1210)."""
    ds = data.digits(n_train=128, seed=0)
    theta = models.init_mlp(jax.random.PRNGKey(0), [64, 16, 10])
    loss = models.cross_entropy_loss(models.mlp, ds.x, ds.labels)
    return loss, theta


def flat(tree):
    return jax.flatten_util.ravel_pytree(tree)[0]


__all__ = ["eomlib", "flat", "tiny_net_problem"]
