"""A non-smooth loss is detected from its own jaxpr, whoever wrote it (eomlib._core.smoothness)."""

import warnings

import jax
import jax.numpy as jnp
import pytest

import eomlib

X = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
THETA = {"w": 0.3 * jnp.ones((3, 2)), "v": 0.2 * jnp.ones((2,))}


def net(act):
    return lambda th: jnp.sum(act(X @ th["w"]) @ th["v"]) ** 2


KINKED = {
    "jax.nn.relu": net(jax.nn.relu),
    "maximum": net(lambda z: jnp.maximum(z, 0.0)),
    "where on a comparison": net(lambda z: jnp.where(z > 0, z, 0.01 * z)),
    "comparison cast to a number": net(lambda z: (z > 0) * z),
    "abs": net(jnp.abs),
    "clip": net(lambda z: jnp.clip(z, -0.1, 0.1)),
    "relu inside lax.scan": lambda th: jax.lax.scan(
        lambda h, _: (jax.nn.relu(h @ th["w"] @ th["w"].T), None), X[0], None, length=3)[0].sum(),
    "lax.cond on the parameters": lambda th: jax.lax.cond(
        jnp.sum(th["w"]) > 0, jnp.sin, jnp.cos, jnp.sum(X @ th["w"])),
}
SMOOTH = {
    "tanh": net(jnp.tanh),
    "softplus": net(jax.nn.softplus),
    "gelu": net(jax.nn.gelu),
    "sigmoid": net(jax.nn.sigmoid),
    "log_softmax": lambda th: -jnp.mean(jax.nn.log_softmax(X @ th["w"])[:, 0]),
    "logsumexp": lambda th: jax.nn.logsumexp(X @ th["w"]),
    "norm": lambda th: jnp.linalg.norm(X @ th["w"]),
    "fori_loop with a where on the counter": lambda th: jax.lax.fori_loop(
        0, 3, lambda i, h: jnp.where(i < 2, jnp.tanh(h * th["v"].sum()), h), 1.0),
}


@pytest.mark.parametrize("name", KINKED)
def test_hand_written_kinks_are_detected(name):
    assert eomlib.non_smooth_reason(KINKED[name], THETA) is not None


@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_losses_are_not_flagged(name):
    assert eomlib.non_smooth_reason(SMOOTH[name], THETA) is None


def test_a_user_relu_warns_with_order_2_once_and_points_at_the_caller():
    loss = lambda th: jnp.sum(jnp.maximum(X @ th["w"], 0.0) ** 2)  # noqa: E731
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xi1, xi2 = eomlib.counter_terms(loss, 2)
        jax.jit(xi2)(THETA)  # traced under jit: the warning still names this file
        xi1(THETA)
        eomlib.eom_trajectory(loss, THETA, 0.05, 2, 2)
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert issubclass(caught[0].category, UserWarning)
    message = str(caught[0].message)
    # The kink is named by the first non-smooth primitive in JAX's derivative of `maximum`:
    # `max` up to jax 0.10, `select_n` on jax 0.12 (the operands' order changed).
    assert "not smooth" in message and ("`max`" in message or "`select_n`" in message), message
    assert caught[0].filename == __file__


def test_a_tanh_loss_never_warns():
    loss = net(jnp.tanh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for order in (1, 2, 3):
            eomlib.counter_terms(loss, order)[-1](THETA)
        eomlib.eom_trajectory(loss, THETA, 0.05, 2, 2)
        eomlib.modified_loss(loss, 0.1)(THETA)


def test_order_0_and_gradient_descent_do_not_check():
    loss = net(jax.nn.relu)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eomlib.gd_trajectory(loss, THETA, 0.05, 3)
        eomlib.eom_trajectory(loss, THETA, 0.05, 2, 0)
