"""Run under XLA_FLAGS=--xla_force_host_platform_device_count=4 (tests/test_sharding.py runs it
in a subprocess): a data-parallel loss (eomlib.sharding.data_parallel, the dataset split over
4 CPU devices) through counter terms, the EoM field and solve, GD, errors, a sweep and the
sharpness, against the same loss with the data on one device; and the compiled programs
reduce over devices (all-reduce) without gathering the data.  Prints one line per check;
exits non-zero on failure."""

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
import eomlib  # noqa: E402
from eomlib import sharding  # noqa: E402
from eomlib._core import descent, solve  # noqa: E402

assert len(jax.devices()) == 4, jax.devices()
# the all-reduce adds the 4 partial sums in another order than one device's sum: round-off
# (1e-12).  An adaptive solve turns round-off into other step sizes: two solves of the same
# EoM then differ by up to their global errors, which for the default Solver (rtol 1e-10,
# |θ| ≈ 1, tens of steps) are below 100 rtol
TOL = 1e-12
SOLVE_TOL = 100 * eomlib.Solver().rtol

rng = np.random.default_rng(0)
N, D = 64, 5
x = rng.normal(size=(N, D))
data = {"x": x, "y": np.tanh(x @ rng.normal(size=D)) + 0.1 * rng.normal(size=N)}


def fn(th, d):
    return 0.5 * jnp.mean((jnp.tanh(d["x"] @ th["w"]) + th["c"] - d["y"]) ** 2)


theta0 = {"w": jnp.asarray(0.3 * rng.normal(size=D)), "c": jnp.asarray(0.1)}
one = sharding.data_parallel(fn, data, mesh=False)  # the same loss, data on one device
dp = sharding.data_parallel(fn, data)  # default mesh: the 4 devices
plain = lambda th: fn(th, data)  # noqa: E731 - the data closed over


def gap(a, b):
    return max(float(np.abs(np.asarray(u) - np.asarray(v)).max())
               for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def check(name, a, b, tol=TOL):
    g = gap(a, b)
    assert g <= tol, (name, g)
    print(f"{name}: max difference {g:.1e}")


# 1. the data: split 4 ways along the examples, 16 rows per device
assert dp.mesh is not None and dp.mesh.size == 4 and one.mesh is None
for leaf in jax.tree_util.tree_leaves(dp.data):
    assert {s.data.shape[0] for s in leaf.addressable_shards} == {N // 4}, leaf.sharding
print("data: 4 shards of", N // 4, "examples;", repr(dp))
again = sharding.data_parallel(fn, dp.data)  # already split: the same arrays, not copies
assert all(a is b for a, b in zip(jax.tree_util.tree_leaves(again.data),
                                  jax.tree_util.tree_leaves(dp.data)))
moved = sharding.data_parallel(fn, jax.tree_util.tree_map(jnp.asarray, data))  # one device → 4
assert gap(moved.data, data) == 0.0 and moved.data["x"].sharding.is_equivalent_to(
    dp.data["x"].sharding, 2)

# 2. loss, counter terms (order 3), the order-2 field
check("loss", dp(theta0), plain(theta0))
for k, (a, b, c) in enumerate(zip(eomlib.counter_terms(dp, 3), eomlib.counter_terms(one, 3),
                                  eomlib.counter_terms(plain, 3)), 1):
    check(f"xi_{k}", a(theta0), c(theta0))
    check(f"xi_{k} (one device)", b(theta0), c(theta0))
check("order-2 field", eomlib.eom_vector_field(dp, 2)(theta0, 0.2),
      eomlib.eom_vector_field(plain, 2)(theta0, 0.2))

# 3. GD, the order-2 EoM solve, measured and predicted errors
lr, n = 0.2, 30
check("gd_trajectory", eomlib.gd_trajectory(dp, theta0, lr, n), eomlib.gd_trajectory(plain, theta0, lr, n))
check("eom_trajectory order 2", eomlib.eom_trajectory(dp, theta0, lr, n, 2),
      eomlib.eom_trajectory(plain, theta0, lr, n, 2), tol=SOLVE_TOL)
check("discretization_error order 1", eomlib.discretization_error(dp, theta0, lr, n, 1),
      eomlib.discretization_error(plain, theta0, lr, n, 1), tol=SOLVE_TOL)
check("predicted_error order 1", eomlib.predicted_error(dp, theta0, lr, n, 1),
      eomlib.predicted_error(plain, theta0, lr, n, 1), tol=SOLVE_TOL)

# 4. a sweep (learning rates side by side on the data's devices) and the sharpness
lrs = np.linspace(0.05, 0.3, 5)
for batching in ("map", "vmap"):
    a = eomlib.error_sweep(dp, theta0, lrs, 1, num_steps=20, batching=batching)
    b = eomlib.error_sweep(plain, theta0, lrs, 1, num_steps=20, batching=batching, mesh=False)
    check(f"error_sweep {batching}", a.errors, b.errors, tol=SOLVE_TOL)
check("sharpness", eomlib.sharpness(dp, theta0), eomlib.sharpness(plain, theta0))
traj = eomlib.gd_trajectory(plain, theta0, lr, 9)
check("sharpness_along", eomlib.sharpness_along(dp, traj), eomlib.sharpness_along(plain, traj, mesh=False))
try:
    eomlib.error_sweep(dp, theta0, lrs, 1, num_steps=5, mesh=dp.mesh)
except ValueError as exc:
    assert "data-parallel" in str(exc), exc
    print("error_sweep(data-parallel loss, mesh=Mesh): ValueError")
else:
    raise AssertionError("a batch mesh with a data-parallel loss must be refused")

# 5. the compiled programs: each device reads its 16 rows, partial sums are all-reduced, and
#    nothing gathers the data; the plain loss's programs hold the whole dataset instead
x0 = jnp.concatenate([theta0["w"], theta0["c"][None]])
programs = {"GD": lambda loss: descent.gd_flat.lower(loss, theta0, lr, n, n),
            "EoM order 2": lambda loss: solve.eom_flat.lower(loss, theta0, lr, n, n, 2, 1e-10, 1e-12,
                                                            4096)}
for name, lower in programs.items():
    text = lower(dp).compile().as_text()
    assert "all-reduce" in text and "all-gather" not in text, name
    assert f"f64[{N // 4},{D}]" in text and f"f64[{N},{D}]" not in text, name
    closed = lower(plain).compile().as_text()
    assert "all-reduce" not in closed, name
    print(f"{name}: data-parallel program all-reduces over 4 shards of {N // 4} rows, gathers none")

# 6. N not a multiple of the devices: refused with the way out
try:
    sharding.data_parallel(fn, {"x": x[:63], "y": data["y"][:63]})
except ValueError as exc:
    assert "multiple of the 4 devices" in str(exc), exc
    print("N = 63 on 4 devices: ValueError")
else:
    raise AssertionError("63 examples on 4 devices must be refused")

# 7. the loss is a pytree: a jax.jit of one's own takes it as an argument and keeps the shards
field = jax.jit(lambda loss, th, eta: eomlib.eom_vector_field(loss, 1)(th, eta))
check("user jit, loss as argument", field(dp, theta0, 0.2), eomlib.eom_vector_field(plain, 1)(theta0, 0.2))
print("ALL OK")
