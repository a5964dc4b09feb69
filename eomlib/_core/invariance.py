r"""Symmetric parameter groups: scale- and translation-invariant layers under GD, GF and the EoM.

A *group* :math:`S` is a subset of the parameters, chosen by a **selector**:

* ``None``: all parameters;
* a function ``theta ↦ sub-pytree`` that picks leaves or slices of leaves, e.g.
  ``lambda th: th[0]`` (the first layer's ``{"w", "b"}``) or ``lambda th: th[-1]["b"]``;
* a boolean mask pytree with the structure of θ (each leaf a bool, or a bool array
  broadcastable to the leaf's shape).

Trajectories come from :func:`eomlib.gd_trajectory` and :func:`eomlib.eom_trajectory`
(run on :func:`~eomlib.invariance.weight_decayed` losses for weight decay);
:func:`~eomlib.invariance.group_sq_norm`, :func:`~eomlib.invariance.angular_update`,
:func:`~eomlib.invariance.group_sum` and :func:`~eomlib.invariance.group_grad_sq_norm` (or
:func:`~eomlib.invariance.track`) turn them into the tracked quantities, and work under
``jax.vmap`` over a batch of runs.

Internally a selector becomes a flat 0/1 mask :math:`m` over the flat parameter vector
(:func:`~eomlib.invariance.group_mask`; for a function, the mask is its transpose applied to
ones), and :math:`\theta_S = m \odot \theta`.

**Scale invariance**, :math:`f(c\,\theta_S, \theta_{\rm rest}) = f(\theta)` for all c > 0
(weights feeding a normalisation layer), implies, by differentiating in c at c = 1,

.. math::  \theta_S\cdot g = 0, \qquad H\theta_S = -g_S .

**Translation invariance**, :math:`f(\theta_T + c\,\mathbf 1_T) = f(\theta)` (the output
biases of a softmax classifier), implies :math:`\mathbf 1_T\cdot g = 0` and
:math:`H\mathbf 1_T = 0`.

:func:`~eomlib.invariance.check_scale_invariance` and
:func:`~eomlib.invariance.check_translation_invariance` test these identities at a point with
Hessian-vector products (``jax.jvp`` of ``jax.grad``; no Hessian is formed), together with the
finite transformation itself.

Consequences, each a function below (:math:`\lambda` the weight decay, GD on
:math:`f + \frac\lambda2\|\theta\|^2`, see :func:`~eomlib.invariance.weight_decayed`;
:math:`g` always the gradient of the *undecayed* loss f):

* GD: :math:`\|\theta_{S,k+1}\|^2 = (1-\eta\lambda)^2\|\theta_{S,k}\|^2 + \eta^2\|g_{S,k}\|^2`
  exactly (:func:`~eomlib.invariance.gd_sq_norm`); gradient flow keeps :math:`\|\theta_S\|`
  constant when :math:`\lambda = 0`.
* Order-1 EoM:
  :math:`\frac{d}{dt}\|\theta_S\|^2 = \eta\|g_S\|^2 - \lambda(2+\eta\lambda)\|\theta_S\|^2`
  exactly (:func:`~eomlib.invariance.eom1_norm_rate`), since
  :math:`\theta_S\cdot\xi_1 = -\frac12\|g_S\|^2 + \frac12\lambda^2\|\theta_S\|^2`.  With
  :math:`\lambda = 0`: :math:`\|\theta_S(t)\|^2 \approx \|\theta_S(0)\|^2 + \eta\int_0^t\|g_S\|^2`
  (:func:`~eomlib.invariance.integrated_sq_norm`; Kunin et al., 2021).
  :func:`~eomlib.invariance.norm_rate` evaluates the rate of any order from eomlib's EoM field,
  :func:`~eomlib.invariance.counter_term_projections` the projections
  :math:`\theta_S\cdot\xi_k`.
* Equilibrium under weight decay (:func:`~eomlib.invariance.equilibrium_norm`,
  :func:`~eomlib.invariance.equilibrium_angle`):
  :math:`\|\theta^*\|^4 = \eta C/(\lambda(2-\eta\lambda))` with
  :math:`C = \|g_S\|^2\|\theta_S\|^2`, angular update
  :math:`\arccos(1-\eta\lambda) \approx \sqrt{2\eta\lambda}`
  (:func:`~eomlib.invariance.weighted_angular_update` averages measured angles in the way the
  balance needs).
* Translation-invariant sum :math:`s = \mathbf 1\cdot\theta_T`: GD
  :math:`s_k = (1-\eta\lambda)^k s_0` (:func:`~eomlib.invariance.gd_sum`), the order-γ EoM
  :math:`s(t) = e^{r_\gamma t}s_0` (:func:`~eomlib.invariance.flow_sum`) with
  :math:`r_\infty = \frac1\eta\log(1-\eta\lambda)` and
  :math:`r_\gamma = -\lambda - \sum_{k=1}^{\gamma}\eta^k\lambda^{k+1}/(k+1)`
  (:func:`~eomlib.invariance.decay_rate`); :math:`r_0 = -\lambda` is gradient flow.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .dataparallel import jit_with_loss
from .flat import flatten_problem
from .memo import FunctionMemo, signature
from .validate import check_lr, check_num_steps, check_order, check_values, is_concrete

# --------------------------------------------------------------------------- groups


_FUNCTION_MASKS = FunctionMemo()


def group_mask(theta, selector=None) -> jax.Array:
    r"""The flat 0/1 mask (shape ``(d,)``, θ's float dtype) of the group chosen by ``selector``.

    ``selector`` is ``None`` (all parameters), a function ``theta ↦ sub-pytree`` (leaves or
    slices of θ, e.g. ``lambda th: th[0]`` or ``lambda th: th[-1]["b"]``) or a boolean mask
    pytree with θ's structure.  A function's mask is its transpose (``jax.vjp``) applied to ones;
    it depends only on the structure, shapes and dtypes of θ, and is computed once per function
    and kind of θ (``eomlib.memo``), so define a selector once (not as a fresh ``lambda`` in every
    call) where speed matters.

    Args:
        theta: the parameters θ, a pytree of float arrays with d entries in all.
        selector: the group: ``None`` (default, all parameters); a function
            ``theta ↦ sub-pytree`` returning leaves of θ or slices of them (it may slice, but not
            duplicate, combine or rescale parameters); or a boolean mask pytree with θ's
            structure, each leaf a bool or a bool array broadcastable to the leaf's shape.

    Returns:
        An array of shape ``(d,)`` in θ's float dtype: 1 at the group's entries of the flat
        parameter vector (``jax.flatten_util.ravel_pytree`` order), 0 elsewhere.

    Raises:
        ValueError: if the selector does not pick a non-empty set of distinct parameters
            of θ (a function selector fails when called, picks nothing, or duplicates, combines
            or rescales parameters), or a mask pytree does not match θ's structure or shapes or
            has non-boolean leaves.  The last two checks need a concrete (untraced) mask.

    Example:
        >>> first_layer = lambda th: th[0]
        >>> mask = invariance.group_mask(theta, first_layer)
        >>> int(mask.sum())  # the number of parameters in the first layer
    """
    return _remembered_mask(selector, signature(theta), lambda: theta)


def _trajectory_mask(traj, selector) -> jax.Array:
    """:func:`group_mask` for the parameters of a trajectory stacked on a leading axis."""
    return _remembered_mask(selector, signature(traj, leading=1), lambda: _first(traj))


def _remembered_mask(selector, kind, point: Callable) -> jax.Array:
    """The mask of ``selector`` for θ of signature ``kind``: remembered for a function
    selector, else computed at ``point()`` (a θ of that kind) and, if concrete, remembered."""
    if callable(selector):
        known = _FUNCTION_MASKS.get(selector, kind)
        if known is not None:
            return known
    mask = _group_mask(point(), selector)
    if callable(selector) and is_concrete(mask):
        _FUNCTION_MASKS.put(selector, kind, mask)
    return mask


def _group_mask(theta, selector) -> jax.Array:
    x, _ = ravel_pytree(theta)
    if selector is None:
        return jnp.ones_like(x)
    if callable(selector):
        try:
            sub, pullback = jax.vjp(selector, theta)
            (cotangent,) = pullback(jax.tree_util.tree_map(jnp.ones_like, sub))
        except Exception as exc:
            raise ValueError(
                "selector must be a function theta ↦ sub-pytree of theta's float leaves (or "
                f"slices of them); calling it failed with {type(exc).__name__}: {exc}"
            ) from exc
        mask = ravel_pytree(cotangent)[0].astype(x.dtype)
    else:
        theta_def = jax.tree_util.tree_structure(theta)
        try:
            mask_leaves = theta_def.flatten_up_to(selector)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "selector must be None, a function theta ↦ sub-pytree, or a boolean mask pytree "
                f"with theta's structure {theta_def}; got {selector!r}."
            ) from exc
        parts = []
        for m, leaf in zip(mask_leaves, jax.tree_util.tree_leaves(theta)):
            m = jnp.asarray(m)
            if m.dtype != jnp.bool_:
                raise ValueError(f"mask leaves must be booleans, found dtype {m.dtype}.")
            try:
                parts.append(jnp.broadcast_to(m, jnp.shape(leaf)).ravel())
            except ValueError as exc:
                raise ValueError(
                    f"mask leaf of shape {m.shape} does not broadcast to the parameter shape "
                    f"{jnp.shape(leaf)}."
                ) from exc
        mask = jnp.concatenate(parts).astype(x.dtype) if parts else jnp.zeros_like(x)
    if is_concrete(mask):
        values = np.asarray(mask)
        if not np.all((values == 0) | (values == 1)):
            raise ValueError(
                "selector must pick each parameter at most once (a function selector may slice "
                "but not duplicate, combine or rescale parameters)."
            )
        if not values.any():
            raise ValueError("selector picks no parameter: the group is empty.")
    return mask


def _flat_stack(traj):
    """Flat vectors of a pytree stacked along a leading axis: shape ``(n + 1, d)``."""
    return jax.vmap(lambda th: ravel_pytree(th)[0])(traj)


def _first(traj):
    return jax.tree_util.tree_map(lambda a: a[0], traj)


# --------------------------------------------------------------------------- symmetry checks


@dataclasses.dataclass(frozen=True)
class SymmetryCheck:
    r"""Result of :func:`~eomlib.invariance.check_scale_invariance` /
    :func:`~eomlib.invariance.check_translation_invariance`.

    All residuals are relative (dimensionless, 0 for an exact symmetry, of order 1 when the
    symmetry is absent; a ratio 0/0 counts as 0, x/0 as 1). ``bool(check)`` is ``check.holds``,
    and ``check.max_residual`` is the largest of the three residuals.

    Attributes:
        kind: ``"scale"`` or ``"translation"``.
        first_order: the first-order residual: for scale,
            :math:`|\theta_S\cdot g|/(\|\theta_S\|\,\|g_S\|)`; for translation,
            :math:`|\mathbf 1_T\cdot g|/(\|\mathbf 1_T\|\,\|g_T\|)`.
        second_order: the Hessian residual: for scale,
            :math:`\|H\theta_S + g_S\|/(\|H\theta_S\| + \|g_S\|)`; for translation,
            :math:`\|H\mathbf 1_T\|/(\|H\mathbf 1_T\| + \|Hu\|)`, u a random group direction of
            the same norm as :math:`\mathbf 1_T`.
        transform: the finite-transformation residual, the largest of
            :math:`|f(\theta') - f(\theta)| / \max(|f(\theta)|, \text{tiny})` over the
            transformed points :math:`\theta'` for three values of c.
        tol: the tolerance the residuals were compared with (> 0).
        holds: True iff all three residuals are finite and at most ``tol``.

    Example:
        >>> check = invariance.check_scale_invariance(loss, theta, lambda th: th[0])
        >>> bool(check), check.max_residual
    """

    kind: str  # "scale" or "translation"
    first_order: float  # scale: |θ_S·g|/(‖θ_S‖‖g_S‖); translation: |1·g|/(‖1‖‖g_T‖)
    second_order: float  # scale: ‖Hθ_S + g_S‖/(‖Hθ_S‖ + ‖g_S‖); translation: ‖H1‖/(‖H1‖ + ‖Hu‖)
    transform: float  # max |f(transformed θ) − f(θ)| / max(|f(θ)|, tiny) over a few c
    tol: float
    holds: bool

    def __bool__(self) -> bool:
        return self.holds

    @property
    def max_residual(self) -> float:
        r"""The largest of ``first_order``, ``second_order`` and
        ``transform``."""
        return max(self.first_order, self.second_order, self.transform)


def _ratio(num, den):
    tiny = jnp.finfo(jnp.result_type(num)).tiny
    return jnp.where(den > tiny, num / jnp.maximum(den, tiny), jnp.where(num > tiny, 1.0, 0.0))


@jit_with_loss(("loss", "kind"))
def _residuals(loss, theta, mask, key, kind):
    problem = flatten_problem(loss, theta)
    x = problem.x0
    g = problem.grad(x)

    def hvp(v):
        return jax.jvp(problem.grad, (x,), (v,))[1]

    g_group = mask * g
    f0 = problem.loss(x)
    scale = jnp.maximum(jnp.abs(f0), jnp.finfo(x.dtype).tiny)
    if kind == "scale":
        v = mask * x
        first = _ratio(jnp.abs(jnp.vdot(v, g)), jnp.linalg.norm(v) * jnp.linalg.norm(g_group))
        hv = hvp(v)
        second = _ratio(jnp.linalg.norm(hv + g_group),
                        jnp.linalg.norm(hv) + jnp.linalg.norm(g_group))
        moved = jax.vmap(lambda c: problem.loss(x + (c - 1.0) * v))(jnp.array([0.5, 2.0, 3.7], x.dtype))
    else:
        v = mask
        first = _ratio(jnp.abs(jnp.vdot(v, g)), jnp.linalg.norm(v) * jnp.linalg.norm(g_group))
        u = mask * jax.random.normal(key, x.shape, x.dtype)
        u = u * jnp.linalg.norm(v) / jnp.linalg.norm(u)
        hv, hu = hvp(v), hvp(u)
        second = _ratio(jnp.linalg.norm(hv), jnp.linalg.norm(hv) + jnp.linalg.norm(hu))
        shift = 1.0 + jnp.sqrt(jnp.sum(v * x**2) / jnp.sum(v))  # ~ the size of θ_T, at least 1
        moved = jax.vmap(lambda c: problem.loss(x + c * shift * v))(jnp.array([-1.0, 0.5, 2.0], x.dtype))
    transform = jnp.max(jnp.abs(moved - f0)) / scale
    return first, second, transform


def _default_tol(theta) -> float:
    dtype = ravel_pytree(theta)[0].dtype
    return float(10.0 * np.sqrt(np.finfo(dtype).eps))  # 1.5e-7 in float64, 3.5e-3 in float32


def _check(kind, loss, theta, selector, tol, strict, key):
    if not callable(loss):
        raise ValueError(f"loss must be a callable θ ↦ scalar, got {type(loss).__name__}.")
    mask = group_mask(theta, selector)
    tol = _default_tol(theta) if tol is None else float(tol)
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol}.")
    key = jax.random.PRNGKey(0) if key is None else key
    first, second, transform = (float(r) for r in _residuals(loss, theta, mask, key, kind))
    residuals = (first, second, transform)
    holds = bool(all(np.isfinite(r) and r <= tol for r in residuals))
    result = SymmetryCheck(kind, first, second, transform, tol, holds)
    if strict and not holds:
        what = ("f(c θ_S) = f(θ): θ_S·g = 0 and Hθ_S = −g_S" if kind == "scale"
                else "f(θ_T + c 1) = f(θ): 1·g = 0 and H1 = 0")
        raise ValueError(
            f"the loss is not {kind}-invariant on the selected group ({what} fail): relative "
            f"residuals first-order {first:.3g}, second-order {second:.3g}, finite transform "
            f"{transform:.3g}, tolerance {tol:.3g}."
        )
    return result


def check_scale_invariance(loss: Callable, theta, selector=None, *, tol: float | None = None,
                           strict: bool = False) -> SymmetryCheck:
    r"""Test :math:`f(c\,\theta_S) = f(\theta)` at ``theta``: :math:`\theta_S\cdot g = 0`,
    :math:`H\theta_S = -g_S` (one Hessian-vector product) and the loss at c = 0.5, 2, 3.7.

    Only the group is rescaled; the other parameters stay fixed.  No Hessian is formed.  The
    check is compiled once per loss function, so pass the same function object to repeat it
    cheaply.

    Args:
        loss: the loss f, a callable θ ↦ scalar (traceable by JAX and hashable: it is a static
            argument of a compiled function).
        theta: the point at which to test, a pytree of float arrays.
        selector: the group S (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.
        tol: the largest relative residual accepted, a finite number > 0 (default ``None``:
            10·√eps of θ's dtype, 1.5e-7 in float64, 3.5e-3 in float32).
        strict: if True, raise instead of returning a failed check (default False).

    Returns:
        A :class:`~eomlib.invariance.SymmetryCheck` with ``kind="scale"`` and the three relative
        residuals; truthy iff the symmetry holds to ``tol``.

    Raises:
        ValueError: if ``loss`` is not callable, ``tol`` is not a finite number > 0, the selector
            is invalid (see :func:`~eomlib.invariance.group_mask`), or, with ``strict=True``,
            the symmetry does not hold to ``tol``.

    Example:
        >>> theta = jnp.array([1.0, 2.0])
        >>> invariance.check_scale_invariance(invariance.polar_angle, theta).holds
        True
    """
    return _check("scale", loss, theta, selector, tol, strict, None)


def check_translation_invariance(loss: Callable, theta, selector=None, *,
                                 tol: float | None = None, strict: bool = False,
                                 key=None) -> SymmetryCheck:
    r"""Test :math:`f(\theta_T + c\,\mathbf 1_T) = f(\theta)` at ``theta``:
    :math:`\mathbf 1_T\cdot g = 0`, :math:`H\mathbf 1_T = 0` (measured against
    :math:`\|Hu\|` for a random group direction u of the same norm, drawn with ``key``,
    default ``PRNGKey(0)``) and the loss at three shifts.

    :math:`\mathbf 1_T` is 1 on the group T and 0 elsewhere; the shifts are c·s for c = −1, 0.5,
    2, with s one plus the root mean square of :math:`\theta_T`.  Two Hessian-vector products, no
    Hessian; compiled once per loss function, as in
    :func:`~eomlib.invariance.check_scale_invariance`.

    Args:
        loss: the loss f, a callable θ ↦ scalar (traceable by JAX and hashable: it is a static
            argument of a compiled function).
        theta: the point at which to test, a pytree of float arrays.
        selector: the group T (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.
        tol: the largest relative residual accepted, a finite number > 0 (default ``None``:
            10·√eps of θ's dtype, 1.5e-7 in float64, 3.5e-3 in float32).
        strict: if True, raise instead of returning a failed check (default False).
        key: a ``jax.random.PRNGKey`` for the random comparison direction u (default ``None``:
            ``jax.random.PRNGKey(0)``).

    Returns:
        A :class:`~eomlib.invariance.SymmetryCheck` with ``kind="translation"`` and the three
        relative residuals; truthy iff the symmetry holds to ``tol``.

    Raises:
        ValueError: if ``loss`` is not callable, ``tol`` is not a finite number > 0, the selector
            is invalid (see :func:`~eomlib.invariance.group_mask`), or, with ``strict=True``,
            the symmetry does not hold to ``tol``.

    Example:
        >>> loss = lambda th: jax.nn.logsumexp(th) - th[0]  # softmax cross-entropy in the logits
        >>> invariance.check_translation_invariance(loss, jnp.array([0.3, -1.0, 2.0])).holds
        True
    """
    return _check("translation", loss, theta, selector, tol, strict, key)


def polar_angle(theta) -> jax.Array:
    r"""The toy scale-invariant loss :math:`f(\theta) = \operatorname{atan2}(\theta_2, \theta_1)`
    on :math:`\theta \in \mathbb R^2`: the polar angle.

    Its gradient :math:`(-\theta_2, \theta_1)/\|\theta\|^2` is smooth away from the origin
    (the loss jumps by :math:`2\pi` across the negative axis, its gradient does not) and always
    tangent to the circle, with :math:`\|g\|^2\|\theta\|^2 = 1` exactly: GD rotates for ever,
    so the constant-C formulas (:func:`~eomlib.invariance.equilibrium_norm`,
    :func:`~eomlib.invariance.equilibrium_angle`) are exact.

    Args:
        theta: a point :math:`(\theta_1, \theta_2)` of :math:`\mathbb R^2`, an array of shape
            ``(2,)`` (only ``theta[0]`` and ``theta[1]`` are used).

    Returns:
        The angle in radians, a scalar array in :math:`(-\pi, \pi]`.

    Example:
        >>> invariance.polar_angle(jnp.array([0.0, 2.0]))  # π/2
        >>> traj = eomlib.gd_trajectory(invariance.polar_angle, jnp.array([1.0, 0.0]), 0.1, 100)
    """
    return jnp.arctan2(theta[1], theta[0])


# --------------------------------------------------------------------------- weight decay


def weight_decayed(loss: Callable, weight_decay, selector=None) -> Callable:
    r"""The loss :math:`f(\theta) + \frac\lambda2\|\theta\|^2`
    (``selector``: decay only that group, :math:`f(\theta) + \frac\lambda2\|\theta_S\|^2`).

    GD on it is :math:`\theta_{k+1} = (1-\eta\lambda)\theta_k - \eta\nabla f(\theta_k)`; run
    GD, GF and the EoM on the returned loss.  ``weight_decay`` may be traced: wrap the whole
    computation in ``jax.jit``/``jax.vmap`` over λ to sweep it without recompiling, e.g.
    ``jax.jit(lambda lr, lam: gd_trajectory(weight_decayed(loss, lam), theta0, lr, n))``.

    Args:
        loss: the undecayed loss f, a callable θ ↦ scalar.  An ``activation`` attribute (used by
            eomlib's smoothness warnings) is copied to the returned loss.
        weight_decay: λ, a finite real scalar ≥ 0, or a traced JAX scalar (not checked).
        selector: the group to decay (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.  It is applied when the returned loss is
            called, so an invalid selector raises there.

    Returns:
        A callable θ ↦ :math:`f(\theta) + \frac\lambda2\|\theta_S\|^2` (a scalar), with S all
        parameters when ``selector`` is ``None``.

    Raises:
        ValueError: if ``loss`` is not callable, or a concrete ``weight_decay`` is not a finite
            real scalar ≥ 0 (booleans are rejected).

    Example:
        >>> decayed = invariance.weight_decayed(loss, 5e-4)
        >>> traj = eomlib.gd_trajectory(decayed, theta0, 0.1, 1000)
    """
    if not callable(loss):
        raise ValueError(f"loss must be a callable θ ↦ scalar, got {type(loss).__name__}.")
    if not isinstance(weight_decay, jax.core.Tracer):
        arr = np.asarray(weight_decay)
        if arr.shape != () or not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr) \
                or float(arr) < 0 or isinstance(weight_decay, (bool, np.bool_)):
            raise ValueError(f"weight_decay must be a finite real number >= 0, got {weight_decay!r}.")

    def decayed(theta):
        x = ravel_pytree(theta)[0]
        sq = jnp.vdot(x, x) if selector is None else jnp.vdot(x, group_mask(theta, selector) * x)
        return loss(theta) + 0.5 * weight_decay * sq

    decayed.__doc__ = "f(θ) + (λ/2)‖θ‖² (eomlib.invariance.weight_decayed)."
    if hasattr(loss, "activation"):  # keep eomlib's smoothness warnings working
        decayed.activation = loss.activation
    return decayed


# --------------------------------------------------------------------------- tracked quantities


def group_sq_norm(traj, selector=None) -> jax.Array:
    r""":math:`\|\theta_{S,k}\|^2` along a trajectory stacked on a leading axis (as returned by
    :func:`eomlib.gd_trajectory` / :func:`eomlib.eom_trajectory`); shape ``(n + 1,)``.

    Works under ``jax.vmap`` over a batch of runs.

    Args:
        traj: a trajectory: θ's pytree with every leaf stacked on a leading axis of
            length n + 1, as returned by :func:`eomlib.gd_trajectory` or
            :func:`eomlib.eom_trajectory`.
        selector: the group (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.

    Returns:
        An array of shape ``(n + 1,)``: :math:`\|\theta_{S,k}\|^2` for k = 0…n.

    Raises:
        ValueError: if the selector is invalid (see
            :func:`~eomlib.invariance.group_mask`).

    Example:
        >>> traj = eomlib.gd_trajectory(loss, theta0, 0.1, 100)
        >>> invariance.group_sq_norm(traj, lambda th: th[0])  # shape (101,)
    """
    return _sq_norms(traj, _trajectory_mask(traj, selector))


def group_sum(traj, selector=None) -> jax.Array:
    r""":math:`s_k = \mathbf 1\cdot\theta_{T,k}` along a stacked trajectory; shape ``(n + 1,)``.

    The sum of the group's parameters, the quantity a translation-invariant group moves only
    through weight decay (:func:`~eomlib.invariance.gd_sum`, :func:`~eomlib.invariance.flow_sum`).
    Works under ``jax.vmap`` over a batch of runs.

    Args:
        traj: a trajectory: θ's pytree with every leaf stacked on a leading axis of
            length n + 1, as returned by :func:`eomlib.gd_trajectory` or
            :func:`eomlib.eom_trajectory`.
        selector: the group T (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.

    Returns:
        An array of shape ``(n + 1,)``: :math:`s_k = \mathbf 1\cdot\theta_{T,k}` for k = 0…n.

    Raises:
        ValueError: if the selector is invalid (see
            :func:`~eomlib.invariance.group_mask`).

    Example:
        >>> traj = eomlib.gd_trajectory(decayed_loss, theta0, 0.1, 100)
        >>> invariance.group_sum(traj, lambda th: th[-1]["b"])  # shape (101,)
    """
    return _sums(traj, _trajectory_mask(traj, selector))


def angular_update(traj, selector=None) -> jax.Array:
    r"""Angle (radians) between :math:`\theta_{S,k}` and :math:`\theta_{S,k+1}`, k = 0…n−1.

    Computed as :math:`2\arctan(\|\hat a - \hat b\| / \|\hat a + \hat b\|)` (unit vectors), which
    stays accurate for tiny angles where ``arccos`` of the cosine loses all digits.  A group that
    is zero at some step gives NaN there.  Works under ``jax.vmap`` over a batch of runs.

    Args:
        traj: a trajectory: θ's pytree with every leaf stacked on a leading axis of
            length n + 1, as returned by :func:`eomlib.gd_trajectory` or
            :func:`eomlib.eom_trajectory`.
        selector: the group (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.

    Returns:
        An array of shape ``(n,)``: the angle between consecutive group vectors, in
        :math:`[0, \pi]`.

    Raises:
        ValueError: if the selector is invalid (see
            :func:`~eomlib.invariance.group_mask`).

    Example:
        >>> traj = eomlib.gd_trajectory(loss, theta0, 0.1, 100)
        >>> invariance.angular_update(traj, lambda th: th[0])  # shape (100,)
    """
    return _angles(traj, _trajectory_mask(traj, selector))


@jax.jit
def _sq_norms(traj, mask):
    return jnp.sum(mask * _flat_stack(traj) ** 2, axis=-1)


@jax.jit
def _sums(traj, mask):
    return jnp.sum(mask * _flat_stack(traj), axis=-1)


@jax.jit
def _angles(traj, mask):
    xs = mask * _flat_stack(traj)
    units = xs / jnp.linalg.norm(xs, axis=-1, keepdims=True)
    a, b = units[:-1], units[1:]
    return 2.0 * jnp.arctan2(jnp.linalg.norm(a - b, axis=-1), jnp.linalg.norm(a + b, axis=-1))


def weighted_angular_update(angles, sq_norms) -> jax.Array:
    r"""The norm-weighted RMS angular update
    :math:`\arctan\sqrt{\sum_k\|\theta_k\|^2\tan^2\Delta_k / \sum_k\|\theta_k\|^2}`.

    ``angles`` (n,) from :func:`~eomlib.invariance.angular_update`, ``sq_norms`` (n + 1,) from
    :func:`~eomlib.invariance.group_sq_norm` (the weights are :math:`\|\theta_k\|^2`, k < n).
    For GD with weight decay on a scale-invariant group,
    :math:`(1-\eta\lambda)^2\|\theta_k\|^2\tan^2\Delta_k = \eta^2\|g_k\|^2` exactly, so by the
    norm recursion this average equals :func:`~eomlib.invariance.equilibrium_angle` up to the
    boundary term :math:`(\|\theta_n\|^2 - \|\theta_0\|^2)/((1-\eta\lambda)^2\sum_k\|\theta_k\|^2)`,
    however uneven the individual steps are.

    Args:
        angles: the angular updates :math:`\Delta_k` in radians, shape ``(n,)``, from
            :func:`~eomlib.invariance.angular_update`.
        sq_norms: the squared group norms :math:`\|\theta_k\|^2`, shape ``(n + 1,)`` (at least n
            entries; only the first n are used as weights), from
            :func:`~eomlib.invariance.group_sq_norm`.

    Returns:
        The weighted angle in radians, a scalar array.

    Example:
        >>> angles = invariance.angular_update(traj, selector)
        >>> invariance.weighted_angular_update(angles, invariance.group_sq_norm(traj, selector))
    """
    angles = jnp.asarray(angles)
    weights = jnp.asarray(sq_norms)[: angles.shape[-1]]
    return jnp.arctan(jnp.sqrt(jnp.sum(weights * jnp.tan(angles) ** 2) / jnp.sum(weights)))


def group_grad_sq_norm(loss: Callable, traj, selector=None) -> jax.Array:
    r""":math:`\|g_S(\theta_k)\|^2 = \|m\odot\nabla f(\theta_k)\|^2` along a stacked trajectory;
    shape ``(n + 1,)``.

    Pass the *undecayed* loss f for the closed forms (:func:`~eomlib.invariance.gd_sq_norm`,
    :func:`~eomlib.invariance.eom1_norm_rate`, :func:`~eomlib.invariance.integrated_sq_norm`,
    :func:`~eomlib.invariance.unit_grad_sq_norm`), even when the trajectory was run on a
    :func:`~eomlib.invariance.weight_decayed` loss.  Compiled once per loss function.

    Args:
        loss: the loss f whose gradient is taken, a callable θ ↦ scalar (traceable by JAX and
            hashable: it is a static argument of a compiled function).
        traj: a trajectory: θ's pytree with every leaf stacked on a leading axis of
            length n + 1, as returned by :func:`eomlib.gd_trajectory` or
            :func:`eomlib.eom_trajectory`.
        selector: the group (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.

    Returns:
        An array of shape ``(n + 1,)``: :math:`\|g_S(\theta_k)\|^2` for k = 0…n.

    Raises:
        ValueError: if the selector is invalid (see
            :func:`~eomlib.invariance.group_mask`).

    Example:
        >>> traj = eomlib.gd_trajectory(invariance.weight_decayed(loss, 5e-4), theta0, 0.1, 100)
        >>> invariance.group_grad_sq_norm(loss, traj, lambda th: th[0])  # shape (101,)
    """
    return _grad_sq_norms(loss, traj, _trajectory_mask(traj, selector))


@jit_with_loss(("loss",))
def _grad_sq_norms(loss, traj, mask):
    grads = jax.vmap(lambda th: ravel_pytree(jax.grad(loss)(th))[0])(traj)
    return jnp.sum(mask * grads**2, axis=-1)


class Tracked(NamedTuple):
    r"""The quantities of :func:`~eomlib.invariance.track`, each an array along the trajectory.

    Attributes:
        sq_norm: shape ``(n + 1,)``, :math:`\|\theta_{S,k}\|^2` (as
            :func:`~eomlib.invariance.group_sq_norm`).
        angle: shape ``(n,)``, the angular update of :math:`\theta_S` per step, in radians (as
            :func:`~eomlib.invariance.angular_update`).
        total: shape ``(n + 1,)``, the sum :math:`\mathbf 1\cdot\theta_{S,k}` (as
            :func:`~eomlib.invariance.group_sum`).

    Example:
        >>> tracked = invariance.track(traj, lambda th: th[0])
        >>> tracked.sq_norm.shape, tracked.angle.shape  # ((n + 1,), (n,))
    """

    sq_norm: jax.Array  # (n + 1,) ‖θ_S‖²
    angle: jax.Array  # (n,) angular update of θ_S per step
    total: jax.Array  # (n + 1,) 1·θ_S


def track(traj, selector=None) -> Tracked:
    r""":func:`~eomlib.invariance.group_sq_norm`, :func:`~eomlib.invariance.angular_update`
    and :func:`~eomlib.invariance.group_sum` of one group.

    Args:
        traj: a trajectory: θ's pytree with every leaf stacked on a leading axis of
            length n + 1, as returned by :func:`eomlib.gd_trajectory` or
            :func:`eomlib.eom_trajectory`.
        selector: the group (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.

    Returns:
        A :class:`~eomlib.invariance.Tracked` with ``sq_norm`` (n + 1,), ``angle`` (n,) and
        ``total`` (n + 1,).

    Raises:
        ValueError: if the selector is invalid (see
            :func:`~eomlib.invariance.group_mask`).

    Example:
        >>> traj = eomlib.gd_trajectory(loss, theta0, 0.1, 100)
        >>> tracked = invariance.track(traj, lambda th: th[0])
        >>> tracked.angle  # shape (100,)
    """
    return Tracked(group_sq_norm(traj, selector), angular_update(traj, selector),
                   group_sum(traj, selector))


def norm_rate(loss: Callable, theta, selector=None, *, lr=0.0, order: int = 0) -> jax.Array:
    r""":math:`\frac{d}{dt}\|\theta_S\|^2 = 2\,\theta_S\cdot\tilde F_\gamma(\theta)` at ``theta``,
    for the order-γ EoM field :math:`\tilde F_\gamma` of ``loss`` (order 0, the default, is
    gradient flow, where ``lr`` plays no role).

    The field is :func:`eomlib.eom_vector_field`.  Pass a
    :func:`~eomlib.invariance.weight_decayed` ``loss`` for weight decay.  Compare with
    :func:`~eomlib.invariance.eom1_norm_rate` (order 1, exact) or :math:`-2\lambda\|\theta_S\|^2`
    (GF, on a scale-invariant group).  Compiled once per loss function and order.

    Args:
        loss: the loss, a callable θ ↦ scalar (traceable by JAX and hashable: it is a static
            argument of a compiled function).
        theta: the point θ, a pytree of float arrays.
        selector: the group (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.
        lr: the learning rate η, a finite scalar > 0 for order ≥ 1 (keyword-only; default
            0.0, ignored at order 0, where gradient flow does not depend on η).
        order: the EoM order γ, an integer ≥ 0 (default 0: gradient flow; keyword-only).

    Returns:
        A scalar array: the rate of change of :math:`\|\theta_S\|^2` at ``theta``.

    Raises:
        ValueError: if ``order`` is not a non-negative integer, ``lr`` is not a finite
            scalar > 0 with ``order`` ≥ 1, or the selector is invalid (see
            :func:`~eomlib.invariance.group_mask`).

    Example:
        >>> invariance.norm_rate(loss, theta, lambda th: th[0], lr=0.1, order=1)
    """
    order = check_order(order)
    if order == 0:
        lr = 1.0  # gradient flow does not depend on η
    else:
        check_lr(lr)
    return _norm_rate(loss, order, theta, group_mask(theta, selector), lr)


@jit_with_loss(("loss", "order"))
def _norm_rate(loss, order, theta, mask, lr):
    from .fields import eom_vector_field

    v = mask * ravel_pytree(theta)[0]
    return 2.0 * jnp.vdot(v, ravel_pytree(eom_vector_field(loss, order)(theta, lr))[0])


class Projections(NamedTuple):
    r"""Result of :func:`~eomlib.invariance.counter_term_projections`.

    Attributes:
        measured: shape ``(order,)``, :math:`\theta_S\cdot\xi_k` for k = 1…order.
        predicted: shape ``(min(order, 2),)``, what scale invariance without weight decay
            predicts for the first two: :math:`-\frac12\|g_S\|^2` and
            :math:`-\frac12\, g_S^\top H g`.

    Example:
        >>> proj = invariance.counter_term_projections(loss, theta, lambda th: th[0])
        >>> proj.measured - proj.predicted  # ≈ 0 on a scale-invariant group
    """

    measured: jax.Array  # (order,) θ_S·ξ_k, k = 1…order
    predicted: jax.Array  # (min(order, 2),) −½‖g_S‖², −½ g_Sᵀ H g


@jit_with_loss(("loss", "order"))
def _projections(loss, theta, mask, order):
    from .counterterms import counter_terms

    problem = flatten_problem(loss, theta)
    v = mask * problem.x0
    measured = jnp.stack([jnp.vdot(v, ravel_pytree(xi(theta))[0])
                          for xi in counter_terms(loss, order)])
    g = problem.grad(problem.x0)
    hg = jax.jvp(problem.grad, (problem.x0,), (g,))[1]
    predicted = jnp.stack([-0.5 * jnp.vdot(mask * g, g), -0.5 * jnp.vdot(mask * g, hg)])
    return Projections(measured, predicted[: min(order, 2)])


def counter_term_projections(loss: Callable, theta, selector=None, order: int = 2) -> Projections:
    r"""The counter terms projected on the group, :math:`\theta_S\cdot\xi_k` (k ≤ ``order``),
    and what scale invariance (no weight decay) predicts for the first two:

    .. math::  \theta_S\cdot\xi_1 = -\tfrac12\|g_S\|^2, \qquad
               \theta_S\cdot\xi_2 = -\tfrac12\, g_S^\top H g .

    The order-γ EoM moves the squared norm at the rate
    :math:`\frac{d}{dt}\|\theta_S\|^2 = -2\theta_S\cdot g - 2\sum_{k\le\gamma}\eta^k\,
    \theta_S\cdot\xi_k`, i.e. :math:`\eta\|g_S\|^2 + \eta^2 g_S^\top Hg + O(\eta^3)` on a
    scale-invariant group (where :math:`\theta_S\cdot g = 0`).  The counter terms
    :math:`\xi_k` are those of :func:`eomlib.counter_terms`.  One compilation per loss and order.

    Args:
        loss: the loss f, a callable θ ↦ scalar (traceable by JAX and hashable: it is a static
            argument of a compiled function); undecayed for the predictions to apply.
        theta: the point θ, a pytree of float arrays.
        selector: the group (default ``None``: all parameters); a function
            ``theta ↦ sub-pytree`` or a boolean mask pytree, as in
            :func:`~eomlib.invariance.group_mask`.
        order: the highest counter term k, an integer ≥ 1 (default 2).

    Returns:
        A :class:`~eomlib.invariance.Projections`: ``measured`` of shape ``(order,)`` and
        ``predicted`` of shape ``(min(order, 2),)``.

    Raises:
        ValueError: if ``order`` is not an integer ≥ 1, or the selector is invalid (see
            :func:`~eomlib.invariance.group_mask`).

    Example:
        >>> proj = invariance.counter_term_projections(loss, theta, lambda th: th[0], order=2)
        >>> proj.measured, proj.predicted
    """
    order = check_order(order)
    if order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order}.")
    return _projections(loss, theta, group_mask(theta, selector), order)


# --------------------------------------------------------------------------- closed forms


def gd_sq_norm(sq_norm0, grad_sq_norms, lr, weight_decay=0.0) -> jax.Array:
    r"""GD's exact norm recursion on a scale-invariant group,
    :math:`\|\theta_{k+1}\|^2 = (1-\eta\lambda)^2\|\theta_k\|^2 + \eta^2\|g_k\|^2`.

    Exact for GD on :func:`~eomlib.invariance.weight_decayed` ``(f, λ)`` when f is
    scale-invariant on the group (:math:`\theta_S\cdot g = 0`) and the group is decayed.

    Args:
        sq_norm0: :math:`\|\theta_{S,0}\|^2`, a scalar ≥ 0.
        grad_sq_norms: :math:`\|g_S(\theta_k)\|^2` of the undecayed loss along the GD run,
            k = 0…n, shape ``(n + 1,)`` (:func:`~eomlib.invariance.group_grad_sq_norm`); the
            last entry is not needed.
        lr: the learning rate η, a finite scalar > 0.
        weight_decay: λ, a scalar ≥ 0 (default 0.0: no weight decay).

    Returns:
        The predicted :math:`\|\theta_{S,k}\|^2`, k = 0…n: shape ``(n + 1,)``, the same length
        and dtype as ``grad_sq_norms``.

    Raises:
        ValueError: if ``lr`` is not a finite real scalar > 0, or ``sq_norm0``,
            ``grad_sq_norms`` or ``weight_decay`` has a negative or non-finite entry.

    Example:
        >>> gsq = invariance.group_grad_sq_norm(loss, traj, selector)
        >>> invariance.gd_sq_norm(invariance.group_sq_norm(traj, selector)[0], gsq, 0.1, 5e-4)
    """
    check_lr(lr)
    check_values(sq_norm0, "sq_norm0", low=0.0)
    check_values(grad_sq_norms, "grad_sq_norms", low=0.0)
    check_values(weight_decay, "weight_decay", low=0.0)
    grad_sq_norms = jnp.asarray(grad_sq_norms)
    return _gd_sq_norm(jnp.asarray(sq_norm0, grad_sq_norms.dtype), grad_sq_norms, lr,
                       weight_decay)


@jax.jit
def _gd_sq_norm(sq_norm0, grad_sq_norms, lr, weight_decay):
    shrink = (1.0 - lr * weight_decay) ** 2

    def step(sq, gk):
        nxt = shrink * sq + lr**2 * gk
        return nxt, nxt

    _, rest = jax.lax.scan(step, sq_norm0, grad_sq_norms[:-1])
    return jnp.concatenate([sq_norm0[None], rest])


def eom1_norm_rate(lr, grad_sq_norm, sq_norm=0.0, weight_decay=0.0):
    r""":math:`\frac{d}{dt}\|\theta_S\|^2` under the order-1 EoM, exactly:
    :math:`\eta\|g_S\|^2 - \lambda(2+\eta\lambda)\|\theta_S\|^2`.

    (GF: :math:`-2\lambda\|\theta_S\|^2`.  GD's exact modified equation adds
    :math:`\eta^2 g_S^\top Hg + \dots`; its coefficient of :math:`\|\theta_S\|^2` is 2r with r
    the all-orders :func:`~eomlib.invariance.decay_rate`, and at order 1 it is
    :math:`2 r_1 = -\lambda(2+\eta\lambda)`.)  Holds on a scale-invariant group.  All arguments
    broadcast; concrete ones are validated, traced ones are not (a pure formula).

    Args:
        lr: the learning rate η > 0.
        grad_sq_norm: :math:`\|g_S\|^2` of the undecayed loss
            (:func:`~eomlib.invariance.group_grad_sq_norm`), ≥ 0.
        sq_norm: :math:`\|\theta_S\|^2` (:func:`~eomlib.invariance.group_sq_norm`), ≥ 0
            (default 0.0; it matters only with weight decay).
        weight_decay: λ ≥ 0 (default 0.0: no weight decay).

    Returns:
        The rate :math:`\frac{d}{dt}\|\theta_S\|^2`, with the broadcast shape of the arguments.

    Raises:
        ValueError: if a concrete ``lr`` has an entry ≤ 0, or ``grad_sq_norm``, ``sq_norm``
            or ``weight_decay`` a negative one (or any is not finite).

    Example:
        >>> invariance.eom1_norm_rate(0.1, gsq)  # η‖g_S‖², no weight decay
        >>> invariance.eom1_norm_rate(0.1, gsq, sq, weight_decay=5e-4)
    """
    check_values(lr, "lr", low=0.0, low_inclusive=False)
    check_values(grad_sq_norm, "grad_sq_norm", low=0.0)
    check_values(sq_norm, "sq_norm", low=0.0)
    check_values(weight_decay, "weight_decay", low=0.0)
    return lr * grad_sq_norm - weight_decay * (2.0 + lr * weight_decay) * sq_norm


def integrated_sq_norm(sq_norm0, grad_sq_norms, lr) -> jax.Array:
    r"""Kunin et al.'s first-order norm law (no weight decay),
    :math:`\|\theta_S(t_k)\|^2 \approx \|\theta_S(0)\|^2 + \eta\int_0^{t_k}\|g_S\|^2\,dt`.

    ``grad_sq_norms`` are samples at :math:`t_k = k\eta`, k = 0…n (along the EoM or GF
    solution); the integral is the trapezoid rule.  Returns shape ``(n + 1,)``.

    Args:
        sq_norm0: :math:`\|\theta_S(0)\|^2`, a scalar ≥ 0.
        grad_sq_norms: :math:`\|g_S(t_k)\|^2` for k = 0…n, shape ``(n + 1,)``
            (:func:`~eomlib.invariance.group_grad_sq_norm` of the trajectory).
        lr: the learning rate η, a finite scalar > 0 (also the sample spacing).

    Returns:
        An array of shape ``(n + 1,)``: the predicted :math:`\|\theta_S(t_k)\|^2`, k = 0…n.

    Raises:
        ValueError: if ``lr`` is not a finite real scalar > 0, or ``sq_norm0`` or
            ``grad_sq_norms`` has a negative or non-finite entry.

    Example:
        >>> traj = eomlib.eom_trajectory(loss, theta0, 0.1, 100, 1)
        >>> gsq = invariance.group_grad_sq_norm(loss, traj, selector)
        >>> invariance.integrated_sq_norm(invariance.group_sq_norm(traj, selector)[0], gsq, 0.1)
    """
    check_lr(lr)
    check_values(sq_norm0, "sq_norm0", low=0.0)
    check_values(grad_sq_norms, "grad_sq_norms", low=0.0)
    grad_sq_norms = jnp.asarray(grad_sq_norms)
    pieces = 0.5 * lr * (grad_sq_norms[1:] + grad_sq_norms[:-1])
    integral = jnp.concatenate([jnp.zeros((1,), grad_sq_norms.dtype), jnp.cumsum(pieces)])
    return sq_norm0 + lr * integral


def unit_grad_sq_norm(grad_sq_norms, sq_norms):
    r""":math:`C = \|g_S\|^2\|\theta_S\|^2`, the squared gradient the group would have at unit
    norm (:math:`g_S` scales as :math:`1/\|\theta_S\|`).

    Args:
        grad_sq_norms: :math:`\|g_S\|^2`, ≥ 0, e.g. from
            :func:`~eomlib.invariance.group_grad_sq_norm` (any shape).
        sq_norms: :math:`\|\theta_S\|^2`, ≥ 0, e.g. from
            :func:`~eomlib.invariance.group_sq_norm`; broadcastable with ``grad_sq_norms``.

    Returns:
        C, the elementwise product, with the broadcast shape of the arguments.

    Raises:
        ValueError: if a concrete argument has a negative or non-finite entry.

    Example:
        >>> gsq = invariance.group_grad_sq_norm(loss, traj, selector)
        >>> C = invariance.unit_grad_sq_norm(gsq, invariance.group_sq_norm(traj, selector))
    """
    check_values(grad_sq_norms, "grad_sq_norms", low=0.0)
    check_values(sq_norms, "sq_norms", low=0.0)
    return jnp.asarray(grad_sq_norms) * jnp.asarray(sq_norms)


def equilibrium_norm(lr, weight_decay, unit_grad_sq, dynamics: str = "gd"):
    r"""The norm where weight decay balances gradient growth:
    :math:`\|\theta^*\|^4 = \eta C/(\lambda(2-\eta\lambda))` for GD (``dynamics="gd"``),
    :math:`\eta C/(\lambda(2+\eta\lambda))` for the order-1 EoM (``"eom1"``); returns
    :math:`\|\theta^*\|`.  ``unit_grad_sq`` is C (:func:`~eomlib.invariance.unit_grad_sq_norm`).
    Gradient flow has no equilibrium: its norm decays as :math:`e^{-\lambda t}`.

    Args:
        lr: the learning rate η > 0.
        weight_decay: λ > 0 (with ``"gd"`` also :math:`\eta\lambda < 2`); λ = 0 has no
            equilibrium.
        unit_grad_sq: C ≥ 0, from :func:`~eomlib.invariance.unit_grad_sq_norm`.
        dynamics: ``"gd"`` (default) or ``"eom1"``.

    Returns:
        :math:`\|\theta^*\|` (not squared), with the broadcast shape of the arguments.

    Raises:
        ValueError: if ``dynamics`` is neither ``"gd"`` nor ``"eom1"``, or a concrete
            argument is out of its range (η ≤ 0, λ ≤ 0, C < 0, or ηλ ≥ 2 for ``"gd"``, where
            GD has no equilibrium).

    Example:
        >>> invariance.equilibrium_norm(0.1, 5e-4, 1.0)  # (ηC / (λ(2 − ηλ)))^(1/4)
        >>> invariance.equilibrium_norm(0.1, 5e-4, C, dynamics="eom1")
    """
    if dynamics not in ("gd", "eom1"):
        raise ValueError(f"dynamics must be 'gd' or 'eom1', got {dynamics!r}.")
    check_values(lr, "lr", low=0.0, low_inclusive=False)
    check_values(weight_decay, "weight_decay", low=0.0, low_inclusive=False)
    check_values(unit_grad_sq, "unit_grad_sq", low=0.0)
    if dynamics == "gd" and is_concrete((lr, weight_decay)):
        check_values(np.asarray(lr) * np.asarray(weight_decay), "lr * weight_decay", low=0.0,
                     high=2.0)
    sign = -1.0 if dynamics == "gd" else 1.0
    return (lr * unit_grad_sq / (weight_decay * (2.0 + sign * lr * weight_decay))) ** 0.25


def equilibrium_angle(lr, weight_decay):
    r"""GD's angular update at a step that keeps :math:`\|\theta_S\|` fixed:
    :math:`\arccos(1-\eta\lambda)` exactly (:math:`\approx\sqrt{2\eta\lambda}`).

    Args:
        lr: the learning rate η > 0.
        weight_decay: λ ≥ 0, with :math:`0 \le \eta\lambda \le 2`.

    Returns:
        The angle in radians, in :math:`[0, \pi]`, with the broadcast shape of the arguments.

    Raises:
        ValueError: if a concrete ``lr`` is ≤ 0, ``weight_decay`` < 0 or ηλ > 2.

    Example:
        >>> invariance.equilibrium_angle(0.1, 5e-4)  # ≈ sqrt(2 · 0.1 · 5e-4) = 0.01
    """
    check_values(lr, "lr", low=0.0, low_inclusive=False)
    check_values(weight_decay, "weight_decay", low=0.0)
    if is_concrete((lr, weight_decay)):
        check_values(np.asarray(lr) * np.asarray(weight_decay), "lr * weight_decay", low=0.0,
                     high=2.0, high_inclusive=True)
    return jnp.arccos(1.0 - lr * weight_decay)


def decay_rate(lr, weight_decay, order: int | None = None):
    r"""Rate r of :math:`\dot s = r s` for a weight-decayed direction the loss does not see
    (the translation sum :math:`s = \mathbf 1\cdot\theta_T`).

    ``order=None``: the EoM summed to all orders, :math:`r = \frac1\eta\log(1-\eta\lambda)`,
    exact at every :math:`t_k` (needs :math:`\eta\lambda < 1`).  ``order = γ``: the order-γ
    EoM, :math:`r_\gamma = -\lambda - \sum_{k=1}^{\gamma}\eta^k\lambda^{k+1}/(k+1)`
    (γ = 0: gradient flow, :math:`-\lambda`).  :math:`\|\theta_S\|^2` decays at 2r.

    Args:
        lr: the learning rate η > 0.
        weight_decay: λ ≥ 0 (with ``order=None`` also :math:`\eta\lambda < 1`).
        order: ``None`` (default: all orders) or the EoM order γ, an integer ≥ 0.

    Returns:
        The rate r (≤ 0), with the broadcast shape of ``lr`` and ``weight_decay``.

    Raises:
        ValueError: if ``order`` is neither ``None`` nor a non-negative integer, or a
            concrete ``lr`` is ≤ 0, ``weight_decay`` < 0, or ηλ ≥ 1 with ``order=None``
            (where the all-orders series does not exist).

    Example:
        >>> invariance.decay_rate(0.1, 5e-4)  # log(1 − ηλ)/η
        >>> invariance.decay_rate(0.1, 5e-4, order=0)  # −λ, gradient flow
    """
    check_values(lr, "lr", low=0.0, low_inclusive=False)
    check_values(weight_decay, "weight_decay", low=0.0)
    if order is None:
        if is_concrete((lr, weight_decay)):
            check_values(np.asarray(lr) * np.asarray(weight_decay), "lr * weight_decay",
                         low=0.0, high=1.0)
        return jnp.log1p(-lr * weight_decay) / lr
    order = check_order(order)
    rate = -weight_decay
    for k in range(1, order + 1):
        rate = rate - lr**k * weight_decay ** (k + 1) / (k + 1)
    return rate


def gd_sum(s0, lr, weight_decay, num_steps: int) -> jax.Array:
    r"""GD's translation-invariant sum :math:`s_k = (1-\eta\lambda)^k s_0`, k = 0…n.

    Exact for GD on :func:`~eomlib.invariance.weight_decayed` ``(f, λ)`` when f is
    translation-invariant on the group T (and T is decayed).

    Args:
        s0: the initial sum :math:`s_0 = \mathbf 1\cdot\theta_{T,0}`, a scalar (e.g.
            ``group_sum(traj, selector)[0]``).
        lr: the learning rate η > 0.
        weight_decay: λ ≥ 0.
        num_steps: the number of GD steps n, an integer ≥ 0.

    Returns:
        An array of shape ``(n + 1,)``: :math:`s_k` for k = 0…n.

    Raises:
        ValueError: if ``num_steps`` is not a non-negative integer, or a concrete ``lr`` is
            ≤ 0 or ``weight_decay`` < 0.

    Example:
        >>> s = invariance.group_sum(traj, lambda th: th[-1]["b"])
        >>> invariance.gd_sum(s[0], 0.1, 5e-4, 100)  # equals s on a translation-invariant group
    """
    num_steps = check_num_steps(num_steps)
    check_values(lr, "lr", low=0.0, low_inclusive=False)
    check_values(weight_decay, "weight_decay", low=0.0)
    k = jnp.arange(num_steps + 1)
    return s0 * (1.0 - lr * weight_decay) ** k


def flow_sum(s0, lr, weight_decay, num_steps: int, order: int | None = None) -> jax.Array:
    r"""The sum under the order-γ EoM at :math:`t_k = k\eta`: :math:`s_0 e^{r_\gamma k\eta}`
    (:func:`~eomlib.invariance.decay_rate`); ``order=0`` is gradient flow
    :math:`e^{-\lambda t}s_0`, ``order=None`` the exact EoM, which equals
    :func:`~eomlib.invariance.gd_sum`.

    Args:
        s0: the initial sum :math:`s_0 = \mathbf 1\cdot\theta_T(0)`, a scalar.
        lr: the learning rate η > 0 (also the sample spacing).
        weight_decay: λ ≥ 0 (with ``order=None`` also :math:`\eta\lambda < 1`).
        num_steps: the number of samples after t = 0, n, an integer ≥ 0.
        order: ``None`` (default: all orders) or the EoM order γ, an integer ≥ 0.

    Returns:
        An array of shape ``(n + 1,)``: :math:`s(t_k)` for k = 0…n.

    Raises:
        ValueError: if ``num_steps`` is not a non-negative integer, ``order`` is neither
            ``None`` nor a non-negative integer, or a concrete argument is out of its range
            (as :func:`~eomlib.invariance.decay_rate`).

    Example:
        >>> invariance.flow_sum(1.0, 0.1, 5e-4, 100, order=0)  # gradient flow, e^{−λt}
        >>> invariance.flow_sum(1.0, 0.1, 5e-4, 100)  # equals gd_sum(1.0, 0.1, 5e-4, 100)
    """
    num_steps = check_num_steps(num_steps)
    t = lr * jnp.arange(num_steps + 1)
    return s0 * jnp.exp(decay_rate(lr, weight_decay, order) * t)


__all__ = [
    "SymmetryCheck",
    "Tracked",
    "angular_update",
    "check_scale_invariance",
    "check_translation_invariance",
    "decay_rate",
    "eom1_norm_rate",
    "equilibrium_angle",
    "equilibrium_norm",
    "flow_sum",
    "gd_sq_norm",
    "gd_sum",
    "group_grad_sq_norm",
    "group_mask",
    "group_sq_norm",
    "group_sum",
    "integrated_sq_norm",
    "norm_rate",
    "polar_angle",
    "Projections",
    "counter_term_projections",
    "track",
    "unit_grad_sq_norm",
    "weight_decayed",
    "weighted_angular_update",
]
