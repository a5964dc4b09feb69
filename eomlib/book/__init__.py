"""What the book's chapters use besides the library: figure style and colours
(:mod:`eomlib.book.plots`), sliders, their static twins and kernel-free players
(:mod:`eomlib.book.widgets`), and the chapters' toy losses (:mod:`eomlib.book.toys`).

Imported explicitly by the chapters (``from eomlib.book import plots, toys, widgets``);
``import eomlib`` does not load it, nor matplotlib or ipywidgets.
"""
