"""Networks: shapes, dtypes, layer normalisation, the softmax head, and the smoothness warning
that counter terms raise for a loss built on a ReLU network."""

import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eomlib
from eomlib import data, models

KEY = jax.random.PRNGKey(0)


def params_like(net, dtype=jnp.float64):
    """Deterministic parameters of ``net``'s shapes, built in numpy (no RNG to compile)."""
    shapes = jax.eval_shape(net.init, KEY)
    return jax.tree_util.tree_map(
        lambda s: jnp.asarray(0.5 * np.sin(np.arange(np.prod(s.shape)) + s.size).reshape(s.shape),
                              dtype), shapes)


# Shapes and dtypes are read with jax.eval_shape (the same trace as a real call, no
# compilation); a few real evaluations run under one jit each.


def test_mlp_shapes_and_activations():
    x = jax.random.normal(KEY, (5, 6))
    for act in ("tanh", "gelu", "softplus"):
        for layer_norm in (False, True):
            net = models.make_mlp([6, 7, 4, 3], act, layer_norm=layer_norm)
            theta = jax.eval_shape(net.init, KEY)
            assert [layer["w"].shape for layer in theta] == [(6, 7), (7, 4), (4, 3)]
            assert [layer["b"].shape for layer in theta] == [(7,), (4,), (3,)]
            assert jax.eval_shape(net, theta, x).shape == (5, 3)
    net = models.make_mlp([6, 7, 3], "gelu", layer_norm=True)
    assert bool(jnp.all(jnp.isfinite(jax.jit(net)(params_like(net), x))))
    with pytest.raises(ValueError, match="activation"):
        models.make_mlp([2, 2], "swish")


@pytest.mark.parametrize("image_shape", [(8, 8, 1), (32, 32, 3), (7, 7, 2)])
def test_cnn_shapes(image_shape):
    net = models.make_cnn(image_shape, channels=(3, 5), num_classes=10, layer_norm=True)
    theta = jax.eval_shape(net.init, KEY)
    assert theta[0]["w"].shape == (3, 3, image_shape[2], 3)
    assert theta[1]["w"].shape == (3, 3, 3, 5)
    assert theta[2]["w"].shape == (5, 10)
    x = jax.ShapeDtypeStruct((4, int(np.prod(image_shape))), jnp.float64)
    assert jax.eval_shape(net, theta, x).shape == (4, 10)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dtype_is_preserved(dtype):
    ds = data.digits(16, dtype=dtype)
    for net in (models.make_mlp([64, 8, 10], "gelu", layer_norm=True),
                models.make_cnn(data.IMAGE_SHAPES["digits"], (2,), activation_name="softplus")):
        theta = jax.eval_shape(lambda key: net.init(key, dtype), KEY)
        assert all(leaf.dtype == dtype for leaf in jax.tree_util.tree_leaves(theta))
        assert jax.eval_shape(net, theta, ds.x).dtype == dtype
        loss = models.make_loss(net, ds)
        assert jax.eval_shape(loss, theta).dtype == dtype
        grads = jax.eval_shape(jax.grad(loss), theta)
        assert all(leaf.dtype == dtype for leaf in jax.tree_util.tree_leaves(grads))
    assert jax.jit(loss)(params_like(net, dtype)).dtype == dtype  # the CNN, really run


def test_layer_norm_makes_the_first_layer_scale_invariant():
    ds = data.digits(16)
    net = models.make_mlp([64, 8, 10], "tanh", layer_norm=True)
    theta = params_like(net)
    loss = jax.jit(models.make_loss(net, ds))
    scaled = [{"w": 3.0 * theta[0]["w"], "b": 3.0 * theta[0]["b"]}, theta[1]]
    assert abs(float(loss(scaled)) - float(loss(theta))) < 1e-4  # exact for ε → 0


def test_softmax_head_and_losses():
    ds = data.digits(16)
    net = models.make_mlp([64, 8, 10])
    theta = params_like(net)
    probs = jax.jit(models.probabilities, static_argnums=0)(net, theta, ds.x)
    np.testing.assert_allclose(np.asarray(probs).sum(axis=1), 1.0, rtol=1e-12)
    ce = jax.jit(models.make_loss(net, ds))
    expected = -np.mean(np.log(np.asarray(probs)[np.arange(16), np.asarray(ds.labels)]))
    np.testing.assert_allclose(float(ce(theta)), expected, rtol=1e-12)
    assert jax.eval_shape(models.make_loss(net, ds, "mse"), theta).shape == ()
    with pytest.raises(ValueError, match="kind"):
        models.make_loss(net, ds, "hinge")


def test_losses_record_their_activation():
    ds = data.digits(8)
    assert models.make_loss(models.make_mlp([64, 10], "gelu"), ds).activation == "gelu"
    assert models.cross_entropy_loss(models.mlp, ds.x, ds.labels).activation == "tanh"
    relu_mlp = partial(models.mlp, activation_name="relu")
    assert models.mse_loss(relu_mlp, ds.x, ds.y).activation == "relu"
    assert models.mse_loss(lambda p, x: x @ p, ds.x, ds.y).activation is None


def relu_and_tanh_losses():
    ds = data.digits(8)
    theta = params_like(models.make_mlp([64, 4, 10]))
    relu = models.make_loss(models.make_mlp([64, 4, 10], "relu"), ds)
    tanh = models.make_loss(models.make_mlp([64, 4, 10], "tanh"), ds)
    return relu, tanh, theta


def test_relu_warns_once_with_counter_terms_and_tanh_never():
    relu, tanh, theta = relu_and_tanh_losses()  # new loss functions: nothing warned yet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eomlib.counter_terms(relu, 0)  # order 0: no counter term, no warning
        eomlib.eom_vector_field(relu, 0)(theta, 0.1)
        for order in (1, 2, 3):
            eomlib.counter_terms(tanh, order)[-1](theta)
            eomlib.eom_vector_field(tanh, order)(theta, 0.1)
        assert not caught
        eomlib.counter_terms(relu, 2)[1](theta)
        eomlib.eom_vector_field(relu, 1)(theta, 0.1)
        eomlib.modified_loss(relu, 0.1)(theta)
    assert len(caught) == 1
    assert issubclass(caught[0].category, UserWarning)
    assert "not smooth" in str(caught[0].message) and "comparison" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the user's line, not at eomlib


def test_solvers_check_smoothness_too():
    relu, _, theta = relu_and_tanh_losses()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the check runs with the argument checks, before compiling: a bad rtol stops the
        # run right after it, so no solve is paid for here
        for call in (eomlib.eom_trajectory, eomlib.discretization_error, eomlib.predicted_error):
            with pytest.raises(ValueError, match="rtol"):
                call(relu, theta, 0.1, 2, 1, rtol=-1.0)
    assert len(caught) == 1 and "not smooth" in str(caught[0].message)
