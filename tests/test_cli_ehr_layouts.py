"""The three EHR chapters run end to end on the other layouts their readers take: each chapter's tiny
MIMIC-III folder (the one its test_cli_<study>.py runs) converted by tests/helpers.py and run with
the same options, one layout per chapter so the suite stays cheap: heart_failure on OMOP CDM CSV,
suicide_risk on MEDS, deep_patient on MIMIC-IV. Each asserts the cohort facts its MIMIC-III test
asserts (the same source gives the same cohort) and that no row of the tables reaches the
notebook. The converted folder holds only that layout's files, so the run reads it with that
layout's reader. The demo in every layout, at the reader level: tests/unit/test_ehr_formats.py."""

import json

import pytest
from helpers import (
    TINY_DEEP_PATIENT_PARAMS,
    TINY_HEART_FAILURE_PARAMS,
    TINY_SUICIDE_RISK_PARAMS,
    check_tiny_deep_patient_run,
    check_tiny_heart_failure_run,
    mimic3_to_meds,
    mimic3_to_mimic4,
    mimic3_to_omop,
    precmed,
    tiny_deep_patient,
    tiny_heart_failure,
    tiny_suicide_risk,
)

from precmed_utils.formats.ehr_formats import detect_layout


def _run(study, folder, params, runs):
    r = precmed("run", study, "--profile", "smoke", "-p", f"data={folder}", *params,
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / study).glob("smoke-*")
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_heart_failure_on_omop_csv(tmp_path):
    """As test_cli_heart_failure.py on MIMIC-III: 40 incident cases, 80 matched controls, the
    planted precursors beat chance."""
    folder = mimic3_to_omop(tiny_heart_failure(tmp_path / "mimic3"), tmp_path / "omop", "csv")
    assert detect_layout(folder) == "OMOP" and (folder / "person.csv").is_file()
    run_dir, _ = _run("heart_failure", folder, TINY_HEART_FAILURE_PARAMS, tmp_path / "runs")
    check_tiny_heart_failure_run(run_dir)


@pytest.mark.slow
def test_suicide_risk_on_meds(tmp_path):
    """As test_cli_suicide_risk.py on MIMIC-III: all 90 subjects in the mental-health cohort."""
    folder = mimic3_to_meds(tiny_suicide_risk(tmp_path / "mimic3"), tmp_path / "meds")
    assert detect_layout(folder) == "MEDS"
    run_dir, doc = _run("suicide_risk", folder, TINY_SUICIDE_RISK_PARAMS, tmp_path / "runs")
    assert doc["cohort"]["mental-health cohort"] == "90"
    m = doc["metrics"]
    assert "user_data/enrbm_lr/f_high" in m and "user_data/raw_lr/f_high" in m
    assert not any(k.startswith("user_data/oracle") for k in m), "no truth on real data"
    assert {c["id"] for c in doc["claims"]} == {"C1", "C2"}
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "2150-" not in nb and "Quetiapine" not in nb, "no rows of a user's tables may appear"


@pytest.mark.slow
def test_deep_patient_on_mimic4(tmp_path):
    """As test_cli_deep_patient.py on MIMIC-III: the three new diagnoses, diabetes predicted from
    the first admission's hypertension."""
    folder = mimic3_to_mimic4(tiny_deep_patient(tmp_path / "mimic3"), tmp_path / "mimic4")
    assert detect_layout(folder) == "MIMIC-IV"
    run_dir, _ = _run("deep_patient", folder, TINY_DEEP_PATIENT_PARAMS, tmp_path / "runs")
    check_tiny_deep_patient_run(run_dir)
