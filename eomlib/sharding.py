r"""Scale-out on JAX's own sharding: learning-rate sweeps, sharpness along trajectories and SGD
ensembles spread over every device (and host), and data-parallel losses.

* ``eomlib.error_sweep``, ``eomlib.prediction_sweep``, ``eomlib.sharpness_along`` (also
  ``eomlib.spectra.sharpness_along``), ``eomlib.sgd.sgd_ensemble``, ``eomlib.sgd.sme_ensemble``
  and ``eomlib.reproduce.reproduce`` take ``mesh=``: a ``jax.sharding.Mesh``, None (the default:
  all devices, when there are several) or False (one device).  The batch (learning rates,
  evaluated iterates, PRNG keys) is padded to a multiple of the number of devices by repeating
  its last member, split into equal shards along every axis of the mesh, and each device maps
  the computation over its shard (``shard_map``); the members are the same computations as on
  one device, so the results equal the single-device ones (bit for bit on CPUs; where the per-device
  batch width changes XLA's vectorisation, round-off, which an adaptive solve may turn into
  differences of the solver's tolerance).  Unpadded outputs stay sharded.
* Data-parallel losses: :func:`data_parallel` makes a full-batch loss ``fn(θ, data)`` over a
  dataset split across the devices along its examples (parameters replicated).  Counter
  terms, EoM fields and solves, GD, errors, sweeps and sharpness take it like any loss; their
  compiled programs receive the data as an input (``jit`` would embed a dataset the loss
  closes over as a constant, whole on every device), so each device keeps its shard and XLA
  turns each sum over examples into a partial sum and an all-reduce.  A sweep over a
  data-parallel loss runs its learning rates side by side on all the data's devices.
* Several hosts: call ``jax.distributed.initialize(...)`` on every process before anything
  else; ``jax.devices()`` then lists the devices of all processes and the default mesh spans
  them (README: "Across a node's GPUs and across hosts").
"""

from ._core.dataparallel import DataParallelLoss as DataParallelLoss
from ._core.dataparallel import data_parallel as data_parallel
from ._core.sharding import check_mesh as check_mesh
from ._core.sharding import default_mesh as default_mesh
from ._core.sharding import to_host as to_host

__all__ = ["DataParallelLoss", "data_parallel", "default_mesh", "check_mesh", "to_host"]
