r"""Small networks as pure functions of a parameter pytree, and the losses built from them.

Smooth activations (tanh, GELU, softplus) are the default: counter terms of order γ use
derivatives of the loss up to order γ + 2, which vanish almost everywhere for ReLU.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

__all__ = ["Model", "make_mlp", "make_cnn", "make_loss", "init_mlp", "mlp", "layer_norm",
           "layernorm_mlp", "init_cnn", "cnn", "average_pool_2x2", "activation", "ACTIVATIONS",
           "SMOOTH", "mse_loss", "cross_entropy_loss", "probabilities", "accuracy",
           "model_activation"]

#: The activation functions by name: ``"tanh"``, ``"gelu"``, ``"softplus"``, ``"sigmoid"``
#: (smooth) and ``"relu"`` (not smooth: its second derivative vanishes almost everywhere).
ACTIVATIONS: dict = {
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
}
#: The names of the smooth activations in :data:`eomlib.models.ACTIVATIONS` (every key but
#: ``"relu"``): the ones whose higher derivatives, and hence counter terms, are meaningful.
SMOOTH = ("tanh", "gelu", "softplus", "sigmoid")


def activation(name: str) -> Callable:
    """The activation function called ``name`` (one of :data:`eomlib.models.ACTIVATIONS`).

    Args:
        name: a key of :data:`eomlib.models.ACTIVATIONS`: ``"tanh"``, ``"gelu"``,
            ``"softplus"``, ``"sigmoid"`` or ``"relu"``.

    Returns:
        The elementwise function, e.g. ``jax.numpy.tanh`` for ``"tanh"``.

    Raises:
        ValueError: if ``name`` is not a key of :data:`eomlib.models.ACTIVATIONS`.

    Example:
        >>> from eomlib import models
        >>> models.activation("gelu")(1.0)
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}.")
    return ACTIVATIONS[name]


def init_mlp(key, sizes: Sequence[int], dtype=None) -> list:
    r"""Parameters of an MLP with layer widths ``sizes`` (LeCun-normal weights, zero biases).

    Layer ``l`` maps ``sizes[l]`` features to ``sizes[l + 1]``; its weights are drawn from
    :math:`\mathcal N(0, 1/n_{in})` with :math:`n_{in}` = ``sizes[l]``.

    Args:
        key: a ``jax.random`` key, e.g. ``jax.random.PRNGKey(0)``.
        sizes: the layer widths, input first and outputs last: at least two integers ≥ 1.
        dtype: the floating dtype of the parameters; None (the default) is JAX's default
            float (float64 with ``jax_enable_x64``, else float32).

    Returns:
        A list of ``{"w": (n_in, n_out), "b": (n_out,)}`` dicts, one per layer.

    Raises:
        ValueError: if ``sizes`` lists fewer than two widths or a width below 1.

    Example:
        >>> import jax
        >>> from eomlib import models
        >>> params = models.init_mlp(jax.random.PRNGKey(0), [4, 8, 1])  # two layers
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

    Args:
        z: the pre-activations, an array of any shape (examples along the leading axes).
        axes: the axes that mean and variance are taken over (default ``(-1,)``, the
            features; :func:`eomlib.models.cnn` uses ``(-3, -2, -1)``, height, width and
            channels).
        eps: ε ≥ 0, added to the variance (default 0.0; with 0 an input that is constant
            over ``axes`` gives 0/0, NaN).

    Returns:
        An array of the shape of ``z``, of zero mean and (for ε = 0) unit variance over
        ``axes``.

    Example:
        >>> import jax.numpy as jnp
        >>> from eomlib import models
        >>> models.layer_norm(jnp.array([[1.0, 2.0, 3.0]]))  # ≈ [[-1.22, 0, 1.22]]
    """
    centred = z - jnp.mean(z, axis=axes, keepdims=True)
    return centred / jnp.sqrt(jnp.mean(centred**2, axis=axes, keepdims=True) + eps)


_layer_norm = layer_norm  # for the functions below, whose ``layer_norm`` argument shadows it


