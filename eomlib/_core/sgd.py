r"""Mini-batch SGD and its continuous models.

A loss with data is a function ``loss(θ, batch)`` of the parameters (any pytree) and a
batch (a pytree of arrays whose leaves share a leading axis of examples); it is the *mean*
of a per-example loss over the batch's examples, so that the full loss is
:math:`f(\theta) = \text{loss}(\theta, \text{data})` and, for m batches of equal size that
split the data, :math:`f = \frac1m\sum_k \hat f_k`.  Batches are arguments of the compiled
programs: a new batch or dataset of the same shapes never recompiles.

* SGD, :math:`\theta_{k+1} = \theta_k - \eta\nabla\hat f_{B_k}(\theta_k)`, with three
  sampling schemes: ``"cyclic"`` (the same batch order every epoch), ``"reshuffle"`` (a
  random permutation each epoch) and ``"replacement"`` (each batch drawn uniformly with
  replacement); batched over seeds with ``jax.vmap``.
* The modified flow of one epoch (m steps, time mη) with a fixed batch order, by the Taylor
  matching of the EoM: :math:`\dot\theta = -g - \eta\,\xi`,

  .. math:: \xi = \frac m2 H g - \frac1m \sum_{k=1}^m \hat H_k \sum_{j<k} \hat g_j ,

  and its average over random reshuffles, gradient flow on Smith, Dherin, Barrett & De's
  (2021) modified loss :math:`f + \frac\eta4\|\nabla f\|^2 + \frac{\eta}{4m}\,
  \mathbb E\sum_k\|\nabla\hat f_k - \nabla f\|^2` (the expectation over random
  partitions is :math:`\frac{N-B}{(N-1)B}\frac1N\sum_i\|\nabla\ell_i - \nabla f\|^2`).
* The stochastic modified equations (Li, Tai & E 2017/2019),
  :math:`d\Theta = b(\Theta)\,dt + (\eta\Sigma(\Theta))^{1/2} dW` with
  :math:`b = -\nabla f` (order 1) or :math:`b = -\nabla(f + \frac\eta4\|\nabla f\|^2)`
  (order 2); :math:`\Sigma` is the covariance of one batch gradient, applied matrix-free.
"""

from __future__ import annotations

import math
import numbers
from functools import partial
from typing import Callable, NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .sharding import check_mesh, mesh_members, pad_batch, replicate
from .blowup import check_status, loss_flags, run_status
from .flat import grid_size, take_leading
from .solve import solve_saved, solver_settings
from .validate import check_callable, check_lr, check_num_steps, check_theta, is_concrete

SCHEMES = ("cyclic", "reshuffle", "replacement")
SAVES = ("step", "epoch")


class DataShape(NamedTuple):
    """The sizes of a dataset split into batches.

    Attributes:
        num_examples: N, the examples in the data (the leaves' common leading length).
        batch_size: B, the examples per batch.
        batches_per_epoch: m = N // B, the SGD steps of one epoch.
    """

    num_examples: int
    batch_size: int
    batches_per_epoch: int


