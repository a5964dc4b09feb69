"""``python -m eomlib reproduce [--scale tiny|small|paper] [--dataset digits|mnist|cifar10]
[--out DIR]``: the paper's discretization-error experiments (see :mod:`eomlib.reproduce`).

float64 is switched on here, before any array exists: the errors of high-order EoMs reach
1e-9, far below float32 round-off.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from .reproduce.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
