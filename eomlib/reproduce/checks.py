r"""Every claim a run tests, as a list of :class:`eomlib.reproduce.Check` records.

A check is one record: its name, what is measured, the value, what is expected, the
tolerance and whether it passed (plus a sentence with the numbers, and the numbers
themselves).  The summary table, ``results.json``, the list of failures and the exit status
are all read off these records, so adding a claim is adding one record here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import invariance
from .config import SLOPE_TOLERANCE
from .problems import InvarianceRuns


@dataclasses.dataclass(frozen=True)
class Check:
    """One claim tested by a run.

    Built with the fields below, in order (``numbers`` may be omitted); frozen.

    Attributes:
        name: what is claimed, e.g. ``"GF keeps the norm"`` (the names of experiment (c)
            are :data:`eomlib.reproduce.INVARIANCE_CHECKS`).
        measured: what ``value`` is, e.g. ``"relative drift of ‖θ_S‖²"``.
        value: the number compared with the expectation.
        expected: the expectation in words, e.g. ``"< 1e-6"`` or ``"1 ± 0.1"``.
        tolerance: the tolerance in ``expected`` (None where it has none).
        passed: whether the claim holds.
        detail: one sentence with the numbers behind the verdict (what
            :func:`eomlib.reproduce.collect_failures` reports when it fails).
        numbers: further measured numbers, by name (written to ``results.json``); default
            an empty dict.

    Example:
        >>> from eomlib import reproduce
        >>> check = reproduce.Check("GF keeps the norm", "relative drift", 3e-9, "< 1e-6",
        ...                         1e-6, True, "drift 3e-09 (< 1e-6)")
        >>> check.to_json()["passed"]  # True
    """

    name: str
    measured: str
    value: float
    expected: str
    tolerance: float | None
    passed: bool
    detail: str
    numbers: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        """The record as ``results.json`` holds it: its fields, then its numbers.

        Returns:
            A dict of the fields (``value`` as a float, ``passed`` as a bool), followed by
            the entries of ``numbers`` as floats.

        Example:
            >>> json.dumps(check.to_json())  # check: a Check; import json
        """
        return {"name": self.name, "measured": self.measured, "value": float(self.value),
                "expected": self.expected, "tolerance": self.tolerance,
                "passed": bool(self.passed), "detail": self.detail,
                **{k: float(v) for k, v in self.numbers.items()}}


def slope_passes(slope: float, order: int, tolerance: float = SLOPE_TOLERANCE) -> bool:
    """Is the fitted error order within ``tolerance`` of γ + 1?

    Args:
        slope: the fitted log–log slope of the error against η (NaN or infinite fails).
        order: the EoM order γ ≥ 0 (0 is gradient flow).
        tolerance: the largest accepted ``|slope − (γ + 1)|``, ≥ 0 (default
            :data:`eomlib.reproduce.SLOPE_TOLERANCE`, 0.3).

    Returns:
        True if ``slope`` is finite and within ``tolerance`` of ``order + 1``, else False.

    Example:
        >>> from eomlib import reproduce
        >>> reproduce.slope_passes(2.1, 1), reproduce.slope_passes(1.5, 1)  # (True, False)
    """
    return bool(np.isfinite(slope) and abs(slope - (order + 1)) <= tolerance)


def slope_check(order: int, slope: float, max_error) -> Check:
    """Experiment (a): the fitted log–log slope of the error of the order-γ EoM is γ + 1."""
    return Check(
        f"order-{order} error slope", "fitted slope of max error vs η", slope,
        f"{order + 1} ± {SLOPE_TOLERANCE}", SLOPE_TOLERANCE, slope_passes(slope, order),
        f"order-{order} fitted slope {slope:.3f}, expected {order + 1} ± {SLOPE_TOLERANCE} "
        f"(errors {list(max_error)})")


def _rel(a, b) -> float:
    """max |a − b| / max |b|."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def equilibrium_window(sq_norms, grad_sq_norms, lr: float, weight_decay: float) -> tuple:
    r"""Where GD with weight decay is at its equilibrium norm: the step :math:`k_0` at which
    the growth :math:`\eta^2\|g_{S,k}\|^2` of the norm recursion first reaches half its decay
    :math:`(1-(1-\eta\lambda)^2)\|\theta_{S,k}\|^2` (None if never), and the window averaged
    over, the second half of the steps from :math:`k_0` (the second half of the run if
    :math:`k_0` is None)."""
    sq, g2 = np.asarray(sq_norms), np.asarray(grad_sq_norms)
    balance = lr**2 * g2 / ((1.0 - (1.0 - lr * weight_decay) ** 2) * sq)
    hits = np.nonzero(balance >= 0.5)[0]
    first = int(hits[0]) if hits.size else None
    start = (first if first is not None else 0) + (len(sq) - (first or 0)) // 2
    return first, slice(start, len(sq))


