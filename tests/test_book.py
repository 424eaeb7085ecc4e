"""Smoke run of every notebook, reproducibility (nbval) and the book build, as `make test` runs them.

The book is built once per test session from smoke runs, in a temporary folder, with warnings
as errors (the ``smoke_book`` fixture of conftest.py, shared with test_browser.py); the executed
notebooks are then re-executed by nbval, which checks that the cells tagged
`nbval-check-output` (cohort tables, final metrics, verdicts) come out the same.
"""

import subprocess
import sys

import pytest

from precmed_utils.studies import all_studies, implemented_studies, study_info

pytestmark = pytest.mark.slow


def test_every_notebook_runs_with_the_smoke_profile(smoke_book):
    results, _ = smoke_book
    assert set(results) == set(implemented_studies())
    for r in results.values():
        assert r.ok, f"{r.study}: {r.error}"


def test_the_book_builds_with_every_chapter(smoke_book):
    _, index = smoke_book
    html = index.parent
    assert index.exists()
    for study in implemented_studies():
        page = (html / "book" / "studies" / f"{study}.html").read_text()
        assert "<img" in page, f"{study}: the chapter shows its figures"
        assert "<table" in page, f"{study}: the chapter shows its tables"
        assert "Traceback" not in page and "output error" not in page, f"{study}: error output"
    board = (html / "book" / "scoreboard.html").read_text()
    for study in all_studies():
        assert study_info(study)["title"] in board, f"scoreboard lacks {study}"
    assert board.count("not reproduced yet") == len(all_studies()) - len(implemented_studies())
    assert (html / "book" / "references.html").exists()


def test_the_book_has_the_teaching_pages(smoke_book):
    _, index = smoke_book
    html = index.parent / "book"
    guide = (html / "teaching.html").read_text()
    assert "Teaching with this book" in guide and "Measured on" in guide
    assert "precmed: run-time tiers" not in guide, "the tiers placeholder was filled"
    appendix = (html / "instructor.html").read_text()
    assert "Instructor appendix" in appendix
    for study in implemented_studies():
        assert study_info(study)["title"] in appendix, f"the appendix lacks {study}"
        assert f'href="studies/{study}.html"' in appendix, f"the appendix does not link back to {study}"
    assert appendix.count("Exercise 1.") == len(implemented_studies())


def test_executed_notebooks_reproduce(smoke_book):
    results, _ = smoke_book
    paths = [str(r.path) + "/notebook.ipynb" for r in results.values()]
    # two nbval processes at once, one per core (each re-executes its notebooks one after another)
    procs = [subprocess.Popen([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
                               *paths[k::2]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k in range(2)]
    for p in procs:
        out, _ = p.communicate()
        assert p.returncode == 0, out[-5000:]
