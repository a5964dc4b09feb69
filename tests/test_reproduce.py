"""``python -m eomlib reproduce --scale tiny``: files, keys, and the claims it checks."""

import json
import os
import subprocess
import sys

import numpy as np

from eomlib import data, experiments

# One test runs the CLI once and checks everything it produced: a module-scoped fixture would
# be set up once per xdist worker (and xdist_group does not group under pytest 9).


def run_tiny(out):
    env = dict(os.environ, MPLBACKEND="Agg")
    # compile time dominates a tiny run: LLVM optimisation off cuts it by a third
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    return subprocess.run([sys.executable, "-m", "eomlib", "reproduce", "--scale", "tiny",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)


def check_cli_output(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "float64" in proc.stdout and "slope" in proc.stdout
    assert "(a) error vs η" in proc.stderr  # the tqdm progress bars go to stderr


def check_results_json_and_figures(results, out):
    for key in ("settings", "slopes", "error_vs_lr", "error_along_training", "invariance",
                "figures", "timings", "environment", "passed", "failures"):
        assert key in results
    assert results["passed"] and not results["failures"]
    assert results["environment"]["x64"] and results["settings"]["dtype"] == "float64"
    assert results["environment"]["jax"] and results["environment"]["device"]
    assert results["timings"]["total"] > 0
    for name in ("error_vs_lr.png", "error_along_training.png"):
        assert name in results["figures"]
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_slopes(results):
    assert set(results["slopes"]) == {"0", "1", "2", "3"}
    for order, slope in results["slopes"].items():
        assert abs(slope - (int(order) + 1)) <= 0.3, (order, slope)


def check_predictions(results):
    b = results["error_along_training"]
    assert set(b["orders"]) == {"0", "1"}
    for order in b["orders"].values():
        for run in order["runs"]:
            assert abs(run["ratio_final"] - 1) < 0.1, run["ratio_final"]
            assert len(run["measured"]) == len(run["predicted"]) == run["num_steps"] + 1
        assert 1.5 < order["deviation_shrink_factor"] < 2.5  # |ratio − 1| = O(η)


def check_wrong_slope_fails(results, out, monkeypatch, capsys):
    bad = results["error_vs_lr"]["orders"]["2"]
    bad["slope"], bad["passed"] = 2.5, experiments.slope_passes(2.5, 2)
    results["failures"] = experiments.collect_failures(results)
    results["passed"] = not results["failures"]
    monkeypatch.setattr(experiments, "reproduce", lambda *args, **kwargs: results)
    assert experiments.main(["reproduce", "--scale", "tiny", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "order-2 fitted slope 2.500" in err


def test_reproduce_tiny(tmp_path, monkeypatch, capsys):
    proc = run_tiny(tmp_path)
    check_cli_output(proc)
    results = json.loads((tmp_path / "results.json").read_text())
    check_results_json_and_figures(results, tmp_path)
    check_slopes(results)
    check_predictions(results)
    check_wrong_slope_fails(results, tmp_path / "again", monkeypatch, capsys)


def test_offline_dataset_fails_cleanly(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "MNIST_MIRRORS", ("http://127.0.0.1:9/",))
    monkeypatch.setenv("EOMLIB_DATA", str(tmp_path))
    code = experiments.main(["reproduce", "--scale", "tiny", "--dataset", "mnist",
                             "--out", str(tmp_path / "out")])
    assert code == 2
    assert "eomlib.data.digits" in capsys.readouterr().err


def test_learning_rates_follow_the_sharpness():
    assert [experiments.floor_one_digit(x) for x in (0.803, 0.061, 0.5, 2.5e-3)] == \
        [0.8, 0.06, 0.5, 0.002]
    scale = experiments.SCALES["small"].with_sharpness(0.31)  # η_max = floor(0.25 / 0.31) = 0.8
    assert scale.lr_max == 0.8 and scale.track_lr == 0.2
    np.testing.assert_allclose(scale.lrs, [0.8, 0.4, 0.2, 0.1, 0.05], rtol=1e-15)
    assert abs(scale.horizon - 9.6) < 1e-12
    assert scale.with_sharpness(100.0) is scale  # an explicit lr_max is kept
