"""Datasets as JAX arrays, with a fixed training subset for full-batch gradient descent.

Offline by default: a synthetic teacher–student regression and scikit-learn's bundled
8×8 digits (no download).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Dataset(NamedTuple):
    x: jax.Array  # (n, features)
    y: jax.Array  # (n, outputs) regression targets, or one-hot labels
    labels: jax.Array  # (n,) integer class labels (zeros for regression)


def digits(n_train: int = 256, seed: int = 0, dtype=None) -> Dataset:
    """A fixed random subset of scikit-learn's 8×8 digits (1797 images, 10 classes).

    Pixels are scaled to [0, 1] and centred per feature; ``y`` is one-hot.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    if not 1 <= n_train <= len(bunch.target):
        raise ValueError(f"n_train must be in [1, {len(bunch.target)}], got {n_train}.")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(bunch.target))[:n_train]
    x = bunch.data[idx] / 16.0
    x = x - x.mean(axis=0)
    labels = bunch.target[idx]
    dtype = dtype or jnp.result_type(float)
    return Dataset(jnp.asarray(x, dtype), jnp.asarray(np.eye(10)[labels], dtype), jnp.asarray(labels))


def teacher_student(key, n: int = 64, d_in: int = 4, d_hidden: int = 8, d_out: int = 1,
                    noise: float = 0.0, dtype=None) -> Dataset:
    """Regression data labelled by a random tanh teacher network (plus optional noise)."""
    from .models import init_mlp, mlp

    dtype = dtype or jnp.result_type(float)
    k_x, k_t, k_n = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (n, d_in), dtype)
    teacher = init_mlp(k_t, [d_in, d_hidden, d_out], dtype)
    y = mlp(teacher, x) + noise * jax.random.normal(k_n, (n, d_out), dtype)
    return Dataset(x, y, jnp.zeros((n,), jnp.int32))
