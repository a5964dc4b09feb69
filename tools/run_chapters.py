"""Execute the book's chapters in the current Python and fail on any warning in their outputs.

Used by `make test-compat` to run every chapter on the oldest and the newest JAX eomlib
supports (the pin's run is `make test`, under nbval). A chapter fails when a cell raises,
writes to stderr, or prints text that looks like a warning; the executed notebooks are not
saved.

    python tools/run_chapters.py [--figures DIR] [book/03_all_orders.ipynb ...]

With ``--figures DIR`` the figures are drawn as in the book (inline backend, retina PNGs)
and written to DIR: ``<chapter>-cell<i>-<j>.png`` for each image and ``.html`` for each
player, to look at them without building the book.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
WARNING = re.compile(r"\w*Warning\b|Traceback \(most recent call last\)")


def problems(nb) -> list:
    """Outputs of an executed notebook that a reader should never see."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {i} wrote to stderr: {out['text'][:300]!r}")
            elif out.get("output_type") == "stream" and WARNING.search(out.get("text", "")):
                found.append(f"cell {i} printed a warning: {out['text'][:300]!r}")
            elif out.get("output_type") == "error":
                found.append(f"cell {i} raised {out.get('ename')}: {out.get('evalue', '')[:300]}")
    return found


def save_figures(nb, stem: str, folder: pathlib.Path) -> None:
    import base64

    folder.mkdir(parents=True, exist_ok=True)
    for i, cell in enumerate(nb.cells):
        for j, out in enumerate(cell.get("outputs", [])):
            data = out.get("data", {})
            if "image/png" in data:
                (folder / f"{stem}-cell{i}-{j}.png").write_bytes(base64.b64decode(data["image/png"]))
            elif "eom-player" in data.get("text/html", ""):
                (folder / f"{stem}-cell{i}-{j}.html").write_text(data["text/html"])


def run(path: pathlib.Path, figures: pathlib.Path | None = None) -> list:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    found = problems(nb)
    if figures is not None:
        save_figures(nb, path.stem, figures)
    print(f"{path.name}: {time.perf_counter() - start:.0f} s, "
          f"{'ok' if not found else f'{len(found)} problem(s)'}", flush=True)
    for p in found:
        print("   ", p)
    return found


def main(argv: list) -> int:
    os.environ.setdefault("EOMLIB_STATIC", "1")
    figures = None
    if argv[:1] == ["--figures"]:
        figures, argv = pathlib.Path(argv[1]), argv[2:]
        os.environ.pop("MPLBACKEND", None)
    else:
        os.environ.setdefault("MPLBACKEND", "Agg")
    paths = [pathlib.Path(a) for a in argv] or sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    failed = [p.name for p in paths if run(p, figures)]
    if failed:
        print("chapters with problems:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
