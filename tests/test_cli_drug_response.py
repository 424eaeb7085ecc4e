"""`precmed run drug_response` with bad input: refused before anything runs (exit status 2), with a
message naming the file and line (bad parameters: test_cli_bad_parameters.py); a user's screen
folder runs end to end."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import precmed


def _screen(folder, n_lines=40, n_genes=30, drugs=("zorbazine", "quintaxel"), seed=0, expr_text=None,
            resp_text=None):
    """A small screen with a planted signal: the response to each drug follows gene 0 (or 1)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_lines, n_genes))
    ids = [f"CL{i:03d}" for i in range(n_lines)]
    expr = pd.DataFrame(X, columns=[f"G{j}" for j in range(n_genes)])
    expr.insert(0, "cell_line", ids)
    rows = [{"cell_line": c, "drug": d, "response": round(2.0 * X[i, k] + rng.normal(scale=0.5), 3)}
            for k, d in enumerate(drugs) for i, c in enumerate(ids)]
    (folder / "expression.csv").write_text(expr_text if expr_text is not None else expr.to_csv(index=False))
    resp = resp_text if resp_text is not None else pd.DataFrame(rows).to_csv(index=False)
    (folder / "response.csv").write_text(resp)
    return folder


@pytest.mark.parametrize("expr_text,resp_text,expected", [
    ("cell_line,G0,G1\nCL000,1.0,2.0\nCL001,abc,2.0\n", None,
     "expression.csv: malformed data:\n  - line 3, column 'G0': 'abc' is not a number"),
    (None, "cell_line,drug,response\nCL000,zorbazine,1.0\nCL001,zorbazine,\n",
     "response.csv: malformed data:\n  - line 3, column 'response': missing value"),
    (None, "cell_line,drug,ln_ic50\nCL000,zorbazine,1.0\n",
     "response.csv, line 1: missing column(s) ['response']"),
    (None, "cell_line,drug,response\nCL000,zorbazine,1.0\nCL000,zorbazine,2.0\n",
     "line 3: cell line and drug repeated"),
])
def test_malformed_screen_is_reported_with_file_and_line(tmp_path, expr_text, resp_text, expected):
    folder = _screen(tmp_path / "screen", expr_text=expr_text, resp_text=resp_text)
    r = precmed("run", "drug_response", "-p", f"data={folder}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert "zorbazine" not in r.stderr.replace(expected, "")
    assert not (tmp_path / "runs").exists()


def test_a_single_file_is_refused(tmp_path):
    f = tmp_path / "expr.csv"
    f.write_text("cell_line,G0\nCL000,1\n")
    r = precmed("run", "drug_response", "-p", f"data={f}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2 and "expected a folder holding expression.csv and response.csv" in r.stderr


@pytest.mark.slow
def test_user_screen_runs_end_to_end(tmp_path):
    folder = _screen(tmp_path / "screen")
    runs = tmp_path / "runs"
    r = precmed("run", "drug_response", "--profile", "smoke", "-p", f"data={folder}", "-p", "n_genes=30",
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "drug_response").glob("smoke-*")
    doc = json.loads((run_dir / "metrics.json").read_text())
    m = doc["metrics"]
    assert m["user_data/RF-raw/auroc"]["mean"] > 0.75, "a planted one-gene signal: the forest must find it"
    assert "user_data/SSVAE/auroc" in m and "user_data/DrVAE/auroc" not in m
    assert m["tuning/SSVAE/settings_tried"]["mean"] == m["tuning/RF-raw/settings_tried"]["mean"] == 2, \
        "every model gets the same tuning budget"
    assert "user_data/SSVAE/best_epoch" in m and "user_data/VAE+LR/dev_loss" in m, "training curves recorded"
    assert doc["basis"]["convergence"]["recorded"] > 0
    assert {c["id"] for c in doc["claims"]} == {"C1", "C2"}
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "CL001" not in nb, "no cell-line id of a user's screen may appear"
