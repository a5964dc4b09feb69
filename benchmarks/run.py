"""eomlib benchmarks: ``make bench`` (not part of ``make test``).

Prints one table and writes it as JSON to ``benchmarks/results/<machine>.json``.  Every
figure is a ratio, a count or a time measured in this one process: medians over repeats,
each result waited for with ``block_until_ready``.  Ratios are measured in interleaved
rounds (gradient, field, gradient, field, ...), so a machine shared with other work shifts
the absolute times much more than the ratios; the load average is recorded with the machine.
XLA runs on one thread unless ``--multi-thread`` is given (steadier on a shared machine).

1. Field cost: one jitted EoM vector-field evaluation of order 1…4 relative to one jitted
   gradient, on the book's digits network and on a wider one (d ≈ 10⁵), and the time to
   trace, lower and compile the field (wall clock and the process's CPU time, medians of 3).
2. Learning-rate sweep: GD, the order-0/1/2 EoM and their errors for 16 learning rates as one
   batched call (``eomlib.error_sweep``: ``lax.map`` split over the cores on a CPU, ``vmap``
   on a GPU; forced ``vmap`` shown too) against a Python loop of 16 calls.
3. Slider latency: the computation behind each chapter's learning-rate slider for a new η
   after the first call, how many times the loss was traced again and how many XLA programs
   were compiled (both must be 0).
4. ODE cost: vector-field evaluations per GD step at the default tolerances, and the error
   floor the solver attains in float64 against closed-form solutions.
5. Book build (``--book``): ``tools/build_book.sh`` with 1 and with 2 Sphinx jobs.
6. Paper scale (``--paper-scale``, for a GPU): GD and the order-0/1 EoM for 1000 steps on an
   MNIST-size MLP 784-128-10 (d = 101 770), with compile and run times and the errors.
7. SGD ensembles (``--sections 7``): 10⁴ SGD runs in one ``eomlib.sgd.sgd_ensemble`` call on
   a tanh regression (d = 4) and on the digits MLP (d = 1210), and 10³ paths of the order-1
   and order-2 SME (``eomlib.sgd.sme_ensemble``): compile and warm run times.
8. Central flow (``--sections 8``): on chapter 8's network at the edge of stability (GD's
   iterate after 340 steps at η = 0.8), one central-flow field evaluation (4 tracked
   eigenvalues) and its parts (the block-Lanczos eigen-solve, the third-derivative products
   ∇(u_iᵀHu_j)) against one gradient, the eigen-tracking at each saved GD step, and a 50-step
   central-flow run (warm): solver steps and wall time per GD step.
9. Scaling over devices (``--sections 9``): ``benchmarks/scaling.py`` with 1, 2 and 4 devices
   (forced CPU devices, ``XLA_FLAGS=--xla_force_host_platform_device_count``; on a GPU node
   all its GPUs): an order-1 error sweep of 16 learning rates and 4096 SGD runs, spread over
   the devices by eomlib's default mesh, and the order-1 discretization error of a
   data-parallel loss over 1792 digits split over the devices, warm times.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGETS = {
    "field_ratio": {1: 2.5, 3: 8.0, 4: 15.0},
    "compile_order4_s": 3.0,
    "sweep_speedup": 4.0,
    "slider_ms": 100.0,
    "book_s": 600.0,
}


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="1,2,3,4",
                        help="comma-separated sections to run (1-4, 7-9; 5 is --book), default 1,2,3,4")
    parser.add_argument("--max-order", type=int, default=4, help="highest EoM order in section 1")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and only the digits network: a smoke test, not a measurement")
    parser.add_argument("--book", action="store_true",
                        help="also time the book build with 1 and 2 jobs (rebuilds _build/html)")
    parser.add_argument("--paper-scale", action="store_true",
                        help="also run GD and the order-0/1 EoM for 1000 steps on an MNIST-size MLP "
                             "(d = 101 770): minutes on a GPU, far longer on a CPU")
    parser.add_argument("--multi-thread", action="store_true",
                        help="keep XLA's default thread pool (by default XLA runs on one thread, which "
                             "gives much steadier ratios on a shared 2-core machine)")
    parser.add_argument("--out", default=None,
                        help="JSON output path (default benchmarks/results/<machine>.json)")
    return parser.parse_args(argv)


ARGS = _parse() if __name__ == "__main__" else _parse([])
CALLER_XLA_FLAGS = os.environ.get("XLA_FLAGS")  # the book build (section 5) gets these back
if not ARGS.multi_thread:  # must precede the first import of jax
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen=false",
                                        "intra_op_parallelism_threads=1"]).strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

import eomlib  # noqa: E402
from eomlib import data, invariance, models, momentum, spectra  # noqa: E402
from eomlib.book import toys  # noqa: E402
from eomlib._core.fields import flat_eom_field  # noqa: E402
from eomlib._core.flat import flatten_problem, grid_size  # noqa: E402
from eomlib._core.batching import check_batching  # noqa: E402
from eomlib._core.descent import gd_flat  # noqa: E402
from eomlib._core.solve import DEFAULT_ATOL, DEFAULT_RTOL, default_max_steps, eom_flat, solve_rescaled  # noqa: E402


# ----------------------------------------------------------------------------- timing helpers

def per_call(fn, *args, min_time: float = 0.02, batches: int = 3) -> tuple:
    """Medians over ``batches`` of the wall and the process CPU time per call, in batches of
    at least ``min_time`` seconds."""
    jax.block_until_ready(fn(*args))
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            jax.block_until_ready(fn(*args))
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or number >= 4096:
            break
        number *= 2
    wall, cpu = [], []
    for _ in range(batches):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(number):
            jax.block_until_ready(fn(*args))
        wall.append((time.perf_counter() - start) / number)
        cpu.append((time.process_time() - start_cpu) / number)
    return statistics.median(wall), statistics.median(cpu)


def interleaved_ratio(base, other, base_args, other_args, rounds: int) -> dict:
    """Medians over ``rounds`` of time(other)/time(base), wall clock and CPU time, the two
    timed alternately (a change of load between rounds affects both alike)."""
    wall, cpu, t_base, t_other = [], [], [], []
    for _ in range(rounds):
        tb, cb = per_call(base, *base_args)
        to, co = per_call(other, *other_args)
        wall.append(to / tb)
        cpu.append(co / cb)
        t_base.append(tb)
        t_other.append(to)
    return {"ratio": statistics.median(wall), "cpu_ratio": statistics.median(cpu),
            "base_s": statistics.median(t_base), "other_s": statistics.median(t_other)}


def timed_compile(fn, *args, repeats: int = 1):
    """(compiled, wall seconds, process CPU seconds) for ``jax.jit(fn)`` at ``args``: trace,
    lower and XLA compile, medians over ``repeats`` fresh compilations."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        compiled = jax.jit(lambda *a: fn(*a)).lower(*args).compile()  # a new function: no cache
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return compiled, statistics.median(walls), statistics.median(cpus)


