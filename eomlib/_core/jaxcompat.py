"""Adapters for the parts of JAX's jaxpr machinery that :mod:`eomlib._core.cse` and
:mod:`eomlib._core.smoothness` use, on every JAX eomlib is tested with (README: the floor and
the pin).  Public homes first (``jax.extend.core``, ``jax.core``, ``jax.typeof``), the private
``jax._src.core`` only where a tested release has nothing public, and one adapter per API
that changed shape between releases."""

from __future__ import annotations

import contextlib

import jax

try:  # pragma: no cover - import paths differ by release
    import jax.extend.core as _extend_core
except ImportError:  # pragma: no cover
    _extend_core = None
try:  # the private home, where a tested release has no public one
    from jax._src import core as _src_core
except ImportError:  # pragma: no cover
    _src_core = None


def _find(name: str):
    for home in (_extend_core, jax.core, _src_core):
        value = getattr(home, name, None) if home is not None else None
        if value is not None:
            return value
    return None


#: JAX's jaxpr literal and dropped-output classes (None if no home has them: callers fall back).
Literal = _find("Literal")
DropVar = _find("DropVar")
AVAILABLE = Literal is not None and DropVar is not None


def typeof(value):
    """The abstract value (shape, dtype, weak type) of an array or tracer: ``jax.typeof``
    where it exists (jax ≥ 0.6), else ``jax.core.get_aval``."""
    if hasattr(jax, "typeof"):
        return jax.typeof(value)
    return jax.core.get_aval(value)  # pragma: no cover - older releases


def bind_equation(eqn, inputs) -> list:
    """Bind the jaxpr equation ``eqn`` to ``inputs`` and return its outputs as a list.

    ``Primitive.get_bind_params`` returns the keyword parameters (a dict) on recent JAX and
    ``(subfuns, params)`` on older releases, where the sub-functions come before the inputs;
    ``eqn.ctx.manager`` (the equation's context, e.g. its name stack) exists only on
    releases that record one."""
    bound = eqn.primitive.get_bind_params(eqn.params)
    subfuns, params = bound if isinstance(bound, tuple) else ((), bound)
    ctx = getattr(getattr(eqn, "ctx", None), "manager", None) or contextlib.nullcontext()
    with ctx:
        out = eqn.primitive.bind(*subfuns, *inputs, **params)
    return list(out) if eqn.primitive.multiple_results else [out]
