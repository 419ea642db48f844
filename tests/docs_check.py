"""Render every notebook of `nbs/` to HTML with nbconvert and check what a reader would click or see.

Where Quarto is installed, `make docs` builds the real site (`nbdev_docs`); this check needs only nbconvert, so it runs
on any machine with the `dev` extras:

    python tests/docs_check.py [--out DIR] [NOTEBOOK ...]

For each page it checks that
- the notebook converts, and its first cell is a `# Title` heading (the page title of the site);
- every image is embedded (`data:` URI) or is a file that exists beside the page or in `nbs/`;
- every relative link points to a file that exists (a link to `x.ipynb` also counts when `x.html` is rendered) and
  every `#anchor` link to a heading id of the page it names (compared without case: nbconvert keeps the
  heading's case, Quarto lowers it).
Links to other sites (http, https, mailto) are listed but not fetched. Exit code 0 when every page passes.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parents[1]
NBS = REPO / "nbs"


class _Page(HTMLParser):
    "Links, images and element ids of one HTML page."
    def __init__(self):
        super().__init__()
        self.links, self.images, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a: self.ids.add(a["id"])
        if tag == "a" and a.get("href"): self.links.append(a["href"])
        if tag == "img" and a.get("src") is not None: self.images.append(a["src"])


def render(notebook: Path, out: Path, exporter=None) -> Path:
    "Convert `notebook` to `out/<stem>.html` with nbconvert (outputs as stored, nothing executed, images embedded)."
    import nbformat
    from nbconvert import HTMLExporter
    exporter = exporter or HTMLExporter(embed_images=True)
    try: body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4),
                                               resources={"metadata": {"path": str(notebook.parent)}})
    except Exception as e: raise RuntimeError(f"{notebook.name}: nbconvert failed: {type(e).__name__}: {e}") from None
    html = out / f"{notebook.stem}.html"
    html.write_text(body, encoding="utf-8")
    return html


def _exists(target: str, page: Path, rendered: set) -> bool:
    p = Path(unquote(target))
    if p.suffix == ".ipynb" and p.stem in rendered: return True
    return any((base / p).exists() for base in (page.parent, NBS, REPO))


def check_page(notebook: Path, html: Path, rendered: set, ids: dict) -> list:
    "Problems found on one rendered page, each a line naming the notebook."
    problems = []
    first = json.loads(notebook.read_text())["cells"][:1]
    if not first or first[0]["cell_type"] != "markdown" or not "".join(first[0]["source"]).lstrip().startswith("# "):
        problems.append(f"{notebook.name}: the first cell is not a '# Title' heading")
    page = _Page(); page.feed(html.read_text(encoding="utf-8"))
    for src in page.images:
        if src.startswith("data:"): continue
        if not src or urlparse(src).scheme:
            problems.append(f"{notebook.name}: image {src[:80]!r} is not embedded"); continue
        if not _exists(src, html, rendered): problems.append(f"{notebook.name}: image {src!r} not found")
    for href in page.links:
        u = urlparse(href)
        if u.scheme in ("http", "https", "mailto"): continue
        if u.scheme: problems.append(f"{notebook.name}: link {href!r} has scheme {u.scheme!r}"); continue
        if u.path and not _exists(u.path, html, rendered):
            problems.append(f"{notebook.name}: link {href!r} points to a file that does not exist"); continue
        if u.fragment:
            stem = Path(u.path).stem if u.path else notebook.stem
            if stem in ids and unquote(u.fragment).lower() not in ids[stem]:
                problems.append(f"{notebook.name}: link {href!r}: no heading {u.fragment!r} on page {stem}")
    return problems


def check(notebooks: list, out: Path) -> list:
    "Render `notebooks` into `out` and return every problem found (empty when the docs are fine)."
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(embed_images=True)
    pages = {nb: render(nb, out, exporter) for nb in notebooks}
    rendered = {nb.stem for nb in notebooks}
    ids = {}
    for nb, html in pages.items():
        p = _Page(); p.feed(html.read_text(encoding="utf-8")); ids[nb.stem] = {i.lower() for i in p.ids}
    return [line for nb, html in pages.items() for line in check_page(nb, html, rendered, ids)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks to check (default: every notebook of nbs/)")
    ap.add_argument("--out", help="folder for the HTML pages (default: a temporary folder)")
    a = ap.parse_args(argv)
    nbs = [Path(n).resolve() for n in a.notebooks] or sorted(p for p in NBS.glob("*.ipynb")
                                                             if not p.name.startswith("_"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.out) if a.out else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        problems = check(nbs, out)
        for line in problems: print(line)
        print(f"docs check: {len(nbs)} pages rendered, {len(problems)} problem(s)" + (f"; pages in {out}" if a.out
                                                                                      else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
