"""What every verdict of the smoke book rests on: trained models with recorded curves, positive
controls on the simulators, anchors and the amended claims on the scoreboard."""

import json
from pathlib import Path

import pytest

from precmed_utils.studies import study_info

pytestmark = pytest.mark.slow

NEURAL = ["concept_extraction", "temporal_events", "relation_extraction", "heart_failure", "suicide_risk",
          "deidentification", "drug_response", "breast_cancer_prognosis", "deep_patient"]
SIMULATED = ["heart_failure", "suicide_risk", "deep_patient", "drug_response"]


def metrics_of(results, study):
    return json.loads((Path(results[study].path) / "metrics.json").read_text())


def test_every_trained_model_records_its_curves_and_kept_epoch(smoke_book):
    results, index = smoke_book
    for sid in NEURAL:
        m = metrics_of(results, sid)
        assert m["basis"]["convergence"]["recorded"] > 0, f"{sid}: no training run recorded"
        assert any(k.endswith("/best_epoch") for k in m["metrics"]), f"{sid}: no best epoch in metrics.json"
        page = (index.parent / "book" / "studies" / f"{sid}.html").read_text()
        assert "Training curves" in page or "training curves" in page, f"{sid}: no training curves shown"


def test_simulator_chapters_run_a_positive_control_and_factor_probes(smoke_book):
    results, _ = smoke_book
    for sid in SIMULATED:
        m = metrics_of(results, sid)
        assert m["basis"]["positive_control"] is not None, f"{sid}: no positive control recorded"
        assert any(k.startswith("positive_control/") for k in m["metrics"]), f"{sid}: no control keys"
        assert any(k.startswith("probe/") for k in m["metrics"]), f"{sid}: no factor-recovery probe"


def test_verdicts_say_what_they_rest_on_and_anchors_are_shown(smoke_book):
    results, index = smoke_book
    for sid in results:
        m = metrics_of(results, sid)
        assert m["basis"]["profile"] == "smoke", f"{sid}: the verdicts' profile is not recorded"
    board = (index.parent / "book" / "scoreboard.html").read_text()
    assert "Anchors: published systems on the same open data" in board
    assert "Verdicts in this build" in board
    for sid in ("deidentification", "concept_extraction", "breast_cancer_prognosis"):
        for a in study_info(sid)["anchors"]:
            assert a["source"].split(" ")[0] in board
    assert (index.parent / "book" / "claims.html").exists()
