r"""Spreading a batch of independent runs (learning rates, seeds, points) over devices, and
datasets over devices, with JAX's own SPMD machinery (``jax.sharding.Mesh``,
``NamedSharding``, ``shard_map``).

* **Batches.**  A sweep maps one computation over a batch of members.  With a mesh of m
  devices the batch is padded to a multiple of m (by repeating its last member), split into m
  equal shards along every axis of the mesh, and each device maps the computation over its own
  shard (``shard_map``; inside a shard the members run as they would on one device, by
  ``vmap`` or ``lax.map``).  The outputs come back sharded along the batch, padding removed.
  Every member is the same computation as on one device, so the results agree with the
  single-device ones to round-off (in practice bit for bit on CPUs).
* **Several hosts.**  After ``jax.distributed.initialize(...)`` on every process, ``jax.devices()``
  lists the devices of all processes and the default mesh spans them all; every process runs
  the same program (SPMD) and gets the same, fully replicated, results.

The default mesh (``mesh=None``) is a one-axis mesh over all devices (``jax.devices()``) when
there are several, else no mesh (one device, no sharding); ``mesh=False`` turns sharding off.
"""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .batching import map_members

BATCH_AXIS = "batch"


def default_mesh() -> Mesh | None:
    """The mesh eomlib uses when ``mesh=None``: one axis, ``"batch"``, over all devices
    (``jax.devices()``: every process's, after ``jax.distributed.initialize``) when there are
    several; None on a single device.

    Returns:
        A ``jax.sharding.Mesh`` or None.

    Example:
        >>> eomlib.sharding.default_mesh()  # Mesh('batch': 4) on a node with 4 GPUs
    """
    devices = jax.devices()
    if len(devices) < 2:
        return None
    return Mesh(np.array(devices), (BATCH_AXIS,))


def check_mesh(mesh) -> Mesh | None:
    """The mesh a ``mesh=`` argument asks for.

    Args:
        mesh: None (:func:`default_mesh`), False (no sharding) or a ``jax.sharding.Mesh``.

    Returns:
        The mesh to use, or None for one device (a one-device mesh counts as None).

    Raises:
        ValueError: for anything else, naming the three valid kinds.
    """
    if mesh is None:
        return default_mesh()
    if mesh is False:
        return None
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh must be None (all devices), False (no sharding) or a "
                         f"jax.sharding.Mesh, got {type(mesh).__name__}.")
    return mesh if mesh.size > 1 else None


def batch_spec(mesh: Mesh) -> PartitionSpec:
    """The batch (leading) axis split over every axis of the mesh."""
    return PartitionSpec(tuple(mesh.axis_names))


def pad_batch(arrays: tuple, size: int) -> tuple:
    """Pad the leading axis of each array to a multiple of ``size`` by repeating its last row
    (NumPy arrays stay NumPy; JAX arrays, PRNG keys and tracers inside ``jit`` work too)."""
    out = []
    for a in arrays:
        pad = -len(a) % size
        xp = np if isinstance(a, np.ndarray) else jax.numpy
        out.append(xp.concatenate([a, xp.repeat(a[-1:], pad, axis=0)]) if pad else a)
    return tuple(out)


def shard_map_compat(fn: Callable, mesh: Mesh, in_specs, out_specs) -> Callable:
    """``jax.shard_map`` (JAX ≥ 0.7) or ``jax.experimental.shard_map.shard_map`` (older), with
    the replication check off (the members' while loops carry no cross-device state)."""
    if hasattr(jax, "shard_map"):
        return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                             check_vma=False)
    from jax.experimental.shard_map import shard_map  # pragma: no cover - JAX < 0.7

    return shard_map(fn, mesh, in_specs, out_specs, check_rep=False)  # pragma: no cover


def mesh_members(fn: Callable, batching: str, mesh: Mesh | None, num_shared: int = 0) -> Callable:
    """``fn`` mapped over the leading axis of its arguments (inside ``jit``), each device of
    ``mesh`` mapping its own shard; without a mesh, :func:`eomlib._core.batching.map_members`.
    The first ``num_shared`` arguments are not mapped: every member gets them whole (on a
    mesh they are replicated, passed explicitly rather than closed over, so that arrays
    placed on the mesh enter the per-device program as its inputs).  The mapped arguments'
    leading axis must be a multiple of ``mesh.size`` (:func:`pad_batch`)."""
    def mapped(*args):
        shared, batched = args[:num_shared], args[num_shared:]
        return map_members(lambda *b: fn(*shared, *b), batching)(*batched)

    if mesh is None:
        return mapped
    spec = batch_spec(mesh)

    def sharded(*args):
        specs = (PartitionSpec(),) * num_shared + (spec,) * (len(args) - num_shared)
        return shard_map_compat(mapped, mesh, in_specs=specs, out_specs=spec)(*args)

    return sharded


def replicate(tree, mesh: Mesh | None):
    """``tree`` (arrays that every device needs whole: parameters, trajectories) copied to every
    device of ``mesh``; unchanged without a mesh.  Arrays already committed to one device
    would otherwise clash with a program that runs on the whole mesh; arrays already sharded
    on this mesh are left as they are."""
    if mesh is None:
        return tree
    sharding = NamedSharding(mesh, PartitionSpec())

    def put(a):
        current = getattr(a, "sharding", None)
        if isinstance(current, NamedSharding) and current.mesh == mesh:
            return a
        return jax.device_put(a, sharding)

    return jax.tree_util.tree_map(put, tree)


def to_host(tree):
    """NumPy copies of the arrays of ``tree``; an array spread over several processes'
    devices (after ``jax.distributed.initialize``) is first gathered to every process.

    Args:
        tree: a pytree of arrays (JAX or NumPy), e.g. the output of
            :func:`eomlib.gd_trajectory` for a loss whose data spans several hosts.

    Returns:
        The same pytree with NumPy arrays (on a multi-process mesh: every process gets the
        whole array; replicated arrays are returned as they are).

    Example:
        >>> traj = eomlib.sharding.to_host(eomlib.gd_trajectory(loss, theta0, 0.1, 50))
    """
    def get(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(a, tiled=True))
        return np.asarray(a)

    return jax.tree_util.tree_map(get, tree)
