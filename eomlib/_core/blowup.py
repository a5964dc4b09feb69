"""Turning a run that failed into a clear error with the right diagnosis.

Every run (GD, heavy ball, an ODE solve) ends with a *status*, an int32 computed inside the
compiled program, the larger the more fundamental:

* ``OK``;
* ``LOSS_NOT_FINITE``: the iterates stayed finite but the loss became NaN (or −inf): a loss
  that is undefined off some region, where GD may stop with a zero gradient;
* ``OVERFLOW``: the iterates, or the loss, overflowed to ±inf/NaN (η·λ_max > 2 for GD, a
  blow-up of a flow);
* ``SOLVER_STUCK``: the ODE solver rejected most of its steps and used up its budget (the field
  is NaN/inf or blows up just ahead);
* ``BUDGET``: the ODE solver used its whole step budget ``max_steps`` making progress;
* ``SOLVER_FAILED``: another failure of the ODE solver.

Finite oscillation or growth is a result, not an error; NaN or ±inf is never returned.
Outside ``jit``/``vmap`` :func:`check_status` raises :class:`~eomlib.DivergenceError` with a
message for the status (η·λ_max(θ_0) where that is the likely cause); inside a transformation
the same condition is checked by :func:`equinox.branched_error_if` with one fixed message per
status, so a traced sweep cannot silently return a wrong curve either.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .flat import take_leading
from .spectra import sharpness
from .validate import DivergenceError, guard_traced, is_concrete

OK, LOSS_NOT_FINITE, OVERFLOW, SOLVER_STUCK, BUDGET, SOLVER_FAILED = range(6)


def all_finite(xs) -> jnp.ndarray:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(xs)]))


def loss_flags(value):
    """``(defined, bounded)`` of a loss value: not NaN/−inf, and not +inf (a loss that
    overflows to +inf while the parameters are still finite is an overflow, not a hole)."""
    return ~(jnp.isnan(value) | (value == -jnp.inf)), value != jnp.inf


def run_status(xs, defined=True, bounded=True) -> jnp.ndarray:
    """The status of a run from its saved rows and the loss along it: ``OVERFLOW`` if ``xs``
    is not finite or the loss overflowed to +inf, else ``LOSS_NOT_FINITE`` if the loss was
    NaN (or −inf) somewhere (``defined`` False), else ``OK``."""
    overflow = ~all_finite(xs) | ~bounded
    return jnp.where(overflow, OVERFLOW, jnp.where(defined, OK, LOSS_NOT_FINITE)).astype(jnp.int32)


def solver_status(sol) -> jnp.ndarray:
    """The status of a diffrax solution (``throw=False``): its result code, its step
    statistics (most steps rejected: stuck) and the finiteness of what it saved."""
    finite = all_finite(sol.ys)
    accepted, rejected = sol.stats["num_accepted_steps"], sol.stats["num_rejected_steps"]
    budget = sol.result == diffrax.RESULTS.max_steps_reached
    status = jnp.where(sol.result == diffrax.RESULTS.successful,
                       jnp.where(finite, OK, OVERFLOW),
                       jnp.where(budget, jnp.where(rejected > accepted, SOLVER_STUCK, BUDGET),
                                 SOLVER_FAILED))
    return status.astype(jnp.int32)


def loss_status(flat_loss, xs) -> jnp.ndarray:
    """:func:`run_status` of the saved rows ``xs`` with the loss evaluated at each (one row
    at a time: ``lax.map`` holds one forward pass in memory, not n + 1)."""
    defined, bounded = jax.lax.map(lambda x: loss_flags(flat_loss(x)), xs)
    return run_status(xs, jnp.all(defined), jnp.all(bounded))


def worst(*statuses) -> jnp.ndarray:
    """The most fundamental of several statuses (the largest)."""
    return jnp.max(jnp.stack([jnp.asarray(s, jnp.int32) for s in statuses]), axis=0)


def stability_report(loss, theta0, lr) -> str:
    """``'η·λ_max(θ_0) = …'`` with a reading of the number."""
    try:
        lam = float(sharpness(loss, theta0))
    except Exception:  # pragma: no cover - the report must not mask the real error
        return "η·λ_max(θ_0) could not be computed"
    prod = float(lr) * lam
    if prod > 2:
        reading = "above 2: gradient descent is unstable along the top Hessian direction"
    elif prod > 1:
        reading = ("between 1 and 2: GD overshoots along the top direction, and the EoM's "
                   "counter-term series in ηλ diverges there (for quadratics)")
    elif prod > 0:
        reading = "below 1: θ_0 is not the cause; the instability built up along the run"
    else:
        reading = ("no positive curvature at θ_0: the loss may be unbounded below along the "
                   "direction the run takes")
    return f"η·λ_max(θ_0) = {float(lr):.4g} × {lam:.4g} = {prod:.4g} ({reading})"


def _first_bad_row(xs) -> str:
    xs = np.asarray(xs)
    if xs.ndim == 0:
        return ""
    bad = np.nonzero(~np.all(np.isfinite(xs.reshape(xs.shape[0], -1)), axis=1))[0]
    return f" first at step {int(bad[0])}" if bad.size else ""


def _message(status: int, what: str, where: str, loss, theta0, lr, max_steps) -> str:
    budget = f"max_steps = {max_steps}" if max_steps is not None else "max_steps"
    if status == LOSS_NOT_FINITE:
        return (f"the loss became NaN along {what} while the parameters stayed finite: the "
                "loss is not defined at some iterate (a log or square root of a negative number, "
                "a NaN outside some region?), so what follows would be meaningless. Evaluate "
                "the loss along the run to see where.")
    if status == OVERFLOW:
        how = (f"overflowed to NaN/inf{where}" if where else
               "overflowed (the loss reached +inf as the parameters grew without bound)")
        return f"{what} {how}; {stability_report(loss, theta0, lr)}. Use a smaller lr or fewer steps."
    if status == SOLVER_STUCK:
        saved = f" (the saved solution is NaN/inf{where})" if where else ""
        return (f"the ODE solver of {what} could not advance{saved}: it rejected most of its "
                f"steps and used up its budget ({budget}), so the field is NaN/inf or blows up "
                f"just ahead; {stability_report(loss, theta0, lr)}.")
    if status == BUDGET:
        return (f"the ODE solver of {what} used its whole step budget ({budget}) before the "
                "last step; pass solver=eomlib.Solver(max_steps=...) with a larger budget (or "
                "looser rtol/atol), or run fewer steps. (A solution that approaches a "
                f"singularity also exhausts the budget: {stability_report(loss, theta0, lr)}.)")
    return (f"the ODE solver of {what} failed{where}; "
            f"{stability_report(loss, theta0, lr)}.")


_TRACED_MESSAGES = (
    "",
    "eomlib: the loss became NaN along the run while the parameters stayed finite: the loss "
    "is not defined at some iterate. Run outside jax.jit/vmap for the step.",
    "eomlib: the run overflowed to NaN/inf; the learning rate is likely beyond the stable range "
    "η·λ_max < 2. Call eomlib.sharpness(loss, theta0) to check, or run outside jax.jit/vmap "
    "for the full diagnosis.",
    "eomlib: the ODE solver could not advance (most steps rejected, budget used up): the field "
    "is NaN/inf or blows up. Run outside jax.jit/vmap for the full diagnosis.",
    "eomlib: the ODE solver used its whole step budget before the last step: pass "
    "solver=eomlib.Solver(max_steps=...) with a larger budget, or run fewer steps.",
    "eomlib: the ODE solver failed. Run outside jax.jit/vmap for the full diagnosis.",
)


def raise_for_status(status, what: str, loss, theta0, lr, xs=None, max_steps=None):
    """Raise :class:`DivergenceError` for a concrete non-``OK`` status (``xs``, if given, the
    saved rows, to name the first bad step)."""
    status = int(status)
    if status != OK:
        where = _first_bad_row(xs) if xs is not None else ""
        raise DivergenceError(_message(status, what, where, loss, theta0, lr, max_steps))


def check_status(xs, status, what: str, loss, theta0, lr, max_steps=None):
    """Return ``xs`` if ``status`` is ``OK``; otherwise raise (concrete) or attach a
    run-time error (traced: :func:`equinox.branched_error_if`, and a check that a traced
    ``lr`` is > 0 and finite)."""
    if is_concrete((xs, status, lr)):
        raise_for_status(status, what, loss, theta0, lr, xs, max_steps)
        return xs
    xs = guard_traced(xs, lr, "lr")  # a concrete lr was checked at the front door
    return eqx.branched_error_if(xs, status != OK, status, _TRACED_MESSAGES)


def finish_run(xs, status, what: str, loss, theta0, lr, num_steps: int, padded: bool = False,
               max_steps=None):
    """The last step of every run (GD, a flow, a prediction): :func:`check_status`, then
    the rows k = 0…``num_steps`` of the padded grid (all of it with ``padded``)."""
    xs = check_status(xs, status, what, loss, theta0, lr, max_steps)
    return xs if padded else take_leading(xs, num_steps + 1)
