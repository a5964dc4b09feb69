"""Run under XLA_FLAGS=--xla_force_host_platform_device_count=4 (tests/test_sharding.py runs it
in a subprocess): sweeps, sharpness, SGD and SME ensembles on 4 CPU devices
against the same calls on one device.  Prints one line per check; exits non-zero on failure."""

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import eomlib  # noqa: E402
from eomlib import sgd, sharding  # noqa: E402
from eomlib._core import sgd as sgd_core  # noqa: E402

assert len(jax.devices()) == 4, jax.devices()
TOL = 1e-12


def leaves_close(a, b, tol=TOL):
    return max(float(np.abs(np.asarray(x) - np.asarray(y)).max())
               for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))) <= tol


def loss(th):
    return jnp.sum(jnp.cos(th["a"]) ** 2) + 0.5 * jnp.sum(th["b"] ** 2 * th["a"][:2] ** 2)


theta0 = {"a": jnp.array([0.3, -0.7, 1.1]), "b": jnp.array([0.5, 0.2])}
lrs = np.linspace(0.05, 0.3, 7)  # 7: not a multiple of 4, padded
mesh = sharding.default_mesh()
assert mesh is not None and mesh.size == 4

# 1. error_sweep, orders 0 and 1, both batchings: the default mesh against mesh=False
for order in (0, 1):
    for batching in ("map", "vmap"):
        one = eomlib.error_sweep(loss, theta0, lrs, order, num_steps=20, batching=batching, mesh=False)
        four = eomlib.error_sweep(loss, theta0, lrs, order, num_steps=20, batching=batching)
        gap = np.abs(one.errors - four.errors).max()
        assert gap <= TOL, (order, batching, gap)
        print(f"error_sweep order {order} {batching}: max difference {gap:.1e}")

# 1b. prediction_sweep: 3 learning rates (padded to 4), one after another on each device
#     (batching "map"; with "vmap" the narrower per-device batch vectorises differently and
#     the adaptive solves agree to their tolerance only: eomlib.prediction_sweep's docstring)
for batching, tol in (("map", TOL), ("vmap", 100 * eomlib.Solver().rtol)):
    one = eomlib.prediction_sweep(loss, theta0, lrs[:3], 1, num_steps=15, batching=batching,
                                  mesh=False)
    four = eomlib.prediction_sweep(loss, theta0, lrs[:3], 1, num_steps=15, batching=batching)
    gap = max(np.abs(a - b).max() for rows in ("gd_loss", "measured", "predicted")
              for a, b in zip(getattr(one, rows), getattr(four, rows)))
    assert gap <= tol, (batching, gap)
    print(f"prediction_sweep {batching}: max difference {gap:.1e}")

# 2. sharpness along a trajectory: 24 points (sharded output) and 22 (padded)
traj = eomlib.gd_trajectory(loss, theta0, 0.1, 23)
for every in (1, 2):
    one = eomlib.sharpness_along(loss, traj, every=every, mesh=False)
    four = eomlib.sharpness_along(loss, traj, every=every, mesh=mesh)
    assert leaves_close(one, four), every
    print(f"sharpness_along every={every}: {len(four)} points, sharding {four.sharding.spec}")
assert tuple(eomlib.sharpness_along(loss, traj).sharding.spec) in (("batch",), (("batch",),))

# 3. SGD ensembles: 12 runs (sharded by key) and 10 (padded)
rng = np.random.default_rng(0)
x = rng.normal(size=(16, 3))
reg = {"x": jnp.asarray(x), "y": jnp.asarray(x @ np.array([1.0, -2.0, 0.5]))}


def tanh_loss(th, b):
    return 0.5 * jnp.mean((jnp.tanh(b["x"] @ th["w"]) + th["c"] - b["y"]) ** 2)


th = {"w": jnp.array([0.3, -0.2, 0.1]), "c": jnp.array(0.0)}
for runs, make_key in ((12, jax.random.key), (10, jax.random.key), (12, jax.random.PRNGKey)):
    keys = jax.random.split(make_key(0), runs)
    one = sgd.sgd_ensemble(tanh_loss, th, 0.1, reg, 4, 5, keys, mesh=False)
    four = sgd.sgd_ensemble(tanh_loss, th, 0.1, reg, 4, 5, keys)
    assert leaves_close(one, four), runs
    spec = getattr(jax.tree_util.tree_leaves(four)[0].sharding, "spec", "one device")
    print(f"sgd_ensemble {runs} runs: equal, sharding {spec}")
    if runs == 12 and sgd_core.SHARDED_RUNS_TESTED:  # else on one device (eomlib/_core/sgd.py)
        assert tuple(spec) in (("batch",), (("batch",),)), spec

# 3b. SME ensembles (order 2, Euler–Maruyama): 12 paths (sharded by key) and 10 (padded)
for paths in (12, 10):
    keys = jax.random.split(jax.random.key(1), paths)
    one = sgd.sme_ensemble(tanh_loss, th, 0.1, reg, 4, 6, keys, order=2, mesh=False)
    four = sgd.sme_ensemble(tanh_loss, th, 0.1, reg, 4, 6, keys, order=2)
    assert leaves_close(one, four), paths
    spec = getattr(jax.tree_util.tree_leaves(four)[0].sharding, "spec", "one device")
    print(f"sme_ensemble {paths} paths: equal, sharding {spec}")
    if paths == 12 and sgd_core.SHARDED_RUNS_TESTED:
        assert tuple(spec) in (("batch",), (("batch",),)), spec

# 4. a loss over data closed over is not data-parallel: jit replicates closed-over arrays
#    (the documented limit of eomlib.sharding; this check fails when JAX starts to shard them)
n = 128
xd = jax.device_put(rng.normal(size=(n, 5)), jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch")))


def closed(w):
    return 0.5 * jnp.mean((jnp.tanh(xd @ w) - 1.0) ** 2)


hlo = jax.jit(jax.grad(closed)).lower(jnp.ones(5)).compile().as_text()
assert "all-reduce" not in hlo
print("a loss closing over sharded data: replicated (no all-reduce), as documented")
print("ALL OK")
