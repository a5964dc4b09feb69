"""Scaling over devices (benchmarks/run.py --sections 9 runs this once per device count).

Run with XLA_FLAGS=--xla_force_host_platform_device_count=N (on a CPU) or on a GPU node as is:
times an order-1 error sweep of 16 learning rates on the book's digits network and an SGD
ensemble of 4096 runs, spread over all devices by eomlib's default mesh, and the order-1
discretization error of a data-parallel loss (1792 digits split over the devices), and prints
one JSON line.  With one device, the sweep is also timed on one core (workers=1)."""

import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import eomlib  # noqa: E402
from eomlib import data, models, sgd, sharding  # noqa: E402


def warm(fn, repeats=3):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


ds = data.digits(n_train=128, seed=0)
model = models.make_mlp([64, 16, 10], "tanh")
theta0 = model.init(jax.random.PRNGKey(0))
loss = models.make_loss(model, ds, "mse")
lrs = np.linspace(0.1, 0.8, 16)
out = {"devices": len(jax.devices()), "backend": jax.default_backend()}
sweep = lambda **kw: eomlib.error_sweep(loss, theta0, lrs, 1, num_steps=20, **kw).errors  # noqa: E731
out["error_sweep_s"] = warm(sweep)
if len(jax.devices()) == 1 and jax.default_backend() == "cpu":
    out["error_sweep_one_core_s"] = warm(lambda: sweep(workers=1))

train = {"x": ds.x, "labels": ds.labels}


def mlp_loss(th, b):
    return models.cross_entropy_loss(models.mlp, b["x"], b["labels"])(th)


keys = jax.random.split(jax.random.key(0), 4096)
th = models.init_mlp(jax.random.PRNGKey(0), [64, 16, 10])
out["sgd_ensemble_s"] = warm(lambda: jax.tree_util.tree_leaves(
    sgd.sgd_ensemble(mlp_loss, th, 0.1, train, 32, 1, keys))[0])

big = data.digits(n_train=1792, seed=0)  # 1792 = 4 · 448: an equal share on 1, 2 or 4 devices
dp = sharding.data_parallel(mlp_loss, {"x": big.x, "labels": big.labels})
out["data_parallel_error_s"] = warm(lambda: eomlib.discretization_error(dp, th, 0.1, 20, 1))
print(json.dumps(out))
