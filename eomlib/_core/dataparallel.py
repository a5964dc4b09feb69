r"""Data-parallel losses: a full-batch loss :math:`f(\theta) = \ell(\theta, D)` whose dataset
:math:`D` is split over devices while θ is replicated, carried through eomlib's compiled
programs as an input rather than a constant.

``jax.jit`` embeds arrays a function closes over as constants of the compiled program, and a
constant is whole on every device: a loss that closes over a sharded dataset is computed on
gathered copies.  A :class:`DataParallelLoss` keeps ``fn`` and ``data`` apart; every compiled
program of eomlib that takes a loss (:func:`jit_with_loss`) receives ``fn`` as a static
argument and ``data`` as a traced one, so the dataset keeps its sharding and XLA's SPMD
partitioner turns the mean over examples into a per-device partial sum and an all-reduce:
gradients, Hessian–vector products, counter terms, EoM solves and errors are computed with
each device holding only its shard.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding

from .sharding import batch_spec, check_mesh


@jax.tree_util.register_pytree_node_class
class DataParallelLoss:
    r"""The full-batch loss :math:`f(\theta) = \mathrm{fn}(\theta, \mathrm{data})` with the
    dataset split over the devices of a mesh along its leading (example) axis; made by
    :func:`eomlib.sharding.data_parallel`.

    Callable like any loss, ``loss(θ)``; every eomlib function that takes ``loss(θ)`` accepts
    it and passes ``data`` to its compiled programs as an input, so the dataset stays
    sharded.  A pytree (leaves: the data), so it may also be passed through ``jax.jit`` as
    an argument.

    Attributes:
        fn: ``fn(θ, data)`` → scalar.
        data: the dataset, a pytree of arrays with a common leading axis of N examples
            (sharded over ``mesh`` along that axis, or on one device when ``mesh`` is None).
        mesh: the ``jax.sharding.Mesh`` the data is split over, or None.
    """

    def __init__(self, fn: Callable, data, mesh: Mesh | None = None):
        self.fn = fn
        self.data = data
        self.mesh = mesh

    def __call__(self, theta):
        return self.fn(theta, self.data)

    def __repr__(self) -> str:
        where = f"{self.mesh.size} devices" if self.mesh is not None else "one device"
        fn = getattr(self.fn, "__name__", type(self.fn).__name__)
        return f"DataParallelLoss({fn}, {num_examples(self.data)} examples on {where})"

    def tree_flatten(self):
        return (self.data,), (self.fn, self.mesh)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(aux[0], children[0], aux[1])


def num_examples(data) -> int:
    return int(np.shape(jax.tree_util.tree_leaves(data)[0])[0])


def check_dataset(data, size: int) -> int:
    """``data``: a non-empty pytree of arrays with a common leading axis of N ≥ 1 examples, N a
    multiple of ``size`` (the number of devices it is split over).  Returns N."""
    from .sgd import check_data  # here, not at the top: sgd imports validate, which imports us

    n = check_data(data, 1).num_examples
    if n % size:
        raise ValueError(
            f"data has N = {n} examples, not a multiple of the {size} devices it is split "
            f"over: each device must hold an equal share. Drop {n % size} examples, or pass a "
            f"mesh whose size divides N (mesh=False keeps the data on one device).")
    return n


def shard_dataset(data, mesh: Mesh | None):
    """``data`` split along its leading axis over every axis of ``mesh`` (every process passes
    the same full dataset; each device keeps its shard), or on the default device.  Arrays
    already split that way are kept as they are; other JAX arrays are moved device to device
    (``jax.device_put``), NumPy arrays copied row block by row block to their devices."""
    if mesh is None:
        return jax.tree_util.tree_map(jax.numpy.asarray, data)
    spec = batch_spec(mesh)

    def put(a):
        ndim = np.ndim(a)
        sharding = NamedSharding(mesh, jax.sharding.PartitionSpec(*spec, *([None] * (ndim - 1))))
        if isinstance(a, jax.Array):  # already on devices: keep it, or move it device to device
            return a if a.sharding.is_equivalent_to(sharding, ndim) else jax.device_put(a, sharding)
        host = np.asarray(a)  # each device takes its rows of the host copy
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree_util.tree_map(put, data)


def data_parallel(fn: Callable, data, mesh=None) -> DataParallelLoss:
    r"""A full-batch loss :math:`f(\theta) = \mathrm{fn}(\theta, D)` over a dataset D split
    across devices, parameters replicated (data parallelism).

    The dataset's leading axis (N examples) is split into equal shards over every axis of
    the mesh; eomlib's compiled programs take the data as an input, so each device keeps only
    its shard and XLA turns every sum over examples into a per-device partial sum followed
    by an all-reduce.  Everything that takes ``loss(θ)`` (counter terms, the EoM and its
    solves, GD, errors, sweeps, sharpness) accepts the result; the values equal those of
    the same loss on one device up to the order of the all-reduce's additions (round-off,
    about 1e-15 relative in float64).  ``fn`` should be a mean (or sum) over examples, so
    that each device's work is proportional to its shard.

    Functions that build a new loss from it by closing over it (e.g.
    :func:`eomlib.invariance.weight_decayed`) give a loss whose data ``jit`` gathers; a
    ``jax.jit`` of your own should take the loss as an argument (it is a pytree), not close
    over it.

    Args:
        fn: ``fn(θ, data)`` → a real scalar, the loss of θ on the whole dataset.
        data: the dataset, a pytree of arrays (NumPy or JAX) with a common leading axis of
            N ≥ 1 examples; N must be a multiple of the number of devices.  On several hosts
            (after ``jax.distributed.initialize``), every process passes the same dataset.
        mesh: the devices: None (the default: all devices when there are several,
            :func:`eomlib.sharding.default_mesh`), False (one device: no sharding) or a
            ``jax.sharding.Mesh`` (the data is split over all its axes).

    Returns:
        A :class:`~eomlib.sharding.DataParallelLoss`, callable as ``loss(θ)``.

    Raises:
        ValueError: if ``fn`` is not callable, ``data`` has no common leading axis, N is
            not a multiple of the number of devices, or ``mesh`` is not a valid choice.

    Example:
        >>> loss = eomlib.sharding.data_parallel(lambda th, d: jnp.mean((d["x"] @ th - d["y"]) ** 2),
        ...                                      {"x": X, "y": y})
        >>> sweep = eomlib.error_sweep(loss, theta0, lrs, order=1, num_steps=50)
    """
    if not callable(fn):
        raise ValueError(f"fn must be a callable fn(θ, data) -> scalar, got {type(fn).__name__}.")
    mesh = check_mesh(mesh)
    check_dataset(data, 1 if mesh is None else mesh.size)
    return DataParallelLoss(fn, shard_dataset(data, mesh), mesh)


def is_data_parallel(loss) -> bool:
    return isinstance(loss, DataParallelLoss)


def onto_mesh(tree, mesh: Mesh | None):
    """The concrete JAX arrays of ``tree`` that are not on ``mesh`` replicated onto it (a
    compiled program takes its inputs from one set of devices); everything else unchanged."""
    if mesh is None:
        return tree
    replicated = NamedSharding(mesh, jax.sharding.PartitionSpec())

    def put(a):
        if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer):
            current = a.sharding
            if not (isinstance(current, NamedSharding) and current.mesh == mesh):
                return jax.device_put(a, replicated)
        return a

    return jax.tree_util.tree_map(put, tree)


def jit_with_loss(static_argnames: tuple = ("loss",)) -> Callable:
    """Like ``partial(jax.jit, static_argnames=static_argnames)`` for a function whose first
    argument is ``loss``: a plain loss is static as before; a :class:`DataParallelLoss` enters
    the compiled program as its ``fn`` (static) and its ``data`` (traced, keeping its
    sharding), and the function sees a :class:`DataParallelLoss` over the traced data."""
    others = tuple(name for name in static_argnames if name != "loss")

    def decorate(f: Callable) -> Callable:
        signature = inspect.signature(f)
        if next(iter(signature.parameters)) != "loss":  # pragma: no cover - a wiring error
            raise TypeError(f"{f.__name__}: the first argument must be named loss")

        def inner(loss_fn, loss_data, loss_mesh, **kwargs):
            loss = loss_fn if loss_data is None else DataParallelLoss(loss_fn, loss_data, loss_mesh)
            return f(loss, **kwargs)

        compiled = jax.jit(inner, static_argnames=("loss_fn", "loss_mesh") + others)

        def split(args, kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            loss = arguments.pop("loss")
            if isinstance(loss, DataParallelLoss):
                return (loss.fn, loss.data, loss.mesh), onto_mesh(arguments, loss.mesh)
            return (loss, None, None), arguments

        @functools.wraps(f)
        def call(*args, **kwargs):
            head, arguments = split(args, kwargs)
            return compiled(*head, **arguments)

        def lower(*args, **kwargs):
            head, arguments = split(args, kwargs)
            return compiled.lower(*head, **arguments)

        call.lower = lower  # as jax.jit's: lower(...).compile().as_text() shows the program
        return call

    return decorate


def batch_mesh(mesh, loss) -> Mesh | None:
    """The mesh a sweep spreads its batch over (:func:`eomlib.sharding.check_mesh`), or None
    for a data-parallel loss: its dataset already spreads every member's work over its
    devices, and a batch split over the same devices would gather the data on each."""
    if not isinstance(loss, DataParallelLoss):
        return check_mesh(mesh)
    if mesh is None or mesh is False:
        return None
    raise ValueError(
        "mesh: the loss is data-parallel (eomlib.sharding.data_parallel), so every learning "
        "rate or point already runs on the devices its data is split over; pass mesh=None or "
        "mesh=False, or a plain loss to split the batch over devices instead.")