def check_data(data, batch_size, scheme: str = "replacement") -> DataShape:
    """Check a dataset and a batch size, and return their sizes.

    ``data`` must be a non-empty pytree of arrays sharing a leading length N ≥ 1;
    ``batch_size`` an integer in [1, N]; for ``"cyclic"`` and ``"reshuffle"`` B must divide
    N (the epoch's batches then split the data, and the full loss is their mean).

    Args:
        data: the dataset, a pytree of arrays with a common leading axis of examples.
        batch_size: B, the examples per batch.
        scheme: how batches are drawn: ``"cyclic"``, ``"reshuffle"`` or ``"replacement"``
            (default).

    Returns:
        A :class:`eomlib.sgd.DataShape` (N, B, m = N // B).

    Raises:
        ValueError: if the leaves disagree in length, hold no examples, B is not an integer in
            [1, N], B does not divide N where it must, or ``scheme`` is unknown.

    Example:
        >>> eomlib.sgd.check_data({"x": X, "y": y}, 8, "reshuffle")  # DataShape(N, 8, N // 8)
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}.")
    leaves, _ = jax.tree_util.tree_flatten(data)
    if not leaves:
        raise ValueError("data must be a pytree of arrays (e.g. a dict {'x': X, 'y': y}), got no leaves.")
    lengths = []
    for leaf in leaves:
        shape = jnp.shape(leaf)
        if len(shape) == 0:
            raise ValueError("every leaf of data needs a leading axis of examples; got a scalar leaf.")
        lengths.append(shape[0])
    if len(set(lengths)) != 1:
        raise ValueError(f"the leaves of data disagree in length (their leading axes are {lengths}); "
                         "every leaf must hold one row per example.")
    n = lengths[0]
    if n < 1:
        raise ValueError("data holds no examples (leading length 0).")
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral) \
            or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an integer in [1, {n}] (the number of examples), "
                         f"got {batch_size!r}.")
    batch_size = int(batch_size)
    if scheme != "replacement" and n % batch_size:
        raise ValueError(f"with scheme={scheme!r} the batches must split the data: {n} examples do not "
                         f"split into batches of {batch_size}. Use a batch size that divides {n}, or "
                         "scheme='replacement'.")
    return DataShape(n, batch_size, n // batch_size)


def check_key(key, scheme: str, name: str = "key"):
    if key is None:
        if scheme == "cyclic":
            return jax.random.key(0)  # unused: the order is fixed
        raise ValueError(f"scheme={scheme!r} samples batches at random: pass {name}=jax.random.key(seed).")
    return key


def take(data, idx):
    """The examples ``idx`` of every leaf of ``data``."""
    return jax.tree_util.tree_map(lambda a: a[idx], data)


def _batch_order(scheme: str, key, n: int, m: int, b: int):
    if scheme == "cyclic":
        order = jnp.arange(m * b)
    elif scheme == "reshuffle":
        order = jax.random.permutation(key, n)[: m * b]
    else:
        order = jax.random.randint(key, (m * b,), 0, n)
    return order.reshape(m, b)


@partial(jax.jit, static_argnames=("loss", "batch_size", "num_epochs", "scheme", "per_step"))
def sgd_flat(loss, theta0, lr, data, key, batch_size: int, num_epochs: int, scheme: str,
             per_step: bool):
    """SGD's flat iterates (every step, or every epoch's end) from θ0, and the run's status
    (the iterates, each batch loss and the full loss at the end are checked)."""
    x0, unravel = ravel_pytree(theta0)
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    m = n // batch_size
    yes = jnp.bool_(True)

    def step(carry, idx):
        x, defined, bounded = carry
        value, g = jax.value_and_grad(lambda z: loss(unravel(z), take(data, idx)))(x)
        d, b = loss_flags(value)
        x = x - lr * g
        return (x, defined & d, bounded & b), x

    def epoch(carry, ekey):
        carry, xs = jax.lax.scan(step, carry, _batch_order(scheme, ekey, n, m, batch_size))
        return carry, (xs if per_step else xs[-1])

    keys = jax.random.split(key, max(num_epochs, 1))[:num_epochs]
    (last, defined, bounded), xs = jax.lax.scan(epoch, (x0, yes, yes), keys)
    xs = xs.reshape(-1, x0.size)
    xs = jnp.concatenate([x0[None], xs], axis=0)
    d, b = loss_flags(loss(unravel(last), data))
    return xs, run_status(xs, defined & d, bounded & b)


def _unravel_rows(theta0, xs):
    _, unravel = ravel_pytree(theta0)
    return jax.vmap(unravel)(xs)


def _check_common(loss, theta0, lr, data, batch_size, scheme, save):
    check_callable(loss)
    theta0 = check_theta(theta0)
    check_lr(lr)
    shape = check_data(data, batch_size, scheme)
    if save not in SAVES:
        raise ValueError(f"save must be one of {SAVES}, got {save!r}.")
    return theta0, shape


def sgd_trajectory(loss: Callable, theta0, lr, data, batch_size: int, num_epochs: int, *,
                   scheme: str = "reshuffle", key=None, save: str = "step"):
    r"""Mini-batch SGD, :math:`\theta_{k+1} = \theta_k - \eta\,\nabla_\theta
    \text{loss}(\theta_k, B_k)`, for ``num_epochs`` epochs of m = N // B steps.

    Args:
        loss: ``loss(θ, batch)`` → scalar, the mean of a per-example loss over the batch;
            θ any pytree, ``batch`` a pytree like ``data`` with B examples.
        theta0: the start θ_0 (pytree of finite float arrays).
        lr: the learning rate η, a finite scalar > 0 (may be traced).
        data: the dataset, a pytree of arrays with a common leading axis of N examples
            (e.g. ``{"x": X, "y": y}``); an argument of the compiled program, so new data of
            the same shapes do not recompile.
        batch_size: B, an integer in [1, N]; it must divide N for ``"cyclic"`` and
            ``"reshuffle"``.
        num_epochs: the number of epochs, an integer ≥ 0 (m steps each).
        scheme: keyword only; ``"cyclic"`` (batches ``0:B, B:2B, …`` in the same order every
            epoch), ``"reshuffle"`` (a new random permutation each epoch; the default) or
            ``"replacement"`` (each batch B examples drawn uniformly with replacement).
        key: keyword only; a ``jax.random`` key (required unless ``scheme="cyclic"``).
        save: keyword only; ``"step"`` (every iterate; the default) or ``"epoch"`` (the
            iterate after each epoch).

    Returns:
        A pytree like ``theta0`` whose leaves have a new leading axis: num_epochs·m + 1
        iterates (``save="step"``) or num_epochs + 1 (``save="epoch"``), θ_0 first.

    Raises:
        ValueError: on invalid arguments (a batch size larger than the data, leaves of
            ``data`` of different lengths, η ≤ 0, a missing key, …), naming the argument and
            its valid range.
        eomlib.DivergenceError: if the iterates or the loss overflow to NaN/inf.

    Example:
        >>> data = {"x": X, "y": y}
        >>> traj = eomlib.sgd.sgd_trajectory(loss, theta0, 0.1, data, 8, 20, key=jax.random.key(0))
    """
    theta0, shape = _check_common(loss, theta0, lr, data, batch_size, scheme, save)
    num_epochs = check_num_steps(num_epochs, "num_epochs")
    key = check_key(key, scheme)
    xs, status = sgd_flat(loss, theta0, lr, data, key, shape.batch_size, num_epochs, scheme,
                          save == "step")
    xs = check_status(xs, status, f"SGD ({scheme})", lambda th: loss(th, data), theta0, lr)
    return _unravel_rows(theta0, xs)


def sgd_ensemble(loss: Callable, theta0, lr, data, batch_size: int, num_epochs: int, keys, *,
                 scheme: str = "reshuffle", save: str = "epoch", mesh=None):
    r"""Independent SGD runs from one θ_0, one per PRNG key, in one ``jax.vmap``.

    The same runs as :func:`eomlib.sgd.sgd_trajectory` with ``key=keys[r]``; an ensemble of
    10⁴ runs of a small model takes seconds on a CPU (``benchmarks/``).

    Args:
        loss: ``loss(θ, batch)`` → scalar, as in :func:`eomlib.sgd.sgd_trajectory`.
        theta0: the start θ_0 (pytree of finite float arrays), shared by all runs.
        lr: the learning rate η, a finite scalar > 0.
        data: the dataset (pytree of arrays with a common leading axis of N examples).
        batch_size: B, an integer in [1, N] (dividing N for ``"cyclic"``/``"reshuffle"``).
        num_epochs: the number of epochs, an integer ≥ 0.
        keys: R ≥ 1 PRNG keys, e.g. ``jax.random.split(jax.random.key(0), R)``.
        scheme: keyword only; ``"cyclic"``, ``"reshuffle"`` (default) or ``"replacement"``.
        save: keyword only; ``"epoch"`` (default: R × (num_epochs + 1) rows) or ``"step"``.
        mesh: keyword only; the devices to spread the runs over (:mod:`eomlib.sharding`): a
            ``jax.sharding.Mesh``, None (default: all devices, when there are several) or
            False.  Each device runs its share of the keys; the runs equal the single-device
            ones.  Below JAX 0.10 the ensemble runs on one device (``SHARDED_RUNS_TESTED``).

    Returns:
        A pytree like ``theta0`` whose leaves have two new leading axes: (R, rows).

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if any run overflows.

    Example:
        >>> keys = jax.random.split(jax.random.key(0), 10_000)
        >>> runs = eomlib.sgd.sgd_ensemble(loss, theta0, 0.1, data, 8, 5, keys)
    """
    theta0, shape = _check_common(loss, theta0, lr, data, batch_size, scheme, save)
    num_epochs = check_num_steps(num_epochs, "num_epochs")
    keys = _check_keys(keys)
    mesh = ensemble_mesh(mesh)
    count = keys.shape[0]
    if mesh is not None:  # an equal share of the runs per device: repeat the last key
        (keys,) = pad_batch((keys,), mesh.size)
        theta0, data, keys = replicate((theta0, data, keys), mesh)
    xs, status = _ensemble(loss, theta0, lr, data, keys, shape.batch_size, num_epochs, scheme,
                           save == "step", mesh)
    if xs.shape[0] != count:  # padded: drop the repeats (else the runs stay sharded by key)
        xs, status = xs[:count], status[:count]
    worst_status = jnp.max(status)
    xs = check_status(xs, worst_status, f"an SGD ensemble run ({scheme})", lambda th: loss(th, data),
                      theta0, lr)
    return jax.vmap(partial(_unravel_rows, theta0))(xs)


#: Whether this JAX spreads an SGD ensemble over devices.  On JAX 0.6.2 (the tested floor)
#: the runs came out wrong under shard_map: every device repeated the first device's runs
#: (tests/sharding_scripts/forced_devices.py); on the pin, 0.10.2, they equal the single-device
#: runs.  Releases in between are untested, so the ensemble stays on one device below 0.10.
SHARDED_RUNS_TESTED = tuple(int(p) for p in jax.__version__.split(".")[:2]) >= (0, 10)


def ensemble_mesh(mesh):
    """The mesh an SGD or SME ensemble spreads its runs over (:func:`check_mesh`; None below
    JAX 0.10, see ``SHARDED_RUNS_TESTED``)."""
    mesh = check_mesh(mesh)
    return mesh if SHARDED_RUNS_TESTED else None


@partial(jax.jit, static_argnames=("loss", "batch_size", "num_epochs", "scheme", "every_step",
                                   "mesh"))
def _ensemble(loss, theta0, lr, data, keys, batch_size, num_epochs, scheme, every_step, mesh):
    """The runs of :func:`sgd_ensemble`, one per key, ``vmap``-ped on each device of ``mesh``."""
    def one(theta0, lr, data, key):
        return sgd_flat(loss, theta0, lr, data, key, batch_size, num_epochs, scheme, every_step)

    return mesh_members(one, "vmap", mesh, num_shared=3)(theta0, lr, data, keys)


def _check_keys(keys):
    arr = keys
    if not hasattr(arr, "shape") or len(arr.shape) < 1 or arr.shape[0] < 1:
        raise ValueError("keys must be an array of R >= 1 PRNG keys, e.g. "
                         "jax.random.split(jax.random.key(0), R).")
    return keys


# --- the modified flows of SGD ------------------------------------------------------------


def _batch_grads(loss, unravel, data, shape: DataShape):
    """x ↦ the m batch gradients (fixed order 0:B, B:2B, …), shape (m, d)."""
    idxs = jnp.arange(shape.batches_per_epoch * shape.batch_size).reshape(
        shape.batches_per_epoch, shape.batch_size)

    def grads(x):
        return jax.vmap(lambda idx: jax.grad(lambda z: loss(unravel(z), take(data, idx)))(x))(idxs)

    return grads, idxs


def _per_example_grads(loss, unravel, data, n: int):
    """x ↦ the N per-example gradients, shape (N, d)."""
    def grads(x):
        return jax.vmap(lambda i: jax.grad(lambda z: loss(unravel(z), take(data, i[None])))(x))(
            jnp.arange(n))
    return grads


def flat_sgd_field(loss, unravel, data, shape: DataShape, order: int, scheme: str):
    """The flat modified field x, η ↦ dx/dt of one epoch of SGD (see the module docstring):
    ``"cyclic"`` the fixed batch order, ``"reshuffle"`` its mean over random partitions."""
    grads, idxs = _batch_grads(loss, unravel, data, shape)
    n, b, m = shape

    def hvp(loss_of, x, v):
        return jax.jvp(jax.grad(loss_of), (x,), (v,))[1]

    def field(x, lr):
        if order == 0:
            return -jax.grad(lambda z: loss(unravel(z), data))(x)
        if scheme == "reshuffle":
            # −∇[f + η/4 ‖g‖² + η/4 · c · Γ],  Γ = (1/N)Σ‖g_i − g‖² = (1/N)Σ‖g_i‖² − ‖g‖²
            c = noise_factor("reshuffle", n, b)
            gi = _per_example_grads(loss, unravel, data, n)(x)
            g = jnp.mean(gi, axis=0)
            hg = hvp(lambda z: loss(unravel(z), data), x, g)
            higi = jax.vmap(lambda i, v: hvp(lambda z: loss(unravel(z), take(data, i[None])), x, v))(
                jnp.arange(n), gi)
            return -g - lr * (0.5 * hg + 0.5 * c * (jnp.mean(higi, axis=0) - hg))
        gk = grads(x)
        g = jnp.mean(gk, axis=0)
        prefix = jnp.cumsum(gk, axis=0) - gk  # Σ_{j<k} ĝ_j
        hk = jax.vmap(lambda idx, v: hvp(lambda z: loss(unravel(z), take(data, idx)), x, v))(idxs, prefix)
        hg = hvp(lambda z: loss(unravel(z), data), x, g)
        xi = 0.5 * m * hg - jnp.sum(hk, axis=0) / m
        return -g - lr * xi

    return field


def _check_flow_scheme(scheme):
    if scheme not in ("cyclic", "reshuffle"):
        raise ValueError(f"scheme must be 'cyclic' or 'reshuffle' for a modified flow, got {scheme!r} "
                         "(sampling with replacement is modelled by the SME: sme_ensemble).")
    return scheme


def _check_order(order, allowed=(0, 1), what="order"):
    if isinstance(order, (bool, np.bool_)) or order not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, got {order!r}.")
    return int(order)


def sgd_modified_field(loss: Callable, data, batch_size: int, *, scheme: str = "cyclic"):
    r"""The order-1 modified field of one epoch of SGD: a function ``(θ, η) ↦ dθ/dt``.

    One epoch of SGD with the fixed batch order ``0:B, B:2B, …`` (m = N/B steps of time η
    each) is matched, to second order in η, by the flow

    .. math:: \dot\theta = -g - \eta\,\Big(\frac m2 H g - \frac1m\sum_{k=1}^m \hat H_k
              \sum_{j<k}\hat g_j\Big)

    (g, H: the full loss's gradient and Hessian; ĝ_k, Ĥ_k: batch k's), derived by the same
    Taylor matching as the EoM (m = 1 gives the EoM's ½Hg).  For one partition into batches,
    the mean over the orders of its batches is
    :math:`-\nabla(f + \frac{\eta}{4m}\sum_k\|\hat g_k\|^2) = -\nabla(f + \frac\eta4\|g\|^2
    + \frac\eta{4m}\sum_k\|\hat g_k - g\|^2)`; with ``scheme="reshuffle"`` (a random
    partition each epoch, as :func:`eomlib.sgd.sgd_trajectory` draws it) the mean over
    partitions and orders replaces the batch variance by its expectation,

    .. math:: \dot\theta = -\nabla\Big(f + \frac\eta4\|g\|^2
              + \frac\eta4\,\frac{N-B}{(N-1)B}\,\Gamma\Big), \qquad
              \Gamma = \frac1N\sum_i\|g_i - g\|^2,

    the modified loss of Smith, Dherin, Barrett & De (2021) (g_i: the per-example
    gradients).  Hessians appear only in products (``jax.jvp`` of the gradient).

    Args:
        loss: ``loss(θ, batch)`` → scalar, the mean of a per-example loss over the batch.
        data: the dataset (pytree of arrays with a common leading axis of N examples).
        batch_size: B, an integer in [1, N] that divides N.
        scheme: keyword only; ``"cyclic"`` (default: the fixed order ``0:B, B:2B, …``) or
            ``"reshuffle"`` (the mean over random partitions and orders).

    Returns:
        A function ``field(theta, lr)`` → a pytree like ``theta``.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.

    Example:
        >>> field = eomlib.sgd.sgd_modified_field(loss, data, 8, scheme="reshuffle")
        >>> field(theta, 0.1)
    """
    check_callable(loss)
    scheme = _check_flow_scheme(scheme)
    shape = check_data(data, batch_size, scheme)

    def field(theta, lr):
        check_lr(lr)
        x, unravel = ravel_pytree(theta)
        return unravel(flat_sgd_field(loss, unravel, data, shape, 1, scheme)(x, lr))

    return field


def sgd_modified_loss(loss: Callable, data, batch_size: int):
    r"""SGD's modified loss for random reshuffling (Smith, Dherin, Barrett & De, 2021):
    a function ``(θ, η) ↦``

    .. math:: \tilde f(\theta) = f + \frac\eta4\|\nabla f\|^2
              + \frac\eta4\,\frac{N-B}{(N-1)B}\,\Gamma, \qquad
              \Gamma = \frac1N\sum_{i=1}^N\|\nabla\ell_i - \nabla f\|^2 .

    The last term is the expected batch-gradient variance of a random partition,
    :math:`\mathbb E\,\frac1m\sum_k\|\nabla\hat f_k - \nabla f\|^2`: SGD with a larger
    η or smaller batches regularises the variance of its batch gradients.  Its gradient flow
    is :func:`eomlib.sgd.sgd_flow_trajectory` with ``scheme="reshuffle"``.

    Args:
        loss: ``loss(θ, batch)`` → scalar, the mean of a per-example loss ℓ_i over the batch.
        data: the dataset (pytree of arrays with a common leading axis of N examples).
        batch_size: B, an integer in [1, N] that divides N.

    Returns:
        A function ``modified(theta, lr)`` → scalar.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.

    Example:
        >>> f_sgd = eomlib.sgd.sgd_modified_loss(loss, data, 8)
        >>> f_sgd(theta, 0.1) - loss(theta, data)  # the implicit regulariser
    """
    check_callable(loss)
    n, b, _ = check_data(data, batch_size, "reshuffle")
    c = noise_factor("reshuffle", n, b)

    def modified(theta, lr):
        check_lr(lr)
        x, unravel = ravel_pytree(theta)
        gi = _per_example_grads(loss, unravel, data, n)(x)
        g = jnp.mean(gi, axis=0)
        gamma = jnp.mean(jnp.sum((gi - g) ** 2, axis=1))
        return loss(theta, data) + lr / 4 * (jnp.sum(g**2) + c * gamma)

    return modified


@partial(jax.jit, static_argnames=("loss", "shape", "grid", "order", "scheme", "rtol", "atol",
                                   "max_steps"))
def sgd_flow_flat(loss, theta0, lr, data, shape, num_epochs, grid, order, scheme, rtol, atol,
                  max_steps):
    """The flow saved at the ends of epochs 0…grid (rows after the traced ``num_epochs``
    repeat its last): one compilation serves every epoch count up to ``grid``."""
    x0, unravel = ravel_pytree(theta0)
    field = flat_sgd_field(loss, unravel, data, shape, order, scheme)
    m = shape.batches_per_epoch
    dtype = x0.dtype
    # τ = t/η: one SGD step is one unit; saved at the ends of the epochs, τ = m·e
    ts = (m * jnp.minimum(jnp.arange(grid + 1), num_epochs)).astype(dtype)
    t1 = (m * jnp.maximum(num_epochs, 1)).astype(dtype)
    xs, status, _ = solve_saved(lambda x, eta: eta * field(x, eta), x0, lr, ts, t1, rtol, atol,
                                max_steps)
    values = jax.vmap(lambda x: loss(unravel(x), data))(xs)
    d, b = loss_flags(values)
    return xs, jnp.maximum(status, run_status(xs, jnp.all(d), jnp.all(b)))


def sgd_flow_trajectory(loss: Callable, theta0, lr, data, batch_size: int, num_epochs: int, *,
                        order: int = 1, scheme: str = "cyclic", solver=None):
    r"""The flow that models SGD epoch by epoch, saved at the ends of the epochs t = e·mη.

    ``order=0`` is gradient flow on the full loss; ``order=1`` the modified field of
    :func:`eomlib.sgd.sgd_modified_field` (``scheme="cyclic"``: SGD with the fixed batch
    order; ``scheme="reshuffle"``: the mean over random partitions and orders, gradient flow
    on :func:`eomlib.sgd.sgd_modified_loss`).  Over a fixed time, the per-epoch distance to SGD's
    epoch iterates (cyclic) or to their mean over reshuffles is O(η) for gradient flow and
    O(η²) for the order-1 flow.  Solved with diffrax in τ = t/η (:class:`eomlib.Solver`); the
    number of epochs is traced (padded to a power of two), so a learning-rate sweep at a fixed
    time compiles once.

    Args:
        loss: ``loss(θ, batch)`` → scalar, the mean of a per-example loss over the batch.
        theta0: the start θ_0 (pytree of finite float arrays).
        lr: the learning rate η, a finite scalar > 0.
        data: the dataset (pytree of arrays with a common leading axis of N examples).
        batch_size: B, an integer in [1, N] that divides N.
        num_epochs: the number of epochs, an integer ≥ 0.
        order: keyword only; 0 (gradient flow) or 1 (default).
        scheme: keyword only; ``"cyclic"`` (default) or ``"reshuffle"``: which SGD the flow
            models.
        solver: keyword only; an :class:`eomlib.Solver` (default tolerances if None).

    Returns:
        A pytree like ``theta0`` whose leaves have a new leading axis of num_epochs + 1.

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if the solution or the loss along it overflows.

    Example:
        >>> flow = eomlib.sgd.sgd_flow_trajectory(loss, theta0, 0.1, data, 8, 20, scheme="reshuffle")
    """
    scheme = _check_flow_scheme(scheme)
    theta0, shape = _check_common(loss, theta0, lr, data, batch_size, scheme, "epoch")
    num_epochs = check_num_steps(num_epochs, "num_epochs")
    order = _check_order(order)
    s = solver_settings(solver)
    grid = grid_size(num_epochs)
    max_steps = s.max_steps or 4096 + 256 * grid * shape.batches_per_epoch
    xs, status = sgd_flow_flat(loss, theta0, lr, data, shape, num_epochs, grid, order, scheme,
                               s.rtol, s.atol, max_steps)
    name = "gradient flow" if order == 0 else "SGD's modified flow"
    xs = check_status(xs, status, name, lambda th: loss(th, data), theta0, lr, max_steps)
    return _unravel_rows(theta0, take_leading(xs, num_epochs + 1))


# --- the stochastic modified equations ----------------------------------------------------


def noise_factor(scheme: str, n: int, b: int) -> float:
    """Cov(one batch gradient) = factor · (1/N)Σ(g_i − g)(g_i − g)ᵀ: 1/B with replacement,
    (N − B)/((N − 1)B) for a batch of distinct examples (reshuffling)."""
    return 1.0 / b if scheme == "replacement" else (n - b) / ((n - 1) * b) if n > 1 else 0.0


def diffusion_mv(loss, unravel, data, n: int, factor: float, lr=1.0) -> Callable:
    r"""``(x, w) ↦ η A(x) w`` with A Aᵀ = Σ(x), matrix-free from ℝᴺ to ℝᵈ:
    :math:`A w = \sqrt{c/N}\sum_i (w_i - \bar w)\,\nabla\ell_i(x)` (one backward pass)."""
    scale = math.sqrt(factor / n)

    def mv(x, w):
        per_example = lambda z: jax.vmap(lambda i: loss(unravel(z), take(data, i[None])))(jnp.arange(n))  # noqa: E731
        c = lr * scale * (w - jnp.mean(w))
        return jax.grad(lambda z: jnp.dot(c, per_example(z)))(x)

    return mv


class DiffusionTerm(diffrax.AbstractTerm):
    r"""The SME's noise :math:`\eta A(\Theta)\,dW_\tau` as a diffrax term whose product with
    the Brownian increment is :func:`diffusion_mv` (no d×N matrix is formed).  Unlike a
    ``ControlTerm`` over a ``lineax`` operator, it traces inside ``shard_map``."""

    mv: Callable = eqx.field(static=True)  # (x, w) ↦ η A(x) w
    path: diffrax.AbstractPath

    def vf(self, t, y, args):
        return y  # the state: the product needs A at y, applied by ``prod``

    def contr(self, t0, t1, **kwargs):
        return self.path.evaluate(t0, t1, **kwargs)

    def prod(self, vf, control):
        return self.mv(vf, control)


@partial(jax.jit, static_argnames=("loss", "n", "factor", "num_steps", "order", "substeps",
                                   "save_every"))
def sme_flat(loss, theta0, lr, data, key, n, factor, num_steps, order, substeps, save_every):
    x0, unravel = ravel_pytree(theta0)
    full = lambda z: loss(unravel(z), data)  # noqa: E731
    grad = jax.grad(full)

    def drift(x):
        g = grad(x)
        if order == 1:
            return -g
        hg = jax.jvp(grad, (x,), (g,))[1]
        return -g - 0.5 * lr * hg  # −∇(f + η/4 ‖∇f‖²)

    # τ = t/η: dΘ = η b dτ + η A dW_τ  (W_t = √η W_τ, so (ηΣ)^{1/2} dW_t = η A dW_τ)
    drift_term = diffrax.ODETerm(lambda t, x, a: lr * drift(x))
    brownian = diffrax.UnsafeBrownianPath(shape=(n,), key=key)
    noise = DiffusionTerm(diffusion_mv(loss, unravel, data, n, factor, lr), brownian)
    ts = jnp.arange(0, num_steps + 1, save_every).astype(x0.dtype)
    sol = diffrax.diffeqsolve(
        diffrax.MultiTerm(drift_term, noise), diffrax.Euler(), t0=0.0, t1=float(num_steps),
        dt0=1.0 / substeps, y0=x0, saveat=diffrax.SaveAt(ts=ts),
        max_steps=num_steps * substeps + 16, throw=False,
        adjoint=diffrax.ForwardMode())  # an UnsafeBrownianPath cannot be checkpointed
    values = jax.vmap(full)(sol.ys)
    d, b = loss_flags(values)
    return sol.ys, run_status(sol.ys, jnp.all(d), jnp.all(b))


def sme_ensemble(loss: Callable, theta0, lr, data, batch_size: int, num_steps: int, keys, *,
                 order: int = 1, scheme: str = "replacement", substeps: int = 8,
                 save_every: int = 1, mesh=None):
    r"""Paths of the stochastic modified equation of SGD, one per PRNG key (``jax.vmap``).

    .. math:: d\Theta = b(\Theta)\,dt + \big(\eta\,\Sigma(\Theta)\big)^{1/2} dW_t,
              \qquad b = -\nabla f \ \ (\text{order } 1), \quad
              b = -\nabla\big(f + \tfrac\eta4\|\nabla f\|^2\big) \ \ (\text{order } 2),

    (Li, Tai & E, 2017/2019), saved at the SGD times t_k = kη (every ``save_every`` steps).
    Σ(θ) is the covariance of one batch gradient, ``factor`` · (1/N)Σ_i(g_i − g)(g_i − g)ᵀ
    with factor 1/B (``scheme="replacement"``, the SME's setting) or (N − B)/((N − 1)B)
    (a batch of distinct examples); its square root is applied matrix-free, as
    :math:`A w = \sqrt{c/N}\sum_i (w_i - \bar w)\nabla\ell_i` with an N-dimensional Brownian
    motion (one backward pass per step, no d×d matrix, no stored per-example gradients).
    Solved with diffrax's Euler–Maruyama method (Itô; weak order 1 in its step) in
    τ = t/η with ``substeps`` steps per SGD step: its own weak error is O(η/substeps).

    Args:
        loss: ``loss(θ, batch)`` → scalar, the mean of a per-example loss ℓ_i over the batch.
        theta0: the start θ_0 (pytree of finite float arrays), shared by all paths.
        lr: the learning rate η, a finite scalar > 0.
        data: the dataset (pytree of arrays with a common leading axis of N examples).
        batch_size: B, an integer in [1, N].
        num_steps: n, the SGD steps modelled (time nη), an integer ≥ 1.
        keys: R ≥ 1 PRNG keys, one per path.
        order: keyword only; 1 (default) or 2.
        scheme: keyword only; ``"replacement"`` (default) or ``"reshuffle"`` (sets the
            covariance's factor).
        substeps: keyword only; Euler–Maruyama steps per SGD step, an integer ≥ 1 (default 8).
        save_every: keyword only; save every this many SGD steps, an integer ≥ 1 dividing n.
        mesh: keyword only; the devices to spread the paths over (:mod:`eomlib.sharding`), as
            for :func:`eomlib.sgd.sgd_ensemble`: a ``jax.sharding.Mesh``, None (default: all
            devices, when there are several) or False.  The paths equal the single-device
            ones.  Below JAX 0.10 the ensemble runs on one device (``SHARDED_RUNS_TESTED``).

    Returns:
        A pytree like ``theta0`` whose leaves have two new leading axes (R, n/save_every + 1).

    Raises:
        ValueError: on invalid arguments, naming the argument and its valid range.
        eomlib.DivergenceError: if any path overflows.

    Example:
        >>> keys = jax.random.split(jax.random.key(1), 1000)
        >>> paths = eomlib.sgd.sme_ensemble(loss, theta0, 0.1, data, 8, 40, keys, order=2)
    """
    if scheme not in ("replacement", "reshuffle"):
        raise ValueError(f"scheme must be 'replacement' or 'reshuffle' for the SME, got {scheme!r}.")
    theta0, shape = _check_common(loss, theta0, lr, data, batch_size, "replacement", "step")
    order = _check_order(order, (1, 2))
    for name, value in (("num_steps", num_steps), ("substeps", substeps), ("save_every", save_every)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    if num_steps % save_every:
        raise ValueError(f"save_every = {save_every} must divide num_steps = {num_steps}.")
    keys = _check_keys(keys)
    factor = noise_factor(scheme, shape.num_examples, shape.batch_size)
    mesh = ensemble_mesh(mesh)
    count = keys.shape[0]
    if mesh is not None:  # an equal share of the paths per device: repeat the last key
        (keys,) = pad_batch((keys,), mesh.size)
        theta0, data, keys = replicate((theta0, data, keys), mesh)
    xs, status = _sme_ensemble(loss, theta0, lr, data, keys, shape.num_examples, factor,
                               int(num_steps), order, int(substeps), int(save_every), mesh)
    if xs.shape[0] != count:  # padded: drop the repeats (else the paths stay sharded by key)
        xs, status = xs[:count], status[:count]
    xs = check_status(xs, jnp.max(status), f"an order-{order} SME path", lambda th: loss(th, data),
                      theta0, lr)
    return jax.vmap(partial(_unravel_rows, theta0))(xs)


@partial(jax.jit, static_argnames=("loss", "n", "factor", "num_steps", "order", "substeps",
                                   "save_every", "mesh"))
def _sme_ensemble(loss, theta0, lr, data, keys, n, factor, num_steps, order, substeps, save_every,
                  mesh):
    """The paths of :func:`sme_ensemble`, one per key, ``vmap``-ped on each device of ``mesh``."""
    def one(theta0, lr, data, key):
        return sme_flat(loss, theta0, lr, data, key, n, factor, num_steps, order, substeps,
                        save_every)

    return mesh_members(one, "vmap", mesh, num_shared=3)(theta0, lr, data, keys)


def monte_carlo_mean(samples, *, max_stderr: float | None = None, name: str = "samples"):
    """The mean of an ensemble over its first axis, and the standard error of that mean.

    Args:
        samples: an array whose first axis indexes R ≥ 2 independent samples.
        max_stderr: keyword only; the widest standard error accepted (any entry), or None.
        name: keyword only; how error messages name the samples.

    Returns:
        ``(mean, stderr)``, arrays of the shape of one sample; stderr = std (ddof 1) / √R.

    Raises:
        ValueError: with fewer than 2 samples, or when the standard error exceeds
            ``max_stderr`` (the message says about how many samples would be needed).

    Example:
        >>> mean, err = eomlib.sgd.monte_carlo_mean(runs["w"][:, -1], max_stderr=1e-3)
    """
    samples = jnp.asarray(samples)
    r = samples.shape[0]
    if r < 2:
        raise ValueError(f"{name} needs at least 2 samples for an error bar, got {r}.")
    mean = jnp.mean(samples, axis=0)
    stderr = jnp.std(samples, axis=0, ddof=1) / math.sqrt(r)
    if max_stderr is not None and is_concrete(stderr):
        worst = float(jnp.max(stderr))
        if worst > max_stderr:
            need = int(math.ceil(r * (worst / max_stderr) ** 2))
            raise ValueError(f"{r} samples give a standard error of {worst:.3g}, more than the "
                             f"requested {max_stderr:.3g}; about {need} samples are needed.")
    return mean, stderr
