"""The chapters' figures: one module per topic, so that teaching cells stay short.

Each function draws one figure (or one panel) from numbers a chapter computed with
:mod:`eomlib`; none computes anything itself beyond arranging the data. Colours and labels
come from :mod:`eomlib.book.plots`.
"""
