r"""The central flow of gradient descent at the edge of stability (Cohen, Damian, Talwalkar,
Kolter & Lee, ICLR 2025), matrix-free, and the side-by-side run of GD, gradient flow, the EoM
and the central flow (chapter 11 of the book).

Below the edge of stability the central flow is gradient flow; where Hessian eigenvalues
reach :math:`2/\eta` it holds them there with a multiplier X (GD's oscillation covariance in
the top eigenbasis, from a small semidefinite complementarity problem), and it predicts GD's
time-averaged loss :math:`f + \mathrm{tr}X/\eta`.

In rescaled time τ = t/η (τ = k at GD step k) the central flow is

.. math::  \frac{d\theta}{d\tau} = -\eta\Big[\nabla f(\theta)
           + \tfrac12 \sum_{i,j} X_{ij}\, \nabla_\theta\big(u_i^\top \nabla^2 f(\theta)\, u_j\big)\Big],

where :math:`u_1, \dots, u_k` are the top Hessian eigenvectors and the k×k matrix
:math:`X \succeq 0` (GD's oscillation covariance :math:`\Sigma = U X U^\top` in the basis U) is
nonzero only on the eigenvalues at the edge, :math:`\lambda_i > c/\eta` (c = ``threshold``,
1.95 as in the official code).  Below the edge X = 0 and the flow is gradient flow.  At the
edge, X solves the semidefinite complementarity problem (:func:`solve_sdcp`)

.. math::  X \succeq 0,\quad R = \tfrac{2}{\eta} I - \Lambda - \rho\,\frac{d H_U}{d\tau}(X) \succeq 0,
           \quad \langle X, R\rangle = 0,

with :math:`H_U = U^\top \nabla^2 f U` and :math:`dH_U/d\tau` its rate of change along the flow
(:math:`(dH_U/d\tau)_{ij} = \nabla(u_i^\top H u_j)\cdot d\theta/d\tau`, by first-order
perturbation theory): the eigenvalues at the edge may not rise above :math:`2/\eta`, and X is
positive only where one is held there.  ρ (``relaxation``, in GD steps) is the time over which
an overshoot above :math:`2/\eta` is pulled back: the official code's Euler substep of length
ρ solves exactly this problem at each substep, so that with ρ = 1/4 (its default of four
substeps per step) the two agree field for field.  With one eigenvalue at the edge and
:math:`S = \lambda_{\max} = 2/\eta` the multiplier is the projection of the paper,
:math:`X = \sigma^2 = \max\big(0, -2\langle\nabla S, \nabla f\rangle/\|\nabla S\|^2\big)` with
:math:`\nabla S = \nabla^3 f[u, u]`: gradient flow projected onto the tangent space of
:math:`\{S = 2/\eta\}`.  GD's time-averaged loss is predicted as
:math:`f(\theta) + \tfrac12\langle \Sigma, \nabla^2 f\rangle \approx f(\theta) + \mathrm{tr}\,X/\eta`.

In book time t = kη this is :math:`d\theta/dt = -[\nabla f + \tfrac12\sum_{ij} X_{ij}\nabla(u_i^\top H u_j)]`.

Hessians appear only in products: the top num_eigs + 1 eigenpairs by block Lanczos (blocks
of Hessian-vector products, batched), warm-started from the previous GD step's eigenvectors;
:math:`\nabla(u_i^\top H u_j)` by reverse-over-forward-over-reverse differentiation (a few
gradients' cost each).  The flow is solved one GD step at a time (``diffrax.Tsit5``, adaptive),
saved exactly at τ = 0, 1, …, n; a step whose start and end lie below the edge is solved as
gradient flow, without eigenvectors inside the field.

``side_by_side`` runs GD, gradient flow, the EoM of orders 1–2 and the central flow from one
θ0 and reports distance to GD, loss and sharpness at every step; ``time_average`` is the
running mean of GD's oscillating loss that the central flow predicts.
"""

from ._core.centralflow import CentralFlow as CentralFlow
from ._core.centralflow import EigenSolverError as EigenSolverError
from ._core.centralflow import central_flow as central_flow
from ._core.centralflow import central_flow_field as central_flow_field
from ._core.complementarity import solve_sdcp as solve_sdcp
from ._core.sidebyside import SideBySide as SideBySide
from ._core.sidebyside import side_by_side as side_by_side
from ._core.sidebyside import time_average as time_average

__all__ = ["central_flow", "central_flow_field", "CentralFlow", "EigenSolverError",
           "side_by_side", "SideBySide", "time_average", "solve_sdcp"]
