"""eomlib.sharding: sweeps, sharpness and SGD ensembles spread over devices and hosts.

The multi-device checks run in subprocesses (tests/sharding_scripts/), so that this process
keeps its single CPU device: 4 forced CPU devices (XLA_FLAGS), and 2 processes × 2 devices
joined by jax.distributed on localhost.  Each script compares against the same calls with
mesh=False (1e-12) and checks how the outputs are sharded."""

import os
import pathlib
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

import eomlib
from eomlib import sharding
from eomlib._core.sharding import pad_batch

SCRIPTS = pathlib.Path(__file__).parent / "sharding_scripts"
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _env(devices: int):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_on_four_devices(script: str) -> str:
    """The stdout of ``sharding_scripts/<script>`` run with 4 forced CPU devices; it must
    exit 0 and end with ALL OK."""
    out = subprocess.run([sys.executable, str(SCRIPTS / script)], env=_env(4),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ALL OK" in out.stdout
    return out.stdout


def test_four_forced_devices_match_one_device():
    stdout = _run_on_four_devices("forced_devices.py")
    assert "sgd_ensemble 12 runs: equal, sharding" in stdout
    assert "sme_ensemble 12 paths: equal, sharding" in stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_on_localhost_match_one_device():
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, str(SCRIPTS / "multihost.py"), str(port), str(i)],
                              env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for i in range(2)]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=300)[0])
        except subprocess.TimeoutExpired:  # pragma: no cover - a hang is a failure
            for q in procs:
                q.kill()
            raise
    for i, (p, text) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, text[-3000:]
        assert f"process {i}: error_sweep over 2 hosts x 2 devices (map) equals one device" in text
        assert f"process {i}: error_sweep over 2 hosts x 2 devices (vmap) equals one device" in text
        assert f"process {i}: data-parallel loss over 2 hosts x 2 devices equals one device" in text


def test_data_parallel_loss_on_four_forced_devices_matches_one_device():
    stdout = _run_on_four_devices("data_parallel.py")
    assert "EoM order 2: data-parallel program all-reduces over 4 shards" in stdout


def _fn(th, d):
    return 0.5 * jnp.mean((d["x"] @ th - d["y"]) ** 2)


def test_data_parallel_on_one_device_is_the_same_loss_and_a_pytree():
    x = np.arange(12.0).reshape(6, 2) / 10
    data = {"x": x, "y": x.sum(1)}
    loss = sharding.data_parallel(_fn, data)
    assert loss.mesh is None and "6 examples on one device" in repr(loss)
    th = jnp.array([0.2, -0.1])
    assert float(loss(th)) == float(_fn(th, data))
    leaves, treedef = jax.tree_util.tree_flatten(loss)
    assert len(leaves) == 2
    again = jax.tree_util.tree_unflatten(treedef, leaves)
    assert isinstance(again, sharding.DataParallelLoss) and again.fn is _fn
    np.testing.assert_allclose(eomlib.gd_trajectory(loss, th, 0.1, 5),
                               eomlib.gd_trajectory(lambda t: _fn(t, data), th, 0.1, 5), rtol=1e-14)


@pytest.mark.parametrize("fn, data, match", [
    ("not callable", {"x": np.ones((4, 2))}, "fn must be a callable"),
    (_fn, {}, "got no leaves"),
    (_fn, {"x": np.ones((4, 2)), "y": np.ones(3)}, "disagree in length"),
    (_fn, {"x": np.ones((4, 2)), "y": np.float64(1.0)}, "needs a leading axis"),
])
def test_data_parallel_names_bad_arguments(fn, data, match):
    with pytest.raises(ValueError, match=match):
        sharding.data_parallel(fn, data)


def test_data_parallel_rejects_a_bad_mesh():
    with pytest.raises(ValueError, match="mesh must be None"):
        sharding.data_parallel(_fn, {"x": np.ones((4, 2)), "y": np.ones(4)}, mesh="all")


def test_default_mesh_on_one_device_is_none_and_bad_meshes_are_named():
    assert len(jax.devices()) == 1 and sharding.default_mesh() is None
    assert sharding.check_mesh(None) is None and sharding.check_mesh(False) is None
    one = Mesh(np.array(jax.devices()), ("batch",))
    assert sharding.check_mesh(one) is None  # one device: nothing to shard
    with pytest.raises(ValueError, match="mesh must be None"):
        sharding.check_mesh("gpu")