def mlp(params: list, x, activation_name: str = "tanh", layer_norm: bool = False,
        eps: float = 0.0):
    r"""Forward pass :math:`h_{l+1} = \sigma(\mathrm{LN}(h_l W_l + b_l))`, linear last layer.

    ``activation_name`` is σ; ``layer_norm`` inserts :func:`eomlib.models.layer_norm` (LN,
    with ``eps``) before each σ, which makes every hidden layer's ``{"w", "b"}`` a
    scale-invariant group.

    Args:
        params: the parameters, a list of ``{"w", "b"}`` dicts as made by
            :func:`eomlib.models.init_mlp`.
        x: the inputs, of shape ``(n, sizes[0])``.
        activation_name: σ, a key of :data:`eomlib.models.ACTIVATIONS` (default ``"tanh"``).
        layer_norm: whether LN precedes each hidden σ (default False: no normalisation).
        eps: the ε ≥ 0 of LN (default 0.0, exactly scale invariant); unused without
            ``layer_norm``.

    Returns:
        The outputs :math:`h_L W_L + b_L`, of shape ``(n, sizes[-1])``.

    Raises:
        ValueError: if ``activation_name`` is not a key of :data:`eomlib.models.ACTIVATIONS`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from eomlib import models
        >>> params = models.init_mlp(jax.random.PRNGKey(0), [4, 8, 1])
        >>> models.mlp(params, jnp.ones((3, 4))).shape  # (3, 1)
    """
    act = activation(activation_name)
    h = x
    for layer in params[:-1]:
        z = h @ layer["w"] + layer["b"]
        h = act(_layer_norm(z, eps=eps) if layer_norm else z)
    return h @ params[-1]["w"] + params[-1]["b"]


