"""The book as a teaching text, checked on the notebook sources (no execution).

Every chapter has 2–4 exercises with solutions hidden in dropdowns, links to the notation
page, to the API page and to the chapters it mentions, short code cells, implementation
remarks only inside collapsed "Implementation note" boxes, and citations; the bibliography
lists exactly the works cited.
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(p for p in BOOK.glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
MAX_CODE_LINES = 15

# An "Implementation note": a collapsed admonition (colon fence, dropdown class).
NOTE = re.compile(r"^(:{3,})\{admonition\} Implementation note[^\n]*\n:class: dropdown\n.*?^\1\s*$",
                  re.S | re.M)
IMPLEMENTATION_WORDS = re.compile(r"\bvmap\b|lax\.map|\bXLA\b|\bjit\b|compil(e|es|ed|ation|ing)\b",
                                  re.I)
MD_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)")
ROLE = re.compile(r"\{[a-z:]+\}`[^`]*`")
CHAPTER_WORD = re.compile(r"\b[Cc]hapters?\s+\d")
API_REF = re.compile(r"\{py:(func|class|mod|data|attr|meth|obj)\}`|\]\(api\.md")


def cells(path, kind):
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def markdown(path):
    return "\n\n".join(cells(path, "markdown"))


@pytest.fixture(params=CHAPTERS, ids=lambda p: p.stem)
def chapter(request):
    return request.param


def test_there_are_chapters():
    assert len(CHAPTERS) >= 9


def test_exercises_with_hidden_solutions(chapter):
    text = markdown(chapter)
    assert re.search(r"^## Exercises\s*$", text, re.M), f"{chapter.name}: no Exercises section"
    labels = re.findall(r"^:{3,}\{exercise\}[^\n]*\n:label: (\S+)", text, re.M)
    assert 2 <= len(labels) <= 4, f"{chapter.name}: {len(labels)} exercises"
    assert len(set(labels)) == len(labels)
    for label in labels:
        gated = re.search(rf"^:{{3,}}\{{solution-start\}} {re.escape(label)}\n:class: dropdown\n", text, re.M)
        single = re.search(rf"^(:{{3,}})\{{solution\}} {re.escape(label)}\n:class: dropdown\n", text, re.M)
        assert gated or single, f"{chapter.name}: exercise {label} has no hidden solution"
    starts = len(re.findall(r"\{solution-start\}", text))
    assert starts == len(re.findall(r"\{solution-end\}", text)), chapter.name


def test_numerical_solutions_are_checked_by_code(chapter):
    """A solution that computes something asserts its result."""
    nb = json.loads(chapter.read_text())
    inside, checked = False, []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if "{solution-start}" in src:
                inside, checked = True, checked + [False]
            if "{solution-end}" in src:
                inside = False
        elif inside and ("assert" in src or "assert_allclose" in src):
            checked[-1] = True
    assert any(checked), f"{chapter.name}: no solution is checked by code"


def test_links_to_notation_api_and_chapters(chapter):
    text = markdown(chapter)
    assert "](notation.md)" in text, f"{chapter.name}: no link to the notation page"
    assert API_REF.search(text), f"{chapter.name}: no link to the API page"
    plain = ROLE.sub("", MD_LINK.sub("", NOTE.sub("", text)))
    plain = re.sub(r"^#[^\n]*$", "", plain, flags=re.M)  # titles name their own chapter
    found = CHAPTER_WORD.findall(plain)
    assert not found, f"{chapter.name}: chapter references that are not links: " + \
        ", ".join(m.group(0) for m in CHAPTER_WORD.finditer(plain))


def test_chapter_links_point_at_chapters(chapter):
    for target in re.findall(r"\]\(([^)#\s]+\.(?:ipynb|md))(?:#[^)]*)?\)", markdown(chapter)):
        assert (BOOK / target).exists(), f"{chapter.name}: link to missing {target}"


def test_code_cells_are_short(chapter):
    for i, src in enumerate(cells(chapter, "code")[1:], start=1):  # [0] is the Colab install cell
        n = len(src.rstrip().splitlines())
        assert n <= MAX_CODE_LINES, f"{chapter.name}: code cell {i} has {n} lines"


def test_implementation_remarks_are_in_collapsed_notes(chapter):
    text = NOTE.sub("", markdown(chapter))
    text = re.sub(r"`[^`]*`", "", text)  # code names (e.g. `jax.vmap` in a call) are not remarks
    found = [m.group(0) for m in IMPLEMENTATION_WORDS.finditer(text)]
    assert not found, f"{chapter.name}: implementation remarks outside an Implementation note: {found}"


def test_every_chapter_cites_its_sources(chapter):
    assert "{cite" in markdown(chapter), chapter.name


def test_notation_page_is_in_the_toc_and_links_chapters():
    toc = (ROOT / "_toc.yml").read_text()
    assert "book/notation" in toc
    text = (BOOK / "notation.md").read_text()
    for path in CHAPTERS:
        assert f"]({path.name})" in text, f"notation page does not link {path.name}"


def test_bibliography_is_the_works_cited():
    bib = set(re.findall(r"^@\w+\{([^,]+),", (BOOK / "references.bib").read_text(), re.M))
    sources = [p.read_text() for p in BOOK.glob("*.ipynb")] + \
        [p.read_text() for p in BOOK.glob("*.md")]
    cited = set()
    for src in sources:
        for group in re.findall(r"\{cite[a-z:]*\}`([^`]*)`", src):
            cited |= {key.strip() for key in group.split(",")}
    assert cited - bib == set(), f"cited but not in references.bib: {cited - bib}"
    assert bib - cited == set(), f"in references.bib but never cited: {bib - cited}"


def test_performance_appendix_is_for_readers():
    text = (BOOK / "appendix_performance.md").read_text()
    words = len(re.sub(r"\|[^\n]*\|", "", text).split())  # prose, not the table
    assert words <= 400, f"{words} words"
    assert text.count("\n|---") + text.count("\n| ---") + text.count("\n|:--") <= 2
    assert not re.search(r"\b[0-9a-f]{7,40}\b", text), "commit hashes belong in benchmarks/"
    assert "load average" not in text.lower()
