"""The privacy gate: small-cell suppression, the PHI scan of executed notebooks, and stage_book
refusing a chapter with a planted leak."""

import json

import nbformat
import pandas as pd
import pytest
from helpers import ROOT

from precmed_utils import privacy
from precmed_utils.privacy import (
    EXEMPT_TAG,
    check_chapter,
    find_phi,
    restricted,
    scan_notebook,
    shown,
    suppress_small_cells,
)
from precmed_utils.tools import runner
from precmed_utils.tools.runner import RunResult, stage_book

# made up for this test: no real person
LEAK_NAME, LEAK_PHONE, LEAK_MRN = "Harriet Quellmore", "(617) 555-0142", "4471923"
LEAK = f"Patient {LEAK_NAME}, MRN: {LEAK_MRN}, call {LEAK_PHONE} before discharge"


# --- suppression ---------------------------------------------------------------------------------

def test_small_counts_are_suppressed_zeros_and_large_kept():
    df = pd.DataFrame({"class": ["A", "B", "C", "D"], "train": [12, 3, 0, 9], "test": [10, 1, 4, 25],
                       "AUC": [0.91, 0.55, 0.6, 0.7]})
    out = suppress_small_cells(df, 5)
    assert out["train"].tolist() == [12, "<5", 0, 9]
    assert out["test"].tolist() == [10, "<5", "<5", 25]
    assert out["AUC"].tolist() == [0.91, 0.55, 0.6, 0.7]  # floats are not counts
    assert df["train"].tolist() == [12, 3, 0, 9], "the input is not modified"
    assert suppress_small_cells(df, 1).equals(df)
    # chosen columns only; the threshold itself is shown, not suppressed
    out = suppress_small_cells(df, 10, columns=["test"])
    assert out["train"].tolist() == [12, 3, 0, 9] and out["test"].tolist() == [10, "<10", "<10", 25]


def test_a_total_cannot_give_back_a_lone_suppressed_cell():
    df = pd.DataFrame({"group": ["x", "y"], "a": [20, 30], "b": [3, 40], "total": [23, 70]})
    # primary suppression alone: the total gives the cell back by subtraction ...
    out = suppress_small_cells(df, 5, columns=["a", "b"])
    row = out.iloc[0]
    assert row["b"] == "<5" and row["total"] - row["a"] == 3
    # ... so the total of a row with a suppressed cell is hidden; other rows keep theirs
    out = suppress_small_cells(df, 5, totals=["total"])
    assert out["total"].tolist() == ["hidden", 70] and out["b"].tolist() == ["<5", 40]
    assert "3" not in out.to_string().split() and "23" not in out.to_string().split()


def test_shown_only_suppresses_restricted_data():
    counts = {"patients": 23, "poor": 20, "excluded": 3}
    open_info, user_info = {"kind": "open"}, {"kind": "restricted"}
    assert shown(counts, [open_info], 10) is counts
    assert shown(counts, [open_info, user_info], 10, totals=["patients"]) == {
        "patients": "hidden", "poor": 20, "excluded": "<10"}
    s = shown(pd.Series({"ALL": 4, "AML": 30}, name="n"), user_info, 5)
    assert s.tolist() == ["<5", 30] and s.name == "n"
    df = pd.DataFrame({"n": [2, 12]})
    assert shown(df, [open_info], 5) is df and shown(df, [user_info], 5)["n"].tolist() == ["<5", 12]
    assert restricted([user_info]) and not restricted(open_info) and not restricted([])


def test_totals_and_counts_in_text():
    user, shipped = [{"kind": "restricted"}], [{"kind": "simulated"}]
    assert privacy.shown_total(77, [58, 19], user, 20) == "hidden"  # 77 - 58 would give 19 back
    assert privacy.shown_total(77, [58, 19], user, 10) == 77
    assert privacy.shown_total(7, [4, 3], user, 10) == "<10"
    assert privacy.shown_total(77, [58, 19], shipped, 20) == 77
    assert privacy.count_text(1234, user, 10) == "1,234" and privacy.count_text(3, user, 10) == "<10"
    assert privacy.count_text(3, shipped, 10) == "3" and privacy.count_text(0, user, 10) == "0"
    assert privacy.count_text(40, user, 10, parts=[37, 3]) == "hidden"
    assert privacy.is_suppressed(9, user, 10) and not privacy.is_suppressed(10, user, 10)


