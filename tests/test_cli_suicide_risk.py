"""`precmed run suicide_risk` on MIMIC-III-format folders (the demo and a tiny one written here)
run end to end and show aggregates only. Malformed MIMIC-III tables: test_cli_ehr_inputs.py;
bad parameters: test_cli_bad_parameters.py."""

import json

import numpy as np
import pytest
from helpers import TinyMimic, precmed


def _mimic(folder, n=90, seed=0):
    """A tiny MIMIC-III-format folder: every subject has a psychiatric admission (three items), some
    a readmission within 90 days with suicidal ideation or self-harm."""
    rng = np.random.default_rng(seed)
    m = TinyMimic()
    pool = ["4019", "25000", "2724", "5990", "486", "42731", "311", "30500"]
    drugs = ["Sertraline", "Lorazepam", "Quetiapine Fumarate", "Furosemide", "Heparin"]
    for s in range(1, n + 1):
        first = np.datetime64("2150-01-01") + int(rng.integers(0, 3000))
        level = rng.choice(3, p=[0.6, 0.25, 0.15])
        for k, offset in enumerate((0, 30 if level else 200)):
            codes = ["29620", "30000"] + list(rng.choice(pool, 3, replace=False)) if k == 0 else \
                [["V6284"], ["V6284"], ["E9503", "96509"]][level] + list(rng.choice(pool, 2, replace=False))
            m.visit(s, first + offset, codes, rng.choice(drugs, 3, replace=False) if k == 0 else ())
    return m.write(folder)


def _run_dir(runs):
    (run_dir,) = (runs / "suicide_risk").glob("smoke-*")
    return run_dir


@pytest.mark.slow
def test_user_mimic_folder_runs_end_to_end(tmp_path):
    """90 subjects: the code rule finds all of them, the readmission codes give the three levels,
    the models run on the first admission's codes; only aggregates are shown."""
    folder = _mimic(tmp_path / "mimic")
    runs = tmp_path / "runs"
    r = precmed("run", "suicide_risk", "--profile", "smoke", "-p", f"data={folder}",
                "-p", "min_code_patients=3", "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    doc = json.loads((_run_dir(runs) / "metrics.json").read_text())
    assert doc["cohort"]["mental-health cohort"] == "90"
    m = doc["metrics"]
    assert "user_data/enrbm_lr/f_high" in m and "user_data/raw_lr/f_high" in m
    assert not any(k.startswith("user_data/oracle") for k in m), "no truth on real data"
    assert {c["id"] for c in doc["claims"]} == {"C1", "C2"}
    nb = (_run_dir(runs) / "notebook.ipynb").read_text()
    assert "2150-" not in nb and "Quetiapine" not in nb, "no rows of a user's tables may appear"


@pytest.mark.slow
def test_mimic_demo_runs_without_failing(tmp_path):
    """The demo (100 ICU patients, who all died) has almost no outcome: 'not estimable', no crash."""
    runs = tmp_path / "runs"
    r = precmed("run", "suicide_risk", "--profile", "smoke", "-p", "data=mimic3_demo",
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    doc = json.loads((_run_dir(runs) / "metrics.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in doc["claims"]}
    assert verdicts["C2"] == "not comparable"
    assert "mental-health cohort" in doc["cohort"]
