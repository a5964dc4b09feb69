"""One of two processes on localhost, each with 2 CPU devices, joined by
jax.distributed.initialize (tests/test_sharding.py starts both): an error sweep over the 4
devices of both processes equals the one-device sweep, and a data-parallel loss whose dataset
is split over those 4 devices gives the one-device GD run and error sweep.  Usage: multihost.py PORT PROCESS_ID"""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax  # noqa: E402

port, pid = int(sys.argv[1]), int(sys.argv[2])
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=pid)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import eomlib  # noqa: E402

assert jax.process_count() == 2 and len(jax.devices()) == 4 and len(jax.local_devices()) == 2


def loss(th):
    return jnp.sum(jnp.cos(th["a"]) ** 2) + 0.5 * jnp.sum(th["b"] ** 2 * th["a"][:2] ** 2)


theta0 = {"a": np.array([0.3, -0.7, 1.1]), "b": np.array([0.5, 0.2])}
lrs = np.linspace(0.05, 0.3, 7)
assert eomlib.sharding.default_mesh().size == 4
for batching in ("map", "vmap"):
    four = eomlib.error_sweep(loss, theta0, lrs, 1, num_steps=20, batching=batching)
    one = eomlib.error_sweep(loss, theta0, lrs, 1, num_steps=20, batching=batching, mesh=False)
    gap = float(np.abs(four.errors - one.errors).max())
    assert gap <= 1e-12, gap
    print(f"process {pid}: error_sweep over 2 hosts x 2 devices ({batching}) equals one device "
          f"(max difference {gap:.1e})", flush=True)

# a data-parallel loss: 32 examples, 8 per device, 16 per process
rng = np.random.default_rng(0)
data = {"x": rng.normal(size=(32, 3)), "y": rng.normal(size=32)}


def fn(th, d):
    return 0.5 * jnp.mean((jnp.tanh(d["x"] @ th["a"]) + th["b"][0] - d["y"]) ** 2)


dp = eomlib.sharding.data_parallel(fn, data)
plain = lambda th: fn(th, data)  # noqa: E731
assert dp.mesh.size == 4 and not dp.data["x"].is_fully_addressable
gd = eomlib.sharding.to_host(eomlib.gd_trajectory(dp, theta0, 0.2, 10))
gap = max(float(np.abs(gd[k] - np.asarray(v)).max())
          for k, v in eomlib.gd_trajectory(plain, theta0, 0.2, 10).items())
assert gap <= 1e-12, gap
sweep = eomlib.error_sweep(dp, theta0, lrs, 1, num_steps=20)
gap_sweep = float(np.abs(sweep.errors - eomlib.error_sweep(plain, theta0, lrs, 1, num_steps=20,
                                                           mesh=False).errors).max())
assert gap_sweep <= 100 * eomlib.Solver().rtol, gap_sweep  # adaptive solves: data_parallel.py
print(f"process {pid}: data-parallel loss over 2 hosts x 2 devices equals one device "
      f"(GD {gap:.1e}, error sweep {gap_sweep:.1e})", flush=True)
jax.distributed.shutdown()
