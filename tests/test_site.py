"""The built book: build it once (tools/build_book.sh), then check it as a reader meets it."""

import json
import os
import pathlib
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


def test_pages_render_in_a_browser(site, server, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for page in check_site.chapter_files():
        _load(browser, f"{server}/{page}.html")
        has_math = bool(check_site.soup(site, page).select(".math, span.math, div.math"))
        if has_math:  # MathJax (served from _static) typeset the equations
            WebDriverWait(browser, 30).until(
                lambda d: d.execute_script("return document.querySelectorAll('mjx-container').length") > 0)
            errors = browser.execute_script("return document.querySelectorAll('mjx-merror').length")
            assert errors == 0, f"{page}: MathJax reported {errors} TeX errors"
        broken = browser.execute_script(
            "return Array.from(document.querySelectorAll('div.cell_output img'))"
            ".filter(i => !i.id.startsWith('_anim_img') && !(i.complete && i.naturalWidth > 0)).length")
        assert broken == 0, f"{page}: {broken} figures did not load"
        browser.save_screenshot(str(shots / f"{pathlib.Path(page).name}.png"))
    assert len(list(shots.glob("*.png"))) == len(check_site.chapter_files())


def test_player_slider_changes_frame(site, server, browser):
    pages = [p for p in check_site.notebook_pages() if check_site.players(check_site.soup(site, p))]
    assert pages, "no page has a precomputed player"
    _load(browser, f"{server}/{pages[0]}.html")
    frame_before, frame_after, n_frames = browser.execute_script("""
        const player = document.querySelector('div.animation');
        const img = player.querySelector('img');
        const slider = player.querySelector('input[type=range]');
        const before = img.src;
        slider.value = 3;
        slider.dispatchEvent(new Event('input'));
        return [before, img.src, parseInt(slider.max) + 1];
    """)
    assert n_frames >= 3
    assert frame_before.startswith("data:image/png") and frame_after.startswith("data:image/png")
    assert frame_after != frame_before


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
