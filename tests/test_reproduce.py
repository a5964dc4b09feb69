"""``python -m eomlib reproduce --scale tiny``: files, keys, and the claims it checks."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from eomlib import data
from eomlib import reproduce as experiments

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
    assert "(c) invariant layers" in proc.stderr and "(c) invariant layers" in proc.stdout
    for name in experiments.INVARIANCE_CHECKS:  # one summary row per check
        assert name in proc.stdout


def check_results_json_and_figures(results, out):
    for key in ("settings", "slopes", "error_vs_lr", "error_along_training", "invariance",
                "figures", "timings", "environment", "passed", "failures"):
        assert key in results
    assert results["passed"] and not results["failures"]
    assert results["environment"]["x64"] and results["settings"]["dtype"] == "float64"
    assert results["environment"]["jax"] and results["environment"]["device"]
    assert results["timings"]["total"] > 0
    for name in ("error_vs_lr.png", "error_along_training.png", "invariance.png"):
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


def check_invariance(results):
    inv = results["invariance"]
    for key in ("model", "lr", "weight_decay", "runs", "growth", "equilibrium", "bias_sum",
                "checks"):
        assert key in inv
    assert inv["model"].endswith("-ln") and inv["lr"] > 0 and inv["weight_decay"] > 0
    checks = {c["name"]: c for c in inv["checks"]}
    assert list(checks) == list(experiments.INVARIANCE_CHECKS)
    assert all(c["passed"] and c["detail"] for c in checks.values()), inv["checks"]
    # GD grows the scale-invariant norm, GF keeps it, the order-1 EoM predicts the growth
    assert checks["GD grows the norm"]["growth"] > 0
    assert checks["GF keeps the norm"]["relative_drift"] < 1e-6
    assert abs(checks["order-1 EoM predicts the growth"]["ratio"] - 1) < 0.1
    assert abs(inv["growth"]["ratio"][1] - 1) < abs(inv["growth"]["ratio"][0] - 1)
    # weight decay: the equilibrium norm; the bias sum decays at GD's exact rate
    assert abs(inv["equilibrium"]["measured"] / inv["equilibrium"]["predicted_gd"] - 1) < 0.1
    b = inv["bias_sum"]
    assert abs(b["rate_gd"] / b["rate_predicted"] - 1) < 1e-8 and b["rate_gf"] > b["rate_gd"]
    assert abs(b["mismatch_order"]["gf"] - 1) < 0.3 and abs(b["mismatch_order"]["eom1"] - 2) < 0.3
    run = inv["runs"][0]
    assert len(run["gd"]["sq_norm"]) == len(run["eom1"]["sq_norm"]) == run["num_steps"] + 1


def check_failed_invariance_check_fails(results):
    results["invariance"]["checks"][3]["passed"] = False
    failures = experiments.collect_failures(results)
    assert len(failures) == 1 and "order-1 EoM predicts the growth" in failures[0]
    results["invariance"]["checks"][3]["passed"] = True


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
    check_invariance(results)
    check_failed_invariance_check_fails(results)
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


def test_invariance_runs_and_bad_scale(tmp_path):
    scale = experiments.SCALES["small"]
    runs = experiments.invariance_runs(0.1, 0.2, scale)
    assert runs.lrs == (0.1, 0.05, 0.1, 0.05, 0.1) and runs.decays == (0.0, 0.0, 0.2, 0.2, 0.2)
    assert runs.steps == (50, 100, 50, 100, scale.inv_decay_steps)
    for name in ("tiny", "small", "paper"):  # the twin's equilibrium run outlasts the others
        s = experiments.SCALES[name]
        assert s.inv_decay_steps > 2 * s.inv_steps and 0 < s.inv_decay_times_lr < 0.1
    with pytest.raises(ValueError, match="scale must be one of"):
        experiments.reproduce("huge", out=tmp_path)