def init_cnn(key, image_shape: Sequence[int], channels: Sequence[int] = (8, 16),
             num_classes: int = 10, kernel_size: int = 3, dtype=None) -> list:
    r"""Parameters of :func:`eomlib.models.cnn`: one ``{"w": (k, k, c_in, c_out), "b": (c_out,)}``
    per convolution (LeCun-normal, fan-in :math:`k^2 c_{in}`), then a dense head
    ``{"w": (c_last, num_classes), "b": (num_classes,)}``.

    Args:
        key: a ``jax.random`` key, e.g. ``jax.random.PRNGKey(0)``.
        image_shape: ``(height, width, channels)`` of the input images, integers ≥ 1.
        channels: the output channels of each convolution, at least one integer ≥ 1
            (default ``(8, 16)``: two convolutions).
        num_classes: the number of outputs of the dense head, ≥ 1 (default 10).
        kernel_size: the side k of the square kernels, ≥ 1 (default 3).
        dtype: the floating dtype of the parameters; None (the default) is JAX's default
            float (float64 with ``jax_enable_x64``, else float32).

    Returns:
        A list of ``len(channels) + 1`` dicts with keys ``"w"`` and ``"b"``, zero biases.

    Raises:
        ValueError: if ``image_shape`` is not three positive sizes, ``channels`` is empty or
            not positive, or ``num_classes`` or ``kernel_size`` is below 1.

    Example:
        >>> import jax
        >>> from eomlib import models
        >>> params = models.init_cnn(jax.random.PRNGKey(0), (8, 8, 1), channels=(4,))
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
    left unpooled.

    Args:
        h: feature maps of shape ``(n, height, width, channels)``.

    Returns:
        The maps of shape ``(n, height/2, width/2, channels)``, each value the mean of a 2×2
        block; ``h`` itself when ``height`` or ``width`` is odd.

    Example:
        >>> import jax.numpy as jnp
        >>> from eomlib import models
        >>> models.average_pool_2x2(jnp.ones((1, 4, 4, 3))).shape  # (1, 2, 2, 3)
    """
    n, height, width, c = h.shape
    if height % 2 or width % 2:
        return h
    return h.reshape(n, height // 2, 2, width // 2, 2, c).mean(axis=(2, 4))


def cnn(params: list, x, image_shape: Sequence[int], activation_name: str = "tanh",
        layer_norm: bool = False, eps: float = 0.0):
    r"""A small CNN on flattened images ``x`` of shape ``(n, H·W·C)`` (rows in HWC order).

    Each block is :math:`h \mapsto \mathrm{pool}(\sigma(\mathrm{LN}(W * h + b)))`: a
    'same' convolution, optional :func:`eomlib.models.layer_norm` over (H, W, C), the
    activation and :func:`eomlib.models.average_pool_2x2`; then global average pooling and a
    dense layer (the logits).

    Args:
        params: the parameters made by :func:`eomlib.models.init_cnn` for ``image_shape``.
        x: the images, flattened to shape ``(n, H·W·C)`` in height × width × channel order
            (as the loaders of :mod:`eomlib.data` return them).
        image_shape: ``(H, W, C)``, the shape each row of ``x`` is unflattened to.
        activation_name: σ, a key of :data:`eomlib.models.ACTIVATIONS` (default ``"tanh"``).
        layer_norm: whether LN over (H, W, C) precedes each σ (default False).
        eps: the ε ≥ 0 of LN (default 0.0, exactly scale invariant); unused without
            ``layer_norm``.

    Returns:
        The logits, of shape ``(n, num_classes)``.

    Raises:
        ValueError: if ``activation_name`` is not a key of :data:`eomlib.models.ACTIVATIONS`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from eomlib import models
        >>> params = models.init_cnn(jax.random.PRNGKey(0), (8, 8, 1))
        >>> models.cnn(params, jnp.ones((2, 64)), (8, 8, 1)).shape  # (2, 10)
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
    Losses built from a model record its ``activation`` (an attribute, for information:
    counter terms detect a non-smooth loss from its jaxpr, whatever built it).  Usually made
    by :func:`eomlib.models.make_mlp` or :func:`eomlib.models.make_cnn`.

    Attributes:
        name: a short description, e.g. ``"mlp64-32-10-tanh"`` (with ``"-ln"`` appended
            for a layer-normalised network).
        init: ``init(key, dtype=None)`` returns a parameter pytree (``dtype`` None is JAX's
            default float).
        apply: ``apply(params, x)`` returns the outputs (logits) for the inputs ``x``.
        activation: the name of the activation, a key of :data:`eomlib.models.ACTIVATIONS`.

    Example:
        >>> from eomlib import models
        >>> net = models.make_mlp([64, 32, 10])
        >>> logits = net(net.init(key), x)  # key = jax.random.PRNGKey(0), x of shape (n, 64)
    """

    name: str
    init: Callable  # (key, dtype=None) -> params pytree
    apply: Callable  # (params, x) -> outputs (logits)
    activation: str

    def __call__(self, params, x):
        return self.apply(params, x)


def make_mlp(sizes: Sequence[int], activation_name: str = "tanh", *,
             layer_norm: bool = False) -> Model:
    """An MLP with layer widths ``sizes`` (input, hidden…, outputs) as a
    :class:`eomlib.models.Model`.

    ``init`` is :func:`eomlib.models.init_mlp` and ``apply`` is :func:`eomlib.models.mlp`.

    Args:
        sizes: the layer widths, input first and outputs last: at least two integers ≥ 1
            (checked by ``init``).
        activation_name: the hidden activation, a key of :data:`eomlib.models.ACTIVATIONS`
            (default ``"tanh"``).
        layer_norm: keyword only; whether :func:`eomlib.models.layer_norm` (ε = 0) precedes
            each hidden activation, which makes every hidden layer a scale-invariant group
            (default False).

    Returns:
        The :class:`eomlib.models.Model`, named like ``"mlp64-32-10-tanh"``.

    Raises:
        ValueError: if ``activation_name`` is not a key of :data:`eomlib.models.ACTIVATIONS`.

    Example:
        >>> from eomlib import models
        >>> net = models.make_mlp([64, 32, 10], "gelu", layer_norm=True)
        >>> net.name  # 'mlp64-32-10-gelu-ln'
    """
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
    """The CNN of :func:`eomlib.models.cnn` as a :class:`eomlib.models.Model` on images of
    ``image_shape`` (H, W, C).

    ``init`` is :func:`eomlib.models.init_cnn`, which checks the sizes.

    Args:
        image_shape: ``(H, W, C)`` of the images, integers ≥ 1 (e.g.
            :data:`eomlib.data.IMAGE_SHAPES` ``["digits"]``, ``(8, 8, 1)``).
        channels: the output channels of each convolution, at least one integer ≥ 1
            (default ``(8, 16)``).
        num_classes: the number of outputs (logits), ≥ 1 (default 10).
        activation_name: the activation, a key of :data:`eomlib.models.ACTIVATIONS`
            (default ``"tanh"``).
        layer_norm: keyword only; whether :func:`eomlib.models.layer_norm` over (H, W, C)
            (ε = 0) precedes each activation (default False).
        kernel_size: keyword only; the side of the square kernels, ≥ 1 (default 3).

    Returns:
        The :class:`eomlib.models.Model`, named like ``"cnn8-16-tanh"``.

    Raises:
        ValueError: if ``activation_name`` is not a key of :data:`eomlib.models.ACTIVATIONS`.

    Example:
        >>> from eomlib import models
        >>> net = models.make_cnn((8, 8, 1), channels=(4, 8), num_classes=10)
    """
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
    """The activation of ``model``: its ``activation`` attribute (a
    :class:`eomlib.models.Model`), the ``activation_name`` keyword of a ``functools.partial``
    of :func:`eomlib.models.mlp`/:func:`eomlib.models.cnn`, ``"tanh"`` for
    :func:`eomlib.models.mlp` and :func:`eomlib.models.cnn` themselves, else None (unknown).

    Args:
        model: any network function ``(params, x) ↦ outputs``.

    Returns:
        The activation's name, or None when it cannot be told.

    Example:
        >>> from eomlib import models
        >>> models.model_activation(models.make_mlp([4, 1], "gelu"))  # 'gelu'
    """
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
    r"""θ ↦ :math:`\frac{1}{2N}\sum_i \|{\rm model}(\theta, x_i) - y_i\|^2`.

    Args:
        model: the network, a function ``(θ, x) ↦ outputs`` such as a
            :class:`eomlib.models.Model`.
        x: the N inputs, of shape ``(N, features)``.
        y: the targets, of shape ``(N, outputs)`` (one-hot labels for classification).

    Returns:
        The loss, a function of the parameters θ to a scalar, with attribute ``activation``
        (:func:`eomlib.models.model_activation` of ``model``).

    Example:
        >>> from eomlib import models, data
        >>> ds, net = data.digits(), models.make_mlp([64, 10])
        >>> loss = models.mse_loss(net, ds.x, ds.y)
    """

    def loss(theta):
        return 0.5 * jnp.mean(jnp.sum((model(theta, x) - y) ** 2, axis=-1))

    return _record_activation(loss, model)


def cross_entropy_loss(model: Callable, x, labels) -> Callable:
    r"""θ ↦ mean softmax cross-entropy of ``model(θ, x)`` against integer ``labels``.

    That is :math:`-\frac1N\sum_i \log\mathrm{softmax}(z_i)_{y_i}` with logits
    :math:`z_i` = ``model(θ, x_i)``.

    Args:
        model: the network, a function ``(θ, x) ↦ logits`` such as a
            :class:`eomlib.models.Model`.
        x: the N inputs, of shape ``(N, features)``.
        labels: the integer class labels, an array of shape ``(N,)`` with values in
            0 … (number of logits − 1).

    Returns:
        The loss, a function of the parameters θ to a scalar, with attribute ``activation``
        (:func:`eomlib.models.model_activation` of ``model``).

    Example:
        >>> from eomlib import models, data
        >>> ds, net = data.digits(), models.make_mlp([64, 10])
        >>> loss = models.cross_entropy_loss(net, ds.x, ds.labels)
    """

    def loss(theta):
        logits = model(theta, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1))

    return _record_activation(loss, model)


