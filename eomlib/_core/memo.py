"""Results that depend only on a function and the shapes of its arguments, remembered.

A slider move calls eomlib's public functions with the same loss and the same parameter
shapes every time.  What those calls derive from the loss or a selector alone (the loss's
output shape, a group's 0/1 mask) is remembered here per function object, weakly: a cache
entry dies with its function, and a function that cannot be weakly referenced or hashed is
simply not cached.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np


def signature(tree, leading: int = 0) -> tuple:
    """The pytree structure of ``tree`` and its leaves' shapes (without the first ``leading``
    axes) and dtypes: what a traced function sees of its argument, values aside."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((np.shape(leaf)[leading:], jnp.result_type(leaf),
                           isinstance(leaf, (bool, int, float, complex))) for leaf in leaves)


class FunctionMemo:
    """A table ``(function, key) ↦ value`` that holds its functions weakly."""

    def __init__(self):
        self._table: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, fn: Callable, key) -> Any:
        """The value stored for ``(fn, key)``, or None."""
        try:
            return self._table.get(fn, {}).get(key)
        except TypeError:  # fn unhashable or not weakly referable, or key unhashable
            return None

    def put(self, fn: Callable, key, value) -> None:
        try:
            self._table.setdefault(fn, {})[key] = value
        except TypeError:
            pass

    def __len__(self) -> int:
        return sum(len(v) for v in self._table.values())
