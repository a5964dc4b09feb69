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
import numpy as np
import pytest
from jax.sharding import Mesh

from eomlib import sharding
from eomlib._core.sharding import pad_batch

SCRIPTS = pathlib.Path(__file__).parent / "sharding_scripts"
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _env(devices: int):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_four_forced_devices_match_one_device():
    out = subprocess.run([sys.executable, str(SCRIPTS / "forced_devices.py")], env=_env(4),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ALL OK" in out.stdout
    assert "sgd_ensemble 12 runs: equal, sharding" in out.stdout


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
