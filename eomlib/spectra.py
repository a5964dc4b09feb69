r"""Hessian spectra from Hessian-vector products only: λ_max, the spectral radius, the top eigenvalues, along a
trajectory, and the curvature along the gradient."""

from ._core.spectra import Lanczos as Lanczos
from ._core.spectra import gradient_curvature as gradient_curvature
from ._core.spectra import hvp as hvp
from ._core.spectra import lanczos as lanczos
from ._core.spectra import power_iteration as power_iteration
from ._core.spectra import ritz_pairs as ritz_pairs
from ._core.spectra import sharpness as sharpness
from ._core.spectra import sharpness_along as sharpness_along
from ._core.spectra import spectral_radius as spectral_radius
from ._core.spectra import top_eigenvalues as top_eigenvalues

__all__ = ["hvp", "sharpness", "spectral_radius", "top_eigenvalues", "sharpness_along", "gradient_curvature",
           "power_iteration", "lanczos", "Lanczos", "ritz_pairs"]
