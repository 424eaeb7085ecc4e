"""`precmed run deep_patient` with bad parameters: refused before anything runs (exit status 2), with
a message naming the parameter; MIMIC-III-format folders (the demo and a tiny one written here)
run end to end and show aggregates only. Malformed MIMIC-III tables: test_cli_ehr_inputs.py."""

import json

import pytest
from conftest import output_text, precmed

ADM = "ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME\n"
DX = "ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE\n"


def _mimic(folder, adm_rows, dx_rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ADMISSIONS.csv").write_text(ADM + "".join(r + "\n" for r in adm_rows))
    (folder / "DIAGNOSES_ICD.csv").write_text(DX + "".join(r + "\n" for r in dx_rows))
    return folder


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
    adm, dx = [], []
    row = 0
    for s in range(60):
        subject = 9000 + s
        h1, h2 = 20000 + 2 * s, 20001 + 2 * s
        adm += [f"{2 * s},{subject},{h1},2150-03-0{1 + s % 9} 08:00:00",
                f"{2 * s + 1},{subject},{h2},2151-06-1{s % 9} 08:00:00"]
        first = ["4019", "2724"] if s % 2 == 0 else ["5990", "486"]
        for c in first:
            row += 1
            dx.append(f"{row},{subject},{h1},1,{c}")
        second = ["25000"] if s % 2 == 0 else ["V1582"]
        if s % 6 == 1:
            second.append("42731")
        for c in second:
            row += 1
            dx.append(f"{row},{subject},{h2},1,{c}")
    folder = _mimic(tmp_path / "mimic", adm, dx)
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
