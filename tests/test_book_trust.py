"""What every verdict of the smoke book rests on: trained models with recorded curves, positive
controls on the simulators, anchors and the amended claims on the scoreboard."""

import json
from html.parser import HTMLParser
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


def test_deep_patient_gives_every_representation_the_same_budget_of_its_own_settings(smoke_book):
    """Deep Patient's masking noise is chosen on the inner split, so every baseline chooses among as
    many settings of its own (a size, or RawFeat's inputs); the choice is recorded and is one of them."""
    results, _ = smoke_book
    m = metrics_of(results, "deep_patient")
    settings = m["representation_settings"]
    assert set(settings) == set(m["representations"])
    assert len({len(s["tried"]) for s in settings.values()}) == 1
    assert len(settings["DeepPatient"]["tried"]) > 1
    for name, s in settings.items():
        assert s["chosen"] in s["tried"], name
        assert m["metrics"][f"tuning/{name}/own_settings_tried"]["mean"] == len(s["tried"])
    assert m["metrics"]["tuning/DeepPatient/sdae_noise"]["mean"] == settings["DeepPatient"]["chosen"]
    assert m["parameters"]["sdae_noise"] == settings["DeepPatient"]["tried"]


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


class _Tables(HTMLParser):
    """The rows of every HTML table of a page, each row a list of its cells' text."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(path: Path) -> list[list[str]]:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.rows


def test_scoreboard_and_chapters_agree_on_every_number_and_verdict(smoke_book):
    """The scoreboard's row of a study shows the same headline number (ours, and the paper's with
    its verification mark) and the same verdict for every claim as the chapter's own tables."""
    from precmed_utils.results import fmt
    from precmed_utils.studies import headline

    results, index = smoke_book
    book = index.parent / "book"
    board = {row[0]: row for row in table_rows(book / "scoreboard.html") if len(row) == 7}
    checked = 0
    for sid, r in results.items():
        if not r.ok:
            continue
        m = metrics_of(results, sid)
        title = study_info(sid)["title"]
        row = next(v for k, v in board.items() if k.startswith(title))
        chapter = table_rows(book / "studies" / f"{sid}.html")
        cells = {c for rw in chapter for c in rw}
        ours = (m.get("headline") or {}).get("ours") or {}
        if ours.get("mean") is not None:
            shown = fmt(ours["mean"], ours.get("sd"))
            assert row[3] == shown, f"{sid}: the scoreboard shows {row[3]}, the run {shown}"
            assert any(shown in c for c in cells), f"{sid}: the chapter's tables never show {shown}"
        h = headline(sid)
        if h.get("value") is not None:
            assert row[2].startswith(fmt(h["value"])), f"{sid}: paper value {row[2]}"
            assert (" [U]" in row[2]) == (h.get("verified") is False), f"{sid}: verification mark {row[2]}"
            paper = fmt(h["value"])
            assert any(paper in c for c in cells), f"{sid}: the chapter never shows the paper's {paper}"
        for claim in m.get("claims", []):
            in_board = f"{claim['id']} {claim['verdict']}"
            assert in_board in row[6], f"{sid}: the scoreboard says {row[6]!r}, the run {in_board!r}"
            claim_rows = [rw for rw in chapter if rw and rw[0] == claim["id"]]
            assert claim_rows, f"{sid}: the chapter has no claims-table row for {claim['id']}"
            assert any(claim["verdict"] in rw[1:] for rw in claim_rows), (
                f"{sid}: the chapter's {claim['id']} row {claim_rows[0]} lacks the verdict "
                f"{claim['verdict']!r}")
            checked += 1
    assert checked >= 20
