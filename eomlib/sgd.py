r"""Stochastic gradient descent and its continuous models (chapter 10 of the book).

Losses take data: ``loss(θ, batch)`` is the mean of a per-example loss over a batch (a pytree
of arrays with a leading axis of examples), so batches and datasets are arguments of the
compiled programs.  :func:`sgd_trajectory` / :func:`sgd_ensemble` run SGD with a fixed
batch order, random reshuffling or sampling with replacement; :func:`sgd_modified_field`,
:func:`sgd_modified_loss` and :func:`sgd_flow_trajectory` are the per-epoch modified flows
(Smith, Dherin, Barrett & De 2021); :func:`sme_ensemble` solves the stochastic modified
equations of order 1 and 2 (Li, Tai & E 2017/2019) with diffrax; :func:`monte_carlo_mean`
gives ensemble means with error bars.  On linear least squares, :func:`sgd_moments` and
:func:`sme_moments` give SGD's and the SME's first and second moments exactly (closed-form
recursions and linear ODEs; small d only), and :func:`weak_error_sweep` their weak errors.
"""

from ._core.linear_moments import WeakErrorSweep as WeakErrorSweep
from ._core.linear_moments import sgd_moments as sgd_moments
from ._core.linear_moments import sme_moments as sme_moments
from ._core.linear_moments import weak_error_sweep as weak_error_sweep
from ._core.sgd import DataShape as DataShape
from ._core.sgd import SCHEMES as SCHEMES
from ._core.sgd import check_data as check_data
from ._core.sgd import monte_carlo_mean as monte_carlo_mean
from ._core.sgd import sgd_ensemble as sgd_ensemble
from ._core.sgd import sgd_flow_trajectory as sgd_flow_trajectory
from ._core.sgd import sgd_modified_field as sgd_modified_field
from ._core.sgd import sgd_modified_loss as sgd_modified_loss
from ._core.sgd import sgd_trajectory as sgd_trajectory
from ._core.sgd import sme_ensemble as sme_ensemble

__all__ = ["SCHEMES", "DataShape", "check_data", "sgd_trajectory", "sgd_ensemble",
           "sgd_modified_field", "sgd_modified_loss", "sgd_flow_trajectory", "sme_ensemble",
           "monte_carlo_mean", "sgd_moments", "sme_moments", "weak_error_sweep", "WeakErrorSweep"]
