"""The networks and losses of the experiments: the problem of (a) and (b), and its
layer-normalised twin with scale- and translation-invariant groups for (c)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .. import data, models
from .config import DATASETS, MODELS, Scale


class Problem(NamedTuple):
    """A network, its full-batch loss on a fixed training subset, and its initial parameters."""

    loss: Callable
    theta0: object  # parameter pytree
    model: models.Model
    dataset: str
    num_params: int
    data: data.Dataset | None = None  # the training subset (experiment (c) reuses it)
    seed: int = 0


def num_params(theta) -> int:
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(theta)))


def build_problem(dataset: str, scale: Scale, model: str = "mlp", seed: int = 0,
                  cache_dir=None) -> Problem:
    """The loss (softmax cross-entropy) of a smooth (tanh) network on ``scale.n_train`` images.

    The data are a seeded subset (:func:`eomlib.data.load`), the network a tanh MLP of
    widths ``(features, *scale.hidden, 10)`` (:func:`eomlib.models.make_mlp`) or a tanh CNN
    of ``scale.channels`` (:func:`eomlib.models.make_cnn`), initialised from ``seed``, all in
    float64 (``jax_enable_x64`` must be on).

    Args:
        dataset: ``"digits"`` (offline), ``"mnist"`` or ``"cifar10"`` (downloaded once).
        scale: the :class:`eomlib.reproduce.Scale`; ``n_train``, ``hidden`` and
            ``channels`` are read.
        model: ``"mlp"`` (the default) or ``"cnn"``.
        seed: the seed of the training subset and of the initial parameters (default 0).
        cache_dir: the download folder of ``mnist`` and ``cifar10``, as for
            :func:`eomlib.data.cache_dir` (default None: ``$EOMLIB_DATA``, else
            ``~/.cache/eomlib``).

    Returns:
        A ``Problem`` named tuple with fields ``loss`` (θ ↦ f(θ)), ``theta0`` (the initial
        parameter pytree), ``model`` (the :class:`eomlib.models.Model`), ``dataset`` (the
        name), ``num_params`` (d), ``data`` (the :class:`eomlib.data.Dataset`) and ``seed``.

    Raises:
        ValueError: if ``dataset`` or ``model`` is not one of the names above, or
            ``scale.n_train`` exceeds the dataset.
        eomlib.data.DatasetUnavailableError: if ``mnist`` or ``cifar10`` is not cached and
            cannot be downloaded.

    Example:
        >>> from eomlib import reproduce
        >>> problem = reproduce.build_problem("digits", reproduce.SCALES["tiny"])
        >>> problem.loss(problem.theta0), problem.num_params
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}.")
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}.")
    ds = data.load(dataset, scale.n_train, seed, cache_dir=cache_dir, dtype=jnp.float64)
    if model == "mlp":
        net = models.make_mlp((ds.x.shape[1], *scale.hidden, data.NUM_CLASSES), "tanh")
    else:
        net = models.make_cnn(data.IMAGE_SHAPES[dataset], scale.channels, data.NUM_CLASSES, "tanh")
    theta0 = net.init(jax.random.PRNGKey(seed), jnp.float64)
    return Problem(models.make_loss(net, ds), theta0, net, dataset, num_params(theta0), ds, seed)


class InvarianceProblem(NamedTuple):
    """The layer-normalised twin of a ``Problem`` (experiment (c))."""

    loss: Callable
    theta0: object
    model: models.Model
    scale_group: Callable  # θ ↦ θ_S, the first (layer-normalised) layer's {"w", "b"}
    translation_group: Callable  # θ ↦ θ_T, the output biases
    num_params: int


def _first_layer(theta):
    return theta[0]


def _output_bias(theta):
    return theta[-1]["b"]


