"""Cost limits decided before a run starts: a run whose saved trajectory cannot fit in memory,
or whose counter terms are too many to compile, is refused at once with the estimate and the
way out, instead of running out of memory or compiling for hours."""

from __future__ import annotations

import os

import jax

#: The share of the device's memory the saved arrays of one call may take.
MEMORY_SHARE = 0.5


def device_memory_bytes() -> int | None:
    """The memory of the default device: the accelerator's limit, or the host's RAM on the
    CPU (None when unknown)."""
    try:
        stats = jax.devices()[0].memory_stats()
        if stats and stats.get("bytes_limit"):
            return int(stats["bytes_limit"])
    except Exception:  # pragma: no cover - backends without memory statistics
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _gib(num_bytes: float) -> str:
    return f"{num_bytes / 2**30:.3g} GiB"


def check_saved_size(rows: int, size: int, itemsize: int, copies: int = 1, series: int = 0,
                     what: str = "the run"):
    """Refuse a call whose saved arrays — ``copies`` trajectories of ``rows`` × ``size``
    numbers and ``series`` scalar series of ``rows`` numbers, of ``itemsize`` bytes — exceed
    ``MEMORY_SHARE`` of the device's memory (ValueError with the estimate and the way out)."""
    numbers = int(rows) * (int(size) * int(copies) + int(series))
    need = numbers * int(itemsize)
    total = device_memory_bytes()
    if total is None or need <= MEMORY_SHARE * total:
        return
    shape = f"{copies} × {rows:,} rows × {size:,} numbers"
    if series:
        shape += f" + {series} × {rows:,} numbers"
    raise ValueError(
        f"{what} would save {shape} = {_gib(need)}, more "
        f"than {MEMORY_SHARE:.0%} of this device's memory ({_gib(total)}): it cannot finish. Run "
        "fewer steps (num_steps, or a shorter horizon), fewer learning rates at once, or split "
        "the run into segments, each started from the last iterate of the one before."
    )



#: The highest counter term ξ_k whose field eomlib compiles.  Compile time grows about with
#: the square of the number of rooted-tree terms (1, 3, 6, 15, 31, 79, 182, 444, 1103, 2945
#: for ξ_1 … ξ_10, cumulated): measured for the EoM of a 5-parameter loss on the 2-core CI
#: machine, order 6 compiles in about 16 s, 7 in 40 s, 8 in 4 min; order 9 would take about
#: 25 min and order 10 about 3 h.
MAX_COUNTER_TERM = 8

#: Measured compile time (seconds) of the order-8 field (444 tree terms), the reference of the
#: estimate in the message.
_SECONDS_AT_MAX = 240.0


#: The number of rooted-tree terms of ξ_1 … ξ_k together, k = 1 … 10 (``len`` of
#: :func:`eomlib.trees.counter_term_trees`, summed; tests/test_bad_inputs.py checks the table
#: up to 7).  Enumerating them beyond 8 takes longer than the check should.
CUMULATIVE_TREE_TERMS = (1, 3, 6, 15, 31, 79, 182, 444, 1103, 2945)


def _num_tree_terms(order: int) -> int:
    """The table, continued beyond ξ_10 by its last growth factor (an estimate)."""
    table = CUMULATIVE_TREE_TERMS
    if order <= len(table):
        return table[order - 1]
    return int(table[-1] * (table[-1] / table[-2]) ** (order - len(table)))


def check_order_cost(order: int, what: str = "order"):
    """Refuse a counter term ξ_``order`` beyond ``MAX_COUNTER_TERM`` (ValueError with the
    estimated compile time and the way out), instead of compiling for hours."""
    if order <= MAX_COUNTER_TERM:
        return
    terms = _num_tree_terms(order)
    estimate = _SECONDS_AT_MAX * (terms / _num_tree_terms(MAX_COUNTER_TERM)) ** 2
    raise ValueError(
        f"{what} {order} needs the counter terms up to ξ_{order}: {terms:,} rooted-tree terms, "
        f"an estimated {estimate / 60:,.0f} min of compilation on a 2-core CPU (order "
        f"{MAX_COUNTER_TERM}: about {_SECONDS_AT_MAX / 60:.0f} min). eomlib compiles counter "
        f"terms up to ξ_{MAX_COUNTER_TERM}: use order <= {MAX_COUNTER_TERM} (error predictions: "
        f"<= {MAX_COUNTER_TERM - 1}); for a quadratic loss every order is in closed form "
        "(eomlib.breakdown)."
    )
