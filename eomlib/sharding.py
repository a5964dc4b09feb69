r"""Scale-out on JAX's own sharding: learning-rate sweeps, sharpness along trajectories and SGD
ensembles spread over every device (and host), and data-parallel losses.

* ``eomlib.error_sweep``, ``eomlib.sharpness_along`` (also ``eomlib.spectra.sharpness_along``)
  and ``eomlib.sgd.sgd_ensemble`` take ``mesh=``: a ``jax.sharding.Mesh``, None (the default:
  all devices, when there are several) or False (one device).  The batch (learning rates,
  evaluated iterates, PRNG keys) is padded to a multiple of the number of devices by repeating
  its last member, split into equal shards along every axis of the mesh, and each device maps
  the computation over its shard (``shard_map``); the members are the same computations as on
  one device, so the results equal the single-device ones (bit for bit on CPUs, 1e-15 where
  the per-device batch width changes XLA's vectorisation).  Unpadded outputs stay sharded.
* Not yet: data-parallel losses.  eomlib's full-batch functions take ``loss(θ)`` with the
  data closed over, and ``jit`` treats closed-over arrays as constants replicated on every
  device (checked: the compiled gradient of such a loss holds no all-reduce), so a dataset
  sharded across devices is gathered.  Data parallelism needs the data as an argument of the
  compiled programs, as ``eomlib.sgd`` already takes them.
* Several hosts: call ``jax.distributed.initialize(...)`` on every process before anything
  else; ``jax.devices()`` then lists the devices of all processes and the default mesh spans
  them (README: "Across a node's GPUs and across hosts").
"""

from ._core.sharding import check_mesh as check_mesh
from ._core.sharding import default_mesh as default_mesh

__all__ = ["default_mesh", "check_mesh"]
