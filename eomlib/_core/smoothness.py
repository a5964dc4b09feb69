r"""Is a loss smooth enough for counter terms?  Decided from the loss's own jaxpr.

Counter terms of order γ differentiate the loss γ + 2 times.  A kink (ReLU, ``abs``,
``max``) or a jump (``sign``, ``floor``, a ``where`` on a comparison of the parameters) has
derivatives that vanish almost everywhere and a delta function where it bends, which no
Hessian-vector product sees: the counter terms come out finite and wrong.  So the first time
a loss meets counter terms (order ≥ 1) with parameters of some shape, its directional
derivative :math:`\nabla f(\theta)\cdot v` is traced to a jaxpr (:func:`jax.make_jaxpr` of
:func:`jax.jvp`, so that ``custom_jvp`` rules such as ReLU's ``select(x > 0, g, 0)`` are
expanded while the primal of a smooth custom function such as ``softplus``/``logaddexp``
stays opaque, also inside ``scan``) and walked with these flags per variable:

* *depends on θ*: reached from the parameters (``stop_gradient`` cuts it);
* *non-smooth*: the output of a kink primitive (``max``, ``min``, ``abs``, ``clamp``,
  ``sign``, ``floor``, ``ceil``, ``round``, ``reduce_max``, pooling by max, ``sort``, …)
  applied to a θ-dependent value, of a ``select_n``/``cond`` whose predicate is an ordering
  comparison (``<``, ``>``, ``<=``, ``>=``) of θ-dependent values, of such a comparison cast
  to a number, or of anything computed from a non-smooth value.

If the derivative's output is non-smooth, :func:`warn_if_not_smooth` warns, once per loss
function, pointing at the caller's line.  Equality tests (``x == inf``, ``x != x``) are not
treated as jumps: smooth functions use them for special values.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .memo import FunctionMemo, signature

KINKS = frozenset({
    "max", "min", "abs", "clamp", "sign", "floor", "ceil", "round", "rem", "sort",
    "reduce_max", "reduce_min", "argmax", "argmin", "cummax", "cummin",
    "reduce_window_max", "reduce_window_min", "select_and_scatter_add", "select_and_gather_add",
})
"""Primitives with a kink or a jump in their (float) arguments."""

ORDERINGS = frozenset({"gt", "ge", "lt", "le"})
"""Comparisons whose result jumps as the parameters cross a surface."""

LOGIC = frozenset({"and", "or", "not", "xor"})

POSITIVE = frozenset({"exp", "exp2", "logistic", "sqrt", "rsqrt", "cosh"})
"""Primitives whose output is > 0 (≥ 0): ``abs``, ``sign`` and comparisons with 0 of such a
value (``logsumexp`` takes the sign of a sum of exponentials) have no kink."""
KEEPS_POSITIVE = frozenset({"add", "add_any", "mul", "div", "reduce_sum", "broadcast_in_dim",
                            "reshape", "squeeze", "expand_dims", "transpose", "slice",
                            "convert_element_type", "copy", "max", "reduce_max"})

OPAQUE = frozenset({"custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr"})
"""Calls whose bodies are not read: their derivatives come from their own rules, which the
traced gradient already contains."""

_VERDICTS = FunctionMemo()  # loss, kind of θ ↦ None (smooth) or a description of the kink
_WARNED = FunctionMemo()  # loss ↦ True once warned


def _subjaxprs(value):
    """The jaxprs held in an equation parameter (a jaxpr, a closed jaxpr or a tuple of them)."""
    # a closed jaxpr first: on some releases (jax 0.6) it also exposes ``eqns`` but no invars
    if hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        return [value.jaxpr]
    if hasattr(value, "eqns") and hasattr(value, "invars"):
        return [value]
    if isinstance(value, (tuple, list)):
        return [sub for v in value for sub in _subjaxprs(v)]
    return []


def _is_literal(var) -> bool:
    return type(var).__name__ == "Literal"


def _first(flags):
    """The first truthy flag (a kink's description), else False."""
    return next((f for f in flags if f), False)


def _analyse(jaxpr, dep_in, bad_in, ord_in):
    """The flags of ``jaxpr``'s outputs from those of its inputs, as three lists: depends on
    θ (bool), non-smooth (False, or the description of the kink it comes from), ordering
    predicate (bool)."""
    dep, bad, ordered, positive = {}, {}, {}, {}
    for v, d, b, o in zip(jaxpr.invars, dep_in, bad_in, ord_in):
        dep[v], bad[v], ordered[v] = d, b, o

    def flag(table, var):  # literals and constants: False
        return False if _is_literal(var) else table.get(var, False)

    def is_positive(var):  # a positive literal, or a value known to be > 0
        if _is_literal(var):
            return bool(np.all(np.asarray(var.val) > 0))
        return positive.get(var, False)

    def zero_or_positive(eqn):  # all operands positive values or literal zeros
        return all(is_positive(v) or (_is_literal(v) and np.all(np.asarray(v.val) == 0))
                   for v in eqn.invars)

    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        ins_dep = [flag(dep, v) for v in eqn.invars]
        ins_bad = [flag(bad, v) for v in eqn.invars]
        ins_ord = [flag(ordered, v) for v in eqn.invars]
        subs = [sub for p in eqn.params.values() for sub in _subjaxprs(p)]
        if subs and name not in OPAQUE and name != "cond":
            outs = _analyse_call(eqn, subs, ins_dep, ins_bad, ins_ord)
        else:
            out_dep, out_bad = any(ins_dep), _first(ins_bad)
            # an ordering predicate: a comparison of θ-dependent values, or logic on such
            out_ord = ((name in ORDERINGS and out_dep and not zero_or_positive(eqn))
                       or (name in LOGIC and any(ins_ord)))
            if name in POSITIVE or (name in KEEPS_POSITIVE and all(map(is_positive, eqn.invars))):
                positive.update((v, True) for v in eqn.outvars)
            if name == "stop_gradient":
                out_dep = out_bad = False
            elif name in ("abs", "sign") and zero_or_positive(eqn):
                pass
            elif name in KINKS and out_dep:
                out_bad = out_bad or f"`{name}` of a parameter-dependent value"
            elif name == "select_n" and ins_ord[0]:
                out_bad = out_bad or ("`select_n` on a comparison of parameter-dependent values "
                                      "(a ReLU-like kink)")
            elif name == "convert_element_type" and ins_ord[0]:
                out_bad = out_bad or "a comparison of parameter-dependent values cast to a number"
            elif name == "cond":
                if ins_dep[0]:
                    out_bad = out_bad or "`lax.cond` on a parameter-dependent predicate"
                branch = _analyse_call(eqn, subs, ins_dep[1:], ins_bad[1:], ins_ord[1:])
                out_bad = out_bad or _first(branch[1])
                out_dep = out_dep or any(branch[0])
            n = len(eqn.outvars)
            outs = ([out_dep] * n, [out_bad] * n, [out_ord] * n)
        for v, d, b, o in zip(eqn.outvars, *outs):
            dep[v], bad[v], ordered[v] = d, b, o
    return ([flag(dep, v) for v in jaxpr.outvars], [flag(bad, v) for v in jaxpr.outvars],
            [flag(ordered, v) for v in jaxpr.outvars])


def _merge(old, new):
    return [a or b for a, b in zip(old, new)]


def _analyse_call(eqn, subs, ins_dep, ins_bad, ins_ord):
    """The output flags of a higher-order equation (``jit``, ``scan``, ``while``, ``cond``'s
    branches, …).  Inputs map positionally onto a body with as many inputs (the carries of
    ``scan`` and ``while`` are iterated until their flags settle); otherwise every input of the
    body, and every output, gets the union of the flags (conservative)."""
    name, n_out = eqn.primitive.name, len(eqn.outvars)
    params = eqn.params
    if name == "while" and {"cond_nconsts", "body_nconsts"} <= set(params):
        nc, nb = params["cond_nconsts"], params["body_nconsts"]
        body = _subjaxprs(params["body_jaxpr"])[0]
        consts = [x[nc:nc + nb] for x in (ins_dep, ins_bad, ins_ord)]
        carry = [list(x[nc + nb:]) for x in (ins_dep, ins_bad, ins_ord)]
        for _ in range(len(carry[0]) + 1):
            outs = _analyse(body, *(c + k for c, k in zip(consts, carry)))
            new = [_merge(c, o) for c, o in zip(carry, outs)]
            if new == carry:
                break
            carry = new
        return tuple(carry)
    flags_out = ([False] * n_out, [False] * n_out, [False] * n_out)
    for sub in subs:
        n_in = len(sub.invars)
        if n_in == len(ins_dep):
            flags_in = [list(ins_dep), list(ins_bad), list(ins_ord)]
        else:
            flags_in = [[any(ins_dep)] * n_in, [_first(ins_bad)] * n_in, [any(ins_ord)] * n_in]
        loop = name == "scan" and {"num_consts", "num_carry"} <= set(params) and n_in == len(ins_dep)
        c0, nc = (params["num_consts"], params["num_carry"]) if loop else (0, 0)
        for _ in range(nc + 1):
            outs = _analyse(sub, *flags_in)
            carried = [flags[c0:c0 + nc] for flags in flags_in]
            merged = [_merge(c, o[:nc]) for c, o in zip(carried, outs)]
            if merged == carried:
                break
            for flags, m in zip(flags_in, merged):
                flags[c0:c0 + nc] = m
        if len(outs[0]) == n_out:
            flags_out = tuple(_merge(f, o) for f, o in zip(flags_out, outs))
        else:
            union = (any(outs[0]), _first(outs[1]), any(outs[2]))
            flags_out = tuple(_merge(f, [u] * n_out) for f, u in zip(flags_out, union))
    return flags_out


def _abstract(theta):
    return jax.tree_util.tree_map(
        lambda leaf: jax.ShapeDtypeStruct(jnp.shape(leaf), jnp.result_type(leaf)), theta)


def non_smooth_reason(loss: Callable, theta) -> str | None:
    """Why the gradient of ``loss`` at parameters like ``theta`` is not smooth (a kink or a
    jump that depends on the parameters), or None if no such operation reaches it.

    Traces the directional derivative ``jax.jvp(loss, (θ,), (v,))`` once per loss function and kind of ``theta``
    (structure, shapes, dtypes), remembered (``eomlib._core.memo``).  A loss that cannot
    be traced this way is not judged (None).

    Args:
        loss: θ ↦ scalar, θ any pytree.
        theta: parameters of the structure, shapes and dtypes the loss is used with (their
            values do not matter; tracers are fine).

    Returns:
        None if no parameter-dependent kink or jump reaches the gradient, else a short
        description of the first one found (e.g. ``"`max` of a parameter-dependent value"``).

    Example:
        >>> eomlib.non_smooth_reason(lambda th: jnp.sum(jax.nn.relu(th) ** 2), jnp.ones(3))
        '`select_n` on a comparison of parameter-dependent values (a ReLU-like kink)'
        >>> eomlib.non_smooth_reason(lambda th: jnp.sum(jnp.tanh(th) ** 2), jnp.ones(3)) is None
        True
    """
    key = signature(theta)
    verdict = _VERDICTS.get(loss, key)
    if verdict is not None:
        return verdict or None
    def tangent(th, v):  # ∇f(θ)·v: smooth in θ exactly when ∇f is
        return jax.jvp(loss, (th,), (v,))[1]

    try:
        closed = jax.make_jaxpr(tangent)(_abstract(theta), _abstract(theta))
    except Exception:  # the caller's own checks report a loss that cannot be evaluated
        return None
    jaxpr = closed.jaxpr
    n = len(jaxpr.invars)
    _, bad, _ = _analyse(jaxpr, [True] * n, [False] * n, [False] * n)
    reason = _first(bad) or None
    _VERDICTS.put(loss, key, reason or "")
    return reason


_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(mod.__file__)) + os.sep
    for mod in (sys.modules[__name__.split(".")[0]], jax)
) + tuple(
    os.path.dirname(os.path.abspath(sys.modules[name].__file__)) + os.sep
    for name in ("equinox", "diffrax", "lineax", "optimistix", "jaxlib")
    if name in sys.modules and getattr(sys.modules[name], "__file__", None)
)
_STDLIB_WRAPPERS = ("functools.py", "contextlib.py")


