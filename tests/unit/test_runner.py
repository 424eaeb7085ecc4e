import json
from pathlib import Path

import pytest

from precmed_utils import studies
from precmed_utils.errors import DataError, ParameterError, UnknownStudyError
from precmed_utils.studies import all_studies, check_study, implemented_studies
from precmed_utils.tools.runner import (
    RunResult,
    failure_page,
    parameter_hash,
    prepare,
    scoreboard_markdown,
    stage_book,
)


def test_registry_lists_the_eleven_studies():
    assert len(all_studies()) == 11
    assert "cancer_subtyping" in implemented_studies()


def test_check_study_explains(monkeypatch, tmp_path):
    with pytest.raises(UnknownStudyError, match="Did you mean 'cancer_subtyping'"):
        check_study("cancer_subtype")
    # a checkout whose notebook of a listed study is missing
    monkeypatch.setattr(studies, "notebook_path", lambda s: tmp_path / f"{s}.ipynb")
    with pytest.raises(UnknownStudyError, match="'deep_patient' is listed in the survey but has no"):
        check_study("deep_patient")


def test_parameter_hash_ignores_output_dir_and_order():
    a = {"seed": 1, "n": [1, 2], "output_dir": "x"}
    b = {"n": [1, 2], "output_dir": "elsewhere", "seed": 1}
    assert parameter_hash(a) == parameter_hash(b)
    assert parameter_hash(a) != parameter_hash({**a, "seed": 2})


