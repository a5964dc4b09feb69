"""The three figures of a run, drawn from the JSON-ready results (matplotlib, imported here
only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .report import write_atomically


def plot_invariance(result: dict, path: Path, caption: str = "") -> Path:
    """Figure (c), four panels: the growth of the scale-invariant norm without weight decay;
    GD's equilibrium norm with weight decay; the sum of the translation-invariant biases; and,
    with weight decay, how far GF and the order-1 EoM are from GD."""
    import matplotlib.pyplot as plt

    from ..book.plots import COLORS, order_color, order_label, style

    style()
    runs = result["runs"]
    lam = result["weight_decay"]
    fig, axes = plt.subplots(2, 2, figsize=(11.0, 7.6))

    def times(run):
        return run["lr"] * np.arange(run["num_steps"] + 1)

    def dots(run):
        return slice(None, None, max(1, run["num_steps"] // 25))

    ax = axes[0, 0]  # no decay: the growth of ‖θ_S‖²
    for run, alpha in zip(runs[:2], (1.0, 0.5)):
        t, sq0, k = times(run), run["gd"]["sq_norm"][0], dots(run)
        ax.plot(t[k], (np.asarray(run["gd"]["sq_norm"]) - sq0)[k], "o", ms=3, color=COLORS["gd"],
                alpha=alpha, label=f"GD, η = {run['lr']:g}")
        ax.plot(t, np.asarray(run["eom1"]["sq_norm"]) - sq0, color=COLORS["eom1"], alpha=alpha,
                label=f"order-1 EoM, η = {run['lr']:g}")
        ax.plot(t, np.asarray(run["gf"]["sq_norm"]) - sq0, color=COLORS["gf"], alpha=alpha,
                label="gradient flow" if alpha == 1.0 else None)
    ratio = result["growth"]["ratio"]
    ax.set(xlabel="time t = kη", ylabel="‖θ_S(t)‖² − ‖θ_S(0)‖²")
    ax.set_title(f"scale-invariant layer, no weight decay: norm growth\n"
                 f"EoM-1 / GD = {ratio[0]:.3f} (η), {ratio[1]:.3f} (η/2); GF: 0", fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[0, 1]  # weight decay: GD's long run reaches the equilibrium norm, GF decays
    long, short = runs[4], runs[2]
    t = times(long)
    ax.plot(t, np.sqrt(long["gd"]["sq_norm"]), color=COLORS["gd"], lw=1, label="GD")
    ax.plot(times(short), np.sqrt(short["eom1"]["sq_norm"]), "--", color=COLORS["eom1"], lw=1.5,
            label=f"order-1 EoM (t ≤ {times(short)[-1]:g})")
    ax.plot(t, np.sqrt(long["gd"]["sq_norm"][0]) * np.exp(-lam * t), color=COLORS["gf"],
            label="gradient flow: e^(−λt)‖θ_S(0)‖")
    eq = result["equilibrium"]
    ax.axhline(eq["predicted_gd"], color=COLORS["pred"], ls=":", lw=2,
               label=f"(ηC/(λ(2−ηλ)))^¼ = {eq['predicted_gd']:.3f}")
    ax.set(xlabel="time t = kη", ylabel="‖θ_S‖", yscale="log")
    ax.set_title(f"with weight decay λ = {lam:.3g}: equilibrium norm\n"
                 f"GD's mean from step {eq['first_step_averaged']} on: {eq['measured']:.3f}",
                 fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[1, 0]  # translation-invariant sum
    s0 = runs[0]["gd"]["bias_sum"][0]
    for run in (runs[0], runs[4]):
        t, k = times(run), dots(run)
        tag = "λ = 0" if run["weight_decay"] == 0 else f"λ = {run['weight_decay']:.3g}"
        ax.plot(t[k], (np.asarray(run["gd"]["bias_sum"]) / s0)[k],
                "o" if run["weight_decay"] else "s", ms=3,
                color=COLORS["gd"] if run["weight_decay"] else "0.55", label=f"GD, {tag}")
    t = times(runs[4])
    ax.plot(t, np.exp(-lam * t), color=COLORS["gf"], label="gradient flow: e^(−λt)")
    ax.plot(times(runs[0]), np.asarray(runs[0]["gf"]["bias_sum"]) / s0, color=COLORS["gf"])
    ax.plot(times(runs[0]), np.asarray(runs[0]["eom1"]["bias_sum"]) / s0, "--",
            color=COLORS["eom1"], label="order-1 EoM, λ = 0")
    rates = result["bias_sum"]
    ax.set(xlabel="time t = kη", ylabel="s(t) / s(0),  s = 1·θ_T", yscale="log")
    ax.set_title(f"translation-invariant output biases: s conserved, or decaying at the rate\n"
                 f"GD {rates['rate_gd']:.5f} = log(1−ηλ)/η; GF −λ = {rates['rate_gf']:.5f}; "
                 f"EoM-1 {rates['rate_eom1']:.5f}", fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[1, 1]  # with weight decay: relative distance of each flow from GD
    for run, alpha in zip(runs[2:4], (1.0, 0.5)):
        t = times(run)[1:]
        for flow in ("gf", "eom1"):
            for key, ls, name in (("sq_norm", "-", "‖θ_S‖²"), ("bias_sum", ":", "s")):
                gd = np.asarray(run["gd"][key])
                gap = np.abs(np.asarray(run[flow][key]) - gd) / np.abs(gd)
                ax.semilogy(t, gap[1:], ls, color=order_color(0 if flow == "gf" else 1),
                            alpha=alpha, label=(f"{order_label(0 if flow == 'gf' else 1)}: {name}"
                                                if alpha == 1.0 else None))
    ax.set(xlabel="time t = kη", ylabel="|flow − GD| / |GD|")
    ax.set_title(f"with weight decay: distance from GD, η = {runs[2]['lr']:g} (faded: η/2)",
                 fontsize=9)
    ax.legend(fontsize=7)
    return _save_figure(fig, path, caption)


def _save_figure(fig, path: Path, caption: str = "") -> Path:
    """Lay out ``fig`` with ``caption`` (the setting) in small type along its bottom, write it
    to ``path`` as a PNG (atomically: an interrupted run leaves no half-written figure) and
    close it."""
    import io

    import matplotlib.pyplot as plt

    if caption:
        fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=7, color="0.35")
    # its own layout, whatever the caller's rcParams (the book's style sets constrained layout)
    fig.set_layout_engine("tight", rect=(0, 0.04 if caption else 0, 1, 1))
    png = io.BytesIO()
    try:
        fig.savefig(png, format="png", dpi=120)
    finally:
        plt.close(fig)
    return write_atomically(Path(path), png.getvalue())


def plot_error_vs_lr(result: dict, path: Path, caption: str = "") -> Path:
    """Figure (a): max error against η on log–log axes, one fitted line per order."""
    import matplotlib.pyplot as plt

    from ..book.plots import loglog_fit, order_color, order_label, style

    style()
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    lrs = np.asarray(result["lrs"])
    for order, r in result["orders"].items():
        loglog_fit(ax, lrs, r["max_error"], r["slope"], color=order_color(int(order)),
                   label=f"{order_label(int(order))} (expect {r['expected_slope']})")
    ax.set_xticks(lrs, [f"{v:g}" for v in lrs])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("learning rate η")
    ax.set_ylabel(r"$\max_{k\leq T/\eta}\ \|\theta_{\rm EoM}(k\eta)-\theta_k\|$")
    ax.set_title(f"Discretization error at fixed horizon T = {result['horizon']:g}")
    ax.legend(fontsize=8)
    return _save_figure(fig, path, caption)


def plot_error_along_training(result: dict, path: Path, caption: str = "") -> Path:
    """Figure (b): GD loss, then measured (solid) and predicted (dashed) error per order."""
    import matplotlib.pyplot as plt

    from ..book.plots import order_color, order_label, style

    style()
    orders = list(result["orders"])
    fig, axes = plt.subplots(1, 1 + len(orders), figsize=(4.2 * (1 + len(orders)), 3.8))
    lr0 = result["lrs"][0]
    axes[0].plot(lr0 * np.arange(len(result["gd_loss"])), result["gd_loss"], color="black")
    axes[0].set_xlabel("time t = kη")
    axes[0].set_title(f"training loss (GD, η = {lr0:g})")
    for ax, order in zip(axes[1:], orders):
        color = order_color(int(order))
        for run, alpha in zip(result["orders"][order]["runs"], (1.0, 0.55)):
            t = run["lr"] * np.arange(run["num_steps"] + 1)
            ax.semilogy(t[1:], run["measured"][1:], "-", color=color, alpha=alpha,
                        label=f"measured, η = {run['lr']:g}")
            ax.semilogy(t[1:], run["predicted"][1:], "--", color="black", alpha=alpha,
                        label=f"predicted, η = {run['lr']:g}")
        ax.set_xlabel("time t = kη")
        ax.set_title(f"{order_label(int(order))}: error along training")
        ax.legend(fontsize=7)
    return _save_figure(fig, path, caption)