def invariance_problem(problem: Problem, scale: Scale) -> InvarianceProblem:
    """The network of ``problem`` with layer normalisation (ε = 0, no gain) after every hidden
    affine layer (:func:`eomlib.models.make_mlp` / :func:`eomlib.models.make_cnn` with
    ``layer_norm=True``), on the same training subset, seeded like ``problem``.

    Its first layer is scale invariant; the output biases are translation invariant and
    are started at 0.5 + 0.3·N(0, 1) (not zero) so that their sum is not trivially zero.

    Args:
        problem: the problem of experiments (a) and (b), from
            :func:`eomlib.reproduce.build_problem` (its ``data``, ``dataset``, ``model``,
            ``theta0`` and ``seed`` are read).
        scale: the :class:`eomlib.reproduce.Scale`; ``hidden`` and ``channels`` are read
            (normally the scale ``problem`` was built with).

    Returns:
        An ``InvarianceProblem`` named tuple with fields ``loss``, ``theta0`` (in the dtype
        of ``problem.theta0``), ``model``, ``scale_group`` (θ ↦ θ_S, the first layer's
        ``{"w", "b"}``), ``translation_group`` (θ ↦ θ_T, the output biases) and
        ``num_params``.

    Raises:
        ValueError: if ``problem.data`` is None.

    Example:
        >>> from eomlib import reproduce
        >>> problem = reproduce.build_problem("digits", reproduce.SCALES["tiny"])
        >>> twin = reproduce.invariance_problem(problem, reproduce.SCALES["tiny"])
    """
    ds = problem.data
    if ds is None:
        raise ValueError("problem.data is None: build the problem with build_problem.")
    if problem.model.name.startswith("cnn"):
        net = models.make_cnn(data.IMAGE_SHAPES[problem.dataset], scale.channels, data.NUM_CLASSES,
                              problem.model.activation, layer_norm=True)
    else:
        net = models.make_mlp((ds.x.shape[1], *scale.hidden, data.NUM_CLASSES),
                              problem.model.activation, layer_norm=True)
    key_net, key_bias = jax.random.split(jax.random.PRNGKey(problem.seed))
    dtype = ravel_pytree(problem.theta0)[0].dtype
    theta0 = net.init(key_net, dtype)
    theta0[-1]["b"] = 0.5 + 0.3 * jax.random.normal(key_bias, theta0[-1]["b"].shape, dtype)
    return InvarianceProblem(models.make_loss(net, ds), theta0, net, _first_layer, _output_bias,
                             num_params(theta0))


class InvarianceRuns(NamedTuple):
    """Learning rates, weight decays and step counts of the runs of experiment (c)."""

    lrs: tuple
    decays: tuple
    steps: tuple


def invariance_runs(lr: float, decay: float, scale: Scale) -> InvarianceRuns:
    r"""Runs 0–3 (GD, GF and the order-1 EoM): η and η/2 over the same horizon
    :math:`T = n_s\eta`, without (0, 1) and with (2, 3) weight decay; run 4 (GD only): η with
    weight decay for ``inv_decay_steps`` steps, long enough to reach the equilibrium norm.

    Args:
        lr: the learning rate η > 0 of experiment (c).
        decay: the weight decay λ ≥ 0 of runs 2, 3 and 4.
        scale: the :class:`eomlib.reproduce.Scale`; ``inv_steps`` (:math:`n_s`) and
            ``inv_decay_steps`` are read.

    Returns:
        An ``InvarianceRuns`` named tuple of three 5-tuples, one entry per run, namely
        ``lrs`` (η, η/2, η, η/2, η), ``decays`` (0, 0, λ, λ, λ) and ``steps``
        (:math:`n_s`, :math:`2n_s`, :math:`n_s`, :math:`2n_s`, ``inv_decay_steps``).

    Example:
        >>> from eomlib import reproduce
        >>> runs = reproduce.invariance_runs(0.1, 0.2, reproduce.SCALES["tiny"])
        >>> runs.steps  # (20, 40, 20, 40, 600)
    """
    n = scale.inv_steps
    return InvarianceRuns((lr, lr / 2, lr, lr / 2, lr), (0.0, 0.0, decay, decay, decay),
                          (n, 2 * n, n, 2 * n, scale.inv_decay_steps))
