"""eomlib: the Equation of Motion (EoM) of gradient descent, in JAX.

Gradient descent θ_{k+1} = θ_k − η∇f(θ_k) is reproduced, order by order in η, by the flow

    dθ/dt = −∇f(θ) − η Σ_{k≥1} η^{k−1} ξ_k(θ),   ξ_1 = ½ ∇²f ∇f, ...

(Miyagawa, NeurIPS 2022).  eomlib computes the counter terms ξ_k of any order for any
differentiable JAX loss on pytree parameters, solves the EoM, and measures and predicts
its discretization error.

The API is what this module exports (``__all__``) and the documented submodules
:mod:`eomlib.invariance`, :mod:`eomlib.momentum`, :mod:`eomlib.breakdown`, :mod:`eomlib.sgd`,
:mod:`eomlib.centralflow`, :mod:`eomlib.sharding`,
:mod:`eomlib.spectra`, :mod:`eomlib.trees`, the workbench :mod:`eomlib.models` and
:mod:`eomlib.data`, the book's plotting and widgets :mod:`eomlib.book` and the experiments
:mod:`eomlib.reproduce` (the last two imported only when asked for: ``import eomlib`` loads
no matplotlib, IPython or ipywidgets).  Everything under ``eomlib._core`` is private.
"""

import importlib as _importlib
import warnings as _warnings

from . import breakdown, centralflow, data, invariance, models, momentum, sgd, sharding, spectra, trees
from ._core.counterterms import counter_term_coefficients as counter_term_coefficients
from ._core.counterterms import counter_terms as counter_terms
from ._core.descent import gd_trajectory as gd_trajectory
from ._core.errors import ErrorSweep as ErrorSweep
from ._core.errors import PredictionSweep as PredictionSweep
from ._core.errors import discretization_error as discretization_error
from ._core.errors import error_sweep as error_sweep
from ._core.errors import fit_slope as fit_slope
from ._core.errors import predicted_error as predicted_error
from ._core.errors import predicted_error_vectors as predicted_error_vectors
from ._core.errors import prediction_sweep as prediction_sweep
from ._core.fields import eom_vector_field as eom_vector_field
from ._core.fields import modified_loss as modified_loss
from ._core.smoothness import non_smooth_reason as non_smooth_reason
from ._core.solve import Solver as Solver
from ._core.solve import eom_trajectory as eom_trajectory
from ._core.spectra import gradient_curvature as gradient_curvature
from ._core.spectra import hvp as hvp
from ._core.spectra import sharpness as sharpness
from ._core.spectra import sharpness_along as sharpness_along
from ._core.spectra import top_eigenvalues as top_eigenvalues
from ._core.validate import DivergenceError as DivergenceError

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "ErrorSweep",
    "PredictionSweep",
    "Solver",
    "counter_term_coefficients",
    "counter_terms",
    "discretization_error",
    "eom_trajectory",
    "eom_vector_field",
    "error_sweep",
    "fit_slope",
    "gd_trajectory",
    "gradient_curvature",
    "hvp",
    "modified_loss",
    "non_smooth_reason",
    "predicted_error",
    "predicted_error_vectors",
    "prediction_sweep",
    "sharpness",
    "sharpness_along",
    "top_eigenvalues",
]

# Submodules loaded on first use (matplotlib, ipywidgets, tqdm live there), and the names
# they had before eomlib.book and eomlib.reproduce existed.
_LAZY = {"book": "eomlib.book", "reproduce": "eomlib.reproduce"}
_MOVED = {"plots": "eomlib.book.plots", "widgets": "eomlib.book.widgets",
          "toys": "eomlib.book.toys", "experiments": "eomlib.reproduce"}


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module(_LAZY[name])
    if name in _MOVED:
        _warnings.warn(f"eomlib.{name} moved to {_MOVED[name]}; import it from there.",
                       DeprecationWarning, stacklevel=2)
        return _importlib.import_module(_MOVED[name])
    raise AttributeError(f"module 'eomlib' has no attribute {name!r}")
