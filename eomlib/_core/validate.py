"""Argument checks shared by every public function.

Each check raises a :class:`ValueError` that names the argument and the valid range.
Checks that need a concrete value (``lr > 0``, finite parameters) are skipped when the
value is a JAX tracer, i.e. when the caller has wrapped our function in ``jit`` or
``vmap``; the numerical checks on the *results* then run inside the computation (see
:mod:`eomlib.solve`).
"""

from __future__ import annotations

import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .dataparallel import jit_with_loss
from .memo import FunctionMemo, signature


class DivergenceError(FloatingPointError):
    """A trajectory overflowed to NaN/inf. The message reports η·λ_max.

    Raised, instead of returning NaN or ±inf, by every function that runs gradient descent
    or an ODE solver (:func:`eomlib.gd_trajectory`, :func:`eomlib.eom_trajectory`,
    :func:`eomlib.discretization_error`, :func:`eomlib.predicted_error`,
    :func:`eomlib.error_sweep`, :func:`eomlib.prediction_sweep`, …) when the run overflows
    or the solver fails.  The message names the run (and, where known, the first bad
    step) and reports η·λ_max(θ_0) (by :func:`eomlib.spectra.sharpness`) with a reading of
    it: gradient descent is unstable along the top Hessian direction once η·λ_max > 2.
    Under ``jax.jit`` or ``jax.vmap`` the same condition is a run-time error with a fixed
    message instead.  A subclass of ``FloatingPointError``.

    Example:
        >>> try:
        ...     eomlib.gd_trajectory(loss, theta0, 10.0, 100)
        ... except eomlib.DivergenceError as exc:
        ...     print(exc)  # "gradient descent overflowed to NaN/inf first at step …"
    """


