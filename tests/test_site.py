"""The built book: build it once (tools/build_book.sh), then check it as a reader meets it."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_site  # noqa: E402


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> pathlib.Path:
    """The built HTML site. Builds the book unless EOMLIB_SITE points at a built one."""
    given = os.environ.get("EOMLIB_SITE")
    if given:
        return pathlib.Path(given)
    result = subprocess.run(["bash", str(ROOT / "tools" / "build_book.sh")], cwd=ROOT,
                            capture_output=True, text=True)
    log = tmp_path_factory.mktemp("book") / "build.log"
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"book build failed (log {log}):\n{(result.stdout + result.stderr)[-4000:]}"
    return ROOT / "_build" / "html"


@pytest.mark.parametrize("check", check_site.ALL_CHECKS, ids=lambda c: c.__name__)
def test_site_check(site, check):
    assert check(site) == []


def test_every_notebook_chapter_is_in_the_toc():
    in_toc = set(check_site.chapter_files())
    notebooks = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "book").glob("*.ipynb")}
    assert notebooks <= in_toc, notebooks - in_toc


def test_checks_fail_on_a_traceback_and_on_a_lost_figure(site, tmp_path):
    broken = tmp_path / "html"
    shutil.copytree(site, broken)
    page = check_site.notebook_pages()[1]
    html_file = broken / f"{page}.html"
    html = html_file.read_text(encoding="utf-8")
    # lose every figure of the page
    html = html.replace("<img", "<span")
    # and let a cell print a traceback
    marker = '<div class="cell_output docutils container">'
    assert marker in html
    html = html.replace(marker, marker + '<div class="output stderr highlight-myst-ansi notranslate">'
                        "<pre>Traceback (most recent call last):\nValueError: boom</pre></div>", 1)
    html_file.write_text(html, encoding="utf-8")
    assert any("no figure" in p for p in check_site.check_figures(broken))
    assert any("Traceback" in p or "stderr" in p for p in check_site.check_outputs_clean(broken))


def test_figure_and_player_checks_fail_on_a_lost_caption_a_file_name_alt_or_a_dead_readout(site, tmp_path):
    broken = tmp_path / "html"
    shutil.copytree(site, broken)
    page = "book/02_first_counter_term"
    html_file = broken / f"{page}.html"
    html = html_file.read_text(encoding="utf-8")
    assert check_site.check_figures(broken) == [] and check_site.check_players(broken) == []
    assert "<figcaption>" in html and 'class="eom-player-readout"' in html
    head, outputs = html.split('<div class="cell_output', 1)
    html = head + '<div class="cell_output' + outputs.replace('<img alt="', '<img alt="../_images/x.png ', 1)
    html = html.replace("<figcaption>", "<div>", 1)
    html = html.replace('class="eom-player-readout"', 'class="gone"', 1)
    html_file.write_text(html, encoding="utf-8")
    found = check_site.check_figures(broken)
    assert any("numbered caption" in p for p in found), found
    assert any("alt text" in p for p in found), found
    assert any("readout" in p for p in check_site.check_players(broken))


def test_exercise_check_fails_on_an_open_solution_or_a_book_wide_number(site, tmp_path):
    broken = tmp_path / "html"
    shutil.copytree(site, broken)
    page = check_site.notebook_pages()[2]  # chapter 2
    html_file = broken / f"{page}.html"
    html = html_file.read_text(encoding="utf-8")
    assert 'class="solution dropdown admonition"' in html and "Exercise 2.1" in html
    html = html.replace('class="solution dropdown admonition"', 'class="solution admonition"', 1)
    html_file.write_text(html.replace("Exercise 2.1", "Exercise 4"), encoding="utf-8")
    found = check_site.check_exercises(broken)
    assert any("expected 2–4 numbered 2.1" in p for p in found), found
    assert any("collapsed dropdown" in p for p in found), found


def test_rendered_text_check_fails_on_a_raw_table_or_formula(site, tmp_path):
    broken = tmp_path / "html"
    shutil.copytree(site, broken)
    page = "book/03_all_orders"  # its counter-term table is a Markdown output
    html_file = broken / f"{page}.html"
    html = html_file.read_text(encoding="utf-8")
    assert check_site.check_rendered_text(broken) == []
    first, rest = html.split("<table", 1)
    rest = rest.split("</table>", 1)[1]
    raw = ('<div class="cell_output docutils container"><div class="output text_markdown">'
           '<p>| counter term | terms |\n|—|—|\n| ξ1 | $\\tfrac12 Hg$ |</p></div></div>')
    html_file.write_text(first + raw + rest, encoding="utf-8")
    found = check_site.check_rendered_text(broken)
    assert any("raw Markdown" in p for p in found), found
    assert any("tables rendered" in p for p in found), found


def test_numbers_restart_in_each_chapter():
    import book_ext

    book_wide = {"book/08_breakdown": {"exercise": {"b": (17,), "a": (16,)}},
                 "book/notation": {"table": {"t": (40,), "s": (41,)}}}
    assert book_ext.renumber(book_wide) == {"book/08_breakdown": {"exercise": {"a": (8, 1), "b": (8, 2)}},
                                            "book/notation": {"table": {"t": (1,), "s": (2,)}}}


def test_notebooks_are_stored_without_outputs_and_install_from_the_configured_repo():
    repo = check_site.load_config()["repository"]["url"]
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path
        first = "".join(code[0]["source"])
        assert "google.colab" in first and f"git+{repo}" in first, path
        # SCALE is defined in the header exactly where a later cell uses it
        header = "".join(code[1]["source"])
        uses = any("SCALE" in "".join(c["source"]) for c in code[2:])
        assert ('SCALE = "small"' in header) == uses, path
        assert "eomlib[widgets]" in first and 'find_spec("ipywidgets")' in first, path


# --- the site in a real browser (headless Chromium, local HTTP server) -------------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1280,1600"]


@pytest.fixture(scope="session")
def server(site):
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    subprocess.run(["bash", str(ROOT / "tools" / "ensure_chromium.sh")], check=True)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in CHROMIUM_ARGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


def _load(browser, url):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


# What a reader must never see as text: TeX that MathJax did not typeset, Markdown that did not
# render (table pipes and rules, emphasis markers, fences, MyST roles).
RAW_IN_TEXT = re.compile(r"\\(frac|eta|theta|nabla|lambda|mathrm|tfrac|left|right|begin)\b|\$\$|"
                         r"(?<![\w$])\$[^$\s][^$]*\$(?![\w$])|\\\(|\\\[|\|\s*-{3,}\s*\||\*\*\w[^*\n]{0,60}\*\*|"
                         r"```|\{(cite|numref|ref|py:func|eq)[^}]*\}`")

PAGE_STATE = """
const done = arguments[arguments.length - 1];
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const article = document.querySelector('article') || document.body;
  const maths = Array.from(document.querySelectorAll('span.math, div.math'));
  const skip = 'pre, code, script, style, mjx-container, .highlight, .cell_input, .eom-player script';
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  let text = ''; while (walker.nextNode()) text += walker.currentNode.textContent + ' ';
  const box = article.getBoundingClientRect();
  const figures = Array.from(document.querySelectorAll('div.cell_output img')).map(i => {
    const r = i.getBoundingClientRect(); const fig = i.closest('figure');
    const number = fig && fig.querySelector('figcaption .caption-number');
    return {src: i.src.slice(0, 60), complete: i.complete, nw: i.naturalWidth, nh: i.naturalHeight,
            cw: i.clientWidth, ch: i.clientHeight, width: i.getAttribute('width'),
            styleWidth: i.style.width, right: r.right, articleRight: box.right,
            caption: number ? number.textContent.trim() : null};
  });
  done({maths: maths.length, typeset: maths.filter(m => m.querySelector('mjx-container')).length,
        merrors: document.querySelectorAll('mjx-merror').length, text: text, figures: figures,
        tables: article.querySelectorAll('table').length,
        overflow: document.documentElement.scrollWidth - window.innerWidth});
})();
"""

MOVE_SLIDERS = """
const done = arguments[arguments.length - 1];
const view = p => { const img = p.querySelector('img.eom-player-frame'); const svg = p.querySelector('svg');
                    return (img ? img.src.length + ':' + img.src.slice(-200) : '') + (svg ? svg.innerHTML : ''); };