def make_loss(model: Callable, dataset, kind: str = "cross_entropy") -> Callable:
    r"""The full-batch loss θ ↦ f(θ) of ``model`` on ``dataset`` (a
    :class:`eomlib.data.Dataset`).

    ``kind="cross_entropy"``: the softmax head, :math:`f = -\frac1N\sum_i \log
    \mathrm{softmax}(z_i)_{y_i}` with logits :math:`z_i` = ``model(θ, x_i)``;
    ``kind="mse"``: :math:`\frac1{2N}\sum_i\|z_i - y_i\|^2`.  The returned function carries
    ``loss.activation`` (the model's activation name, for information).

    Args:
        model: the network, a function ``(θ, x) ↦ logits`` such as a
            :class:`eomlib.models.Model`.
        dataset: the training set; ``kind="cross_entropy"`` reads its ``x`` and ``labels``,
            ``kind="mse"`` its ``x`` and ``y``.
        kind: ``"cross_entropy"`` (the default, :func:`eomlib.models.cross_entropy_loss`) or
            ``"mse"`` (:func:`eomlib.models.mse_loss`).

    Returns:
        The loss, a function of the parameters θ to a scalar.

    Raises:
        ValueError: if ``kind`` is neither ``"cross_entropy"`` nor ``"mse"``.

    Example:
        >>> from eomlib import models, data
        >>> ds, net = data.digits(n_train=128), models.make_mlp([64, 32, 10])
        >>> loss = models.make_loss(net, ds)  # loss(theta) is a scalar
    """
    if kind == "cross_entropy":
        return cross_entropy_loss(model, dataset.x, dataset.labels)
    if kind == "mse":
        return mse_loss(model, dataset.x, dataset.y)
    raise ValueError(f"kind must be 'cross_entropy' or 'mse', got {kind!r}.")


