"""`precmed run heart_failure` on MIMIC-III-format folders (the demo and a tiny one written here)
run end to end and show aggregates only. Malformed MIMIC-III tables: test_cli_ehr_inputs.py;
bad parameters: test_cli_bad_parameters.py."""

import json

import pytest
from helpers import TINY_HEART_FAILURE_PARAMS, check_tiny_heart_failure_run, precmed, tiny_heart_failure


def _run_dir(runs):
    (run_dir,) = (runs / "heart_failure").glob("smoke-*")
    return run_dir


@pytest.mark.slow
def test_user_mimic_folder_runs_end_to_end(tmp_path):
    """120 subjects, 40 with heart failure at their third admission (day 700): with a 180-day gap
    their first two admissions are the observation window; controls are matched by sex and age
    band and are still admitted on the index day. The planted precursors make the models beat
    chance; only aggregates are shown."""
    folder = tiny_heart_failure(tmp_path / "mimic")
    runs = tmp_path / "runs"
    r = precmed("run", "heart_failure", "--profile", "smoke", "-p", f"data={folder}",
                *TINY_HEART_FAILURE_PARAMS, "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    check_tiny_heart_failure_run(_run_dir(runs))


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