def median_wall(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class TraceCounter:
    """Wraps a loss and counts how often JAX traces it (calls with abstract arguments).

    Validation calls on concrete arrays are not counted; a retrace of any jitted program
    that contains the loss is.
    """

    def __init__(self, loss):
        self.count = 0
        counter = self

        def traced_loss(theta):
            if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(theta)):
                counter.count += 1
            return loss(theta)

        for name in ("activation",):  # keep what eomlib reads off a loss
            if hasattr(loss, name):
                setattr(traced_loss, name, getattr(loss, name))
        self.loss = traced_loss


# ----------------------------------------------------------------------------- the machine

def machine() -> dict:
    info = {"node": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(), "jax": jax.__version__,
            "device": str(jax.devices()[0]), "cpu_count": os.cpu_count(),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    cpu = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                    if line.startswith("Model name")), cpu)
    except OSError:
        pass
    info["cpu"] = cpu
    try:
        mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        info["memory_gib"] = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return info


def machine_slug(info: dict) -> str:
    cpu = re.sub(r"\(.*?\)|cpu|processor|\d+-core", " ", info["cpu"], flags=re.I)
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu.lower()).strip("-") or "cpu"
    return f"{cpu}-{info['cpu_count']}cpu"


# ----------------------------------------------------------------------------- 1. field cost

def networks(quick: bool) -> dict:
    """The book's digits MLP (64-16-10, d = 1210) and a wider one (64-512-128-10, d = 100 234)."""
    ds = data.digits(n_train=128, seed=0)
    loss = models.cross_entropy_loss(models.mlp, ds.x, ds.labels)
    out = {}
    for sizes in ([64, 16, 10],) if quick else ([64, 16, 10], [64, 512, 128, 10]):
        theta = models.init_mlp(jax.random.PRNGKey(0), sizes)
        out["digits MLP " + "-".join(map(str, sizes))] = (loss, theta)
    return out


