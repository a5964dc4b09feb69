"""The report of a run: the environment, the summary table and ``results.json``, written
atomically (a file appears whole or not at all)."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

import jax


def environment() -> dict:
    dev = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "python": platform.python_version(),
        "backend": jax.default_backend(),
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
        "num_devices": jax.device_count(),
        "x64": bool(jax.config.read("jax_enable_x64")),
        "dtype": "float64",
    }


def summary_table(results: dict) -> str:
    """Plain-text summary of (a) slopes, (b) ratios and (c) checks (one row each).

    The header gives the dataset, network, scale and sharpness; the footer the timings.  It
    is what ``python -m eomlib reproduce`` prints.

    Args:
        results: the results dict of :func:`eomlib.reproduce.reproduce`, or the same read
            back from ``results.json``; ``"settings"``, ``"error_vs_lr"``,
            ``"error_along_training"`` and ``"timings"`` are read, and ``"invariance"`` if
            present (else (c) shows as not run).

    Returns:
        The table, lines joined by newlines (no trailing newline).

    Example:
        >>> import json
        >>> from eomlib import reproduce
        >>> print(reproduce.summary_table(json.load(open("eom_results/results.json"))))
    """
    a, b = results["error_vs_lr"], results["error_along_training"]
    s = results["settings"]
    lines = [
        f"EoM reproduction: {s['dataset']}, {s['model']} (d = {s['num_params']}), "
        f"n_train = {s['n_train']}, scale '{s['scale']}', float64 (jax_enable_x64)",
        f"λ_max(θ_0) = {s['sharpness_theta0']:.4g}, so η_max·λ_max(θ_0) = "
        f"{s['max_lr_times_sharpness']:.3g} (on a quadratic the counter-term series converges only for ηλ < 1)",
        "",
        f"(a) max error vs η at T = {a['horizon']:g}, η ∈ {{{', '.join(f'{v:g}' for v in a['lrs'])}}}",
        f"    {'order':<22}{'slope':>8}{'expected':>10}{'min error':>12}{'':>4}status",
    ]
    for order, r in a["orders"].items():
        name = "gradient flow (γ=0)" if order == "0" else f"EoM γ={order}"
        lines.append(f"    {name:<22}{r['slope']:>8.3f}{r['expected_slope']:>10d}"
                     f"{min(r['max_error']):>12.2e}{'':>4}{'ok' if r['passed'] else 'FAIL'}")
    lines += ["", f"(b) predicted / measured error at T = {b['horizon']:g}",
              f"    {'order':<22}{'η':>8}{'ratio@T':>10}{'ratio(max)':>12}{'max|p/e-1|':>12}"]
    for order, r in b["orders"].items():
        name = "gradient flow (γ=0)" if order == "0" else f"EoM γ={order}"
        for run in r["runs"]:
            lines.append(f"    {name:<22}{run['lr']:>8g}{run['ratio_final']:>10.4f}"
                         f"{run['ratio_max']:>12.4f}{run['max_relative_deviation']:>12.4f}")
        lines.append(f"    {'':<22}|ratio − 1| shrinks ×{r['deviation_shrink_factor']:.2f} "
                     "when η halves (O(η): ≈ 2)")
    inv = results.get("invariance")
    if inv:
        lines += ["", f"(c) invariant layers: {inv['model']} (d = {inv['num_params']}), "
                  f"η = {inv['lr']:g}, weight decay λ = {inv['weight_decay']:.3g} (ηλ = "
                  f"{inv['lr_times_weight_decay']:.3g})",
                  f"    {'check':<48}{'measured':<26}{'value':>10}{'':>4}status"]
        for check in inv["checks"]:
            lines.append(f"    {check['name']:<48}{check['measured']:<26}{check['value']:>10.4g}"
                         f"{'':>4}{'ok' if check['passed'] else 'FAIL'}")
    else:
        lines += ["", "(c) invariant layers: not run"]
    lines += ["", "timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in results["timings"].items())]
    return "\n".join(lines)


def _umask() -> int:
    mask = os.umask(0o022)  # read it by setting it, then put it back
    os.umask(mask)
    return mask


def write_atomically(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename,
    so that a reader never sees half a file (nor an interrupted run's).  The file gets the
    permissions a plain ``open`` would give it (``mkstemp`` makes it private)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


#: The report of a run, written last (so that it exists only for a run that finished), and
#: the name a previous run's report is moved to when a new run starts.
RESULTS, PREVIOUS_RESULTS = "results.json", "results.previous.json"


def write_results(results: dict, out: Path) -> Path:
    """``results.json`` in ``out`` (atomically)."""
    return write_atomically(Path(out) / RESULTS, json.dumps(results, indent=1).encode())


def set_aside_previous_results(out: Path) -> Path | None:
    """Rename a previous run's ``results.json`` in ``out`` to ``results.previous.json``
    (replacing an older one), so that it cannot pass for the report of the run about to
    start, which may fail or be interrupted; the new path, or None when there was none."""
    previous = Path(out) / PREVIOUS_RESULTS
    try:
        os.replace(Path(out) / RESULTS, previous)
    except FileNotFoundError:
        return None
    return previous
