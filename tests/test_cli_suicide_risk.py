"""`precmed run suicide_risk` on MIMIC-III-format folders (the demo and a tiny one written here)
run end to end and show aggregates only. Malformed MIMIC-III tables: test_cli_ehr_inputs.py;
bad parameters: test_cli_bad_parameters.py."""

import json

import pytest
from helpers import TINY_SUICIDE_RISK_PARAMS, precmed, tiny_suicide_risk


def _run_dir(runs):
    (run_dir,) = (runs / "suicide_risk").glob("smoke-*")
    return run_dir


@pytest.mark.slow
def test_user_mimic_folder_runs_end_to_end(tmp_path):
    """90 subjects: the code rule finds all of them, the readmission codes give the three levels,
    the models run on the first admission's codes; only aggregates are shown."""
    folder = tiny_suicide_risk(tmp_path / "mimic")
    runs = tmp_path / "runs"
    r = precmed("run", "suicide_risk", "--profile", "smoke", "-p", f"data={folder}",
                *TINY_SUICIDE_RISK_PARAMS, "--runs-dir", str(runs), "--no-progress")
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
