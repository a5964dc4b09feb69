"""Turning a trajectory that overflowed into a clear error that reports η·λ_max.

Finite oscillation or growth is a result, not an error; NaN or ±inf is never returned.
Outside ``jit``/``vmap`` a :class:`~eomlib.validate.DivergenceError` is raised with
η·λ_max(θ_0) computed by power iteration; inside a transformation the same condition is
checked by :func:`equinox.error_if` (a run-time error with a fixed message), so a traced
sweep cannot silently return a wrong curve either.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from .flat import take_leading
from .spectra import sharpness
from .validate import DivergenceError, is_concrete


def all_finite(xs) -> jnp.ndarray:
    return jnp.all(jnp.isfinite(xs))


def stability_report(loss, theta0, lr) -> str:
    """``'η·λ_max(θ_0) = …'`` with a reading of the number."""
    try:
        lam = float(sharpness(loss, theta0))
    except Exception:  # pragma: no cover - the report must not mask the real error
        return "η·λ_max could not be computed"
    prod = float(lr) * lam
    if prod > 2:
        reading = "above 2: gradient descent is unstable along the top Hessian direction"
    elif prod > 1:
        reading = "between 1 and 2: GD oscillates and the EoM series does not converge"
    else:
        reading = "below 1: the instability built up along the trajectory"
    return f"η·λ_max(θ_0) = {float(lr):.4g} × {lam:.4g} = {prod:.4g} ({reading})"


def ensure_finite(xs, ok, what: str, loss, theta0, lr):
    """Return ``xs`` if ``ok``; otherwise raise (concrete) or attach a run-time error (traced)."""
    if is_concrete((xs, ok, lr)):
        if not bool(ok):
            bad = jnp.nonzero(~jnp.all(jnp.isfinite(xs), axis=tuple(range(1, xs.ndim))))[0]
            where = f" first at step {int(bad[0])}" if bad.size else ""
            raise DivergenceError(
                f"{what} overflowed to NaN/inf{where}; {stability_report(loss, theta0, lr)}. "
                "Use a smaller lr or fewer steps."
            )
        return xs
    return eqx.error_if(
        xs,
        ~ok,
        f"{what} overflowed to NaN/inf (or the ODE solver failed); the learning rate is likely "
        "beyond the stable range η·λ_max < 2. Call eomlib.sharpness(loss, theta0) to check.",
    )


def finish_run(xs, ok, what: str, loss, theta0, lr, num_steps: int, padded: bool = False):
    """The last step of every run (GD, a flow, a prediction): :func:`ensure_finite`, then
    the rows k = 0…``num_steps`` of the padded grid (all of it with ``padded``)."""
    xs = ensure_finite(xs, ok, what, loss, theta0, lr)
    return xs if padded else take_leading(xs, num_steps + 1)