# --- the scan ------------------------------------------------------------------------------------

def executed_notebook(path, outputs_by_cell, tags=None):
    nb = nbformat.v4.new_notebook()
    for i, outputs in enumerate(outputs_by_cell):
        cell = nbformat.v4.new_code_cell(f"cell_{i}()")
        cell.outputs = outputs
        cell.execution_count = i + 1
        if tags and i in tags:
            cell.metadata["tags"] = tags[i]
        nb.cells.append(cell)
    nbformat.write(nb, str(path))
    return path


def table_output(df):
    return nbformat.v4.new_output("execute_result", data={"text/plain": df.to_string(),
                                                           "text/html": df.to_html()}, execution_count=1)


COHORT = pd.DataFrame({"class": ["ALL", "AML"], "train": [27, 11], "test": [20, 14], "AUC": [0.9512, 0.8841]})
MANIFEST_LIKE = pd.DataFrame({"value": ["cancer_subtyping", "cpu", "ad31480-dirty",
                                        "2026-11-29T04:51:06+00:00", "3.11.7", "2.4.6", "1.9.1"]},
                             index=["study", "device", "git commit", "started (UTC)", "version: python",
                                    "version: numpy", "version: scikit-learn"])


def test_a_planted_leak_is_found_where_it_is_without_echoing_it(tmp_path):
    path = executed_notebook(tmp_path / "nb.ipynb", [
        [table_output(COHORT)],
        [nbformat.v4.new_output("stream", name="stdout", text="fold 1 done\n"),
         nbformat.v4.new_output("stream", name="stdout", text=f"first rows:\n{LEAK}\n")],
    ])
    findings = scan_notebook(path)
    assert {f.cell for f in findings} == {1} and {f.output for f in findings} == {1}
    assert {f.category for f in findings} == {"name", "id", "phone"}
    assert all(f.line == 2 for f in findings)
    text = "\n".join(f.describe() for f in findings)
    for secret in (LEAK_NAME, *LEAK_NAME.split(), LEAK_PHONE, LEAK_MRN, "555"):
        assert secret not in text
    assert "(999) 999-9999" in text  # the shape, not the number


@pytest.mark.parametrize("leak, category", [
    # what the gate missed before (issue 21), one per line
    ("Harriet Quellmore  67  F", "name"),  # a name without a title
    ("seen by Dr. O'Quellmore", "name"),  # a title, an apostrophe in the surname
    ("age at admission: 93", "age"),
    ("Towson, MD 21204", "address"),
    ("March 14, 2019", "date"),
    ("2019-03-14", "date"),
    ("14 March 2019", "date"),
    ("https://portal.example-health.org/patients/4471923", "url"),
    ("10.24.3.117", "ip"),
    ("member ID: XJH123456789", "id"),
    ("pacemaker serial SN4471923", "device"),
    ("licence plate 7ABC123", "vehicle"),
    ("1EG4-TE5-MK72", "id"),  # a Medicare beneficiary identifier, by its shape
    ("{'account_no': '0417127051'}", "id"),
    ("- **zip**: 21204", "address"),
    ("Baltimore County", "address"),
    ("1HGCM82633A004352", "vehicle"),  # a VIN
    ("fax: (410) 555-0187", "phone"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "ip"),
    ("QUELLMORE, Harriet", "name"),
    # what it caught before
    ("seen by Dr. Quellmore on rounds", "name"),
    ("daughter Mirabel called", "name"),
    ("contact: hq@example.org", "email"),
    ("SSN 078-05-1120 on file", "id"),
    ("lives at 42 Larkspur Lane, Dover", "address"),
    ("admitted 03/14/2019 with sepsis", "date"),
    ("dob 1956-04-12", "date"),
    ("a 97 year old man", "age"),
    ("<td>Mary Quellmore</td>", "name"),
])
def test_each_category_is_caught_in_an_html_table_too(tmp_path, leak, category):
    html = f"<table><tr><td>17</td><td>{leak}</td></tr></table>"
    path = executed_notebook(tmp_path / "nb.ipynb", [[nbformat.v4.new_output(
        "display_data", data={"text/html": html, "text/plain": "<table>"})]])
    assert category in {f.category for f in scan_notebook(path)}


