"""Check the built site: the index and one page per chapter in _toc.yml exist."""

import pathlib
import sys

import yaml


def chapter_files(toc_path: pathlib.Path) -> list:
    toc = yaml.safe_load(toc_path.read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def main(html_dir: str) -> int:
    html = pathlib.Path(html_dir)
    missing = [str(html / "index.html")] if not (html / "index.html").exists() else []
    pages = chapter_files(pathlib.Path("_toc.yml"))
    missing += [f"{p}.html" for p in pages if not (html / f"{p}.html").exists()]
    if missing:
        print("site check failed, missing pages:", *missing, sep="\n  ")
        return 1
    print(f"site check: index.html and {len(pages)} pages present in {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/html"))
