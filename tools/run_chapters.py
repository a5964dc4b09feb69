"""Execute the book's chapters in the current Python and fail on any warning in their outputs.

Used by `make test-compat` to run every chapter on the oldest and the newest JAX eomlib
supports (the pin's run is `make test`, under nbval). A chapter fails when a cell raises,
writes to stderr, or prints text that looks like a warning; the executed notebooks are not
saved.

    python tools/run_chapters.py [book/03_all_orders.ipynb ...]
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


def run(path: pathlib.Path) -> list:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    found = problems(nb)
    print(f"{path.name}: {time.perf_counter() - start:.0f} s, "
          f"{'ok' if not found else f'{len(found)} problem(s)'}", flush=True)
    for p in found:
        print("   ", p)
    return found


def main(argv: list) -> int:
    os.environ.setdefault("EOMLIB_STATIC", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    paths = [pathlib.Path(a) for a in argv] or sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    failed = [p.name for p in paths if run(p)]
    if failed:
        print("chapters with problems:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
