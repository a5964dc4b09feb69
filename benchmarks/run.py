"""eomlib benchmarks: `make bench`. Prints a table and writes benchmarks/results.json.

Every figure is a ratio or a time measured in this one process: medians over repeats,
`block_until_ready` on every result. The machine is described in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import eomlib  # noqa: E402
from eomlib import data, models  # noqa: E402
from eomlib.fields import flat_eom_field  # noqa: E402
from eomlib.flat import flatten_problem  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def median_time(fn, *args, repeats: int = 7, min_time: float = 0.2) -> float:
    """Median wall time of ``fn(*args)`` (compiled beforehand), over ``repeats`` batches."""
    jax.block_until_ready(fn(*args))
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            jax.block_until_ready(fn(*args))
        if time.perf_counter() - start > min_time / 5 or number > 1000:
            break
        number *= 2
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            jax.block_until_ready(fn(*args))
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "jax": jax.__version__, "device": str(jax.devices()[0]),
            "cpu_count": os.cpu_count()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        info["cpu"] = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                            if line.startswith("Model name")), "unknown")
    except OSError:
        info["cpu"] = "unknown"
    return info


def networks(scale: str) -> dict:
    ds = data.digits(n_train=128, seed=0)
    nets = {"digits MLP 64-16-10": ([64, 16, 10], ds)}
    wide = [64, 512, 128, 10] if scale != "tiny" else [64, 64, 10]
    nets[f"wide MLP {'-'.join(map(str, wide))}"] = (wide, ds)
    out = {}
    for name, (sizes, dset) in nets.items():
        theta = models.init_mlp(jax.random.PRNGKey(0), sizes)
        loss = models.cross_entropy_loss(models.mlp, dset.x, dset.labels)
        out[name] = (loss, theta)
    return out


def bench_field_cost(scale: str, max_order: int) -> list:
    rows = []
    for name, (loss, theta) in networks(scale).items():
        problem = flatten_problem(loss, theta)
        x = problem.x0
        d = int(x.size)
        grad = jax.jit(problem.grad)
        t_grad = median_time(grad, x)
        for order in range(1, max_order + 1):
            field = jax.jit(flat_eom_field(problem.grad, order))
            start = time.perf_counter()
            field.lower(x, 0.1).compile()
            compile_s = time.perf_counter() - start
            t_field = median_time(field, x, 0.1)
            rows.append({"network": name, "d": d, "order": order, "grad_ms": 1e3 * t_grad,
                         "field_ms": 1e3 * t_field, "ratio": t_field / t_grad,
                         "compile_s": compile_s})
            print(f"  {name:28s} d={d:6d} order {order}: {t_field / t_grad:6.2f}× gradient, "
                  f"compile {compile_s:5.2f} s", flush=True)
    return rows


def bench_sweep(num_lrs: int = 16) -> dict:
    loss, theta = networks("tiny")["digits MLP 64-16-10"]
    lrs = np.linspace(0.1, 0.8, num_lrs)
    n = 20
    result = {}
    for order in (0, 1, 2):
        batched = lambda: eomlib.error_sweep(loss, theta, lrs, order, num_steps=n).max_error  # noqa: E731
        looped = lambda: np.array([float(eomlib.discretization_error(loss, theta, float(lr), n, order).max())  # noqa: E731
                                   for lr in lrs])
        np.testing.assert_allclose(batched(), looped(), rtol=1e-8)
        t_b = median_time(batched, repeats=3, min_time=0.0)
        t_l = median_time(looped, repeats=3, min_time=0.0)
        result[f"order {order}"] = {"batched_s": t_b, "loop_s": t_l, "speedup": t_l / t_b}
        print(f"  sweep of {num_lrs} learning rates, order {order}: batched {t_b:.3f} s, "
              f"loop {t_l:.3f} s, speed-up {t_l / t_b:.1f}×", flush=True)
    return result


def bench_slider() -> dict:
    """Time for a new η after warm-up, with the compilation count (must stay 0)."""
    valley = eomlib.toys.curved_valley
    theta_v = jnp.array([1.8, 0.2])
    loss, theta = networks("tiny")["digits MLP 64-16-10"]
    cases = {
        "ch1 GD on the valley (30 steps)": lambda lr: eomlib.gd_trajectory(valley, theta_v, lr, 30),
        "ch2 order-1 EoM on the valley (25 steps)": lambda lr: eomlib.eom_trajectory(valley, theta_v, lr, 25, 1),
        "ch4 GF error + prediction, digits (32 steps)": lambda lr: (
            eomlib.discretization_error(loss, theta, lr, 32, 0), eomlib.predicted_error(loss, theta, lr, 32, 0)),
    }
    out = {}
    for name, fn in cases.items():
        jax.block_until_ready(fn(0.1))
        compiles = []
        with jax.log_compiles():
            pass
        before = jax.config.jax_log_compiles
        counter = _CompileCounter()
        with counter:
            times = []
            for lr in (0.11, 0.13, 0.17, 0.19, 0.23):
                start = time.perf_counter()
                jax.block_until_ready(fn(lr))
                times.append(time.perf_counter() - start)
        compiles.append(counter.count)
        out[name] = {"latency_ms": 1e3 * statistics.median(times), "recompiles": counter.count}
        print(f"  slider: {name}: {1e3 * statistics.median(times):.1f} ms per new η, "
              f"{counter.count} recompilations", flush=True)
        assert before == jax.config.jax_log_compiles
    return out


class _CompileCounter:
    """Counts XLA compilations (jax's 'Finished XLA compilation' log records)."""

    def __enter__(self):
        import logging

        self.count = 0
        self._logger = logging.getLogger("jax._src.dispatch")
        self._pxla = logging.getLogger("jax._src.interpreters.pxla")
        counter = self

        class Handler(logging.Handler):
            def emit(self, record):
                if "Compiling" in record.getMessage() or "compil" in record.getMessage().lower():
                    counter.count += 1

        self._handler = Handler(level=logging.DEBUG)
        self._ctx = jax.log_compiles(True)
        self._ctx.__enter__()
        for lg in (self._logger, self._pxla):
            lg.addHandler(self._handler)
            lg.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc):
        for lg in (self._logger, self._pxla):
            lg.removeHandler(self._handler)
        self._ctx.__exit__(*exc)
        return False


