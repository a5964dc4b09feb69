r"""Small networks as pure functions of a parameter pytree, and the losses built from them.

Smooth activations (tanh, GELU, softplus) are the default: counter terms of order γ use
derivatives of the loss up to order γ + 2, which vanish almost everywhere for ReLU.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from functools import partial
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

ACTIVATIONS: dict = {
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
}
SMOOTH = ("tanh", "gelu", "softplus", "sigmoid")


def activation(name: str) -> Callable:
    """The activation function called ``name`` (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}.")
    return ACTIVATIONS[name]


_warned: set = set()
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _stacklevel_outside_package() -> int:
    """``stacklevel`` for a warning raised by our caller that points at the user's code:
    the first frame on the stack that is not in the eomlib package."""
    frame, level = sys._getframe(2), 2  # the caller of warn_if_not_smooth is level 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def warn_if_not_smooth(name: str, order: int) -> None:
    """Warn once per activation when a non-smooth one is used with counter terms (order ≥ 1).

    Called by :func:`eomlib.counter_terms`, :func:`eomlib.eom_vector_field` and every solver
    when the loss records its activation (losses built by this module do, see
    :func:`warn_if_loss_not_smooth`); the warning points at the user's line.
    """
    if order >= 1 and name not in SMOOTH and name not in _warned:
        _warned.add(name)
        warnings.warn(
            f"activation {name!r} is not smooth: its second and higher derivatives vanish almost "
            f"everywhere, so order-{order} counter terms miss the curvature of the kinks. "
            "Use tanh, gelu or softplus for EoM studies.",
            stacklevel=_stacklevel_outside_package(),
        )


def loss_activation(loss: Callable) -> str | None:
    """The activation recorded on ``loss`` (attribute ``activation``), or None if unknown."""
    return getattr(loss, "activation", None)


def warn_if_loss_not_smooth(loss: Callable, order: int) -> None:
    """:func:`warn_if_not_smooth` for the activation recorded on ``loss``, if any."""
    name = loss_activation(loss)
    if name is not None:
        warn_if_not_smooth(name, order)


