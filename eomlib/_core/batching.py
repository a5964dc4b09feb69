r"""Running one computation for many learning rates: ``vmap`` on accelerators, a sequential
``lax.map`` spread over the cores on CPUs.

A learning-rate sweep is one jitted program that maps a per-η computation over a batch of
learning rates (and step counts).  How the batch is mapped matters for speed:

* ``"vmap"``: every member advances together.  On a GPU this is what makes a sweep cheap
  (the members fill the device).  Adaptive ODE solves then run in lockstep: the batch takes as
  many solver steps as its slowest member, and the finished members ride along.
* ``"map"`` (:func:`jax.lax.map`): the members run one after another inside the program,
  each with only its own solver steps.  On a CPU the arithmetic of a batch costs the same as
  that of its members (there is no idle width to fill), so this avoids the lockstep waste.
  :func:`run_split` then runs interleaved chunks of the batch concurrently, one per core
  (the same compiled program for every chunk; XLA releases the GIL while it runs).

``"auto"`` picks ``"vmap"`` unless the default backend is the CPU.  The results do not depend
on the choice beyond round-off: each member's solve is the same computation.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import jax
import numpy as np

BATCHINGS = ("auto", "vmap", "map")


def check_batching(batching: str) -> str:
    """``batching`` must be one of :data:`BATCHINGS`; returns ``"vmap"`` or ``"map"``."""
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {BATCHINGS}, got {batching!r}.")
    if batching == "auto":
        return "map" if jax.default_backend() == "cpu" else "vmap"
    return batching


def map_members(fn: Callable, batching: str) -> Callable:
    """``fn`` mapped over the leading axis of each of its arguments (inside ``jit``)."""
    if batching == "vmap":
        return jax.vmap(fn)
    return lambda *args: jax.lax.map(lambda a: fn(*a), args)


def cpu_cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def check_workers(workers) -> int:
    """``workers`` must be None (every core: :func:`cpu_cores`) or an integer >= 1."""
    if workers is None:
        return cpu_cores()
    if isinstance(workers, (bool, np.bool_)) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be None (all cores) or an integer >= 1, got {workers!r}.")
    return int(workers)


def run_split(call: Callable, arrays: tuple, workers: int):
    """``call(*arrays)`` computed as ``workers`` interleaved chunks running concurrently.

    ``arrays`` share a leading axis of length m.  Chunk ``c`` holds members
    ``c, c + workers, …`` (members of similar cost, such as neighbouring learning rates, land
    on different cores); chunks are padded to one length by repeating their last member, so
    that one compiled program serves all.  The outputs (a pytree of arrays with leading axis
    m) are put back in the original order as numpy arrays.
    """
    m = len(arrays[0])
    workers = max(1, min(int(workers), m))
    if workers == 1:
        return jax.tree_util.tree_map(np.asarray, call(*arrays))
    size = -(-m // workers)
    index = [np.arange(c, m, workers) for c in range(workers)]
    padded = [np.concatenate([i, np.full(size - len(i), i[-1])]) for i in index]

    def one(idx):
        return jax.tree_util.tree_map(np.asarray, jax.block_until_ready(
            call(*(np.asarray(a)[idx] for a in arrays))))

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(one, padded))

    def assemble(*leaves):
        out = np.empty((m,) + leaves[0].shape[1:], leaves[0].dtype)
        for idx, leaf in zip(index, leaves):
            out[idx] = leaf[: len(idx)]
        return out

    return jax.tree_util.tree_map(assemble, *parts)
