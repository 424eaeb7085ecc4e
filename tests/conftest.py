import json
import os
from pathlib import Path

import pytest
from helpers import write_matrix


@pytest.fixture
def matrix_csv(tmp_path):
    return write_matrix(tmp_path / "expr.csv")


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Every study run with the smoke profile and the book built from the runs, once per session
    (test_book.py and test_browser.py share it). Returns (results, path of the HTML index).

    ``PRECMED_TEST_BOOK=<folder>`` reuses a book built earlier with
    ``precmed book --profile smoke --out <folder>`` instead (to iterate on the page checks).
    """
    from precmed_utils.tools.runner import RunResult, build_book

    reuse = os.environ.get("PRECMED_TEST_BOOK")
    if reuse:
        runs = json.loads((Path(reuse) / "book-runs.json").read_text())["studies"]
        fields = set(RunResult.__dataclass_fields__)
        return ({s: RunResult(**{k: v for k, v in r.items() if k in fields}) for s, r in runs.items()},
                Path(reuse) / "html" / "index.html")
    root = tmp_path_factory.mktemp("book")
    results, index = build_book("smoke", jobs=2, runs_dir=root / "runs", out_dir=root / "build",
                                log=lambda *_: None)
    return results, index