def init_mlp(key, sizes: Sequence[int], dtype=None) -> list:
    r"""Parameters of an MLP with layer widths ``sizes`` (LeCun-normal weights, zero biases).

    Returns a list of ``{"w": (n_in, n_out), "b": (n_out,)}`` dicts.
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive widths, got {sizes!r}.")
    dtype = dtype or jnp.result_type(float)
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": jax.random.normal(k, (n_in, n_out), dtype) / jnp.sqrt(jnp.asarray(n_in, dtype)),
            "b": jnp.zeros((n_out,), dtype),
        }
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])
    ]


def layer_norm(z, axes=(-1,), eps: float = 0.0):
    r"""Layer normalisation without learnable gain or bias:
    :math:`\mathrm{LN}(z) = (z - \bar z)/\sqrt{\mathrm{var}(z) + \epsilon}`, mean and variance
    over ``axes`` of each example.

    With ``eps = 0`` (the default here) it is exactly invariant to ``z ↦ c z`` for every
    c > 0, which makes the weights and bias of the affine layer feeding it a scale-invariant
    group: :math:`f(cW, cb) = f(W, b)`.  A positive ``eps`` (1e-5 in most libraries) breaks
    the symmetry slightly.
    """
    centred = z - jnp.mean(z, axis=axes, keepdims=True)
    return centred / jnp.sqrt(jnp.mean(centred**2, axis=axes, keepdims=True) + eps)


_layer_norm = layer_norm  # for the functions below, whose ``layer_norm`` argument shadows it


def mlp(params: list, x, activation_name: str = "tanh", layer_norm: bool = False,
        eps: float = 0.0):
    r"""Forward pass :math:`h_{l+1} = \sigma(\mathrm{LN}(h_l W_l + b_l))`, linear last layer.

    ``activation_name`` is σ; ``layer_norm`` inserts :func:`layer_norm` (LN, with ``eps``)
    before each σ, which makes every hidden layer's ``{"w", "b"}`` a scale-invariant group.
    """
    act = activation(activation_name)
    h = x
    for layer in params[:-1]:
        z = h @ layer["w"] + layer["b"]
        h = act(_layer_norm(z, eps=eps) if layer_norm else z)
    return h @ params[-1]["w"] + params[-1]["b"]


def init_cnn(key, image_shape: Sequence[int], channels: Sequence[int] = (8, 16),
             num_classes: int = 10, kernel_size: int = 3, dtype=None) -> list:
    r"""Parameters of :func:`cnn`: one ``{"w": (k, k, c_in, c_out), "b": (c_out,)}`` per
    convolution (LeCun-normal, fan-in :math:`k^2 c_{in}`), then a dense head
    ``{"w": (c_last, num_classes), "b": (num_classes,)}``.
    """
    if len(image_shape) != 3 or any(int(s) < 1 for s in image_shape):
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}.")
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"channels must list at least one positive width, got {channels!r}.")
    if int(num_classes) < 1 or int(kernel_size) < 1:
        raise ValueError(f"num_classes and kernel_size must be >= 1, got {num_classes}, {kernel_size}.")
    dtype = dtype or jnp.result_type(float)
    keys = jax.random.split(key, len(channels) + 1)
    params, c_in = [], int(image_shape[2])
    for k, c_out in zip(keys[:-1], channels):
        fan_in = kernel_size * kernel_size * c_in
        params.append({
            "w": jax.random.normal(k, (kernel_size, kernel_size, c_in, c_out), dtype)
            / jnp.sqrt(jnp.asarray(fan_in, dtype)),
            "b": jnp.zeros((c_out,), dtype),
        })
        c_in = c_out
    params.append({
        "w": jax.random.normal(keys[-1], (c_in, num_classes), dtype) / jnp.sqrt(jnp.asarray(c_in, dtype)),
        "b": jnp.zeros((num_classes,), dtype),
    })
    return params


def average_pool_2x2(h):
    """2×2 average pooling of NHWC feature maps (smooth, unlike max pooling); odd sizes are
    left unpooled."""
    n, height, width, c = h.shape
    if height % 2 or width % 2:
        return h
    return h.reshape(n, height // 2, 2, width // 2, 2, c).mean(axis=(2, 4))


def cnn(params: list, x, image_shape: Sequence[int], activation_name: str = "tanh",
        layer_norm: bool = False, eps: float = 0.0):
    r"""A small CNN on flattened images ``x`` of shape ``(n, H·W·C)`` (rows in HWC order).

    Each block is :math:`h \mapsto \mathrm{pool}(\sigma(\mathrm{LN}(W * h + b)))`: a
    'same' convolution, optional :func:`layer_norm` over (H, W, C), the activation and
    :func:`average_pool_2x2`; then global average pooling and a dense layer (the logits).
    """
    act = activation(activation_name)
    h = jnp.reshape(x, (-1, *image_shape))
    for layer in params[:-1]:
        z = jax.lax.conv_general_dilated(h, layer["w"], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC")) + layer["b"]
        h = average_pool_2x2(act(_layer_norm(z, axes=(-3, -2, -1), eps=eps) if layer_norm else z))
    h = jnp.mean(h, axis=(-3, -2))
    return h @ params[-1]["w"] + params[-1]["b"]


@dataclasses.dataclass(frozen=True)
class Model:
    """A network as pure functions, with the name of its activation.

    ``model(params, x)`` applies it (so a model can be passed wherever a function
    ``(params, x) ↦ outputs`` is expected); ``model.init(key, dtype=None)`` draws parameters.
    Losses built from a model record its ``activation`` (see :func:`warn_if_loss_not_smooth`).
    """

    name: str
    init: Callable  # (key, dtype=None) -> params pytree
    apply: Callable  # (params, x) -> outputs (logits)
    activation: str

    def __call__(self, params, x):
        return self.apply(params, x)


def make_mlp(sizes: Sequence[int], activation_name: str = "tanh", *,
             layer_norm: bool = False) -> Model:
    """An MLP with layer widths ``sizes`` (input, hidden…, outputs) as a :class:`Model`."""
    activation(activation_name)  # validate now
    sizes = tuple(int(s) for s in sizes)
    return Model(
        name=f"mlp{'-'.join(map(str, sizes))}-{activation_name}" + ("-ln" if layer_norm else ""),
        init=lambda key, dtype=None: init_mlp(key, sizes, dtype),
        apply=partial(mlp, activation_name=activation_name, layer_norm=layer_norm),
        activation=activation_name,
    )


def make_cnn(image_shape: Sequence[int], channels: Sequence[int] = (8, 16), num_classes: int = 10,
             activation_name: str = "tanh", *, layer_norm: bool = False,
             kernel_size: int = 3) -> Model:
    """The CNN of :func:`cnn` as a :class:`Model` on images of ``image_shape`` (H, W, C)."""
    activation(activation_name)
    image_shape, channels = tuple(int(s) for s in image_shape), tuple(int(c) for c in channels)
    return Model(
        name=f"cnn{'-'.join(map(str, channels))}-{activation_name}" + ("-ln" if layer_norm else ""),
        init=lambda key, dtype=None: init_cnn(key, image_shape, channels, num_classes, kernel_size,
                                              dtype),
        apply=partial(cnn, image_shape=image_shape, activation_name=activation_name,
                      layer_norm=layer_norm),
        activation=activation_name,
    )


def model_activation(model: Callable) -> str | None:
    """The activation of ``model``: its ``activation`` attribute (a :class:`Model`), the
    ``activation_name`` keyword of a ``functools.partial`` of :func:`mlp`/:func:`cnn`,
    ``"tanh"`` for :func:`mlp` and :func:`cnn` themselves, else None (unknown)."""
    if isinstance(getattr(model, "activation", None), str):
        return model.activation
    if isinstance(model, partial) and model.func in (mlp, cnn):
        return model.keywords.get("activation_name", "tanh")
    if model in (mlp, cnn):
        return "tanh"
    return None


def _record_activation(loss: Callable, model: Callable) -> Callable:
    loss.activation = model_activation(model)
    return loss


def mse_loss(model: Callable, x, y) -> Callable:
    r"""θ ↦ :math:`\frac{1}{2N}\sum_i \|{\rm model}(\theta, x_i) - y_i\|^2`."""

    def loss(theta):
        return 0.5 * jnp.mean(jnp.sum((model(theta, x) - y) ** 2, axis=-1))

    return _record_activation(loss, model)


def cross_entropy_loss(model: Callable, x, labels) -> Callable:
    r"""θ ↦ mean softmax cross-entropy of ``model(θ, x)`` against integer ``labels``."""

    def loss(theta):
        logits = model(theta, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1))

    return _record_activation(loss, model)


def make_loss(model: Callable, dataset, kind: str = "cross_entropy") -> Callable:
    r"""The full-batch loss θ ↦ f(θ) of ``model`` on ``dataset`` (a :class:`eomlib.data.Dataset`).

    ``kind="cross_entropy"``: the softmax head, :math:`f = -\frac1N\sum_i \log
    \mathrm{softmax}(z_i)_{y_i}` with logits :math:`z_i` = ``model(θ, x_i)``;
    ``kind="mse"``: :math:`\frac1{2N}\sum_i\|z_i - y_i\|^2`.  The returned function carries
    ``loss.activation`` so that counter terms warn about non-smooth activations.
    """
    if kind == "cross_entropy":
        return cross_entropy_loss(model, dataset.x, dataset.labels)
    if kind == "mse":
        return mse_loss(model, dataset.x, dataset.y)
    raise ValueError(f"kind must be 'cross_entropy' or 'mse', got {kind!r}.")


def probabilities(model: Callable, theta, x) -> jax.Array:
    """The softmax head: class probabilities ``softmax(model(θ, x))``."""
    return jax.nn.softmax(model(theta, x), axis=-1)


def accuracy(model: Callable, theta, x, labels) -> jax.Array:
    """Fraction of ``x`` classified as ``labels`` by the arg-max of ``model(θ, x)``."""
    return jnp.mean(jnp.argmax(model(theta, x), axis=-1) == labels)


def layernorm_mlp(params: list, x, activation_name: str = "tanh", eps: float = 0.0):
    r"""An MLP whose hidden affine layers are followed by :func:`layer_norm`, then the activation:
    :func:`mlp` with ``layer_norm=True`` (parameters from :func:`init_mlp`).

    ``h ↦ act(layer_norm(h @ w + b))`` for every hidden layer, linear output.  Each hidden
    layer's ``{"w", "b"}`` is a scale-invariant group (``params[i]`` for ``i < len - 1``):
    multiplying both by c > 0 leaves the network unchanged (exactly when ``eps = 0``).
    """
    return mlp(params, x, activation_name, layer_norm=True, eps=eps)