def probabilities(model: Callable, theta, x) -> jax.Array:
    """The softmax head: class probabilities ``softmax(model(θ, x))``.

    Args:
        model: the network, a function ``(θ, x) ↦ logits``.
        theta: its parameters.
        x: the inputs, of shape ``(n, features)``.

    Returns:
        An array of shape ``(n, classes)`` whose rows are probabilities (summing to 1).

    Example:
        >>> from eomlib import models, data
        >>> net, ds = models.make_mlp([64, 10]), data.digits()
        >>> models.probabilities(net, net.init(key), ds.x).shape  # key = jax.random.PRNGKey(0)
    """
    return jax.nn.softmax(model(theta, x), axis=-1)


def accuracy(model: Callable, theta, x, labels) -> jax.Array:
    """Fraction of ``x`` classified as ``labels`` by the arg-max of ``model(θ, x)``.

    Args:
        model: the network, a function ``(θ, x) ↦ logits``.
        theta: its parameters.
        x: the inputs, of shape ``(n, features)``.
        labels: the integer class labels, of shape ``(n,)``.

    Returns:
        A scalar array in [0, 1].

    Example:
        >>> from eomlib import models, data
        >>> net, ds = models.make_mlp([64, 10]), data.digits()
        >>> models.accuracy(net, net.init(key), ds.x, ds.labels)  # key = jax.random.PRNGKey(0)
    """
    return jnp.mean(jnp.argmax(model(theta, x), axis=-1) == labels)


def layernorm_mlp(params: list, x, activation_name: str = "tanh", eps: float = 0.0):
    r"""An MLP whose hidden affine layers are followed by :func:`eomlib.models.layer_norm`, then
    the activation: :func:`eomlib.models.mlp` with ``layer_norm=True`` (parameters from
    :func:`eomlib.models.init_mlp`).

    ``h ↦ act(layer_norm(h @ w + b))`` for every hidden layer, linear output.  Each hidden
    layer's ``{"w", "b"}`` is a scale-invariant group (``params[i]`` for ``i < len - 1``):
    multiplying both by c > 0 leaves the network unchanged (exactly when ``eps = 0``).

    Args:
        params: the parameters, a list of ``{"w", "b"}`` dicts as made by
            :func:`eomlib.models.init_mlp`.
        x: the inputs, of shape ``(n, sizes[0])``.
        activation_name: the activation, a key of :data:`eomlib.models.ACTIVATIONS`
            (default ``"tanh"``).
        eps: the ε ≥ 0 of the layer norm (default 0.0, exactly scale invariant).

    Returns:
        The outputs, of shape ``(n, sizes[-1])``.

    Raises:
        ValueError: if ``activation_name`` is not a key of :data:`eomlib.models.ACTIVATIONS`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from eomlib import models
        >>> params = models.init_mlp(jax.random.PRNGKey(0), [4, 8, 1])
        >>> models.layernorm_mlp(params, jnp.ones((3, 4))).shape  # (3, 1)
    """
    return mlp(params, x, activation_name, layer_norm=True, eps=eps)