def test_aggregates_and_the_books_own_text_are_clean(tmp_path):
    prose = ("Dr.VAE beats the VAE in 3/5 repeats; 12 ms per batch at 1e-3; tokens/s 3560.0; "
             "the 1995 cohort, published in March 2008; ages 18-89; 421924.0000 tokens, range 900-1500; "
             "Patients (n) 163; the patient split is by patient; mean 593.1234 (SD 12.5)\n"
             "Name: Recall, dtype: float64\nstarted 2026-11-29T04:51:06+00:00; rule (set 2026-11-28)")
    path = executed_notebook(tmp_path / "nb.ipynb", [
        [table_output(COHORT)], [table_output(MANIFEST_LIKE)],
        [nbformat.v4.new_output("display_data", data={"text/markdown": prose, "text/plain": "<Markdown>"})],
        [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=",
                                                      "text/plain": "<Figure>"})],
    ])
    # the run's timestamp and the claims' set date are exempt because the run's own manifest and
    # the study's claims say where they come from
    (tmp_path / "manifest.json").write_text(json.dumps({"study": "cancer_subtyping",
                                                        "started": "2026-11-29T04:51:06+00:00"}))
    assert scan_notebook(path) == []


def test_known_safe_text_is_exempt_only_where_the_run_says_so(tmp_path):
    citation = "Gordon GJ et al. Cancer Res 62:4963-4967, 2002"
    manifest = {"started": "2026-11-29T04:51:06+00:00",
                "data": [{"name": "gordon_lung", "citation": citation}]}
    safe = privacy.known_safe("cancer_subtyping", manifest)
    assert "2026-11-29T04:51:06+00:00" in safe and "rule (set 2026-11-28)" in safe
    assert citation in safe  # a dataset's citation, as the run recorded it
    assert find_phi("under the 2026-11-28 rule  reproduced", safe=safe) == []
    text = "started (UTC) 2026-11-29T04:51:06+00:00 | rule (set 2026-11-28) | admitted 2026-11-28"
    found = find_phi(text, safe=safe)
    assert [text[a:b] for a, b, _, _ in found] == ["2026-11-28"]  # the same date elsewhere is found
    assert len(find_phi(text)) == 3  # without the run's records every date is found
    # a notebook without a manifest beside it has no exemption
    path = executed_notebook(tmp_path / "nb.ipynb", [[table_output(MANIFEST_LIKE)]])
    assert {f.category for f in scan_notebook(path)} == {"date"}


@pytest.mark.parametrize("line", [
    "Phone  1            0                     3",  # counts of PHI types: a word, then numbers
    "12  anchor (same data)  Nottingham Prognostic Index, AUC for distant m...",  # the book's words
    "clinical variables   age, diameter, grade, ER, PR, angioinvasion",  # not a town, PR
    "Dr.VAE  0.650  DrVAE  -0.073",
    "HYDROXYCUT HARDCORE CAPSULES (NO PREF. NAME)       1    0.0",
    "paired lines  Bayes AUROC (baseline)",
    "see https://scikit-learn.org/stable/modules/linear_model.html#logistic-regression",
])
def test_lines_like_the_chapters_are_not_flagged(line):
    assert find_phi(line) == []


def test_a_tagged_made_up_example_is_listed_not_judged(tmp_path):
    path = executed_notebook(tmp_path / "nb.ipynb", [
        [nbformat.v4.new_output("stream", name="stdout", text=LEAK)]], tags={0: [EXEMPT_TAG]})
    rep = scan_notebook(path, report=True)
    assert rep.findings == [] and rep.exempt_cells == [0]


def test_only_the_deidentification_example_cell_carries_the_exemption_tag():
    tagged = []
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, c in enumerate(json.loads(nb_path.read_text())["cells"]):
            if EXEMPT_TAG in c.get("metadata", {}).get("tags", []):
                tagged.append((nb_path.stem, i))
                src = "".join(c["source"])
                # made up in the cell itself; the loaded notes (docs) are never printed by it
                assert "EXAMPLE" in src and "docs" not in src
    assert [s for s, _ in tagged] == ["deidentification"]


def test_the_scan_takes_linear_time_on_long_runs_of_one_pattern():
    import time

    privacy.common_words()
    t0 = time.perf_counter()
    for text in ("Ab-" * 20000, "Aa" * 20000, "1-" * 20000, "a." * 20000, "MRN: " + "1-" * 20000,
                 "Abc " * 20000, "a@" * 20000):
        find_phi(text)
    # before the runs were made possessive, "Ab-" * 20000 alone took over two minutes
    assert time.perf_counter() - t0 < 30


