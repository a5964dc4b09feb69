"""``python -m eomlib reproduce`` keeps its promises: argparse errors (status 2, no traceback)
for bad arguments, checked before any computation; a previous ``results.json`` set aside at
the start; Ctrl-C stops the run at once (status 130), cancelling the queued jobs and leaving
no ``results.json`` and no temporary file."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from eomlib import DivergenceError
from eomlib import reproduce as experiments
from eomlib.reproduce import cli, runners
from eomlib.reproduce.report import write_atomically


def never_called(*args, **kwargs):
    raise AssertionError("reproduce() must not run after a bad argument")


def usage_error(argv, capsys) -> str:
    """The stderr of ``main(argv)``, which must exit with status 2 through argparse."""
    with pytest.raises(SystemExit) as exc:
        experiments.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m eomlib reproduce") and "Traceback" not in err
    return err


@pytest.mark.parametrize("option,value,message", [
    ("--jobs", "0", "argument --jobs: must be an integer >= 1, got 0"),
    ("--jobs", "-1", "argument --jobs: must be an integer >= 1, got -1"),
    ("--jobs", "two", "argument --jobs: must be an integer >= 1, got two"),
    ("--seed", "-1", "argument --seed: must be an integer from 0 to 2**63 - 1, got -1"),
    ("--seed", str(2**63), "argument --seed: must be an integer from 0 to 2**63 - 1"),
    ("--seed", "1.5", "argument --seed: must be an integer from 0 to 2**63 - 1, got 1.5"),
])
def test_bad_numbers_are_usage_errors(option, value, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "reproduce", never_called)
    err = usage_error(["reproduce", "--out", str(tmp_path / "out"), option, value], capsys)
    assert f"error: {message}" in err
    assert not (tmp_path / "out").exists()  # checked before the folder is made


def test_bad_folders_are_usage_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "reproduce", never_called)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    for option, path, message in [
        ("--out", a_file, "argument --out: "),
        ("--out", a_file / "below", "argument --out: cannot create or write to the folder"),
        ("--data-dir", a_file, "argument --data-dir: "),
        ("--data-dir", a_file / "below", "argument --data-dir: cannot create the folder"),
    ]:
        out = ["--out", str(tmp_path / "out")] if option == "--data-dir" else []
        err = usage_error(["reproduce", *out, option, str(path)], capsys)
        assert message in err and str(path) in err, err
    assert a_file.read_text() == "not a folder"
    assert not (tmp_path / "out").exists()  # --data-dir is checked first


def test_an_unwritable_out_is_a_usage_error(tmp_path, monkeypatch, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder; test_bad_folders covers a path below a file")
    monkeypatch.setattr(experiments, "reproduce", never_called)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        for path in (locked, locked / "new"):
            err = usage_error(["reproduce", "--out", str(path)], capsys)
            assert "argument --out: cannot create or write to the folder" in err
        assert not list(locked.iterdir())
    finally:
        locked.chmod(0o700)


def test_valid_arguments_reach_reproduce(tmp_path, monkeypatch, capsys):
    calls = []

    def fake(*args):
        calls.append(args)
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "reproduce", fake)
    out = tmp_path / "new" / "out"
    argv = ["reproduce", "--scale", "tiny", "--out", str(out), "--jobs", "1", "--seed", str(2**63 - 1),
            "--data-dir", str(tmp_path / "cache")]
    assert experiments.main(argv) == 130
    assert calls == [("tiny", "digits", str(out), "mlp", 2**63 - 1, str(tmp_path / "cache"), 1)]
    assert out.is_dir() and not list(out.iterdir())  # created, the write probe removed
    assert not (tmp_path / "cache").exists()  # not needed for digits: not created
    assert experiments.main(["reproduce", "--out", str(out)]) == 130
    assert calls[-1][-1] is None and calls[-1][4] == 0  # --jobs: default None; --seed: 0


def test_a_previous_results_json_is_set_aside(tmp_path, monkeypatch, capsys):
    (tmp_path / "results.json").write_text('{"passed": true}')
    (tmp_path / "results.previous.json").write_text("older")

    def fake(*args):
        assert not (tmp_path / "results.json").exists()
        assert (tmp_path / "results.previous.json").read_text() == '{"passed": true}'
        raise DivergenceError("the run blew up")

    monkeypatch.setattr(experiments, "reproduce", fake)
    assert experiments.main(["reproduce", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "moved the previous results.json" in captured.out and "results.previous.json" in captured.out
    assert "a run diverged" in captured.err and "Traceback" not in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.previous.json"]


def test_an_interrupt_is_one_line_and_status_130(tmp_path, monkeypatch, capsys):
    def fake(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "reproduce", fake)
    assert experiments.main(["reproduce", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_reproduce_checks_seed_and_workers(tmp_path):
    for kwargs, message in [({"workers": 0}, "workers must be None or an integer >= 1"),
                            ({"workers": 1.5}, "workers must be None or an integer >= 1"),
                            ({"seed": -1}, "seed must be an integer from 0 to 2\\*\\*63 - 1"),
                            ({"seed": 2**63}, "seed must be an integer"),
                            ({"seed": True}, "seed must be an integer")]:
        with pytest.raises(ValueError, match=message):
            experiments.reproduce("tiny", out=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# the job queue: cancelled on Ctrl-C or a failure, without waiting for the running jobs
# ---------------------------------------------------------------------------------------------

class Bar:
    def set_postfix_str(self, text, refresh=True):
        pass

    def update(self, n=1):
        pass


def recording_jobs(started, release, count=4):
    """``count`` jobs that note their start and wait for ``release`` (at most 10 s)."""
    def job(name):
        started.append(name)
        release.wait(10)
        return name

    return [(Bar(), job, (f"job{i}",)) for i in range(count)]


def test_run_jobs_returns_results_in_order():
    release = threading.Event()
    release.set()
    started = []
    assert runners.run_jobs(recording_jobs(started, release), 2) == ["job0", "job1", "job2", "job3"]
    assert sorted(started) == ["job0", "job1", "job2", "job3"] and runners.running_jobs() == 0


def test_an_interrupt_from_a_job_cancels_the_queue():
    started = []

    def interrupted(name):
        started.append(name)
        raise KeyboardInterrupt

    release = threading.Event()
    jobs = [(Bar(), interrupted, ("first",))] + recording_jobs(started, release, 3)
    with pytest.raises(KeyboardInterrupt):
        runners.run_jobs(jobs, 1)
    time.sleep(0.3)
    assert started == ["first"]  # the queued jobs never start


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C raises KeyboardInterrupt here even when the tests were started with SIGINT
    ignored (a shell's background job without job control): the behaviour under test is what
    a user at a terminal gets."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


# `python -m eomlib …` as a terminal starts it: with Python's own Ctrl-C handler, also when
# this process ignores SIGINT and its children inherit that (no preexec_fn: it forks a
# multithreaded process).
AS_FROM_A_TERMINAL = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                      "sys.argv[0] = 'eomlib'; runpy.run_module('eomlib', run_name='__main__', alter_sys=True)")


@pytest.mark.parametrize("raise_it", ["sigint", "failure"])
def test_run_jobs_does_not_wait_for_running_jobs(raise_it, ctrl_c_raises):
    started, release = [], threading.Event()
    jobs = recording_jobs(started, release, 4)
    if raise_it == "failure":
        def fails(name):
            time.sleep(0.3)
            raise ValueError("diverged")

        jobs[1] = (Bar(), fails, ("job1",))
        expected = ValueError
    else:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        expected = KeyboardInterrupt
    start = time.perf_counter()
    try:
        with pytest.raises(expected):
            runners.run_jobs(jobs, 2)
        assert time.perf_counter() - start < 2.0  # job0 still runs: not waited for
        assert runners.running_jobs() >= 1
        time.sleep(0.3)
        assert started == ["job0"] or sorted(started) == ["job0", "job1"]
        assert "job2" not in started and "job3" not in started  # cancelled
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while runners.running_jobs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runners.running_jobs() == 0 and "job2" not in started


# ---------------------------------------------------------------------------------------------
# files appear whole or not at all
# ---------------------------------------------------------------------------------------------

def test_write_atomically_leaves_nothing_behind_on_failure(tmp_path):
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "results.json", "not bytes")
    assert not list(tmp_path.iterdir())
    path = write_atomically(tmp_path / "results.json", b"{}")
    assert path.read_bytes() == b"{}" and [p.name for p in tmp_path.iterdir()] == ["results.json"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0o600


def test_figures_are_written_atomically(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eomlib.reproduce.figures import _save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = _save_figure(fig, tmp_path / "figure.png", "a caption")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]


# ---------------------------------------------------------------------------------------------
# Ctrl-C on the real command
# ---------------------------------------------------------------------------------------------

def test_ctrl_c_stops_the_command_at_once(tmp_path):
    (tmp_path / "results.json").write_text('{"passed": true}')  # a previous run's
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-c", AS_FROM_A_TERMINAL, "reproduce", "--scale", "tiny",
                             "--out", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    err, progress = bytearray(), threading.Event()

    def read_stderr():
        while chunk := os.read(proc.stderr.fileno(), 4096):
            err.extend(chunk)
            if "(a) error vs η".encode() in err:
                progress.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        progress.wait(45)  # the setup, then the jobs start with their progress bars
        time.sleep(1.5)  # into the jobs: XLA compiling in the worker threads
        assert proc.poll() is None, err.decode()
        proc.send_signal(signal.SIGINT)
        sent = time.perf_counter()
        status = proc.wait(timeout=20)
        stopped_after = time.perf_counter() - sent
    finally:
        proc.kill()
    reader.join(5)
    stdout, stderr = proc.stdout.read().decode(), err.decode()
    assert progress.is_set(), stderr
    assert status == 130, stderr
    assert stopped_after < 5.0, stopped_after
    assert "Traceback" not in stderr and "interrupted: " in stderr
    assert "moved the previous results.json" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.previous.json"]