def bench_field_cost(quick: bool, max_order: int) -> list:
    rows = []
    lr = 0.1
    rounds = 3 if quick else 7
    for name, (loss, theta) in networks(quick).items():
        d = int(flatten_problem(loss, theta).x0.size)
        grad, _, _ = timed_compile(jax.grad(loss), theta)
        for order in range(1, max_order + 1):
            field, wall, cpu = timed_compile(eomlib.eom_vector_field(loss, order), theta, lr,
                                             repeats=1 if quick else 3)
            r = interleaved_ratio(grad, field, (theta,), (theta, lr), rounds)
            target = TARGETS["field_ratio"].get(order)
            rows.append({"network": name, "d": d, "order": order, "grad_ms": 1e3 * r["base_s"],
                         "field_ms": 1e3 * r["other_s"], "ratio": r["ratio"], "cpu_ratio": r["cpu_ratio"],
                         "target_ratio": target, "compile_s": wall, "compile_cpu_s": cpu})
            print(f"  {name:28s} d={d:6d}  order {order}: field {r['ratio']:6.2f}× gradient "
                  f"({r['cpu_ratio']:5.2f}× in CPU time)"
                  f"{'' if target is None else f' target ≤ {target:g}×':15s}  compile {wall:5.2f} s wall, "
                  f"{cpu:5.2f} s CPU", flush=True)
    return rows


# ----------------------------------------------------------------------------- 2. sweep

def bench_sweep(quick: bool, num_lrs: int = 16, num_steps: int = 20) -> dict:
    ds = data.digits(n_train=128, seed=0)
    loss = models.cross_entropy_loss(models.mlp, ds.x, ds.labels)
    theta = models.init_mlp(jax.random.PRNGKey(0), [64, 16, 10])
    lrs = np.linspace(0.1, 0.8, num_lrs)
    repeats = 1 if quick else 3
    out = {}
    for order in (0, 1, 2):
        def batched():
            return eomlib.error_sweep(loss, theta, lrs, order, num_steps=num_steps).max_error

        def vmapped():  # every member in lockstep (what "auto" picks on accelerators)
            return eomlib.error_sweep(loss, theta, lrs, order, num_steps=num_steps, batching="vmap").max_error

        def looped():
            return np.array([float(eomlib.discretization_error(loss, theta, float(lr), num_steps, order).max())
                             for lr in lrs])

        # the same errors up to the solver's tolerance (batched arithmetic rounds differently
        # and the adaptive steps follow); this first call also compiles both
        np.testing.assert_allclose(batched(), looped(), rtol=1e-5, atol=1e-10)
        np.testing.assert_allclose(vmapped(), looped(), rtol=1e-5, atol=1e-10)
        t_b = median_wall(batched, repeats)
        t_v = median_wall(vmapped, repeats)
        t_l = median_wall(looped, repeats)
        out[f"order {order}"] = {"batched_s": t_b, "batching": check_batching("auto"), "vmap_s": t_v,
                                 "loop_s": t_l, "speedup": t_l / t_b, "vmap_speedup": t_l / t_v,
                                 "target_speedup": TARGETS["sweep_speedup"]}
        print(f"  {num_lrs} learning rates, {num_steps} steps, order {order}: one batched call "
              f"({check_batching('auto')}) {t_b:6.3f} s, forced vmap {t_v:6.3f} s, loop {t_l:6.3f} s, "
              f"speed-up {t_l / t_b:4.1f}× (target ≥ {TARGETS['sweep_speedup']:g}×)", flush=True)
    return out


# ----------------------------------------------------------------------------- 3. sliders

