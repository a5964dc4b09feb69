r"""Reproducing the paper's claims on real networks and data: ``python -m eomlib reproduce``.

Three experiments, each a direct test of a claim of the EoM (Miyagawa, NeurIPS 2022):

(a) **Error order.**  At a fixed horizon :math:`T`, the discretization error of the order-γ
    EoM is :math:`\max_{k\le T/\eta}\|\theta_{\rm EoM}(k\eta) - \theta_k\| = O(\eta^{\gamma+1})`
    (γ = 0 is gradient flow).  η sweeps a factor-2 grid with :math:`n_i = T/\eta_i` steps
    (:func:`eomlib.error_sweep`); the fitted log–log slope is expected to be γ + 1.
(b) **Error prediction.**  Along training, the measured error :math:`e_k` against the
    leading-order prediction :math:`\|\delta(k\eta)\|` of the tangent equation
    (:func:`eomlib.prediction_sweep`) for γ = 0 and 1, at η and η/2 over the same horizon:
    the ratio tends to 1 and its deviation from 1 shrinks like η.
(c) **Invariant layers** (:mod:`eomlib.invariance`).  The same architecture with layer
    normalisation after each hidden affine layer: the first layer is a scale-invariant group
    :math:`\theta_S`, the output biases a translation-invariant group :math:`\theta_T`.  GD,
    gradient flow and the order-1 EoM, without and with weight decay λ: GF keeps
    :math:`\|\theta_S\|^2`, GD grows it by exactly :math:`\eta^2\|g_S\|^2` per step and the
    order-1 EoM predicts that growth; with weight decay GD settles at the equilibrium norm
    :math:`(\eta C/(\lambda(2-\eta\lambda)))^{1/4}` while GF decays as :math:`e^{-\lambda t}`;
    the sum :math:`\mathbf 1\cdot\theta_T` is conserved without decay and decays as
    :math:`(1-\eta\lambda)^k` (GD), :math:`e^{-\lambda t}` (GF), :math:`e^{r_1 t}` (order-1 EoM).

Every claim is a :class:`eomlib.reproduce.Check` record; a failed one makes
``results["passed"]`` False and the command exit with status 1.  Everything runs in float64,
through eomlib's public API only.

Modules: ``eomlib.reproduce.config`` (the scales), ``eomlib.reproduce.problems``
(networks and losses), ``eomlib.reproduce.runners`` (the experiments and
:func:`reproduce`), ``eomlib.reproduce.checks``, ``eomlib.reproduce.figures``,
``eomlib.reproduce.report`` and ``eomlib.reproduce.cli``.
"""

from .checks import INVARIANCE_CHECKS as INVARIANCE_CHECKS
from .checks import Check as Check
from .checks import collect_failures as collect_failures
from .checks import slope_passes as slope_passes
from .cli import main as main
from .config import SCALES as SCALES
from .config import SLOPE_TOLERANCE as SLOPE_TOLERANCE
from .config import Scale as Scale
from .config import floor_one_digit as floor_one_digit
from .problems import build_problem as build_problem
from .problems import invariance_problem as invariance_problem
from .problems import invariance_runs as invariance_runs
from .report import summary_table as summary_table
from .runners import reproduce as reproduce

__all__ = ["reproduce", "summary_table", "main", "Scale", "SCALES", "SLOPE_TOLERANCE", "Check",
           "INVARIANCE_CHECKS", "collect_failures", "slope_passes", "floor_one_digit",
           "build_problem", "invariance_problem", "invariance_runs"]
