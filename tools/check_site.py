"""Checks over the built book in _build/html, as a reader meets it.

Run by `make book` (``python tools/check_site.py``) and by the tests (tests/test_site.py).
Each ``check_*`` function returns a list of problems (empty when the site is fine).
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml
from bs4 import BeautifulSoup

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Text that must never appear in a cell's output on the site.
BAD_OUTPUT = re.compile(
    r"Traceback \(most recent call last\)|\b\w*Error\b|\w*Warning\b|UserWarning|"
    r"\bwarn(ing)?s?\.warn|it/s\]|\d+%\|",
)


def load_config(root: pathlib.Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text())


def chapter_files(root: pathlib.Path = ROOT) -> list:
    """Source files (without suffix) of every page in _toc.yml, root first."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def notebook_pages(root: pathlib.Path = ROOT) -> list:
    """The pages of the toc whose source is a notebook (they carry a Colab button)."""
    return [f for f in chapter_files(root) if (root / f"{f}.ipynb").exists()]


def soup(html_dir: pathlib.Path, page: str) -> BeautifulSoup:
    return BeautifulSoup((html_dir / f"{page}.html").read_text(encoding="utf-8"), "html.parser")


def check_pages_exist(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    missing = [] if (html_dir / "index.html").exists() else ["index.html"]
    return missing + [f"missing page {p}.html" for p in chapter_files(root)
                      if not (html_dir / f"{p}.html").exists()]


def cell_outputs(page: BeautifulSoup) -> list:
    return page.select("div.cell_output")


def check_outputs_clean(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """No traceback, error, warning or progress-bar noise in any cell output."""
    problems = []
    for page_name in notebook_pages(root):
        for out in cell_outputs(soup(html_dir, page_name)):
            for block in out.select("pre, div.output.stderr, div.output.traceback"):
                text = block.get_text()
                match = BAD_OUTPUT.search(text)
                if match:
                    problems.append(f"{page_name}: output contains {match.group(0)!r}: {text[:200]!r}")
            if out.select("div.output.stderr, div.stderr, .output.traceback"):
                problems.append(f"{page_name}: a cell wrote to stderr or raised")
    return problems


def _figure_number(page_name: str):
    """The chapter number of a page (``book/08_breakdown`` → 8), None for other pages."""
    match = re.match(r"(\d\d)_", pathlib.Path(page_name).name)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


ALT_LIKE_A_FILE = re.compile(r"\.(png|svg|jpe?g)\b|^[./]*_images/|^[0-9a-f]{16,}", re.I)
MIN_PLAYER_FRAMES = 20


def check_figures(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Every notebook page shows at least one figure; every figure file exists, and every
    figure (a player's too) has real alt text and sits in a numbered, captioned figure:
    "Figure N.k" in chapter N, "Figure k" elsewhere."""
    problems = []
    for page_name in notebook_pages(root):
        page = soup(html_dir, page_name)
        images = [img for out in cell_outputs(page) for img in out.find_all("img")]
        if not images:
            problems.append(f"{page_name}: no figure")
        chapter = _figure_number(page_name)
        pattern = re.compile(rf"^Figure {chapter}\.\d+\s*$" if chapter else r"^Figure \d+\s*$")
        for img in images:
            src = img.get("src", "")
            if not src.startswith("data:"):
                target = (html_dir / page_name).parent / src
                if not target.resolve().exists():
                    problems.append(f"{page_name}: figure {src} does not exist")
            alt = img.get("alt", "")
            if len(alt) < 20 or ALT_LIKE_A_FILE.search(alt):
                problems.append(f"{page_name}: figure without real alt text (alt={alt[:60]!r})")
            figure = img.find_parent("figure")
            number = figure.select_one("figcaption .caption-number") if figure else None
            text = figure.select_one("figcaption .caption-text") if figure else None
            if number is None or not pattern.match(number.get_text()) or text is None \
                    or len(text.get_text(strip=True)) < 30:
                problems.append(f"{page_name}: a figure without a numbered caption "
                                f"({(number.get_text() if number else 'no number')!r}, alt {alt[:50]!r})")
    return problems


def players(page: BeautifulSoup) -> list:
    """The kernel-free players (eomlib.book.players) on a page."""
    return page.select("div.eom-player")


def check_players(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Pages with a live slider also have a precomputed player. Every player has a slider
    whose readout says its value, and frames: at least MIN_PLAYER_FRAMES for a parameter
    player (unless it says why not: ``few_frames=`` of lr_player), one background and at
    least two values and ten steps for a time player."""
    problems = []
    for page_name in notebook_pages(root):
        page = soup(html_dir, page_name)
        found = players(page)
        if "Live slider" in page.get_text() and not found:
            problems.append(f"{page_name}: a live slider without a precomputed player")
        for div in found:
            sliders = div.select("input[type=range]")
            readouts = {o.get("id"): o.get_text() for o in div.select("output.eom-player-readout")}
            script = " ".join(s.get_text() for s in div.find_all("script"))
            if not sliders or any(s.get("data-readout") not in readouts for s in sliders):
                problems.append(f"{page_name}: player {div.get('id')} without a slider and its readout")
                continue
            if not all("=" in text for text in readouts.values()):
                problems.append(f"{page_name}: player {div.get('id')} readouts {list(readouts.values())} "
                                "do not say a value")
            if "eom-time-player" in div.get("class", []):
                steps = {s.get("data-key"): int(s.get("max", 0)) + 1 for s in sliders}
                if steps.get("v", 0) < 2 or steps.get("t", 0) < 11:
                    problems.append(f"{page_name}: time player {div.get('id')} with {steps}")
            else:
                frames = len(set(re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]+", script)))
                if frames < MIN_PLAYER_FRAMES and not div.get("data-few-frames"):
                    problems.append(f"{page_name}: player {div.get('id')} has {frames} frames, "
                                    f"fewer than {MIN_PLAYER_FRAMES}")
    return problems


MAX_PAGE_MB = 5.0


def page_weight(html_dir: pathlib.Path, page_name: str) -> float:
    """A page's weight in MB: its HTML (with the players' frames) and the figures it loads."""
    path = html_dir / f"{page_name}.html"
    total = path.stat().st_size
    for src in {img.get("src", "") for img in soup(html_dir, page_name).find_all("img")}:
        target = (path.parent / src).resolve()
        if not src.startswith("data:") and target.is_file():
            total += target.stat().st_size
    return total / 1e6


def check_page_weight(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Every page is light enough to read on a slow connection: at most MAX_PAGE_MB."""
    return [f"{p}: {page_weight(html_dir, p):.1f} MB, more than {MAX_PAGE_MB} MB"
            for p in chapter_files(root) if page_weight(html_dir, p) > MAX_PAGE_MB]


def colab_url(page_name: str, root: pathlib.Path = ROOT) -> str:
    cfg = load_config(root)
    repo = cfg["repository"]["url"].rstrip("/").removeprefix("https://github.com/")
    branch = cfg["repository"].get("branch", "main")
    return f"{cfg['launch_buttons']['colab_url'].rstrip('/')}/github/{repo}/blob/{branch}/{page_name}.ipynb"


def check_colab_links(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Each notebook page links to its own .ipynb on the configured repository and branch."""
    problems = []
    for page_name in notebook_pages(root):
        links = [a.get("href", "") for a in soup(html_dir, page_name).find_all("a")
                 if "colab.research.google.com" in a.get("href", "")]
        if colab_url(page_name, root) not in links:
            problems.append(f"{page_name}: no Colab link to {colab_url(page_name, root)} (found {links})")
    return problems


def check_internal_links(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Every relative link on every page points at an existing file (and anchor)."""
    problems = []
    for page_name in chapter_files(root):
        page_path = html_dir / f"{page_name}.html"
        page = soup(html_dir, page_name)
        for a in page.find_all("a", href=True):
            href = a["href"]
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue
            path, _, anchor = href.partition("#")
            target = (page_path.parent / path).resolve() if path else page_path
            if not target.exists():
                problems.append(f"{page_name}: broken link {href}")
            elif anchor and target.suffix == ".html":
                html = target.read_text(encoding="utf-8")
                if f'id="{anchor}"' not in html and f"id='{anchor}'" not in html:
                    problems.append(f"{page_name}: missing anchor {href}")
    return problems


def check_citations(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Citations resolved (sphinxcontrib-bibtex leaves unresolved keys as plain text)."""
    problems = []
    for page_name in notebook_pages(root):
        text = soup(html_dir, page_name).get_text()
        for key in re.findall(r"\{cite\}`([^`]+)`", text):
            problems.append(f"{page_name}: unresolved citation {key}")
    return problems


def check_exercises(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Every chapter shows 2–4 exercises numbered N.1, N.2, … (N its chapter), each with a
    solution that is collapsed until opened."""
    problems = []
    for page_name in notebook_pages(root):
        match = re.match(r"(\d\d)_", pathlib.Path(page_name).name)
        if not match or int(match.group(1)) == 0:
            continue
        chapter = int(match.group(1))
        page = soup(html_dir, page_name)
        titles = [d.select_one(".admonition-title").get_text(" ", strip=True)
                  for d in page.select("div.exercise")]
        expected = [f"Exercise {chapter}.{i}" for i in range(1, len(titles) + 1)]
        if not 2 <= len(titles) <= 4 or [t[:len(e)] for t, e in zip(titles, expected)] != expected:
            problems.append(f"{page_name}: exercises {titles}, expected 2–4 numbered {chapter}.1, …")
        solutions = page.select("div.solution")
        if len(solutions) != len(titles) or any("dropdown" not in d.get("class", []) for d in solutions):
            problems.append(f"{page_name}: {len(solutions)} solutions for {len(titles)} exercises, "
                            "each must be a collapsed dropdown")
    return problems


# Markdown or LaTeX that did not render: a table's pipes or rule, a dollar-delimited formula.
RAW_MARKDOWN = re.compile(r"^\s*\|.*\|\s*$|\|\s*[-—–:]{1,}\s*\||(?<![\w$])\$[^$\s][^$]*\$(?![\w$])", re.M)


TABLE_RULE = re.compile(r"^\|[ :-]*-[ :|-]*\|\s*$", re.M)  # a Markdown table's |---|---| line


def source_tables(root: pathlib.Path, page_name: str) -> int:
    """How many tables a page's source defines: Markdown tables in its text cells, and
    code cells that display a Markdown table (an output's header rule ``|---|``)."""
    path = root / f"{page_name}.ipynb"
    if not path.exists():
        return len(TABLE_RULE.findall((root / f"{page_name}.md").read_text()))
    count = 0
    for cell in json.loads(path.read_text())["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            count += len(TABLE_RULE.findall(src))
        elif "Markdown(" in src and '"|---' in src:
            count += 1
    return count


def check_rendered_text(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """What a reader sees is rendered: no raw Markdown table or $…$ formula in a cell output,
    and every table a page's source defines is a <table>."""
    problems = []
    for page_name in chapter_files(root):
        page = soup(html_dir, page_name)
        for out in cell_outputs(page):
            for block in out.select("div.output.text_markdown, div.output.text_plain, p, li"):
                match = RAW_MARKDOWN.search(block.get_text())
                if match:
                    problems.append(f"{page_name}: raw Markdown in an output: {match.group(0)[:80]!r}")
        tables = len(page.select("article table, main table, div.bd-article table")) or \
            len(page.find_all("table"))
        wanted = source_tables(root, page_name)
        if tables < wanted:
            problems.append(f"{page_name}: {tables} tables rendered, the source defines {wanted}")
    return problems


ALL_CHECKS = [check_pages_exist, check_outputs_clean, check_figures, check_players,
              check_page_weight, check_colab_links, check_internal_links, check_citations,
              check_exercises, check_rendered_text]


def main(html_dir: str) -> int:
    html = pathlib.Path(html_dir)
    problems = check_pages_exist(html)
    if not problems:
        for check in ALL_CHECKS[1:]:
            problems += check(html)
    if problems:
        print("site check failed:", *problems, sep="\n  ")
        return 1
    heaviest = max(chapter_files(), key=lambda p: page_weight(html, p))
    print(f"site check: {len(chapter_files())} pages, figures and captions, players, page weights "
          f"(heaviest {heaviest}, {page_weight(html, heaviest):.1f} MB), Colab links, internal links, "
          f"citations, exercises and rendered tables OK in {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "_build" / "html")))
