r"""Scale- and translation-invariant parameter groups: symmetry checks, norms and sums along
trajectories, angular updates, and the closed-form laws of GD, gradient flow and the order-1
EoM, with and without weight decay (chapters 5 and 6 of the book)."""


from ._core.invariance import SymmetryCheck as SymmetryCheck
from ._core.invariance import Tracked as Tracked
from ._core.invariance import angular_update as angular_update
from ._core.invariance import check_scale_invariance as check_scale_invariance
from ._core.invariance import check_translation_invariance as check_translation_invariance
from ._core.invariance import decay_rate as decay_rate
from ._core.invariance import eom1_norm_rate as eom1_norm_rate
from ._core.invariance import equilibrium_angle as equilibrium_angle
from ._core.invariance import equilibrium_norm as equilibrium_norm
from ._core.invariance import flow_sum as flow_sum
from ._core.invariance import gd_sq_norm as gd_sq_norm
from ._core.invariance import gd_sum as gd_sum
from ._core.invariance import group_grad_sq_norm as group_grad_sq_norm
from ._core.invariance import group_mask as group_mask
from ._core.invariance import group_sq_norm as group_sq_norm
from ._core.invariance import group_sum as group_sum
from ._core.invariance import integrated_sq_norm as integrated_sq_norm
from ._core.invariance import norm_rate as norm_rate
from ._core.invariance import polar_angle as polar_angle
from ._core.invariance import Projections as Projections
from ._core.invariance import counter_term_projections as counter_term_projections
from ._core.invariance import track as track
from ._core.invariance import unit_grad_sq_norm as unit_grad_sq_norm
from ._core.invariance import weight_decayed as weight_decayed
from ._core.invariance import weighted_angular_update as weighted_angular_update
from ._core.decaysweep import WeightDecaySweep as WeightDecaySweep
from ._core.decaysweep import weight_decay_sweep as weight_decay_sweep

__all__ = ["SymmetryCheck", "Tracked", "angular_update", "check_scale_invariance", "check_translation_invariance", "decay_rate", "eom1_norm_rate", "equilibrium_angle", "equilibrium_norm", "flow_sum", "gd_sq_norm", "gd_sum", "group_grad_sq_norm", "group_mask", "group_sq_norm", "group_sum", "integrated_sq_norm", "norm_rate", "polar_angle", "Projections", "counter_term_projections", "track", "unit_grad_sq_norm", "weight_decayed", "weighted_angular_update", "WeightDecaySweep", "weight_decay_sweep"]
