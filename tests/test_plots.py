"""The book's shared plots: tick labels of short logarithmic η axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation, NullFormatter  # noqa: E402

from eomlib.book import plots  # noqa: E402


def _fit(lrs):
    fig, ax = plt.subplots()
    for order in range(3):
        plots.loglog_fit(ax, lrs, 0.1 * lrs ** (order + 1), order + 1, color="k", label=str(order))
    fig.canvas.draw()
    return fig, ax


def test_short_eta_axes_get_plain_round_ticks():
    for lrs, expected in [(np.geomspace(0.1, 0.4, 6), [0.1, 0.15, 0.2, 0.3, 0.4]),
                          (np.geomspace(0.025, 0.2, 6), [0.03, 0.05, 0.1, 0.2]),
                          (np.array([0.16, 0.08, 0.04, 0.02]), [0.02, 0.03, 0.05, 0.1])]:
        fig, ax = _fit(lrs)
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        np.testing.assert_allclose(ticks, expected)
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert labels == [f"{t:g}" for t in expected]
        assert isinstance(ax.xaxis.get_minor_formatter(), NullFormatter)
        plt.close(fig)


def test_axes_wider_than_the_threshold_keep_matplotlibs_decades():
    fig, ax = _fit(np.geomspace(0.01, 0.8, 6))
    assert isinstance(ax.xaxis.get_major_formatter(), LogFormatterSciNotation)
    assert plots.plain_log_ticks(ax.xaxis) == []
    plt.close(fig)


def test_an_axis_too_narrow_for_two_round_values_is_left_alone():
    fig, ax = plt.subplots()
    ax.loglog([0.101, 0.104], [1e-3, 2e-3])
    ax.set_xlim(0.1005, 0.1045)
    formatter = ax.xaxis.get_major_formatter()
    assert plots.plain_log_ticks(ax.xaxis) == []
    assert ax.xaxis.get_major_formatter() is formatter
    fig2, ax2 = plt.subplots()
    ax2.loglog([0.1, 0.14], [1e-3, 2e-3])
    ax2.set_xlim(0.098, 0.155)
    assert plots.plain_log_ticks(ax2.xaxis) == [0.1, 0.15]
    plt.close(fig)
    plt.close(fig2)
