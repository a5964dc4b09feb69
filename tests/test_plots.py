"""The book's shared plots: tick labels of short logarithmic η axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation, NullFormatter  # noqa: E402

from eomlib import plots  # noqa: E402


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