def is_concrete(x) -> bool:
    """True when no leaf of ``x`` is a JAX tracer (we are not inside jit/vmap/grad)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def check_real_scalar(value, name: str, *, low: float, high: float = np.inf,
                      low_inclusive: bool = False, sweep_hint: str = ""):
    """``value`` must be a real scalar in the range from ``low`` to ``high`` (``high``
    excluded; ``low`` included if ``low_inclusive``).  Tracers pass through (only their
    shape is checked).  Returns ``value`` unchanged; every error names ``name`` and the range.
    """
    lower = f"{low:g} {'<=' if low_inclusive else '<'} {name}"
    valid = f"{lower} < {'inf' if np.isinf(high) else f'{high:g}'}"
    if np.isinf(high):
        kind = f"a finite real number {'>=' if low_inclusive else '>'} {low:g}"
    else:
        kind = f"a real number in {'[' if low_inclusive else '('}{low:g}, {high:g})"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be {kind}, got the boolean {value!r}.")
    if isinstance(value, jax.core.Tracer):
        if jnp.shape(value) != ():
            raise ValueError(f"{name} must be a scalar, got a traced array of shape {jnp.shape(value)}.")
        return value
    arr = np.asarray(value)
    if arr.shape != ():
        raise ValueError(f"{name} must be a scalar ({kind}), got an array of shape {arr.shape}"
                         + (f"; {sweep_hint}." if sweep_hint else "."))
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must be {kind}, got {value!r}.")
    number = float(arr)
    inside = (number >= low if low_inclusive else number > low) and number < high
    if not (np.isfinite(number) and inside):
        raise ValueError(f"{name} must be {kind} (valid range: {valid}), got {number}.")
    return value


def check_values(value, name: str, *, low: float = -np.inf, high: float = np.inf,
                 low_inclusive: bool = True, high_inclusive: bool = False):
    """Every entry of a concrete array-like ``value`` must be a finite real number in the
    range from ``low`` to ``high``; tracers pass through (formulas stay jittable).  Returns
    ``value`` unchanged."""
    if is_concrete(value):
        arr = np.asarray(value)
        lo = ("[" if low_inclusive else "(") + f"{low:g}"
        hi = f"{high:g}" + ("]" if high_inclusive else ")")
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) \
                or np.iscomplexobj(arr):
            raise ValueError(f"{name} must be real numbers in {lo}, {hi}, got {value!r}.")
        inside = ((arr >= low) if low_inclusive else (arr > low)) \
            & ((arr <= high) if high_inclusive else (arr < high))
        if not np.all(np.isfinite(arr) & inside):
            bad = arr[~(np.isfinite(arr) & inside)].ravel()[0]
            raise ValueError(f"{name} must be finite and in {lo}, {hi}, got {bad}.")
    return value


def check_lr(lr):
    """``lr`` must be a finite scalar > 0. Returns it unchanged (tracers pass through)."""
    return check_real_scalar(lr, "lr", low=0.0, sweep_hint="to sweep learning rates use jax.vmap over lr")


def guard_traced(x, value, name: str, *, low: float = 0.0, high: float = np.inf,
                 low_inclusive: bool = False):
    """``x``, with a run-time check (``equinox.error_if``) that a *traced* ``value`` lies in
    the range of :func:`check_real_scalar` (a concrete one was checked at the front door):
    under ``jax.jit``/``jax.vmap`` a negative learning rate must not run gradient ascent."""
    if not isinstance(value, jax.core.Tracer):
        return x
    above = value >= low if low_inclusive else value > low
    bad = ~(jnp.isfinite(value) & above & (value < high))
    bracket = "[" if low_inclusive else "("
    upper = "inf)" if np.isinf(high) else f"{high:g})"
    return eqx.error_if(
        x, bad, f"eomlib: {name} must be a finite number in {bracket}{low:g}, {upper}; a traced "
        f"{name} outside that range reached eomlib under jax.jit/jax.vmap.")


def check_method(method) -> str:
    """``method`` must be ``"trees"`` or ``"recursion"`` (how counter terms are computed)."""
    if method not in ("trees", "recursion"):
        raise ValueError(f"method must be 'trees' (default) or 'recursion' (the slow "
                         f"reference), got {method!r}.")
    return method


def check_order(order) -> int:
    """``order`` must be a non-negative Python integer (0 is gradient flow)."""
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral):
        raise ValueError(
            f"order must be a non-negative integer (0 = gradient flow, 1, 2, ...), got {order!r}."
        )
    if order < 0:
        raise ValueError(
            f"order must be a non-negative integer (0 = gradient flow, 1, 2, ...), got {order}."
        )
    return int(order)


def check_positive_int(value, name: str, upper: int | None = None, hint: str = "") -> int:
    """``value`` must be a Python integer with 1 ≤ value (≤ ``upper`` if given); the error
    names ``name``, the range and, after the value, ``hint`` (what the argument means)."""
    bad = isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
    if bad or value < 1 or (upper is not None and value > upper):
        bound = f"1 <= {name} <= {upper}" if upper is not None else f"{name} >= 1"
        raise ValueError(f"{name} must be an integer with {bound}, got {value!r}{hint}.")
    return int(value)


def check_num_steps(num_steps, name: str = "num_steps") -> int:
    """``num_steps`` (called ``name`` in messages) must be a non-negative Python integer."""
    if isinstance(num_steps, (bool, np.bool_)) or not isinstance(num_steps, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= 0, got {num_steps!r}.")
    if num_steps < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {num_steps}.")
    return int(num_steps)


def check_max_num_steps(max_num_steps, num_steps: int) -> int:
    """The padded length a run is compiled for: ``num_steps`` if ``max_num_steps`` is None,
    else ``max_num_steps``, which must be an integer >= ``num_steps``.

    Runs whose padded lengths fall in the same power-of-two bucket share one compilation;
    a slider whose step count varies with η passes its largest step count here so that
    every position reuses the same program.
    """
    if max_num_steps is None:
        return num_steps
    if isinstance(max_num_steps, (bool, np.bool_)) or not isinstance(max_num_steps, numbers.Integral):
        raise ValueError(
            f"max_num_steps must be None or an integer >= num_steps ({num_steps}), got {max_num_steps!r}."
        )
    if max_num_steps < num_steps:
        raise ValueError(
            f"max_num_steps must be None or an integer >= num_steps ({num_steps}), got {max_num_steps}."
        )
    return int(max_num_steps)


def check_theta(theta, name: str = "theta0"):
    """Every leaf of the pytree ``theta`` must be a floating-point array of finite values."""
    leaves = jax.tree_util.tree_leaves(theta)
    if not leaves:
        raise ValueError(f"{name} must be a pytree with at least one array leaf, got {theta!r}.")
    for leaf in leaves:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(
                f"{name} must contain floating-point arrays only, found a leaf of dtype {dtype}."
            )
        if not isinstance(leaf, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(leaf))):
            raise ValueError(
                f"{name} contains NaN or infinite values; every parameter must be finite."
            )
    return theta


_CHECKED_LOSSES = FunctionMemo()


def check_callable(loss, name: str = "loss"):
    """``loss`` must be callable (θ ↦ scalar)."""
    if not callable(loss):
        raise ValueError(f"{name} must be a callable θ ↦ scalar, got {type(loss).__name__}.")
    return loss


def check_loss(loss, theta):
    """``loss`` must be callable and return a real scalar at ``theta``.

    Once a loss has passed for parameters of some structure, shapes and dtypes, later calls
    with parameters like them do not trace it again (:mod:`eomlib.memo`).
    """
    check_callable(loss)
    key = signature(theta)
    if _CHECKED_LOSSES.get(loss, key):
        return loss
    try:
        out = jax.eval_shape(loss, theta)
    except Exception as exc:  # re-raise with the argument named
        raise ValueError(
            f"loss could not be evaluated at theta0 ({type(exc).__name__}: {exc})."
        ) from exc
    if not hasattr(out, "shape") or out.shape != ():
        shape = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"loss must return a scalar, got output of shape {shape}.")
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"loss must return a real floating-point scalar, got dtype {out.dtype}.")
    _CHECKED_LOSSES.put(loss, key, True)
    return loss


@jit_with_loss(("loss",))
def _value_and_grad_finite(loss, theta):
    value, grad = jax.value_and_grad(loss)(theta)
    grad_finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g))
                                     for g in jax.tree_util.tree_leaves(grad)]))
    return value, grad_finite


def check_finite_start(loss, theta, name: str = "theta0"):
    """The loss and its gradient must be finite at ``theta`` (skipped for traced ``theta``:
    the run's status then reports it).  One compiled ``value_and_grad`` per loss."""
    if not is_concrete(theta):
        return
    with jax.ensure_compile_time_eval():  # θ concrete inside a user's jit: check it now
        value, grad_finite = _value_and_grad_finite(loss, theta)
    if not is_concrete((value, grad_finite)):  # pragma: no cover - the loss closes over tracers
        return
    if not np.isfinite(float(value)):
        raise ValueError(
            f"the loss is {float(value)} at {name}: it must be finite where a run starts. Is "
            f"{name} inside the loss's domain (a log or square root of a negative number, a "
            "division by zero)?"
        )
    if not bool(grad_finite):
        raise ValueError(
            f"the gradient of the loss is not finite at {name} (the loss is {float(value):.6g} "
            "there): the loss is not differentiable at that point (e.g. sqrt at 0), or "
            "overflows in its backward pass."
        )


def check_tolerance(value, name: str):
    """Solver tolerances must be finite and > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number > 0, got {value!r}.")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite real number > 0, got {value}.")
    return float(value)


def check_sweep(lrs, horizon=None, num_steps=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Learning rates of a sweep and their step counts: ``(lrs, ns)`` as numpy arrays.

    ``lrs`` must be a non-empty 1-D array of valid learning rates; exactly one of ``horizon``
    (a time T ≥ every :math:`\eta_i`: :math:`n_i = \mathrm{round}(T/\eta_i) \ge 1`) or ``num_steps`` (the
    same n for every η) must be given.
    """
    lrs_np = np.asarray(lrs, dtype=float)
    if lrs_np.ndim != 1 or lrs_np.size == 0:
        raise ValueError(f"lrs must be a non-empty 1-D array of learning rates, got shape {lrs_np.shape}.")
    for lr in lrs_np:
        check_lr(lr)
    if (horizon is None) == (num_steps is None):
        raise ValueError("give exactly one of horizon (a time T > 0) or num_steps (an integer >= 0).")
    if horizon is not None:
        if not (np.isfinite(horizon) and horizon > 0):
            raise ValueError(f"horizon must be a finite time > 0, got {horizon}.")
        short = lrs_np[lrs_np > horizon]
        if short.size:
            raise ValueError(
                f"horizon T = {horizon:g} is shorter than one step of lr = {short.max():g}: every "
                "learning rate must take at least one step of its own (T >= lr). Use a longer "
                "horizon or smaller learning rates."
            )
        ns = np.maximum(np.rint(horizon / lrs_np).astype(int), 1)
    else:
        ns = np.full(lrs_np.shape, check_num_steps(num_steps), dtype=int)
    return lrs_np, ns