def test_prepare_resolves_user_paths(matrix_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(matrix_csv.parent)
    params = prepare("cancer_subtyping", "smoke", assignments=[f"data={matrix_csv.name}"])
    assert params["data"] == str(matrix_csv.resolve())
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no column named 'label'"):
        prepare("cancer_subtyping", assignments=[f"data={bad}"])
    with pytest.raises(ParameterError, match="output_dir is set by the runner"):
        prepare("cancer_subtyping", overrides={"output_dir": "x"})


def test_scoreboard_lists_every_study(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({
        "headline": {"ours": {"mean": 0.9, "sd": 0.01}},
        "claims": [{"id": "C1", "verdict": "not reproduced", "evidence": "0.90 < 0.95"}]}))
    md = scoreboard_markdown({"cancer_subtyping": RunResult("cancer_subtyping", "smoke", True,
                                                            str(run_dir), 1.0)}, "smoke")
    rows = [line for line in md.splitlines() if line.startswith("| ") and "[" in line.split("|")[1]]
    assert len(rows) == 11
    assert md.count("not reproduced yet") == 10
    assert "0.900 ± 0.010" in md and "C1 not reproduced" in md
    assert "(studies/cancer_subtyping.ipynb)" in md
    failed = scoreboard_markdown({"cancer_subtyping": RunResult("cancer_subtyping", "smoke", False,
                                                                "", 1.0, "boom")}, "smoke")
    assert "**run failed**" in failed
    broken = RunResult("cancer_subtyping", "smoke", False, "", 0, "boom")
    assert "boom" in failure_page("cancer_subtyping", broken)


def test_a_failed_study_gets_a_page_and_the_book_still_stages(tmp_path):
    broken = RunResult("cancer_subtyping", "smoke", False, "", 0.0, "ValueError: boom")
    stage = stage_book({"cancer_subtyping": broken}, "smoke", tmp_path / "src")
    page = stage / "book" / "studies" / "cancer_subtyping.md"
    assert "ValueError: boom" in page.read_text()
    assert not (stage / "book" / "studies" / "cancer_subtyping.ipynb").exists()
    assert "**run failed**" in (stage / "book" / "scoreboard.md").read_text()
    assert (stage / "_toc.yml").exists() and (stage / "book" / "references.bib").exists()


def test_scoreboard_marks_verdicts_by_what_they_rest_on(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    basis = {"profile": "default",
             "convergence": {"recorded": 3, "all_converged": False, "not_converged": ["d/MLP"]},
             "positive_control": {"passed": False, "evidence": "raw beat the embedding"}}
    (run_dir / "metrics.json").write_text(json.dumps({
        "headline": {"ours": {"mean": 0.7, "sd": 0.01}}, "metrics": {},
        "claims": [{"id": "C1", "verdict": "not reproduced", "evidence": "x"}], "basis": basis}))
    md = scoreboard_markdown({"heart_failure": RunResult("heart_failure", "default", True,
                                                         str(run_dir), 1.0)}, "default")
    assert "C1 not reproduced†‡ (original rule)" in md
    assert "Verdicts rest on: profile default; NOT converged: d/MLP; positive control FAILED." in md
    basis.update(convergence={"recorded": 3, "all_converged": True, "not_converged": []},
                 positive_control={"passed": True, "evidence": ""})
    (run_dir / "metrics.json").write_text(json.dumps({
        "headline": {"ours": {"mean": 0.7}}, "metrics": {},
        "claims": [{"id": "C1", "verdict": "reproduced", "evidence": "x"}], "basis": basis}))
    md = scoreboard_markdown({"heart_failure": RunResult("heart_failure", "default", True,
                                                         str(run_dir), 1.0)}, "default")
    assert "C1 reproduced (original rule) |" in md
    assert "models converged; positive control passed" in md


def test_tally_claims_figure_and_rules_page(tmp_path):
    from precmed_utils.evidence import paired_difference
    from precmed_utils.tools.runner import claims_figure, claims_page, verdict_tally

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    comp = paired_difference([0.9, 0.92, 0.91, 0.93, 0.9], [0.8, 0.81, 0.8, 0.82, 0.8])
    (run_dir / "metrics.json").write_text(json.dumps({
        "headline": {"ours": {"mean": 0.9}}, "metrics": {},
        "claims": [{"id": "C1", "verdict": "reproduced", "evidence": "", "comparisons": {"Gordon": comp}},
                   {"id": "C2", "verdict": "inconclusive", "evidence": "", "comparisons": {}}]}))
    results = {"cancer_subtyping": RunResult("cancer_subtyping", "smoke", True, str(run_dir), 1.0)}
    tally = verdict_tally(results)
    assert tally["reproduced"] == 1 and tally["inconclusive"] == 1 and tally["not reproduced"] == 0
    png = claims_figure(results, tmp_path / "claims.png")
    assert png is not None and png.stat().st_size > 1000
    md = scoreboard_markdown(results, "smoke", png.name)
    assert "| 1 | 0 | 1 | 0 | 0 |" in md and "![Every claim" in md and "{doc}`claims`" in md
    page = claims_page()
    assert "# Claims and their rules" in page and "Amendment of 2026-12-02" in page
    assert "CERP beats CART on every dataset" in page


def test_scoreboard_headline_agrees_with_the_chapter_table():
    from precmed_utils.studies import all_studies, headline, study_info

    for sid in all_studies():
        h = headline(sid)
        row = next((v for v in study_info(sid).get("values", []) if v["key"] == h["key"]), None)
        if row is not None:
            assert h["value"] == row.get("value") and h["verified"] == row.get("verified")
            assert h["comparable"] == row.get("comparable", True)
    # chapters that call their headline comparison not comparable get no difference on the board
    for sid in ("deep_patient", "breast_cancer_prognosis", "drug_response"):
        assert headline(sid)["comparable"] is False, sid


def test_parameters_are_shown_once_as_a_table(tmp_path):
    from precmed_utils.tools.runner import show_parameters_once

    used = {"profile": "smoke", "parameters": {"n_repeats": 1, "seed": 0}}
    (tmp_path / "run.json").write_text(json.dumps(used))
    code = [("parameters", "seed: int = 0"), ("injected-parameters", "seed = 0")]
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# T"}]
          + [{"cell_type": "code", "metadata": {"tags": [t]}, "source": src} for t, src in code]}
    show_parameters_once(nb, "cancer_subtyping", tmp_path)
    table = nb["cells"][1]
    assert "precmed-parameters" in table["metadata"]["tags"]
    assert "| `n_repeats` | **1** | 2 |" in table["source"] and "| `seed` | 0 | 0 |" in table["source"]
    assert "profile `smoke`" in table["source"] and "output_dir" not in table["source"]
    assert all("remove-cell" in c["metadata"]["tags"] for c in nb["cells"][2:])


def test_findings_summarise_the_runs_of_this_build(tmp_path):
    from precmed_utils.tools.runner import FINDINGS_PLACEHOLDER, findings_markdown

    def a_run(sid, verdict, basis):
        d = tmp_path / sid
        d.mkdir()
        (d / "metrics.json").write_text(json.dumps({
            "headline": {"ours": {"mean": 0.7}}, "metrics": {}, "basis": basis,
            "claims": [{"id": "C1", "verdict": verdict, "evidence": ""}]}))
        return RunResult(sid, "default", True, str(d), 1.0)

    ok = {"convergence": {"all_converged": True}, "positive_control": {"passed": False, "evidence": ""}}
    results = {"deep_patient": a_run("deep_patient", "not reproduced", ok),
               "relation_extraction": a_run("relation_extraction", "inconclusive",
                                            {"convergence": {"all_converged": False}}),
               "adr_bcpnn": RunResult("adr_bcpnn", "default", False, "", 1.0, "boom")}
    md = findings_markdown(results)
    assert "tested 2 claims of the 2 studies that ran" in md
    assert "0 reproduced" in md and "1 inconclusive" in md and "1 not reproduced" in md
    assert "(simulated data): **not reproduced**" in md and "(real data): **inconclusive**" in md
    assert "failed" in md and "did not converge in: " in md
    assert "no findings" in findings_markdown({"adr_bcpnn": results["adr_bcpnn"]})
    assert FINDINGS_PLACEHOLDER in (Path(__file__).resolve().parents[2] / "book" / "intro.md").read_text()


def test_prepare_keeps_a_studys_own_data_names():
    """A data name the study declares (drug_response's simulation) is not taken for a path."""
    assert prepare("drug_response", "smoke", {"data": "simulation"})["data"] == "simulation"
    with pytest.raises((ParameterError, DataError)):
        prepare("drug_response", "smoke", {"data": "simulatoin"})
