"""Helpers shared by the tests (imported as `from helpers import ...`; conftest.py keeps only the
fixtures): the `precmed` command run in-process, a notebook's visible text, a small labelled matrix,
and a tiny MIMIC-III folder built visit by visit."""

import contextlib
import gzip
import io
import json
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

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


class TinyMimic:
    """Rows of a tiny MIMIC-III v1.4 folder, added patient by patient and visit by visit;
    ``write(folder)`` writes ADMISSIONS and DIAGNOSES_ICD (and PRESCRIPTIONS, PATIENTS when any
    row was added) in the layout PhysioNet distributes."""

    def __init__(self, first_hadm: int = 100):
        self.adm = ["ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME,DISCHTIME"]
        self.dx = ["ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE"]
        self.rx = ["ROW_ID,SUBJECT_ID,HADM_ID,STARTDATE,ENDDATE,DRUG"]
        self.pts = ["ROW_ID,SUBJECT_ID,GENDER,DOB"]
        self.hadm = first_hadm

    def patient(self, subject: int, gender: str, dob: str) -> None:
        self.pts.append(f"{len(self.pts)},{subject},{gender},{dob}")

    def visit(self, subject: int, day, codes, drugs=(), *, stay: int = 3, drug_days: int = 2) -> int:
        """An admission on ``day`` (numpy datetime64 of a day) with its ICD-9 codes and drugs."""
        self.hadm += 1
        h = self.hadm
        self.adm.append(f"{h},{subject},{h},{day} 10:00:00,{day + stay} 10:00:00")
        self.dx += [f"{len(self.dx)},{subject},{h},{j + 1},{c}" for j, c in enumerate(codes)]
        self.rx += [f"{len(self.rx)},{subject},{h},{day} 00:00:00,{day + drug_days} 00:00:00,{d}"
                    for d in drugs]
        return h

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        tables = {"ADMISSIONS": self.adm, "DIAGNOSES_ICD": self.dx, "PRESCRIPTIONS": self.rx,
                  "PATIENTS": self.pts}
        for name, rows in tables.items():
            if name in ("ADMISSIONS", "DIAGNOSES_ICD") or len(rows) > 1:
                (folder / f"{name}.csv").write_text("\n".join(rows) + "\n")
        return folder