def stacklevel_outside_library() -> int:
    """``stacklevel`` for :func:`warnings.warn` called in eomlib that points at the user's
    line: the first frame outside eomlib, JAX and the libraries eomlib calls into (a loss
    traced under ``jax.jit`` is called from inside JAX)."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_PACKAGE_DIRS) or path.endswith(_STDLIB_WRAPPERS)
                or path.startswith("<frozen")):
            break
        frame, level = frame.f_back, level + 1
    return level


def warn_if_not_smooth(loss: Callable, theta, order: int) -> None:
    """Warn once per loss function when counter terms (``order`` ≥ 1) meet a loss whose
    gradient has a parameter-dependent kink or jump (see the module docstring).  The warning
    is a :class:`UserWarning` pointing at the user's call."""
    if order < 1 or _WARNED.get(loss, "warned"):
        return
    reason = non_smooth_reason(loss, theta)
    if reason is None:
        return
    _WARNED.put(loss, "warned", True)
    warnings.warn(
        f"the loss is not smooth: its gradient contains {reason}. Counter terms of order "
        f"{order} use derivatives of order up to {order + 2}, which vanish almost everywhere "
        "at kinks (e.g. relu) and miss the curvature concentrated there. Use a smooth "
        "activation (tanh, gelu, softplus) for EoM studies.",
        stacklevel=stacklevel_outside_library(),
    )
