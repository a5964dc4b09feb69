r"""Common-subexpression elimination of a traced function, before XLA sees it.

Nested forward-mode derivatives repeat work.  The counter terms evaluate derivatives such as
:math:`F''[F, F]` and :math:`F'''[F, F, F]` of the same gradient along the same arrays, and
every ``jax.jvp`` level re-emits the operations of the levels below it, so the traced program
holds many equations that compute the same value from the same inputs (at order 4 on the
book's digits network, 7,223 equations of which 1,094 are distinct; 831 matrix products of
which 87 are distinct).  XLA's own common-subexpression pass leaves much of that in place:
on a 64-512-128-10 network the order-4 field measured 30 gradients as JAX traces it and 14
once deduplicated here (``benchmarks/run.py``, section 1, one CPU thread).

:func:`eliminate_common_subexpressions` traces a function once to a jaxpr, inlines the
``jit`` calls inside it, and binds every distinct equation once: an equation is identified by
its primitive, its parameters and its inputs (the values already bound, or the literals), the
two operands of a commutative operation (``add``, ``mul``, …) in a canonical order.  The first
occurrence is kept and its outputs serve every repetition, so the result is the very same
computation with the repetitions removed (IEEE addition and multiplication are commutative,
so swapping their operands does not change a bit).  Equations with side effects are never
merged.
"""

from __future__ import annotations

import functools
import warnings
from typing import Callable

import jax
import numpy as np

from . import jaxcompat
from .smoothness import stacklevel_outside_library

_COMMUTATIVE = frozenset({"add", "add_any", "mul", "and", "or", "xor", "eq", "ne"})
_INLINED = frozenset({"jit", "pjit"})  # calls whose params hold their ClosedJaxpr as "jaxpr"


def _param_key(value):
    """A hashable stand-in for an equation parameter, equal only for equal parameters."""
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_param_key(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((k, _param_key(v)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (type(value).__name__, value)


def _literal_key(literal):
    value = np.asarray(literal.val)
    return ("literal", str(literal.aval), value.dtype.str, value.tobytes())


def _equation_key(eqn, input_keys):
    keys = tuple(input_keys)
    if eqn.primitive.name in _COMMUTATIVE:
        keys = tuple(sorted(keys, key=repr))
    params = tuple(sorted((name, _param_key(v)) for name, v in eqn.params.items()))
    return (eqn.primitive.name, keys, params)


def _evaluate(jaxpr, consts, args, memo: dict, alive: list) -> list:
    """Evaluate ``jaxpr``, binding each distinct equation once (``memo``: key → outputs).

    Keys hold the ids of their input values, so every value must outlive the pass: the
    arguments, constants and ``memo`` hold theirs, ``alive`` the outputs of effectful
    equations (never memoised)."""
    env: dict = {}

    def read(atom):
        return atom.val if isinstance(atom, jaxcompat.Literal) else env[atom]

    def key_of(atom):
        return _literal_key(atom) if isinstance(atom, jaxcompat.Literal) else ("value", id(env[atom]))

    for var, value in zip(jaxpr.constvars, consts):
        env[var] = value
    for var, value in zip(jaxpr.invars, args):
        env[var] = value
    for eqn in jaxpr.eqns:
        inputs = [read(a) for a in eqn.invars]
        if eqn.effects:
            outs = _bind(eqn, inputs)
            alive.extend(outs)
        elif eqn.primitive.name in _INLINED:
            inner = eqn.params["jaxpr"]
            outs = _evaluate(inner.jaxpr, inner.consts, inputs, memo, alive)
        else:
            key = _equation_key(eqn, [key_of(a) for a in eqn.invars])
            outs = memo.get(key)
            if outs is None:
                outs = memo[key] = _bind(eqn, inputs)
        for var, value in zip(eqn.outvars, outs):
            if not isinstance(var, jaxcompat.DropVar):
                env[var] = value
    return [read(a) for a in jaxpr.outvars]


def _bind(eqn, inputs) -> list:
    return jaxcompat.bind_equation(eqn, inputs)


def eliminate_common_subexpressions(fn: Callable) -> Callable:
    """``fn`` (arrays or pytrees of arrays in and out) with repeated computations bound once.

    The returned function traces ``fn`` to a jaxpr and evaluates that jaxpr with each
    distinct equation bound once (module docstring); it composes with ``jit``, ``jvp``,
    ``grad`` and ``vmap`` like ``fn``.  Its results equal ``fn``'s (XLA may fuse the smaller
    program differently, which changes round-off only).  The jaxpr is kept for later calls
    with arguments of the same shapes and dtypes when it closes over no traced value (an
    ODE solver traces its vector field several times: ``fn`` is then traced once).
    """
    cache: dict = {}

    @functools.wraps(fn)
    def wrapped(*args):
        flat_args, in_tree = jax.tree_util.tree_flatten(args)
        try:
            if not jaxcompat.AVAILABLE:
                raise ImportError("JAX's jaxpr Literal/DropVar classes were not found")
            key = (in_tree, tuple(jaxcompat.typeof(a) for a in flat_args))
        except Exception as err:  # noqa: BLE001 - see _fall_back
            return _fall_back(fn, args, err)
        closed, out_tree = _traced(fn, cache, key, flat_args, in_tree)
        try:
            outs = _evaluate(closed.jaxpr, closed.consts, flat_args, {}, [])
        except Exception as err:  # noqa: BLE001 - see _fall_back
            return _fall_back(fn, args, err)
        return jax.tree_util.tree_unflatten(out_tree, outs)

    return wrapped


def _traced(fn, cache: dict, key, flat_args, in_tree):
    """``fn``'s closed jaxpr and output structure, kept in ``cache`` under ``key`` (the
    argument signature) when they close over no traced value."""
    traced = cache.get(key)
    if traced is None:
        closed, out_shape = jax.make_jaxpr(
            lambda *flat: fn(*jax.tree_util.tree_unflatten(in_tree, flat)), return_shape=True
        )(*flat_args)
        traced = (closed, jax.tree_util.tree_structure(out_shape))
        if not any(isinstance(c, jax.core.Tracer) for c in closed.consts):
            cache[key] = traced
    return traced


_WARNED: list = []


def _fall_back(fn, args, err):
    """The jaxpr walk uses JAX internals (``jax._src.core``) that a JAX release other than
    the ones tested may change.  Then ``fn`` runs as traced, with the same values and without
    the speed-up, after one warning; an error of ``fn`` itself is raised again there."""
    if not _WARNED:
        _WARNED.append(err)
        warnings.warn(f"eomlib.cse: repeated computations are not deduplicated with jax "
                      f"{jax.__version__} ({type(err).__name__}: {err}); the results are the same, "
                      f"only slower.", RuntimeWarning, stacklevel=stacklevel_outside_library())
    return fn(*args)