def slider_cases() -> dict:
    """Each chapter's slider computation (no plotting) on the chapter's default model.

    Every case maps a learning rate (chapter 3: ηλ_max) to the arrays its ``draw_live``
    draws (chapter 9's slider moves β); losses are wrapped in a :class:`TraceCounter`.
    Chapter 7 has no slider (its figures come from fixed sweeps).
    """
    cases = {}
    valley, v0 = toys.curved_valley, jnp.array([1.8, 0.2])
    quad_a, q_a0 = toys.quadratic(jnp.diag(jnp.array([2.0, 0.02]))), jnp.array([-0.35, -0.2])

    c = TraceCounter(valley)
    cases["ch1 GD on the curved valley, 30 steps"] = (
        c, lambda lr, c=c: eomlib.gd_trajectory(c.loss, v0, lr, 30), [0.16, 0.05, 0.11, 0.23, 0.37, 0.29])
    c = TraceCounter(quad_a)
    cases["ch1 GD on the quadratic, 20 steps"] = (
        c, lambda lr, c=c: eomlib.gd_trajectory(c.loss, q_a0, lr, 20), [0.9, 0.1, 0.45, 0.7, 1.05, 1.1])
    c = TraceCounter(valley)
    cases["ch2 GD, GF and order-1 EoM on the valley, 25 steps"] = (
        c, lambda lr, c=c: (eomlib.gd_trajectory(c.loss, v0, lr, 25), eomlib.eom_trajectory(c.loss, v0, lr, 25, 0),
                            eomlib.eom_trajectory(c.loss, v0, lr, 25, 1)), [0.1, 0.02, 0.07, 0.15, 0.22, 0.29])

    a3 = jnp.array([[1.0, 0.2], [0.2, 0.4]])
    lam3 = float(np.linalg.eigvalsh(np.asarray(a3)).max())
    c = TraceCounter(toys.quadratic(a3))
    cases["ch3 errors of orders 0-3 on the quadratic, 10 steps"] = (
        c, lambda x, c=c: [eomlib.discretization_error(c.loss, jnp.array([1.0, 1.0]), x / lam3, 10, order).max()
                           for order in range(4)], [0.8, 0.1, 0.45, 1.0, 1.3, 1.6])

    ds = data.digits(n_train=128, seed=0)
    mlp_loss = models.cross_entropy_loss(models.mlp, ds.x, ds.labels)
    theta_d = models.init_mlp(jax.random.PRNGKey(0), [64, 16, 10])
    c = TraceCounter(mlp_loss)

    def ch4(lr, c=c, horizon=8.0, lr_min=0.1):
        steps, bound = int(round(horizon / lr)), int(round(horizon / lr_min))
        return (eomlib.discretization_error(c.loss, theta_d, lr, steps, 0, max_num_steps=bound),
                eomlib.predicted_error(c.loss, theta_d, lr, steps, 0, max_num_steps=bound))

    cases["ch4 GF error and its prediction, digits MLP, T = 8"] = (c, ch4, [0.5, 0.1, 0.3, 0.7, 1.0, 1.5])

    ln_loss = models.cross_entropy_loss(models.layernorm_mlp, ds.x, ds.labels)
    c = TraceCounter(ln_loss)

    def layer1(th):  # the chapter's selector, defined once
        return th[0]

    cases["ch5 GD and order-1 EoM (rtol 1e-6), layer-norm MLP, 50 steps"] = (
        c, lambda lr, c=c: (invariance.group_sq_norm(eomlib.gd_trajectory(c.loss, theta_d, lr, 50), layer1),
                            invariance.group_sq_norm(eomlib.eom_trajectory(c.loss, theta_d, lr, 50, order=1,
                                                                           rtol=1e-6, atol=1e-8), layer1)),
        [0.2, 0.02, 0.1, 0.4, 0.6, 0.8])

    key_net, key_bias = jax.random.split(jax.random.PRNGKey(0))
    theta6 = models.init_mlp(key_net, [64, 16, 10])
    theta6[-1]["b"] = 0.5 + 0.3 * jax.random.normal(key_bias, (10,))
    c = TraceCounter(mlp_loss)
    gd_sums = jax.jit(jax.vmap(lambda lr, lam, c=c: invariance.group_sum(eomlib.gd_trajectory(
        invariance.weight_decayed(c.loss, lam), theta6, lr, 80), lambda th: th[-1]["b"]), in_axes=(0, None)))
    cases["ch6 GD's sum of output biases, 80 steps"] = (
        c, lambda lr: gd_sums(jnp.array([lr]), 0.25), [0.3, 0.02, 0.15, 0.45, 0.6, 0.8])

    net8 = models.make_mlp([64, 16, 10], "tanh")
    theta8 = jax.tree_util.tree_map(lambda p: 0.5 * p, net8.init(jax.random.PRNGKey(0)))
    c = TraceCounter(models.make_loss(net8, ds, "mse"))
    cases["ch8 GD and λ_max every 60 steps, digits MLP, 600 steps"] = (
        c, lambda lr, c=c: spectra.sharpness_along(c.loss, eomlib.gd_trajectory(c.loss, theta8, lr, 600),
                                                   every=60, num_iters=20),
        [0.7, 0.3, 0.5, 0.9, 1.1, 1.2])

    theta9 = jnp.array([1.8, 1.2])
    c = TraceCounter(toys.curved_valley)
    cases["ch9 HB, plain and modified momentum flows, 60 steps (β slider)"] = (
        c, lambda b, c=c: (momentum.heavy_ball_trajectory(c.loss, theta9, 0.05, b, 60),
                           momentum.momentum_flow_trajectory(c.loss, theta9, 0.05, b, 60, 0, False),
                           momentum.momentum_flow_trajectory(c.loss, theta9, 0.05, b, 60, 1, True)),
        [0.5, 0.0, 0.25, 0.65, 0.8, 0.9])
    return cases


