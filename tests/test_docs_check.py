"""The docs render: every notebook converts to HTML with working links and embedded images (`make docs-check`)."""
import json
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "tests"))
import docs_check  # noqa: E402


def _notebook(path, cells):
    nb = {"cells": [{"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": s} for i,
                    s in enumerate(cells)],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_check_reports_broken_links_images_and_titles(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", ["# Good\n", "## A heading\n",
                                               "[up](#a-heading) [site](https://example.org)"])
    bad = _notebook(tmp_path / "bad.ipynb", ["no title",
                                             "[x](missing.ipynb) [y](good.ipynb#nowhere) ![p](nothere.png)"])
    problems = docs_check.check([good, bad], tmp_path)
    text = "\n".join(problems)
    assert "bad.ipynb: the first cell is not a '# Title' heading" in text
    assert "link 'missing.ipynb' points to a file that does not exist" in text
    assert "no heading 'nowhere' on page good" in text
    assert "image 'nothere.png' not found" in text
    assert not [p for p in problems if p.startswith("good.ipynb")], problems


def test_every_notebook_renders_with_working_links(tmp_path):
    assert docs_check.main(["--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.html"))) >= 12
