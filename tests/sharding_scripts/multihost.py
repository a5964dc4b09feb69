"""One of two processes on localhost, each with 2 CPU devices, joined by
jax.distributed.initialize (tests/test_sharding.py starts both): an error sweep over the 4
devices of both processes equals the one-device sweep.  Usage: multihost.py PORT PROCESS_ID"""

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
jax.distributed.shutdown()
