"""`precmed run deep_patient` on MIMIC-III-format folders (the demo and a tiny one written here)
run end to end and show aggregates only. Malformed MIMIC-III tables: test_cli_ehr_inputs.py;
bad parameters: test_cli_bad_parameters.py."""

import json

import numpy as np
import pytest
from helpers import TinyMimic, output_text, precmed


@pytest.mark.slow
def test_mimic3_demo_runs_and_reports_not_estimable(tmp_path):
    """100 ICU patients, almost none followed a year: no disease reaches 10 training positives."""
    runs = tmp_path / "runs"
    r = precmed("run", "deep_patient", "--profile", "smoke", "-p", "data=mimic3_demo",
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "deep_patient").glob("smoke-*")
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["data_source"] == "mimic3_demo"
    c1 = next(c for c in doc["claims"] if c["id"] == "C1")
    assert c1["verdict"] == "not comparable" and "not estimable" in c1["evidence"]


@pytest.mark.slow
def test_user_mimic_folder_runs_end_to_end(tmp_path):
    """60 patients admitted twice, a year apart; half of those with hypertension at the first
    admission (every other one) get a new diabetes code at the second, the others a tobacco-history
    code. Only aggregates may appear in the notebook."""
    m = TinyMimic(first_hadm=19999)  # admissions 20000 + 2s and 20001 + 2s
    for s in range(60):
        subject = 9000 + s
        first = ["4019", "2724"] if s % 2 == 0 else ["5990", "486"]
        second = ["25000"] if s % 2 == 0 else ["V1582"]
        if s % 6 == 1:
            second.append("42731")
        m.visit(subject, np.datetime64(f"2150-03-0{1 + s % 9}"), first)
        m.visit(subject, np.datetime64(f"2151-06-1{s % 9}"), second)
    folder = m.write(tmp_path / "mimic")
    runs = tmp_path / "runs"
    r = precmed("run", "deep_patient", "--profile", "smoke", "-p", f"data={folder}", "-p", "split_day=200",
                "-p", "min_train_positives=3", "-p", "test_fraction=0.3",
                "-p", "rf_leaf_grid=1", "-p", "rf_max_samples=1.0",
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "deep_patient").glob("smoke-*")
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["data_source"] == "user_data" and set(doc["diseases"]) == {"250", "427", "V15"}
    m = doc["metrics"]
    assert "user_data/RawFeat/auc" in m and "user_data/DeepPatient/auc" in m
    # diabetes follows hypertension at the first admission: the raw codes separate it perfectly
    assert m["user_data/RawFeat/auc/250"]["mean"] > 0.9
    nb = output_text(run_dir / "notebook.ipynb")  # ids are digits: papermill's timestamps would match
    assert "9001" not in nb and "20001" not in nb, "no subject or admission id may appear"
