"""`precmed run heart_failure` with bad parameters: refused before anything runs (exit status 2), with
a message naming the parameter; MIMIC-III-format folders (the demo and a tiny one written here)
run end to end and show aggregates only. Malformed MIMIC-III tables: test_cli_ehr_inputs.py."""

import json

import numpy as np
import pytest
from conftest import precmed


def _mimic(folder, n=120, seed=0):
    """A tiny MIMIC-III-format folder: every subject has two or three admissions over two years;
    a third of them get heart failure (ICD-9 4280) at the last admission, after hypertension and
    atrial fibrillation codes at the earlier ones; PATIENTS gives sex and date of birth."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    adm = ["ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME,DISCHTIME"]
    dx = ["ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE"]
    rx = ["ROW_ID,SUBJECT_ID,HADM_ID,STARTDATE,ENDDATE,DRUG"]
    pts = ["ROW_ID,SUBJECT_ID,GENDER,DOB"]
    pool = ["25000", "2724", "5990", "486", "311", "53081", "7159"]
    hadm = 100
    for s in range(1, n + 1):
        start = np.datetime64("2150-01-01") + int(rng.integers(0, 100))
        sick = s % 3 == 0
        pts.append(f"{len(pts)},{s},{'F' if s % 2 else 'M'},2090-06-0{1 + s % 5} 00:00:00")
        for k, offset in enumerate((0, 300, 700)):
            hadm += 1
            day = start + offset
            adm.append(f"{hadm},{s},{hadm},{day} 10:00:00,{day + 3} 10:00:00")
            codes = list(rng.choice(pool, 2, replace=False))
            if sick and k < 2:
                codes += ["4019", "42731"]
            if sick and k == 2:
                codes += ["4280"]
            dx += [f"{len(dx)},{s},{hadm},{j + 1},{c}" for j, c in enumerate(codes)]
            rx.append(f"{len(rx)},{s},{hadm},{day} 00:00:00,{day + 2} 00:00:00,"
                      + ("Metoprolol Tartrate" if sick and k < 2 else "Heparin"))
    (folder / "ADMISSIONS.csv").write_text("\n".join(adm) + "\n")
    (folder / "DIAGNOSES_ICD.csv").write_text("\n".join(dx) + "\n")
    (folder / "PRESCRIPTIONS.csv").write_text("\n".join(rx) + "\n")
    (folder / "PATIENTS.csv").write_text("\n".join(pts) + "\n")
    return folder


def _run_dir(runs):
    (run_dir,) = (runs / "heart_failure").glob("smoke-*")
    return run_dir


@pytest.mark.slow
def test_user_mimic_folder_runs_end_to_end(tmp_path):
    """120 subjects, 40 with heart failure at their third admission (day 700): with a 180-day gap
    their first two admissions are the observation window; controls are matched by sex and age
    band and are still admitted on the index day. The planted precursors make the models beat
    chance; only aggregates are shown."""
    folder = _mimic(tmp_path / "mimic")
    runs = tmp_path / "runs"
    r = precmed("run", "heart_failure", "--profile", "smoke", "-p", f"data={folder}",
                "-p", "min_code_patients=2", "-p", "age_band_years=20", "--runs-dir", str(runs),
                "--no-progress")
    assert r.returncode == 0, r.stderr
    doc = json.loads((_run_dir(runs) / "metrics.json").read_text())
    assert doc["cohort"]["incident cases in the cohort"].startswith("40 ")
    assert doc["cohort"]["matched controls"] == "80"
    m = doc["metrics"]
    assert m["user_data/raw_lr/auc"]["mean"] > 0.8, "hypertension + AF before HF: an easy signal"
    assert "user_data/emb_mlp/auc" in m
    assert not any(k.startswith("user_data/oracle") for k in m), "no truth on real data"
    assert {c["id"] for c in doc["claims"]} == {"C1", "C2"}
    nb = (_run_dir(runs) / "notebook.ipynb").read_text()
    assert "2150-" not in nb and "2090-" not in nb, "no rows of a user's tables may appear"


@pytest.mark.slow
def test_mimic_demo_runs_without_failing(tmp_path):
    """The demo (100 ICU patients, who all died) has almost no incident HF with an earlier
    admission: 'not estimable', no crash."""
    runs = tmp_path / "runs"
    r = precmed("run", "heart_failure", "--profile", "smoke", "-p", "data=mimic3_demo",
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    doc = json.loads((_run_dir(runs) / "metrics.json").read_text())
    assert {c["id"] for c in doc["claims"]} == {"C1", "C2"}
    assert "incident cases in the cohort" in doc["cohort"]