_COMPILES = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kwargs: _COMPILES.append(duration)
    if event == "/jax/core/compile/backend_compile_duration" else None)


def bench_slider() -> dict:
    """Each new slider value is visited once (the first visit is what a reader feels)."""
    out = {}
    for name, (counter, fn, values) in slider_cases().items():
        jax.block_until_ready(fn(values[0]))  # the first call compiles
        before, compiles_before = counter.count, len(_COMPILES)
        times = []
        for value in values[1:]:
            start = time.perf_counter()
            jax.block_until_ready(fn(value))
            times.append(time.perf_counter() - start)
        retraces, compiles = counter.count - before, len(_COMPILES) - compiles_before
        latency = 1e3 * statistics.median(times)
        out[name] = {"latency_ms": latency, "max_latency_ms": 1e3 * max(times), "retraces": retraces,
                     "xla_compiles": compiles, "values": values, "target_ms": TARGETS["slider_ms"]}
        print(f"  {name:62s} {latency:7.1f} ms per new value (max {1e3 * max(times):6.1f} ms), "
              f"{retraces} retraces of the loss, {compiles} XLA compilations", flush=True)
    return out


# ----------------------------------------------------------------------------- 4. ODE cost

def count_field_evaluations(loss, theta, lr, num_steps, order) -> tuple:
    """Field evaluations (counted on the host) and solver steps of one default solve."""
    problem = flatten_problem(loss, theta)
    field = flat_eom_field(problem.grad, order)
    count = [0]

    def tick(_):
        count[0] += 1

    def field_tau(x, eta):
        jax.debug.callback(tick, eta)
        return eta * field(x, eta)

    grid = grid_size(num_steps)
    solve = jax.jit(lambda lr: solve_rescaled(field_tau, problem.x0, lr, num_steps, grid, DEFAULT_RTOL,
                                              DEFAULT_ATOL, default_max_steps(num_steps)))
    ys, ok, stats = solve(lr)
    jax.block_until_ready(ys)
    assert bool(ok)
    return count[0], int(stats["num_accepted_steps"]), int(stats["num_rejected_steps"])


def bench_ode() -> dict:
    ds = data.digits(n_train=128, seed=0)
    loss = models.cross_entropy_loss(models.mlp, ds.x, ds.labels)
    theta = models.init_mlp(jax.random.PRNGKey(0), [64, 16, 10])
    out = {"rtol": DEFAULT_RTOL, "atol": DEFAULT_ATOL}
    n = 32
    for lr in (0.25, 1.0):
        for order in range(4):
            evals, accepted, rejected = count_field_evaluations(loss, theta, lr, n, order)
            out[f"digits lr {lr} order {order}"] = {
                "gd_steps": n, "lr": lr, "order": order, "field_evaluations": evals,
                "accepted_steps": accepted, "rejected_steps": rejected, "field_evals_per_gd_step": evals / n}
            print(f"  digits MLP, η = {lr}, {n} GD steps, order {order}: {evals} field evaluations "
                  f"({accepted} accepted + {rejected} rejected solver steps), {evals / n:.1f} per GD step",
                  flush=True)
    # error floor: on f = ½θᵀAθ the order-γ EoM is linear, dθ/dt = M_γ θ with
    # M_γ = −Σ_{k≤γ+1} η^{k−1} A^k / k (the truncated series of (1/η) log(I − ηA)), solved by expm.
    a = np.array([[1.0, 0.2], [0.2, 0.4]])
    q0 = np.array([1.0, 1.0])
    lr, n = 0.3, 40
    floors = {}
    for order in range(4):
        m = -sum(lr ** (k - 1) * np.linalg.matrix_power(a, k) / k for k in range(1, order + 2))
        exact = np.stack([np.asarray(jax.scipy.linalg.expm(jnp.asarray(m * k * lr))) @ q0 for k in range(n + 1)])
        solved = np.asarray(eomlib.eom_trajectory(toys.quadratic(jnp.asarray(a)), jnp.asarray(q0), lr, n, order))
        floors[order] = float(np.abs(solved - exact).max())
    out["error_floor_float64"] = {f"order {k}": v for k, v in floors.items()}
    print("  error floor (quadratic, η = 0.3, 40 steps, solved vs expm): "
          + ", ".join(f"order {k} {v:.1e}" for k, v in floors.items()), flush=True)
    return out


# ----------------------------------------------------------------------------- 6. paper scale

def mnist_size_digits(n_train: int):
    """scikit-learn's digits upsampled (bilinear) from 8×8 to 28×28: MNIST-size inputs, offline."""
    ds = data.digits(n_train=n_train, seed=0)
    images = jax.image.resize(ds.x.reshape(-1, 8, 8), (ds.x.shape[0], 28, 28), "bilinear")
    return ds._replace(x=images.reshape(ds.x.shape[0], 784))