const results = [];
for (const player of document.querySelectorAll('div.eom-player')) {
  for (const slider of player.querySelectorAll('input[type=range]')) {
    const readout = document.getElementById(slider.dataset.readout);
    const before = [readout.textContent, view(player)];
    slider.value = parseInt(slider.value) === parseInt(slider.max) ? 0 : parseInt(slider.max);
    slider.dispatchEvent(new Event('input'));
    results.push({player: player.id, slider: slider.dataset.key, readout: [before[0], readout.textContent],
                  changed: view(player) !== before[1]});
  }
}
done(results);
"""


SCREENSHOT_PART = 40000  # px: the tallest JPEG written (JPEG's limit is 65 500)


def _full_page_screenshot(browser, path):
    """The whole page, not only the window: the window's view at successive scroll
    positions, stitched (fixed and sticky bars are made static first so that they appear
    once, at the top)."""
    import io

    from PIL import Image

    browser.execute_script("""
        for (const e of document.querySelectorAll('*')) {
          const p = getComputedStyle(e).position;
          if (p === 'sticky' || p === 'fixed') e.style.position = 'static';
        }""")
    width, height, view = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollHeight, window.innerHeight]")
    page = Image.new("RGB", (width, height), "white")
    for top in range(0, height, view):
        browser.execute_script("window.scrollTo(0, arguments[0])", top)
        actual = browser.execute_script("return window.scrollY")
        shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
        page.paste(shot.crop((0, 0, width, min(view, height - actual))), (0, int(actual)))
    # a JPEG is at most 65 500 px tall: a longer page (the API page) is saved in parts
    parts = range(0, height, SCREENSHOT_PART)
    for i, top in enumerate(parts):
        name = path if len(parts) == 1 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}")
        page.crop((0, top, width, min(height, top + SCREENSHOT_PART))).save(name, quality=80)
    browser.execute_script("window.scrollTo(0, 0)")
    return width, height


def _figure_problems(page, figures):
    problems = []
    chapter = check_site._figure_number(page)
    for f in figures:
        where = f"{page}: figure {f['src']}…"
        if not (f["complete"] and f["nw"] > 0):
            problems.append(f"{where} did not load")
            continue
        # shown at its own size: a retina PNG (width attribute or style) at half its pixels
        declared = f["width"] or (f["styleWidth"] or "").removesuffix("px")
        expected = float(declared) if declared else f["nw"]
        if abs(f["cw"] - expected) > 2:
            problems.append(f"{where} shown {f['cw']} px wide, its own size is {expected:.0f} px")
        if abs(f["cw"] / max(f["ch"], 1) - f["nw"] / f["nh"]) > 0.02 * f["nw"] / f["nh"]:
            problems.append(f"{where} distorted ({f['cw']}×{f['ch']} for {f['nw']}×{f['nh']})")
        if f["nw"] < 1.9 * f["cw"]:
            problems.append(f"{where} has {f['nw']} px for {f['cw']} CSS px: not high resolution")
        if f["right"] > f["articleRight"] + 1:
            problems.append(f"{where} is cut off at the right of the text")
        want = rf"Figure {chapter}\.\d+" if chapter else r"Figure \d+"
        if not (f["caption"] and re.fullmatch(want, f["caption"])):
            problems.append(f"{where} has no numbered caption ({f['caption']!r})")
    return problems


def test_pages_render_in_a_browser(site, server, browser):
    """Each page as a reader sees it: a full-page screenshot in _build/screenshots/, MathJax
    typeset every formula, nothing raw, figures at their own size, sharp, captioned, not cut
    off, tables as <table>, nothing wider than the window."""
    shots = ROOT / "_build" / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    browser.set_script_timeout(60)
    problems = []
    for page in check_site.chapter_files():
        _load(browser, f"{server}/{page}.html")
        state = browser.execute_async_script(PAGE_STATE)
        if state["typeset"] < state["maths"] or state["merrors"]:
            problems.append(f"{page}: MathJax typeset {state['typeset']} of {state['maths']} formulas, "
                            f"{state['merrors']} TeX errors")
        for match in list(RAW_IN_TEXT.finditer(state["text"]))[:3]:
            context = state["text"][max(0, match.start() - 40): match.end() + 40]
            problems.append(f"{page}: raw Markdown or LaTeX in the text: {context!r}")
        problems += _figure_problems(page, state["figures"])
        if state["tables"] < check_site.source_tables(ROOT, page):
            problems.append(f"{page}: {state['tables']} <table>s, the source defines "
                            f"{check_site.source_tables(ROOT, page)}")
        if state["overflow"] > 1:
            problems.append(f"{page}: the page is {state['overflow']} px wider than the window")
        width, height = _full_page_screenshot(browser, shots / f"{pathlib.Path(page).name}.jpg")
        assert height > 1600 or page.endswith(("bibliography", "appendix_performance")), (page, height)
    assert not problems, "\n".join(problems)
    for page in check_site.chapter_files():
        name = pathlib.Path(page).name
        assert (shots / f"{name}.jpg").exists() or (shots / f"{name}-1.jpg").exists(), page


def test_every_player_responds_to_its_sliders(site, server, browser):
    """Each player's picture and readout change when any of its sliders moves."""
    pages = [p for p in check_site.notebook_pages() if check_site.players(check_site.soup(site, p))]
    assert len(pages) >= 8, pages
    browser.set_script_timeout(60)
    problems, moved = [], 0
    for page in pages:
        _load(browser, f"{server}/{page}.html")
        results = browser.execute_async_script(MOVE_SLIDERS)
        assert len(results) >= len(check_site.players(check_site.soup(site, page))), page
        for r in results:
            moved += 1
            if r["readout"][0] == r["readout"][1] or not r["changed"]:
                problems.append(f"{page}: player {r['player']} slider {r['slider']}: readout "
                                f"{r['readout']}, picture changed: {r['changed']}")
    assert not problems, "\n".join(problems)
    assert moved >= 10


def test_publishing_workflow_builds_with_make_book():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True
    assert triggers["push"]["branches"] == ["main"]
    steps = workflow["jobs"]["build"]["steps"]
    build = [s for s in steps if s.get("name") == "Build the book"]
    assert len(build) == 1 and build[0]["run"].strip() == "make book"
    upload = [s for s in steps if "upload-pages-artifact" in s.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    assert any("deploy-pages" in s.get("uses", "") for s in workflow["jobs"]["deploy"]["steps"])
    assert check_site.load_config()["repository"]["branch"] == "main"