def test_find_phi_offsets():
    text = "call 617-555-0142 now"
    [(a, b, cat, _)] = find_phi(text)
    assert text[a:b] == "617-555-0142" and cat == "phone"


# --- the gate ------------------------------------------------------------------------------------

def a_run(tmp_path, study, outputs, kind="restricted"):
    run_dir = tmp_path / study
    run_dir.mkdir()
    executed_notebook(run_dir / "notebook.ipynb", outputs)
    (run_dir / "manifest.json").write_text(json.dumps({"data": [{"name": "mine.csv", "kind": kind}]}))
    (run_dir / "metrics.json").write_text(json.dumps({"headline": {"ours": {"mean": 0.9, "sd": 0.01}},
                                                      "claims": []}))
    return RunResult(study, "smoke", True, str(run_dir), 1.0)


def test_check_chapter_says_where_and_what_to_do(tmp_path):
    r = a_run(tmp_path, "cancer_subtyping", [[table_output(COHORT)],
                                             [nbformat.v4.new_output("stream", name="stdout", text=LEAK)]])
    ok, msg, rep = check_chapter("cancer_subtyping", f"{r.path}/notebook.ipynb")
    assert not ok and len(rep.findings) == 3
    assert "cancer_subtyping" in msg and "cell(s) 1" in msg and "restricted" in msg
    assert "min_cell_count" in msg and "aggregates only" in msg
    assert LEAK_NAME.split()[1] not in msg and LEAK_MRN not in msg


def test_stage_book_refuses_a_planted_leak_and_stages_a_clean_chapter(tmp_path, monkeypatch):
    monkeypatch.setattr(runner.benchmark, "load", lambda *a, **k: {})
    monkeypatch.setattr(runner.benchmark, "tiers_markdown", lambda *a, **k: "tiers")
    monkeypatch.setattr(runner.benchmark, "performance_markdown", lambda *a, **k: "# Performance\n")
    leak = nbformat.v4.new_output("stream", name="stdout", text=LEAK)
    leaky = a_run(tmp_path, "cancer_subtyping", [[table_output(COHORT)], [leak]])
    clean = a_run(tmp_path, "adr_bcpnn", [[table_output(COHORT)]], kind="open")
    results = {"cancer_subtyping": leaky, "adr_bcpnn": clean}
    stage = stage_book(results, "smoke", tmp_path / "stage")
    studies_dir = stage / "book" / "studies"
    assert (studies_dir / "adr_bcpnn.ipynb").exists() and results["adr_bcpnn"].ok
    assert not (studies_dir / "cancer_subtyping.ipynb").exists()
    page = (studies_dir / "cancer_subtyping.md").read_text()
    assert "privacy gate refused" in page and "cell 1, output 0" in page
    for secret in (LEAK_NAME, *LEAK_NAME.split(), LEAK_PHONE, LEAK_MRN):
        assert secret not in page
    r = results["cancer_subtyping"]  # counts as failed, with the reason
    assert not r.ok and privacy.is_refusal(r)
    assert "refused by the privacy gate" in (stage / "book" / "scoreboard.md").read_text()


def test_privacy_scan_command(tmp_path):
    from helpers import precmed

    leaky = executed_notebook(tmp_path / "leaky.ipynb", [[nbformat.v4.new_output("stream", name="stdout",
                                                                                  text=LEAK)]])
    clean = executed_notebook(tmp_path / "clean.ipynb", [[table_output(COHORT)]])
    res = precmed("privacy-scan", str(clean))
    assert res.returncode == 0 and "0 likely PHI" in res.stdout
    res = precmed("privacy-scan", str(clean), str(leaky))
    assert res.returncode == 1 and "3 likely PHI" in res.stdout and LEAK_PHONE not in res.stdout