def bench_paper_scale(quick: bool) -> dict:
    """GD and the order-0/1 EoM for 1000 steps on a 784-128-10 tanh MLP (d = 101 770).

    The inputs are MNIST-size (28×28) images: the digits upsampled, since the machines
    that run this have no network (the MNIST loader needs one on first use).
    """
    n_train, num_steps = (128, 50) if quick else (1024, 1000)
    ds = mnist_size_digits(n_train)
    net = models.make_mlp([784, 128, 10], "tanh")
    theta = net.init(jax.random.PRNGKey(0))
    loss = models.make_loss(net, ds)
    d = int(flatten_problem(loss, theta).x0.size)
    lam = float(eomlib.sharpness(loss, theta))
    lr = 0.5 / lam
    grid, max_steps = grid_size(num_steps), default_max_steps(num_steps)
    out = {"network": "MLP 784-128-10 tanh", "d": d, "n_train": n_train, "num_steps": num_steps,
           "lambda_max0": lam, "lr": lr, "data": "digits upsampled to 28x28 (offline)"}
    print(f"  MLP 784-128-10, d = {d}, {n_train} images, λ_max(θ0) = {lam:.3f}, η = 0.5/λ_max = {lr:.4f}, "
          f"{num_steps} steps", flush=True)

    def gd():
        return gd_flat(loss, theta, lr, num_steps, grid)

    start = time.perf_counter()
    xs_gd, ok = jax.block_until_ready(gd())
    out["gd_first_call_s"] = time.perf_counter() - start
    out["gd_s"] = median_wall(gd, 3)
    assert bool(ok)
    print(f"  GD: first call (compiles) {out['gd_first_call_s']:.2f} s, then {out['gd_s']:.3f} s", flush=True)
    for order in (0, 1):
        def eom(order=order):
            return eom_flat(loss, theta, lr, num_steps, grid, order, DEFAULT_RTOL, DEFAULT_ATOL, max_steps)

        start = time.perf_counter()
        xs, ok, stats = jax.block_until_ready(eom())
        first = time.perf_counter() - start
        run_s = median_wall(eom, 1 if not quick else 2)
        errors = np.linalg.norm(np.asarray(xs[: num_steps + 1] - xs_gd[: num_steps + 1]), axis=-1)
        row = {"first_call_s": first, "run_s": run_s, "ok": bool(ok),
               "solver_steps": int(stats["num_accepted_steps"]), "rejected": int(stats["num_rejected_steps"]),
               "max_error": float(errors.max()), "final_error": float(errors[-1]),
               "final_loss_gd": float(loss(flatten_problem(loss, theta).unravel(xs_gd[num_steps])))}
        out[f"order {order}"] = row
        print(f"  order-{order} EoM: first call {first:.2f} s, then {run_s:.2f} s; {row['solver_steps']} solver "
              f"steps ({row['rejected']} rejected); max_k ‖θ_EoM(kη) − θ_k‖ = {row['max_error']:.2e}", flush=True)
    out["error_ratio_order0_over_order1"] = out["order 0"]["max_error"] / out["order 1"]["max_error"]
    return out


# ----------------------------------------------------------------------------- 5. book build

