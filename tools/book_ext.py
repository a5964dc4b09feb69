"""Sphinx extension for this book.

1. Parallel reading (notebooks execute 2 at a time). sphinx-external-toc always loads
   sphinx_multitoc_numbering, which does not declare whether it is safe for parallel reading;
   Sphinx then warns and reads serially, and the warning fails our ``-W`` build. That
   extension only renumbers sections after all documents are read (it patches the toctree
   collector, which runs in the main process), so reading in separate processes is safe; we
   declare it once every extension is loaded.
2. MathJax served from the site itself (``_static/mathjax``), copied from the pinned
   ``django-static-mathjax`` package: the equations render without a CDN, offline too.
"""

import pathlib
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


def setup(app):
    app.connect("builder-inited", _declare)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