def test_precmed_book_exits_1_and_says_why_when_a_chapter_is_refused(monkeypatch, tmp_path):
    from helpers import precmed

    why = privacy.REFUSED + "cancer_subtyping: 1 likely PHI finding(s) in the outputs of cell(s) 7"
    refused = RunResult("cancer_subtyping", "smoke", False, str(tmp_path), 1.0, why)
    ok = RunResult("adr_bcpnn", "smoke", True, str(tmp_path), 1.0)
    monkeypatch.setattr(runner, "build_book", lambda *a, **k: ({"cancer_subtyping": refused, "adr_bcpnn": ok},
                                                               tmp_path / "index.html"))
    res = precmed("book", "--profile", "smoke")
    assert res.returncode == 1
    assert "1 study failed: cancer_subtyping" in res.stderr and "cell(s) 7" in res.stderr


# --- the benchmark's fixed samples (benchmarks/privacy_gate.py) ---------------------------------

BENCH = ROOT / "benchmarks"
# Recall floor per Safe Harbor category on the fixed held-out sample: 0.99 for every category.
RECALL_FLOOR: dict[str, float] = {}


def test_recall_per_category_on_the_fixed_sample_of_the_benchmark():
    lines = [json.loads(x) for x in (BENCH / "privacy_planted_sample.jsonl").read_text().splitlines()]
    hits: dict[str, list[bool]] = {}
    for rec in lines:
        spans = [(a, b) for a, b, _, _ in find_phi(rec["line"])]
        for a, b, cat, _ in rec["plants"]:
            hits.setdefault(cat, []).append(any(x < b and a < y for x, y in spans))
    assert len(hits) == 17 and sum(map(len, hits.values())) > 2500
    recall = {cat: sum(h) / len(h) for cat, h in hits.items()}
    low = {cat: r for cat, r in recall.items() if r < RECALL_FLOOR.get(cat, 0.99)}
    assert not low, f"recall below its floor: {low}"
    # and no line of the sample without an identifier is flagged
    assert not [r["line"] for r in lines if not r["plants"] and find_phi(r["line"])]


def test_no_line_of_the_chapters_real_outputs_is_flagged():
    recs = [json.loads(x) for x in (BENCH / "privacy_clean_lines.jsonl").read_text().splitlines()]
    assert len({r["study"] for r in recs}) == 11 and len(recs) > 3000
    flagged = [(r["study"], r["line"]) for r in recs if find_phi(r["line"], safe=r["safe"])]
    assert flagged == []
    # the exemption is doing work: without the runs' records their timestamps would be found
    assert any(find_phi(r["line"]) for r in recs if r["safe"])


def test_names_in_capitals_and_with_a_particle_but_not_product_names():
    for line in ("257             URSLA MORETTI  certificate number 3272367792",
                 "fold 3: Muriele WILLIAM and AUC 0.266", "352               Van Leeuwen     0.565"):
        assert [c for *_, c in find_phi(line)] and "name" in [f[2] for f in find_phi(line)], line
    for line in ("HYDROXYCUT NATURAL CAPLETS (NO PREF. NAME)       1    0.0",
                 "C4 EXTREME POWDER (ASSORTED FLAVORS)            1.022", "Bayes AUROC 0.71"):
        assert not find_phi(line), line


def test_names_quoted_after_a_lower_case_context_word_or_after_a_date():
    for line, name in (("['SWEENEY OLSEN', 0.622, 'fold 2']", "SWEENEY OLSEN"),
                       ("ValueError: row 729: cannot parse 'MURIELE WILLIAM'", "MURIELE WILLIAM"),
                       ("fold 2: ANDRWE O'CONNELL done; AUC 0.865", "ANDRWE O'CONNELL"),
                       ("name: LANSDOWNE and MURIELE WILLIAM, AUC 0.319", "MURIELE WILLIAM"),
                       ("| Thursday, September 18, 1995 | pt Foley | 0.469 |", "Foley"),
                       ("['age: 104', 'patient Walker', 0.731]", "Walker"),
                       ("['S71D2MKT64MS07KN4', 'LEEUWEN, Van', 0.034]", "LEEUWEN, Van"),
                       ("date=7 Sep Ferdinand Halfpenny home_phone=935.773.0052", "Ferdinand Halfpenny")):
        names = [line[a:b] for a, b, cat, _ in find_phi(line) if cat == "name"]
        assert name in names, (line, names)
    for line in ("CLINICAL STRENGTH GREEN TEA CAPS                1.022", "patient Split 0.5", "pt AUC 0.71",
                 "the patient level"):
        assert not [f for f in find_phi(line) if f[2] == "name"], line
