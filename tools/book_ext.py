"""Sphinx extension for this book.

1. Parallel reading (notebooks execute 2 at a time). sphinx-external-toc always loads
   sphinx_multitoc_numbering, which does not declare whether it is safe for parallel reading;
   Sphinx then warns and reads serially, and the warning fails our ``-W`` build. That
   extension only renumbers sections after all documents are read (it patches the toctree
   collector, which runs in the main process), so reading in separate processes is safe; we
   declare it once every extension is loaded.
2. Numbers per chapter. The toc is not numbered (chapter titles carry their numbers), and
   Sphinx then numbers figures, tables and exercises consecutively through the whole book
   ("Exercise 16" in chapter 8). After Sphinx assigns them, each chapter's own are renumbered
   N.1, N.2, … (N from the file name ``NN_…``), other pages' 1, 2, … in page order.
3. MathJax served from the site itself (``_static/mathjax``), copied from the pinned
   ``django-static-mathjax`` package: the equations render without a CDN, offline too.
"""

import pathlib
import re
import shutil

DECLARED_SAFE = ("sphinx_multitoc_numbering",)
MATHJAX_FILES = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2")


def _declare(app):
    for name in DECLARED_SAFE:
        ext = app.extensions.get(name)
        if ext is not None:
            ext.parallel_read_safe = True
            ext.parallel_write_safe = True


def mathjax_source() -> pathlib.Path:
    import mathjax  # the django-static-mathjax package

    return pathlib.Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    src = mathjax_source()
    dest = pathlib.Path(app.outdir) / "_static" / "mathjax"
    for rel in MATHJAX_FILES:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if (src / rel).is_dir():
            shutil.copytree(src / rel, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src / rel, target)


def chapter_number(docname: str):
    """The chapter number of a page (``book/08_breakdown`` → 8), None for other pages."""
    match = re.match(r"(\d\d)_", docname.rsplit("/", 1)[-1])
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def renumber(fignumbers: dict) -> dict:
    """Per-page numbers from Sphinx's book-wide ones: ``{doc: {type: {id: (n,)}}}``."""
    out = {}
    for docname, types in fignumbers.items():
        prefix = () if chapter_number(docname) is None else (chapter_number(docname),)
        out[docname] = {
            figtype: {fid: (*prefix, i) for i, (fid, _) in
                      enumerate(sorted(ids.items(), key=lambda item: item[1]), start=1)}
            for figtype, ids in types.items()}
    return out


def _renumber(app, env):
    new = renumber(env.toc_fignumbers)
    changed = [doc for doc in new if new[doc] != env.toc_fignumbers.get(doc)]
    env.toc_fignumbers = new
    return changed


def setup(app):
    app.connect("builder-inited", _declare)
    app.connect("env-get-updated", _renumber, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
