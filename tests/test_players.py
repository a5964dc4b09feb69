"""The kernel-free players: frames, readouts, the HTML contract the browser test relies on,
and named errors for bad input."""

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from eomlib.book import players, plots  # noqa: E402

URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _sine_player(n=5, **kw):
    fig, ax = plt.subplots(figsize=(4, 3), dpi=90)
    lrs = np.linspace(0.1, 0.5, n)

    def draw(i):
        ax.clear()
        ax.plot(np.linspace(0, 1, 50), np.sin(10 * lrs[i] * np.linspace(0, 1, 50)), **plots.STYLES["gf"])
        ax.set(xlabel="time t", ylabel="x", xlim=(0, 1), ylim=(-1.1, 1.1))

    return players.lr_player(fig, draw, [f"{lr:.2f}" for lr in lrs], alt="a sine whose frequency grows",
                             **kw).data, lrs


def test_lr_player_has_every_frame_a_readout_per_frame_and_retina_pixels():
    html, lrs = _sine_player(n=6, name="ηλ")
    frames = URI.findall(html)
    assert len(set(frames)) == 6  # the first frame also in the <img>, then all six distinct
    sizes = {Image.open(io.BytesIO(base64.b64decode(f))).size for f in frames}
    assert len(sizes) == 1  # one crop for all frames: they do not jump
    (w, h), = sizes
    shown = re.search(r'<img class="eom-player-frame"[^>]* width="(\d+)" height="(\d+)"', html)
    assert abs(int(shown.group(1)) - w / 2) <= 1 and abs(int(shown.group(2)) - h / 2) <= 1
    assert w < 4 * 90 * 2  # cropped to what is drawn (the figure is 4 in at 90 dpi, × 2)
    for lr in lrs:
        assert f"ηλ = {lr:.2f}" in html
    assert 'class="eom-player"' in html and 'data-readout=' in html and 'alt="a sine' in html


def test_time_player_draws_paths_in_pixels_over_one_background():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="θ₁", ylabel="θ₂")
    lrs = [0.1, 0.2]
    k = np.arange(11)
    runs = {c: np.stack([np.stack([k / 10, (k / 10) ** p], -1) for _ in lrs]) for c, p in (("gd", 1), ("gf", 2))}
    html = players.time_player(fig, ax, runs, lrs, styles=plots.PLAYER_STYLES, alt="two paths").data
    assert len(URI.findall(html)) == 1
    assert "k = 10, t = kη = 1" in html  # opens at the last step of the first η, 0.1
    assert "η = 0.1" in html and '"#1f77b4"' in html  # tab:blue as a CSS colour


def test_player_errors_name_the_argument():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="labels must name at least two"):
        players.lr_player(fig, lambda i: None, ["1"])
    with pytest.raises(ValueError, match="interval_ms"):
        players.lr_player(fig, lambda i: None, ["1", "2"], interval_ms=0)
    with pytest.raises(ValueError, match="scale"):
        players.lr_player(fig, lambda i: None, ["1", "2"], scale=10)
    good = {"gd": np.zeros((2, 4, 2))}
    with pytest.raises(ValueError, match="lrs must be finite"):
        players.time_player(fig, ax, good, [0.1, -1], styles=plots.PLAYER_STYLES, alt="x")
    with pytest.raises(ValueError, match="shape"):
        players.time_player(fig, ax, {"gd": np.zeros((3, 4, 2))}, [0.1, 0.2], styles=plots.PLAYER_STYLES, alt="x")
    with pytest.raises(ValueError, match="not finite"):
        players.time_player(fig, ax, {"gd": np.full((2, 4, 2), np.nan)}, [0.1, 0.2],
                            styles=plots.PLAYER_STYLES, alt="x")
    with pytest.raises(ValueError, match="no style"):
        players.time_player(fig, ax, {"other": np.zeros((2, 4, 2))}, [0.1, 0.2], styles=plots.PLAYER_STYLES, alt="x")
    with pytest.raises(ValueError, match="start_lr"):
        players.time_player(fig, ax, good, [0.1, 0.2], styles=plots.PLAYER_STYLES, alt="x", start_lr=5)
    plt.close("all")


def test_shades_keep_the_hue_and_order_light_to_dark():
    reds = plots.shades("eom1", 4)
    assert len(reds) == 4 and all(len(c) == 3 for c in reds)
    lightness = [sum(c) for c in reds]
    assert lightness == sorted(lightness, reverse=True)
    with pytest.raises(ValueError, match="key must be one of"):
        plots.shades("nope", 2)
    with pytest.raises(ValueError, match="n must be an integer"):
        plots.shades("gd", 0)
