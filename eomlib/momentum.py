r"""Heavy-ball momentum: its iterates, first-order counter term, modified loss, initial
shift and modified flows, and their error sweep (chapter 9 of the book)."""


from ._core.momentum import heavy_ball_trajectory as heavy_ball_trajectory
from ._core.momentum import momentum_counter_term as momentum_counter_term
from ._core.momentum import momentum_eom_field as momentum_eom_field
from ._core.momentum import modified_momentum_loss as modified_momentum_loss
from ._core.momentum import initial_shift as initial_shift
from ._core.momentum import momentum_flow_trajectory as momentum_flow_trajectory
from ._core.momentum import momentum_error_sweep as momentum_error_sweep
from ._core.momentum import MomentumErrorSweep as MomentumErrorSweep
from ._core.momentum import VARIANTS as VARIANTS
from ._core.momentum import momentum_coefficients as momentum_coefficients

__all__ = ["heavy_ball_trajectory", "momentum_counter_term", "momentum_eom_field", "modified_momentum_loss", "initial_shift", "momentum_flow_trajectory", "momentum_error_sweep", "MomentumErrorSweep", "VARIANTS", "momentum_coefficients"]