def invariance_checks(sym_scale, sym_translation, runs: InvarianceRuns, gd: dict, gf: dict,
                      eom1: dict, decay_order1_rate: float) -> tuple[list, dict]:
    r"""The checks of experiment (c) from the tracked series (numpy, one row per run of
    :func:`eomlib.reproduce.invariance_runs`; ``gd`` has keys ``sq_norm``,
    ``grad_sq``, ``bias_sum``, the flows ``sq_norm`` and ``bias_sum``): a list of
    :class:`eomlib.reproduce.Check` and the numbers they rest on."""
    lrs, lams, ns = runs
    lr, lam = lrs[0], lams[2]
    sq0, s0 = gd["sq_norm"][0][0], gd["bias_sum"][0][0]
    end = lambda series, i: series[i][ns[i]]  # noqa: E731  value at t = T of run i
    t = [lrs[i] * np.arange(ns[i] + 1) for i in range(len(ns))]

    # --- what is measured ---------------------------------------------------------------
    gf_drift = max(float(np.max(np.abs(gf["sq_norm"][i][: ns[i] + 1] - sq0))) for i in (0, 1)) / sq0
    growth, recursion, monotone = [], 0.0, True
    for i in (0, 1):
        sq, g2, n = gd["sq_norm"][i][: ns[i] + 1], gd["grad_sq"][i][: ns[i] + 1], ns[i]
        growth.append(float(sq[n] - sq0))
        recursion = max(recursion, abs(float(sq0 + lrs[i] ** 2 * g2[:n].sum() - sq[n])) / growth[-1])
        monotone &= bool(np.all(np.diff(sq) > 0))
    ratios = [float(end(eom1["sq_norm"], i) - sq0) / growth[i] for i in (0, 1)]
    shrink = abs(ratios[0] - 1) / max(abs(ratios[1] - 1), 1e-300)
    # with weight decay, over the same horizon: error of ‖θ_S(T)‖² against GD
    err = {name: [abs(float(end(flow["sq_norm"], i) - end(gd["sq_norm"], i)))
                  / float(end(gd["sq_norm"], i)) for i in (2, 3)]
           for name, flow in (("gf", gf), ("eom1", eom1))}
    gain = err["gf"][0] / err["eom1"][0]
    gf_decay = max(_rel(gf["sq_norm"][i][: ns[i] + 1], sq0 * np.exp(-2 * lam * t[i])) for i in (2, 3))
    n = ns[4]
    sq_wd, g2_wd = gd["sq_norm"][4][: n + 1], gd["grad_sq"][4][: n + 1]
    first, window = equilibrium_window(sq_wd, g2_wd, lr, lam)
    reached = first is not None and n + 1 - first >= (n + 1) // 4
    c_mean = float(np.mean(sq_wd[window] * g2_wd[window]))
    measured = float(np.mean(np.sqrt(sq_wd[window])))
    predicted = float(invariance.equilibrium_norm(lr, lam, c_mean, "gd"))
    predicted_eom1 = float(invariance.equilibrium_norm(lr, lam, c_mean, "eom1"))
    gf_norm = float(np.sqrt(sq0) * np.exp(-lam * lr * n))
    where = (f"steps {window.start}–{n}" if reached else
             f"not reached in {n} steps: the growth never balanced half the decay early enough; "
             "raise inv_decay_steps")
    drift = max(float(np.max(np.abs(series[i][: ns[i] + 1] - s0)))
                for series in (gd["bias_sum"], gf["bias_sum"], eom1["bias_sum"])
                for i in (0, 1)) / abs(s0)
    closed = {
        "gd": max(_rel(gd["bias_sum"][i][: ns[i] + 1], invariance.gd_sum(s0, lrs[i], lam, ns[i]))
                  for i in (2, 3, 4)),
        "gf": max(_rel(gf["bias_sum"][i][: ns[i] + 1], invariance.flow_sum(s0, lrs[i], lam, ns[i], 0))
                  for i in (2, 3)),
        "eom1": max(_rel(eom1["bias_sum"][i][: ns[i] + 1],
                         invariance.flow_sum(s0, lrs[i], lam, ns[i], 1)) for i in (2, 3)),
    }
    rate_gd = float(np.log(gd["bias_sum"][4][n] / s0) / (lr * n))
    rate_exact = float(invariance.decay_rate(lr, lam))
    mismatch = {name: [abs(float(end(flow["bias_sum"], i) - end(gd["bias_sum"], i))) / abs(s0)
                       for i in (2, 3)] for name, flow in (("gf", gf), ("eom1", eom1))}
    orders = {name: float(np.log2(m[0] / m[1])) for name, m in mismatch.items()}

    # --- the claims: one record each ----------------------------------------------------
    checks = [
        Check("scale symmetry", "relative residual", sym_scale.max_residual, "< 1e-10", 1e-10,
              sym_scale.max_residual < 1e-10,
              f"θ_S·g, Hθ_S + g_S and f(cθ_S) − f(θ): relative residual "
              f"{sym_scale.max_residual:.1e} (< 1e-10)",
              {"residual": sym_scale.max_residual}),
        Check("GF keeps the norm", "relative drift of ‖θ_S‖²", gf_drift, "< 1e-6", 1e-6,
              gf_drift < 1e-6,
              f"max |‖θ_S(t)‖² − ‖θ_S(0)‖²| / ‖θ_S(0)‖² = {gf_drift:.1e} (< 1e-6, solver "
              "tolerance)", {"relative_drift": gf_drift}),
        Check("GD grows the norm", "GD − Σ η²‖g_S‖² (rel.)", recursion,
              "growth at every step, recursion < 1e-8", 1e-8, monotone and recursion < 1e-8,
              f"‖θ_S‖² grows at every step, by {growth[0]:.4g} over {ns[0]} steps at η = {lr:g}; "
              f"‖θ_S,n‖² − ‖θ_S,0‖² − Σ η²‖g_S,k‖² = {recursion:.1e} of the growth (< 1e-8)",
              {"growth": growth[0], "recursion_error": recursion}),
        Check("order-1 EoM predicts the growth", "growth EoM-1 / GD", ratios[0],
              "1 ± 0.2 at η, 1 ± 0.1 at η/2, gap shrinking > 1.4×", 0.2,
              abs(ratios[0] - 1) < 0.2 and abs(ratios[1] - 1) < 0.1 and shrink > 1.4,
              f"growth(EoM-1)/growth(GD) = {ratios[0]:.4f} at η = {lr:g} (within 0.2 of 1), "
              f"{ratios[1]:.4f} at η/2 (within 0.1); |ratio − 1| shrinks ×{shrink:.2f} as η "
              "halves (O(η): > 1.4); GF: 0",
              {"ratio": ratios[0], "ratio_half_lr": ratios[1], "shrink_factor": shrink}),
        Check("order-1 EoM tracks the norm with weight decay", "error GF / error EoM-1", gain,
              "> 5, both errors shrinking with η", 5.0,
              gain > 5 and err["eom1"][1] < err["eom1"][0] and err["gf"][1] < err["gf"][0],
              f"λ = {lam:.3g}: |‖θ_S(T)‖² − GD| / GD = {err['eom1'][0]:.2e} (order-1 EoM) vs "
              f"{err['gf'][0]:.2e} (GF) at η = {lr:g} (×{gain:.0f} smaller, > 5), "
              f"{err['eom1'][1]:.2e} vs {err['gf'][1]:.2e} at η/2",
              {"eom1_error": err["eom1"][0], "gf_error": err["gf"][0], "gain": gain}),
        Check("GF norm decays as exp(-2λt)", "vs e^(−2λt) (rel.)", gf_decay, "< 1e-6", 1e-6,
              gf_decay < 1e-6,
              f"GF with weight decay: ‖θ_S(t)‖² = e^(−2λt)‖θ_S(0)‖² to {gf_decay:.1e} (< 1e-6): "
              "no equilibrium", {"relative_error": gf_decay}),
        Check("equilibrium norm", "measured / predicted", measured / predicted, "1 ± 0.1", 0.1,
              reached and abs(measured / predicted - 1) < 0.1,
              f"GD, {n} steps with λ = {lam:.3g}: mean ‖θ_S‖ at equilibrium ({where}) "
              f"{measured:.4f}, predicted (ηC/(λ(2 − ηλ)))^¼ = {predicted:.4f} (ratio "
              f"{measured / predicted:.3f}, within 0.1; order-1 EoM's (ηC/(λ(2 + ηλ)))^¼ = "
              f"{predicted_eom1:.4f}); GF: ‖θ_S‖ = {gf_norm:.2e} → 0",
              {"mean_norm": measured, "predicted": predicted, "predicted_eom1": predicted_eom1,
               "ratio": measured / predicted, "gf_norm": gf_norm}),
        Check("translation symmetry", "relative residual", sym_translation.max_residual,
              "< 1e-10", 1e-10, sym_translation.max_residual < 1e-10,
              f"1·g, H1 and f(θ_T + c1) − f(θ): relative residual "
              f"{sym_translation.max_residual:.1e} (< 1e-10)",
              {"residual": sym_translation.max_residual}),
        Check("bias sum conserved", "relative drift of s", drift, "< 1e-10", 1e-10, drift < 1e-10,
              f"without weight decay, max |s − s_0| / |s_0| = {drift:.1e} for GD, GF and the "
              "order-1 EoM (< 1e-10)", {"relative_drift": drift}),
        Check("bias sum decay rate", "GD vs (1−ηλ)^k s_0", closed["gd"],
              "GD < 1e-10, flows < 1e-7", 1e-10,
              closed["gd"] < 1e-10 and max(closed["gf"], closed["eom1"]) < 1e-7,
              f"with λ = {lam:.3g}: GD s_k = (1 − ηλ)^k s_0 to {closed['gd']:.1e}; GF e^(−λt)s_0 "
              f"to {closed['gf']:.1e}; order-1 EoM e^(r_1 t)s_0 to {closed['eom1']:.1e}; GD's "
              f"rate {rate_gd:.6f} = log(1 − ηλ)/η = {rate_exact:.6f} (GF −λ = {-lam:.6f}, "
              f"order-1 EoM r_1 = {decay_order1_rate:.6f})",
              {"gd_error": closed["gd"], "gf_error": closed["gf"], "eom1_error": closed["eom1"],
               "rate_gd": rate_gd, "rate_predicted": rate_exact}),
        Check("bias sum mismatch order", "EoM-1 order (expect 2)", orders["eom1"],
              f"GF 1 ± {SLOPE_TOLERANCE}, EoM-1 2 ± {SLOPE_TOLERANCE}", SLOPE_TOLERANCE,
              abs(orders["gf"] - 1) < SLOPE_TOLERANCE and abs(orders["eom1"] - 2) < SLOPE_TOLERANCE,
              f"|s_flow(T) − s_GD(T)| / |s_0| = {mismatch['gf'][0]:.2e} (GF), "
              f"{mismatch['eom1'][0]:.2e} (order-1 EoM) at η; fitted orders {orders['gf']:.3f} "
              f"and {orders['eom1']:.3f} (expected 1 and 2, ± {SLOPE_TOLERANCE})",
              {"order_gf": orders["gf"], "order_eom1": orders["eom1"]}),
    ]
    numbers = {
        "growth": {"gd": growth, "eom1": [r * g for r, g in zip(ratios, growth)],
                   "ratio": ratios, "shrink_factor": shrink},
        "decay_norm_error": err,
        "equilibrium": {"measured": measured, "predicted_gd": predicted,
                        "predicted_eom1": predicted_eom1, "unit_grad_sq_mean": c_mean,
                        "gf_norm": gf_norm, "reached": reached,
                        "balance_step": first, "first_step_averaged": window.start},
        "bias_sum": {"closed_form_error": closed, "rate_gd": rate_gd,
                     "rate_predicted": rate_exact, "rate_gf": -lam,
                     "rate_eom1": decay_order1_rate, "mismatch_at_T": mismatch,
                     "mismatch_order": orders},
    }
    return checks, numbers


