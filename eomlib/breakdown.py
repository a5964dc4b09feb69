r"""Where the EoM breaks: on a quadratic the counter-term series is the series of
log(1 − ηλ), convergent for ηλ < 1; the one-step error of the EoM on any loss
(chapter 8 of the book)."""


from ._core.breakdown import log_series_coefficients as log_series_coefficients
from ._core.breakdown import eom_step_exponent as eom_step_exponent
from ._core.breakdown import exact_step_exponent as exact_step_exponent
from ._core.breakdown import exponent_error as exponent_error
from ._core.breakdown import relative_step_error as relative_step_error
from ._core.breakdown import principal_flow_multiplier as principal_flow_multiplier
from ._core.breakdown import quadratic_gd as quadratic_gd
from ._core.breakdown import quadratic_eom as quadratic_eom
from ._core.breakdown import quadratic_exact_flow as quadratic_exact_flow
from ._core.breakdown import quadratic_eom_error as quadratic_eom_error
from ._core.breakdown import local_error as local_error

__all__ = ["log_series_coefficients", "eom_step_exponent", "exact_step_exponent", "exponent_error", "relative_step_error", "principal_flow_multiplier", "quadratic_gd", "quadratic_eom", "quadratic_exact_flow", "quadratic_eom_error", "local_error"]
