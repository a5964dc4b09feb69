"""The book's pictures, checked on the sources (no execution): every figure and player cell
carries a numbered caption and real alt text, colours come from the book's plotting module,
figures fit the text column, and the layout engine is the one plots.style() sets.

What a reader sees (numbers, sizes, players that respond) is checked on the built site by
tests/test_site.py.
"""

import json
import pathlib
import re

import pytest

from eomlib.book import plots

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
FIGURE_MODULES = sorted((ROOT / "eomlib" / "book" / "figures").glob("[a-z]*.py"))

# A cell that makes a figure or a player (the inline backend shows a figure made in a cell
# at its end, plt.show() or not).
MAKES_FIGURE = re.compile(r"plt\.show\(\)|\b(lr|time)_player\(|plt\.(subplots|figure)\(|"
                          r"^fig\w*\s*=|\bImage\(", re.M)
SHOWS_FIGURE = re.compile(r"plt\.show\(\)|\b(lr|time)_player\(")
PLAYER = re.compile(r"\b(lr_player|time_player)\(")
# A colour written in place (a name, "tab:…", "C3", "#rrggbb", a one-letter format colour):
# every colour comes from plots.COLORS / plots.STYLES / plots.shades instead.
COLOR_LITERAL = re.compile(
    r"""\b(colou?r|mfc|mec|markerfacecolor|markeredgecolor|facecolor|edgecolor)\s*=\s*["'](?!none["'])"""
    r"""|["']tab:[a-z]+["']|["']C\d["']|["']#[0-9a-fA-F]{6}["']""")
FIGSIZE = re.compile(r"figsize\s*=\s*\(\s*([0-9.]+)\s*,")
OLD_LAYOUT = re.compile(r"\btight_layout\(|\bsubplots_adjust\(")
FILE_LIKE = re.compile(r"\.(png|svg|jpe?g)\b|^[0-9a-f]{16,}", re.I)


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def code_text(path):
    """A figure module's source, or a notebook's code cells joined."""
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in code_cells(path))
    return path.read_text()


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook(request):
    return request.param


def test_every_figure_cell_has_a_caption_a_name_and_alt_text(notebook):
    names = []
    for cell in code_cells(notebook):
        src = "".join(cell["source"])
        if not MAKES_FIGURE.search(src) or "lr_slider(" in src:
            continue  # a live slider draws only on a kernel; the static page shows a note
        where = f"{notebook.name}: cell {src[:60]!r}"
        assert len(SHOWS_FIGURE.findall(src)) <= 1, f"{where} shows more than one figure"
        meta = cell.get("metadata", {}).get("mystnb", {})
        figure = meta.get("figure", {})
        caption, name = figure.get("caption", ""), figure.get("name", "")
        assert len(caption) >= 40 and caption.rstrip().endswith("."), \
            f"{where}: needs a caption sentence saying what to see (mystnb.figure.caption)"
        assert re.fullmatch(r"fig-[a-z0-9-]+", name), f"{where}: mystnb.figure.name {name!r}"
        names.append(name)
        if PLAYER.search(src):
            assert re.search(r"\balt\s*=", src), f"{where}: a player needs alt= text"
        else:
            alt = meta.get("image", {}).get("alt", "")
            assert len(alt) >= 30 and not FILE_LIKE.search(alt), \
                f"{where}: needs real alt text (mystnb.image.alt), got {alt!r}"
    assert len(names) == len(set(names)), f"{notebook.name}: figure names repeat: {names}"


def test_every_figure_name_is_unique_across_the_book():
    names = []
    for path in NOTEBOOKS:
        for cell in code_cells(path):
            name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
            if name:
                names.append(name)
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("path", NOTEBOOKS + FIGURE_MODULES, ids=lambda p: p.name)
def test_colours_come_from_the_plotting_module(path):
    text = code_text(path)
    found = [m.group(0) for m in COLOR_LITERAL.finditer(text)]
    assert not found, f"{path.name}: colours written in place {found}; use plots.COLORS, " \
                      "plots.STYLES or plots.shades (one colour per object across the book)"


@pytest.mark.parametrize("path", NOTEBOOKS + FIGURE_MODULES, ids=lambda p: p.name)
def test_figures_fit_the_column_and_use_constrained_layout(path):
    text = code_text(path)
    wide = [float(w) for w in FIGSIZE.findall(text) if float(w) > plots.MAX_WIDTH_IN]
    assert not wide, f"{path.name}: figures {wide} in wide; the column shows {plots.MAX_WIDTH_IN} in"
    assert not OLD_LAYOUT.search(text), \
        f"{path.name}: tight_layout/subplots_adjust fight the constrained layout of plots.style()"


def test_the_palette_has_one_colour_per_object():
    colours = [plots.COLORS[k] for k in plots.COLORS]
    assert len(set(colours)) == len(colours), plots.COLORS
    for key, style in plots.STYLES.items():
        assert style["color"] == plots.COLORS[key], key
    for key, style in plots.PLAYER_STYLES.items():
        assert style["color"] == plots.COLORS[key], key
    assert set(plots.LABELS) == set(plots.COLORS)
