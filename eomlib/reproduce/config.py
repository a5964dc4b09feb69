"""The settings of one run of ``python -m eomlib reproduce``: sizes, learning rates and
tolerances (:class:`eomlib.reproduce.Scale`), and the three named scales
(:data:`eomlib.reproduce.SCALES`)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

SLOPE_TOLERANCE = 0.3
"""A fitted error order passes if it is within this of γ + 1."""
DATASETS = ("digits", "mnist", "cifar10")
MODELS = ("mlp", "cnn")


def floor_one_digit(x: float) -> float:
    """``x`` rounded down to one significant digit (0.803 → 0.8, 0.061 → 0.06).

    Used to turn a target ηλ into a round learning rate that errs on the small side.

    Args:
        x: a finite number > 0.

    Returns:
        The largest d·10^k ≤ ``x`` with d in 1…9 (up to a relative 1e-12, so that 0.3 stays
        0.3), as a float.

    Raises:
        ValueError: if ``x`` is not finite or not > 0.

    Example:
        >>> from eomlib import reproduce
        >>> reproduce.floor_one_digit(0.803), reproduce.floor_one_digit(0.061)  # (0.8, 0.06)
    """
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"x must be finite and > 0, got {x}.")
    unit = 10.0 ** math.floor(math.log10(x))
    return float(round(math.floor(x / unit * (1 + 1e-12)) * unit, 12))


@dataclasses.dataclass(frozen=True)
class Scale:
    r"""Sizes of one run of :func:`eomlib.reproduce.reproduce`.

    The learning rates are set by the sharpness :math:`\lambda_{\max}(\theta_0)`, so that
    one scale serves every dataset: :math:`\eta_{\max}` is ``lr_sharpness``/λ_max rounded
    down to one digit (the EoM series converges for ηλ < 1; GD is stable for ηλ < 2).
    Experiment (a) uses :math:`\eta_i = \eta_{\max}/2^i`, i < ``num_lrs``, with
    :math:`n_i = n_0 2^i` steps (horizon :math:`T = n_0\eta_{\max}`).  Experiment (b) runs
    ``track_steps`` steps at :math:`\eta_{\max}/4` and twice as many at :math:`\eta_{\max}/8`.
    Experiment (c) sets its own η from the layer-normalised network's curvature
    (``inv_lr_sharpness``, see ``run_invariance``), the weight decay from
    ``inv_decay_times_lr`` = ηλ, and runs ``inv_steps`` steps at η, twice as many at η/2, and
    one GD run of ``inv_decay_steps`` steps to the equilibrium norm.

    Attributes:
        n_train: the number of training examples, the seeded subset of :mod:`eomlib.data`
            (≥ 1, at most the size of the dataset).
        hidden: the hidden widths of the MLP, a tuple of integers ≥ 1 (e.g. ``(64,)``).
        channels: the channels of the CNN's convolutions, a tuple of integers ≥ 1.
        num_lrs: the number of learning rates of experiment (a), ≥ 2 (a slope needs two).
        base_steps: :math:`n_0`, the number of steps at :math:`\eta_{\max}` in (a), ≥ 1.
        track_steps: the number of steps of (b) at :math:`\eta_{\max}/4`, ≥ 1.
        orders: the EoM orders γ ≥ 0 of experiment (a) (default ``(0, 1, 2, 3)``; γ = 0 is
            gradient flow).
        track_orders: the orders γ of experiment (b) (default ``(0, 1)``).
        lr_sharpness: the target :math:`\eta_{\max}\lambda_{\max}(\theta_0)`, in (0, 1) for
            the EoM series to converge (default 0.25).
        lr_max: :math:`\eta_{\max}`; None (the default) until ``Scale.with_sharpness`` sets
            it from the sharpness (a given value is kept).
        rtol: the relative tolerance of the ODE solver in (a) (default 1e-12: the errors
            reach about 1e-9 at order 3).
        atol: the absolute tolerance of the ODE solver in (a) (default 1e-14).
        inv_steps: :math:`n_s`, the steps of the GD, GF and order-1 EoM runs of (c) at
            :math:`\eta_{inv}` (2 :math:`n_s` at :math:`\eta_{inv}/2`); default 50.
        inv_decay_steps: the steps of the long GD run with weight decay of (c), which must
            reach the equilibrium norm (default 600).
        inv_lr_sharpness: the target :math:`\eta_{inv}|\lambda|_{\max}(\theta_0)` of the
            layer-normalised network, in (0, 1) (default 0.25).
        inv_decay_times_lr: :math:`\eta_{inv}\lambda`, λ the weight decay, > 0 (default 0.02).
        inv_rtol: the relative tolerance of the ODE solver in (c) (default 1e-9).
        inv_atol: the absolute tolerance of the ODE solver in (c) (default 1e-11).
        lrs: read only; the learning rates :math:`\eta_{\max}/2^i`, i < ``num_lrs``, of (a),
            a numpy array (``lr_max`` must be set).
        horizon: read only; the horizon :math:`T = n_0\eta_{\max}` of (a).
        track_lr: read only; the larger learning rate of (b), :math:`\eta_{\max}/4`.

    Example:
        >>> from eomlib import reproduce
        >>> scale = reproduce.Scale(n_train=128, hidden=(16,), channels=(4,), num_lrs=3,
        ...                         base_steps=6, track_steps=10)
        >>> results = reproduce.reproduce(scale, "digits", "eom_custom")  # scale "custom"
    """

    n_train: int
    hidden: tuple  # MLP hidden widths
    channels: tuple  # CNN channels
    num_lrs: int
    base_steps: int  # n_0
    track_steps: int
    orders: tuple = (0, 1, 2, 3)  # EoM orders of experiment (a)
    track_orders: tuple = (0, 1)  # of experiment (b)
    lr_sharpness: float = 0.25  # target η_max·λ_max(θ_0)
    lr_max: float | None = None  # None: set from the sharpness by with_sharpness
    rtol: float = 1e-12  # solver tolerances of experiment (a): errors reach ~1e-9 at order 3
    atol: float = 1e-14
    # experiment (c): the layer-normalised network
    inv_steps: int = 50  # n_s: GD/GF/EoM-1 runs of n_s steps at η_inv and 2 n_s at η_inv/2
    inv_decay_steps: int = 600  # the long GD run with weight decay (equilibrium norm)
    inv_lr_sharpness: float = 0.25  # η_inv·|λ|_max(θ_0) of the layer-normalised network
    inv_decay_times_lr: float = 0.02  # η_inv·λ (λ the weight decay)
    inv_rtol: float = 1e-9  # solver tolerances of experiment (c)
    inv_atol: float = 1e-11

    def with_sharpness(self, sharpness: float) -> "Scale":
        """This scale with ``lr_max`` set from λ_max(θ_0) (unless it was given).

        Args:
            sharpness: λ_max(θ_0) > 0, e.g. ``eomlib.sharpness(loss, theta0)``.

        Returns:
            This :class:`eomlib.reproduce.Scale` if ``lr_max`` is set, else a copy with
            ``lr_max`` = :func:`eomlib.reproduce.floor_one_digit` (``lr_sharpness`` /
            ``sharpness``).

        Raises:
            ValueError: if ``lr_max`` is None and ``lr_sharpness / sharpness`` is not finite
                and > 0.

        Example:
            >>> from eomlib import reproduce
            >>> reproduce.SCALES["tiny"].with_sharpness(2.5).lr_max  # 0.25 / 2.5 = 0.1
        """
        if self.lr_max is not None:
            return self
        return dataclasses.replace(self, lr_max=floor_one_digit(self.lr_sharpness / sharpness))

    @property
    def lrs(self) -> np.ndarray:
        return self.lr_max / 2.0 ** np.arange(self.num_lrs)

    @property
    def horizon(self) -> float:
        return self.lr_max * self.base_steps

    @property
    def track_lr(self) -> float:
        return self.lr_max / 4.0


#: The named scales of ``python -m eomlib reproduce --scale``: ``"tiny"`` (the tests, about
#: a CPU-minute), ``"small"`` (the default, a few CPU-minutes) and ``"paper"`` (a GPU run).
SCALES = {
    # for the tests: about 1.5 CPU-minutes (1 with XLA's LLVM optimisation off), nearly all of
    # it compilation
    "tiny": Scale(n_train=64, hidden=(8,), channels=(4,), num_lrs=3, base_steps=6,
                  track_steps=10, inv_steps=20, inv_decay_steps=600),
    # about 3 minutes on 2 CPU cores (3 CPU-minutes): a 64-64-10 tanh MLP (d = 4810) on
    # 1024 digits
    "small": Scale(n_train=1024, hidden=(64,), channels=(8, 16), num_lrs=5, base_steps=12,
                   track_steps=100, inv_steps=50, inv_decay_steps=600),
    # a GPU setting: on MNIST the MLP 784-128-128-10 has d = 118 282 parameters
    "paper": Scale(n_train=1024, hidden=(128, 128), channels=(16, 32), num_lrs=5, base_steps=25,
                   track_steps=200, inv_steps=100, inv_decay_steps=1000),
}