def bench_sgd(quick: bool) -> dict:
    """10⁴ SGD runs (one vmap over seeds) and 10³ SME paths: first call and warm call."""
    from eomlib import sgd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3))
    reg = {"x": jnp.asarray(x), "y": jnp.asarray(x @ np.array([1.0, -2.0, 0.5]))}

    def tanh_loss(th, b):
        return 0.5 * jnp.mean((jnp.tanh(b["x"] @ th["w"]) + th["c"] - b["y"]) ** 2)

    ds = data.digits(n_train=256, seed=0)
    digits = {"x": ds.x, "labels": ds.labels}

    def mlp_loss(th, b):
        return models.cross_entropy_loss(models.mlp, b["x"], b["labels"])(th)

    cases = {
        "tanh regression, d = 4, N = 16, B = 4, 5 epochs (20 steps)":
            (tanh_loss, {"w": jnp.array([0.3, -0.2, 0.1]), "c": jnp.array(0.0)}, reg, 4, 5),
        "digits MLP 64-16-10, d = 1210, N = 256, B = 32, 1 epoch (8 steps)":
            (mlp_loss, models.init_mlp(jax.random.PRNGKey(0), [64, 16, 10]), digits, 32, 1),
    }
    runs = 1000 if quick else 10_000
    out = {}
    for name, (loss, theta, dataset, b, epochs) in cases.items():
        keys = jax.random.split(jax.random.key(0), runs)
        t0 = time.perf_counter()
        jax.block_until_ready(sgd.sgd_ensemble(loss, theta, 0.1, dataset, b, epochs, keys))
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(sgd.sgd_ensemble(loss, theta, 0.05, dataset, b, epochs, keys))
        warm = time.perf_counter() - t0
        out[f"SGD ensemble, {runs} runs: {name}"] = {"first_call_s": round(first, 2), "warm_s": round(warm, 2)}
        print(f"   SGD, {runs} runs, {name}: first call {first:.2f} s, warm {warm:.2f} s")
    paths = 100 if quick else 1000
    theta = {"w": jnp.array([0.3, -0.2, 0.1]), "c": jnp.array(0.0)}
    for order in (1, 2):
        keys = jax.random.split(jax.random.key(1), paths)
        t0 = time.perf_counter()
        jax.block_until_ready(sgd.sme_ensemble(tanh_loss, theta, 0.1, reg, 4, 20, keys, order=order))
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(sgd.sme_ensemble(tanh_loss, theta, 0.05, reg, 4, 20, keys, order=order))
        warm = time.perf_counter() - t0
        key = f"order-{order} SME, {paths} paths, tanh regression, 20 SGD steps × 8 Euler-Maruyama steps"
        out[key] = {"first_call_s": round(first, 2), "warm_s": round(warm, 2)}
        print(f"   {key}: first call {first:.2f} s, warm {warm:.2f} s")
    return out


def bench_central_flow(quick: bool) -> dict:
    """The central flow's field and eigen-tracking against one gradient, and a warm run."""
    from eomlib import centralflow
    from eomlib._core import centralflow as core
    from eomlib._core.flat import flatten_problem

    ds = data.digits(n_train=128, seed=0)
    model = models.make_mlp([64, 16, 10], "tanh")
    theta0 = jax.tree_util.tree_map(lambda p: 0.5 * p, model.init(jax.random.PRNGKey(0)))
    loss = models.make_loss(model, ds, "mse")
    lr, k = 0.8, 4
    theta = jax.tree_util.tree_map(lambda a: a[-1], eomlib.gd_trajectory(loss, theta0, lr, 340))
    problem = flatten_problem(loss, theta)
    x = problem.x0
    cfg = core.Settings(k, 3, core.DEFAULT_RTOL, core.DEFAULT_ATOL, core.STEP_BUDGET)
    u0 = core.refine(problem.grad, x, jax.random.normal(jax.random.PRNGKey(0), (k + 1,) + x.shape),
                     3, core.INITIAL_RESTARTS)[1]
    grad = jax.jit(problem.grad)
    parts = {
        "central-flow field (block Lanczos + G_ij + SDCP), 4 tracked":
            jax.jit(lambda y, u: core.edge_info(problem, y, lr, u, cfg, 1.95, 0.25)["dx"]),
        "block-Lanczos eigen-solve inside the field (3 blocks of 5)":
            jax.jit(lambda y, u: core.block_krylov(problem.grad, y, u, 3)[0]),
        "G_ij = grad(u_i^T H u_j) for the 10 pairs of 4 eigenvectors":
            jax.jit(lambda y, u: core.eigen_gradients(problem.grad, y, u[:k])),
        "eigen-tracking at a saved GD step (2 rounds)":
            jax.jit(lambda y, u: core.refine(problem.grad, y, u, 3, core.RESTARTS)[0]),
    }
    rounds = 3 if quick else 7
    out = {}
    for name, fn in parts.items():
        r = interleaved_ratio(grad, fn, (x,), (x, u0), rounds)
        out[name] = {"gradients": round(r["ratio"], 2), "ms": round(1e3 * r["other_s"], 3)}
        print(f"   {name}: {r['ratio']:.1f} gradients ({1e3 * r['other_s']:.2f} ms; gradient "
              f"{1e6 * r['base_s']:.0f} µs)")
    steps = 20 if quick else 50
    run = lambda eta: centralflow.central_flow(loss, theta, eta, steps, num_eigs=k)  # noqa: E731
    t0 = time.perf_counter()
    jax.block_until_ready(run(lr).trajectory)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    flow = run(0.79)
    jax.block_until_ready(flow.trajectory)
    warm = time.perf_counter() - t0
    per_step = float(np.mean(np.asarray(flow.solver_steps[1:])))
    out[f"central flow, {steps} GD steps at the edge"] = {
        "first_call_s": round(first, 2), "warm_s": round(warm, 2),
        "warm_ms_per_gd_step": round(1e3 * warm / steps, 1), "solver_steps_per_gd_step": round(per_step, 1)}
    print(f"   central flow, {steps} GD steps at the edge: first call {first:.1f} s, warm {warm:.2f} s "
          f"({1e3 * warm / steps:.0f} ms per GD step, {per_step:.1f} solver steps per GD step)")
    return out


