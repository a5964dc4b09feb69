"""``python -m eomlib reproduce [--scale tiny|small|paper] [--dataset digits|mnist|cifar10]
[--out DIR]``: the paper's discretization-error experiments (see :mod:`eomlib.reproduce`).

float64 is switched on here, before any array exists: the errors of high-order EoMs reach
1e-9, far below float32 round-off.  Ctrl-C while JAX and eomlib are still being imported
exits with status 130 and one line, as it does later (:func:`eomlib.reproduce.main`).
"""

import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

try:
    import jax

    jax.config.update("jax_enable_x64", True)

    from .reproduce.cli import main
except KeyboardInterrupt:
    print("interrupted: while starting up (importing JAX and eomlib)", file=sys.stderr)
    raise SystemExit(130)

if __name__ == "__main__":
    raise SystemExit(main())
