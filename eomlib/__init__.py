"""eomlib: the Equation of Motion (EoM) of gradient descent, in JAX.

Gradient descent θ_{k+1} = θ_k − η∇f(θ_k) is reproduced, order by order in η, by the flow

    dθ/dt = −∇f(θ) − η Σ_{k≥1} η^{k−1} ξ_k(θ),   ξ_1 = ½ ∇²f ∇f, ...

(Miyagawa, NeurIPS 2022).  eomlib computes the counter terms ξ_k of any order for any
differentiable JAX loss on pytree parameters, solves the EoM, and measures and predicts
its discretization error.
"""

from . import breakdown, data, invariance, models, momentum, plots, toys, trees, widgets
from .counterterms import counter_term_coefficients, counter_terms
from .descent import gd_trajectory
from .errors import (
    ErrorSweep,
    discretization_error,
    error_sweep,
    fit_slope,
    predicted_error,
    predicted_error_vectors,
)
from .fields import eom_vector_field, modified_loss
from .solve import eom_trajectory
from .spectra import gradient_curvature, hvp, sharpness, sharpness_along, top_eigenvalues
from .validate import DivergenceError

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "ErrorSweep",
    "error_sweep",
    "counter_term_coefficients",
    "counter_terms",
    "discretization_error",
    "eom_trajectory",
    "eom_vector_field",
    "fit_slope",
    "gd_trajectory",
    "gradient_curvature",
    "hvp",
    "modified_loss",
    "predicted_error",
    "predicted_error_vectors",
    "sharpness",
    "sharpness_along",
    "top_eigenvalues",
]