INVARIANCE_CHECKS = ("scale symmetry", "GF keeps the norm", "GD grows the norm",
                     "order-1 EoM predicts the growth",
                     "order-1 EoM tracks the norm with weight decay", "GF norm decays as exp(-2λt)",
                     "equilibrium norm", "translation symmetry", "bias sum conserved",
                     "bias sum decay rate", "bias sum mismatch order")
"""The names of the checks of experiment (c), in order (the records above are the source;
``tests/test_reproduce.py`` checks that the two agree)."""


def all_checks(results: dict) -> list:
    """Every check of a run, as JSON dicts: the slopes of (a) (``slope_check`` of each
    stored slope), then the checks of (c)."""
    slopes = [slope_check(int(order), r["slope"], r["max_error"]).to_json()
              for order, r in results["error_vs_lr"]["orders"].items()]
    return slopes + list((results.get("invariance") or {}).get("checks", []))


def collect_failures(results: dict) -> list:
    """The ``detail`` of every failed check (read off the records: ``all_checks``).

    The checks are the fitted slopes of experiment (a), each against γ + 1 ±
    :data:`eomlib.reproduce.SLOPE_TOLERANCE`, then the stored checks of experiment (c).

    Args:
        results: the results dict of :func:`eomlib.reproduce.reproduce` (or of
            ``results.json``); ``results["error_vs_lr"]["orders"]`` (each order's ``slope``
            and ``max_error``) and, if present, ``results["invariance"]["checks"]`` are read.

    Returns:
        A list of strings, one per failed check and empty when every check passed; those of
        (c) are prefixed ``"invariance check '<name>' failed: "``.

    Example:
        >>> from eomlib import reproduce
        >>> results = reproduce.reproduce("tiny", out="eom_tiny")
        >>> reproduce.collect_failures(results) == results["failures"]  # True
    """
    failures = []
    for check in all_checks(results):
        if not check.get("passed", True):
            prefix = "" if check["name"].endswith("error slope") else \
                f"invariance check {check['name']!r} failed: "
            failures.append(prefix + check.get("detail", ""))
    return failures
