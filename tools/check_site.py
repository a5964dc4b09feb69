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


def check_figures(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Every notebook page shows at least one figure, and every figure file exists."""
    problems = []
    for page_name in notebook_pages(root):
        page = soup(html_dir, page_name)
        images = [img for out in cell_outputs(page) for img in out.find_all("img")]
        if not images:
            problems.append(f"{page_name}: no figure")
        for img in images:
            src = img.get("src", "")
            if src.startswith("data:"):
                continue
            target = (html_dir / page_name).parent / src
            if not target.resolve().exists():
                problems.append(f"{page_name}: figure {src} does not exist")
    return problems


def players(page: BeautifulSoup) -> list:
    """The kernel-free learning-rate players (matplotlib to_jshtml) on a page."""
    return page.select("div.animation")


def check_players(html_dir: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    """Pages with a live slider also have a precomputed player, and it has frames."""
    problems = []
    for page_name in notebook_pages(root):
        page = soup(html_dir, page_name)
        has_live_slider = "Live slider" in page.get_text()
        found = players(page)
        if has_live_slider and not found:
            problems.append(f"{page_name}: a live slider without a precomputed player")
        for div in found:
            scripts = " ".join(s.get_text() for s in page.find_all("script"))
            if "data:image/png;base64" not in scripts and "frames[" not in scripts:
                problems.append(f"{page_name}: player without embedded frames")
                break
            if not div.find("input", {"type": "range"}):
                problems.append(f"{page_name}: player without a slider")
    return problems


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
              check_colab_links, check_internal_links, check_citations, check_exercises,
              check_rendered_text]


def main(html_dir: str) -> int:
    html = pathlib.Path(html_dir)
    problems = check_pages_exist(html)
    if not problems:
        for check in ALL_CHECKS[1:]:
            problems += check(html)
    if problems:
        print("site check failed:", *problems, sep="\n  ")
        return 1
    print(f"site check: {len(chapter_files())} pages, figures, players, Colab links, "
          f"internal links, citations, exercises and rendered tables OK in {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "_build" / "html")))
