import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def precmed(*args, cwd=None, subprocess_run=False):
    """Run `precmed` with ``args``; return a CompletedProcess (returncode, stdout, stderr).

    By default the command's ``main`` runs in this process (a new process per call costs seconds
    of imports, and the CLI tests make dozens of calls); an exception that escapes it becomes a
    traceback on stderr and exit status 1, as it would from the installed script.
    ``subprocess_run=True`` (or a ``cwd``) runs the installed script itself.
    """
    if subprocess_run or cwd is not None:
        return subprocess.run([str(BIN / "precmed"), *args], capture_output=True, text=True, cwd=cwd)
    from precmed_utils.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(["precmed", *args], code, out.getvalue(), err.getvalue())


def output_text(notebook: Path) -> str:
    """Everything an executed notebook shows a reader (the text of every output), without
    papermill's metadata, whose timestamps can contain any digits."""
    from precmed_utils.privacy import output_texts

    nb = json.loads(Path(notebook).read_text())
    return "\n".join(text for cell in nb["cells"] for out in cell.get("outputs", [])
                     for _kind, text in output_texts(out))


def write_matrix(path: Path, n_per_class=(12, 10, 8), n_genes=30, seed=1, raw=False) -> Path:
    """A small labelled expression matrix with planted class differences (3 classes by default)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"type_{k}" for k in range(len(n_per_class))], n_per_class)
    X = rng.normal(size=(len(labels), n_genes))
    for k in range(len(n_per_class)):
        X[labels == f"type_{k}", 3 * k: 3 * k + 3] += 2.0
    if raw:
        X = np.exp2(X + 8)
    df = pd.DataFrame(X, columns=[f"gene_{j}" for j in range(n_genes)])
    df.insert(0, "label", labels)
    df.insert(0, "sample", [f"p{i}" for i in range(len(labels))])
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            df.to_csv(fh, index=False)
    else:
        df.to_csv(path, index=False)
    return path


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
    from precmed_utils.runner import RunResult, build_book

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
