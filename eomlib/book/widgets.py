"""Learning-rate sliders for the book: live on a kernel, precomputed players in the site.

The rendered book has no kernel, so every slider comes in three forms:

* :func:`eomlib.book.widgets.lr_slider` — an ipywidgets slider for Jupyter/Colab.  The
  callback receives a new η; because η is a traced argument of eomlib's jitted functions,
  nothing recompiles.
* a static figure that overlays a few η values (drawn by the chapter itself);
* :func:`eomlib.book.players.lr_player` (also importable from here) — a kernel-free
  player: frames precomputed (one ``vmap`` over η), in a self-contained HTML/JavaScript
  page element with a slider, an ``η = …`` readout and a play button; and
  :func:`eomlib.book.players.time_player`, which runs GD and the flows step by step in
  time.

When the environment variable ``EOMLIB_STATIC=1`` is set (the book build and the test run set
it), :func:`eomlib.book.widgets.lr_slider` displays a note instead of a widget, since a widget
snapshot in a static page would be a slider that does nothing.
"""

from __future__ import annotations

import math
import os
from typing import Callable

import matplotlib.pyplot as plt

from eomlib.book.players import lr_player, time_player

__all__ = ["lr_player", "time_player", "lr_slider", "is_static"]


def is_static() -> bool:
    """True while the book is being built or tested (``EOMLIB_STATIC=1``): no live widgets.

    Returns:
        True when the environment variable ``EOMLIB_STATIC`` is exactly ``"1"``, else False.

    Example:
        >>> from eomlib.book import widgets
        >>> widgets.is_static()  # True under EOMLIB_STATIC=1
    """
    return os.environ.get("EOMLIB_STATIC", "") == "1"


def _check_slider_range(lr_min, lr_max, value, step, log):
    numbers = {"lr_min": lr_min, "lr_max": lr_max, "value": value}
    if step is not None:
        numbers["step"] = step
    for name, v in numbers.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}.")
    if not lr_min < lr_max or lr_min < 0 or (log and lr_min == 0):
        bound = "0 < lr_min < lr_max (a log slider)" if log else "0 <= lr_min < lr_max"
        raise ValueError(f"the slider needs {bound}, got lr_min = {lr_min}, lr_max = {lr_max}.")
    if not lr_min <= value <= lr_max:
        raise ValueError(f"value must lie in [lr_min, lr_max] = [{lr_min}, {lr_max}], got {value}.")
    if step is not None and step <= 0:
        raise ValueError(f"step must be None or a number > 0, got {step}.")


def lr_slider(draw: Callable[[float], None], *, lr_min: float, lr_max: float, value: float,
              step: float | None = None, log: bool = False, description: str = "η",
              readout_format: str = ".3g"):
    """A live ipywidgets slider that calls ``draw(lr)`` and shows the figure it makes.

    ``draw`` should compute with eomlib (η traced: no recompilation) and draw with
    matplotlib; the previous figure is replaced, not stacked.  Outside a live kernel
    (``EOMLIB_STATIC=1``, see :func:`eomlib.book.widgets.is_static`) returns a Markdown note
    pointing to the static twin and player.  ``draw`` is called once at the start and again
    each time the slider is released (no continuous updates).

    Args:
        draw: a function of the learning rate η that draws one figure with matplotlib.
        lr_min: keyword only; the smallest η, ≥ 0 (> 0 for a log slider) and < ``lr_max``.
        lr_max: keyword only; the largest η.
        value: keyword only; the initial η, in [``lr_min``, ``lr_max``].
        step: keyword only; the slider's step, in decades (log10 η) when ``log`` is True,
            else in η; None (the default) is 0.02 decades, or (``lr_max`` − ``lr_min``)/100.
        log: keyword only; whether the slider is logarithmic (base 10); default False.
        description: keyword only; the slider's label (default ``"η"``).
        readout_format: keyword only; the format of the value shown next to the slider
            (default ``".3g"``).

    Returns:
        An ``ipywidgets.VBox`` of the slider and the figure's output area; under
        ``EOMLIB_STATIC=1`` an ``IPython.display.Markdown`` note instead.

    Raises:
        ValueError: unless 0 ≤ ``lr_min`` < ``lr_max`` (finite; 0 < ``lr_min`` for a log
            slider), ``value`` lies in [``lr_min``, ``lr_max``] and ``step`` is None or a
            finite number > 0.

    Example:
        >>> from eomlib.book import widgets
        >>> def draw(lr): ...  # plot the GD and EoM runs at learning rate lr
        >>> widgets.lr_slider(draw, lr_min=0.01, lr_max=1.0, value=0.1, log=True)
    """
    from IPython.display import Markdown

    _check_slider_range(lr_min, lr_max, value, step, log)
    if is_static():
        return Markdown(
            f"*Live slider: run this notebook (Colab button above) to drag {description} yourself. "
            "In this static page, use the precomputed player and the static figure instead.*"
        )
    import ipywidgets as widgets
    from IPython.display import clear_output

    if log:
        slider = widgets.FloatLogSlider(value=value, base=10, min=math.log10(lr_min),
                                        max=math.log10(lr_max), step=step or 0.02,
                                        description=description, readout_format=readout_format,
                                        continuous_update=False)
    else:
        slider = widgets.FloatSlider(value=value, min=lr_min, max=lr_max,
                                     step=step or (lr_max - lr_min) / 100,
                                     description=description, readout_format=readout_format,
                                     continuous_update=False)
    out = widgets.Output()

    def update(_=None):
        with out:
            clear_output(wait=True)
            draw(slider.value)
            plt.show()

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, out])