def bench_ode() -> dict:
    """Field evaluations per GD step at the default tolerances, and the attained error floor."""
    from eomlib.solve import DEFAULT_ATOL, DEFAULT_RTOL, eom_flat
    from eomlib.flat import grid_size

    loss, theta = networks("tiny")["digits MLP 64-16-10"]
    out = {}
    n = 32
    for order in (0, 1, 2):
        _, _, stats = eom_flat(loss, theta, 0.25, n, grid_size(n), order, DEFAULT_RTOL, DEFAULT_ATOL,
                               eomlib.solve.default_max_steps(n))
        steps = int(stats["num_steps"])
        evals = steps * 12  # Dopri8: 12 new field evaluations per attempted step (FSAL)
        out[f"order {order}"] = {"solver_steps": steps, "field_evals_per_gd_step": evals / n}
        print(f"  ODE, digits, order {order}: {steps} solver steps for {n} GD steps, "
              f"≈{evals / n:.0f} field evaluations per GD step", flush=True)
    # error floor: the exact quadratic EoM is known in closed form
    a = jnp.array([[1.0, 0.2], [0.2, 0.4]])
    quad = eomlib.toys.quadratic(a)
    q0 = jnp.array([1.0, 1.0])
    lr, n = 0.3, 40
    times = np.arange(n + 1) * lr
    gf_exact = np.array([jax.scipy.linalg.expm(-t * a) @ q0 for t in times])
    gf = np.asarray(eomlib.eom_trajectory(quad, q0, lr, n, 0))
    floor = float(np.abs(gf - gf_exact).max())
    out["error_floor_float64"] = floor
    print(f"  ODE error floor (GF on a quadratic vs expm, default tolerances): {floor:.1e}", flush=True)
    return out


def bench_book() -> dict:
    out = {}
    for jobs in (1, 2):
        env = dict(os.environ, EOMLIB_BOOK_JOBS=str(jobs))
        start = time.perf_counter()
        subprocess.run(["bash", str(ROOT / "tools" / "build_book.sh")], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        out[f"jobs={jobs}_s"] = time.perf_counter() - start
        print(f"  book build with {jobs} job(s): {out[f'jobs={jobs}_s']:.0f} s", flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["tiny", "full"], default="full")
    parser.add_argument("--max-order", type=int, default=4)
    parser.add_argument("--book", action="store_true", help="also time the book build, serial vs parallel")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    args = parser.parse_args(argv)

    results = {"machine": machine()}
    print(f"machine: {results['machine']}")
    print("1. EoM field cost relative to one gradient (jitted, median):")
    results["field_cost"] = bench_field_cost(args.scale, args.max_order)
    print("2. learning-rate sweep, batched vs loop:")
    results["sweep"] = bench_sweep()
    print("3. slider latency:")
    results["slider"] = bench_slider()
    print("4. ODE cost:")
    results["ode"] = bench_ode()
    if args.book:
        print("5. book build:")
        results["book"] = bench_book()
    pathlib.Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
