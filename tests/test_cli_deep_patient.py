"""`precmed run deep_patient` on MIMIC-III-format folders (the demo and a tiny one written here)
run end to end and show aggregates only. Malformed MIMIC-III tables: test_cli_ehr_inputs.py;
bad parameters: test_cli_bad_parameters.py."""

import json

import pytest
from helpers import (
    TINY_DEEP_PATIENT_PARAMS,
    check_tiny_deep_patient_run,
    precmed,
    tiny_deep_patient,
)


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
    folder = tiny_deep_patient(tmp_path / "mimic")
    runs = tmp_path / "runs"
    r = precmed("run", "deep_patient", "--profile", "smoke", "-p", f"data={folder}",
                *TINY_DEEP_PATIENT_PARAMS, "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "deep_patient").glob("smoke-*")
    check_tiny_deep_patient_run(run_dir)
