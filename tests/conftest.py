import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def precmed(*args, cwd=None):
    """Run the installed `precmed` command; return the CompletedProcess."""
    return subprocess.run([str(BIN / "precmed"), *args], capture_output=True, text=True, cwd=cwd)


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
