"""eomlib's core: the mathematics, private.

Counter terms and their trees, vector fields, gradient descent, ODE solves, errors,
spectra, invariant layers, momentum and the quadratic breakdown.  These modules import
only JAX, diffrax, equinox, numpy and each other — never models, data, the book's plotting
and widgets, or the command line.  The public API re-exports them: ``eomlib/__init__.py`` and
the documented submodules (``eomlib.invariance``, ``eomlib.momentum``, ``eomlib.breakdown``,
``eomlib.spectra``, ``eomlib.trees``).  Names here may change without notice.
"""