def bench_scaling() -> dict:
    """benchmarks/scaling.py in a fresh process per device count (the count is fixed when
    JAX starts)."""
    out = {}
    counts = (1, 2, 4) if jax.default_backend() == "cpu" else (None,)
    for count in counts:
        env = dict(os.environ)
        if count is not None:
            flags = (CALLER_XLA_FLAGS or "") + f" --xla_force_host_platform_device_count={count}"
            env["XLA_FLAGS"] = flags.strip()
        run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scaling.py")], cwd=ROOT,
                             env=env, check=True, capture_output=True, text=True)
        row = json.loads(run.stdout.strip().splitlines()[-1])
        out[f"{row['devices']} {row['backend']} device(s)"] = row
        extra = (f", one core {row['error_sweep_one_core_s']:.2f} s"
                 if "error_sweep_one_core_s" in row else "")
        print(f"   {row['devices']} device(s): error sweep {row['error_sweep_s']:.2f} s{extra}; "
              f"4096 SGD runs {row['sgd_ensemble_s']:.2f} s; data-parallel error "
              f"{row['data_parallel_error_s']:.2f} s", flush=True)
    return out


def bench_book() -> dict:
    """``tools/build_book.sh`` with ``EOMLIB_BOOK_JOBS`` = 1 and 2 (the script must read it)."""
    script = ROOT / "tools" / "build_book.sh"
    honoured = "EOMLIB_BOOK_JOBS" in script.read_text()
    out = {"jobs_variable_honoured": honoured, "target_s": TARGETS["book_s"]}
    for jobs in (1, 2):
        # the chapters run as `make book` runs them: without this script's single-thread XLA
        env = dict(os.environ, EOMLIB_BOOK_JOBS=str(jobs))
        env.pop("XLA_FLAGS", None)
        if CALLER_XLA_FLAGS is not None:
            env["XLA_FLAGS"] = CALLER_XLA_FLAGS
        start = time.perf_counter()
        subprocess.run(["bash", str(script)], cwd=ROOT, env=env, check=True, capture_output=True)
        out[f"jobs={jobs}_s"] = time.perf_counter() - start
        print(f"  book build with {jobs} job(s): {out[f'jobs={jobs}_s']:.0f} s"
              + ("" if honoured else " (tools/build_book.sh ignores EOMLIB_BOOK_JOBS)"), flush=True)
    return out


# ----------------------------------------------------------------------------- main

def main(args) -> int:
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    info = machine()
    results = {"machine": info, "quick": args.quick, "targets": {k: v for k, v in TARGETS.items()}}
    print(f"machine: {info['cpu']}, {info['cpu_count']} CPUs, jax {info['jax']}, "
          f"load average {info['load_average_start']}")
    if "1" in sections:
        print("1. EoM vector field relative to one gradient (jitted, interleaved medians):")
        results["field_cost"] = bench_field_cost(args.quick, args.max_order)
    if "2" in sections:
        print("2. learning-rate sweep: one batched call against a loop:")
        results["sweep"] = bench_sweep(args.quick)
    if "3" in sections:
        print("3. slider latency after the first call:")
        results["slider"] = bench_slider()
    if "4" in sections:
        print("4. ODE cost at the default tolerances:")
        results["ode"] = bench_ode()
    if "7" in sections:
        print("7. SGD ensembles and SME paths:")
        results["sgd"] = bench_sgd(args.quick)
    if "9" in sections:
        print("9. scaling over devices (warm times):")
        results["scaling"] = bench_scaling()
    if "8" in sections:
        print("8. central flow on chapter 8's network at the edge of stability:")
        results["central_flow"] = bench_central_flow(args.quick)
    if args.paper_scale:
        print("6. paper scale: 1000 steps on an MNIST-size network:")
        results["paper_scale"] = bench_paper_scale(args.quick)
    if args.book:
        print("5. book build:")
        results["book"] = bench_book()
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    name = machine_slug(info) + ("-quick" if args.quick else "")
    out = pathlib.Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # a run of some sections updates those, keeping the others' last results
        try:
            results = {**json.loads(out.read_text()), **results}
        except json.JSONDecodeError:
            aside = out.with_suffix(".unreadable.json")
            out.rename(aside)
            print(f"{out} was not valid JSON: kept as {aside}")
    out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