def test_pad_batch_repeats_the_last_member():
    a, b = pad_batch((np.arange(5.0), np.arange(5) * 10), 4)
    np.testing.assert_array_equal(a, [0, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(b, [0, 10, 20, 30, 40, 40, 40, 40])
    (c,) = pad_batch((np.arange(8.0),), 4)
    assert len(c) == 8


_X = np.random.default_rng(3).normal(size=(12, 3))
_DATA = {"x": _X, "y": np.tanh(_X @ np.array([0.5, -1.0, 0.3]))}


def _tanh_fn(th, d):
    return 0.5 * jnp.mean((jnp.tanh(d["x"] @ th["w"]) + th["c"] - d["y"]) ** 2)


_TH0 = {"w": jnp.array([0.2, 0.1, -0.3]), "c": jnp.array(0.05)}
_SOLVE_TOL = 100 * eomlib.Solver().rtol  # adaptive solves: see sharding_scripts/data_parallel.py
_RUNS = {  # name: (call with a loss, tolerance)
    "heavy_ball_trajectory": (lambda f: eomlib.momentum.heavy_ball_trajectory(f, _TH0, 0.2, 0.5, 8), 1e-12),
    "momentum_flow_trajectory": (lambda f: eomlib.momentum.momentum_flow_trajectory(
        f, _TH0, 0.2, 0.5, 8, 1), _SOLVE_TOL),
    "momentum_error_sweep": (lambda f: eomlib.momentum.momentum_error_sweep(
        f, _TH0, [0.1, 0.2], 0.5, num_steps=6).errors, _SOLVE_TOL),
    "local_error": (lambda f: eomlib.breakdown.local_error(
        f, jax.tree_util.tree_map(lambda a: jnp.stack([a, 2 * a]), _TH0), 0.2, 1), _SOLVE_TOL),
    "central_flow_field": (lambda f: eomlib.centralflow.central_flow_field(
        f, _TH0, 1.5, num_eigs=2, key=jax.random.key(0)), 1e-10),  # ηλ = 2.5: one at the edge
    "top_eigenvalues": (lambda f: eomlib.top_eigenvalues(f, _TH0, 2, key=jax.random.key(0)), 1e-12),
    "modified_loss": (lambda f: jax.grad(eomlib.modified_loss(f, 0.2))(_TH0), 1e-12),
    "prediction_sweep": (lambda f: eomlib.prediction_sweep(f, _TH0, [0.1, 0.2], 1,
                                                           num_steps=5).predicted, _SOLVE_TOL),
}


@pytest.mark.parametrize("name", sorted(_RUNS))
def test_a_data_parallel_loss_runs_wherever_a_loss_does(name):
    """One device (mesh=False): the data enters the compiled programs as an input instead of a
    constant; every entry point gives the plain loss's result."""
    run, tol = _RUNS[name]
    dp = run(sharding.data_parallel(_tanh_fn, _DATA, mesh=False))
    plain = run(lambda th: _tanh_fn(th, _DATA))
    for a, b in zip(jax.tree_util.tree_leaves(dp), jax.tree_util.tree_leaves(plain)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=tol)


def test_reproduce_hands_its_mesh_to_the_sweeps_of_a_and_b(monkeypatch):
    """reproduce's experiments (a) and (b) pass ``mesh`` on (the sharded sweeps themselves are
    checked on 4 devices in sharding_scripts/forced_devices.py)."""
    from eomlib.reproduce import runners

    seen = []

    class Stop(Exception):
        pass

    def record(*args, mesh=None, **kwargs):
        seen.append(mesh)
        raise Stop

    monkeypatch.setattr(eomlib, "error_sweep", record)
    monkeypatch.setattr(eomlib, "prediction_sweep", record)
    problem = type("P", (), {"loss": None, "theta0": None})()
    scale = eomlib.reproduce.SCALES["tiny"].with_sharpness(1.0)
    for run in (runners.error_vs_lr_for_order, runners.error_along_training_for_order):
        with pytest.raises(Stop):
            run(problem, scale, 1, mesh=False)
    assert seen == [False, False]
    with pytest.raises(ValueError, match="mesh must be None"):
        eomlib.reproduce.reproduce("tiny", mesh="gpus", progress=False)
