"""precmed_utils.formats.checkdata: for each of the nine user formats, a valid file passes and a broken
one has ALL its problems reported, each with its file and location. The fixtures are the ones
the readers' own tests write."""

import pytest
from helpers import write_matrix
from test_breast_cancer_data import survival_table, write
from test_corpora import _docs as brat_docs
from test_deid import XML as DEID_XML
from test_drug_response import _screen
from test_ehr import _mini
from test_relations import CON, REL, TXT, _note
from test_temporal import _anafora, _entity, _xml

from precmed_utils.errors import DataError
from precmed_utils.formats import corpora, data
from precmed_utils.formats.checkdata import check_data, errors_of


def _found(problems, file_end, location, words):
    """Whether one problem is in a file ending ``file_end``, at ``location``, saying ``words``."""
    return any(p.file.endswith(file_end) and p.location == location and words in p.message
               for p in problems)


def _assert_all(problems, expected):
    errors = errors_of(problems)
    for file_end, location, words in expected:
        assert _found(errors, file_end, location, words), (file_end, location, words, errors)


# --- tables -------------------------------------------------------------------------------------

def test_labelled_matrix(tmp_path):
    assert check_data("cancer_subtyping", write_matrix(tmp_path / "ok.csv")) == []
    bad = tmp_path / "bad.csv"
    bad.write_text("label,g1,g2\nA,1,x\nA,,2\n,3,4\nB,1,2\n")
    _assert_all(check_data("cancer_subtyping", bad), [
        ("bad.csv", "line 2, column 'g2'", "'x' is not a number"),
        ("bad.csv", "line 3, column 'g1'", "missing value"),
        ("bad.csv", "line 4, column 'label'", "empty label"),
        ("bad.csv", "column 'label'", "class 'B' has 1 sample(s)"),
    ])


def test_survival_table(tmp_path):
    assert check_data("breast_cancer_prognosis", write(tmp_path, survival_table())) == []
    df = survival_table().astype(object)
    df.loc[0, "event"], df.loc[1, "time"], df.loc[2, "gene_a"] = 2, -3, "high"
    _assert_all(check_data("breast_cancer_prognosis", write(tmp_path, df, "bad.csv")), [
        ("bad.csv", "line 2, column 'event'", "expected 0 (censored) or 1"),
        ("bad.csv", "line 3, column 'time'", "positive number of days"),
        ("bad.csv", "line 4, column 'gene_a'", "'high' is not a number"),
    ])


def test_pharmacovigilance_tables(tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text("event,A,B\nx,1,2\ny,3,0\n")
    assert check_data("adr_bcpnn", ok) == []
    bad = tmp_path / "bad.csv"
    bad.write_text("event,A,B\nx,1,-2\nx,2.5,3\n")
    _assert_all(check_data("adr_bcpnn", bad), [
        ("bad.csv", "line 2, column 'B'", "not a non-negative integer count"),
        ("bad.csv", "line 3, column 'A'", "not a non-negative integer count"),
        ("bad.csv", "line 3, column 'event'", "repeated"),
    ])
    # R's write.csv and pandas' to_csv leave the row names' header cell empty: accepted by both
    r_style = tmp_path / "r_style.csv"
    r_style.write_text('"","A","B"\r\n"x",1,2\r\n"y",3,0\r\n')
    assert check_data("adr_bcpnn", r_style) == []
    assert data.read_count_table(r_style).table.loc["y", "A"] == 3
    reports = tmp_path / "reports.csv"
    reports.write_text("report_id,drug,event,date\n1,A,,2024-01-01\n2,B,y,yesterday\n")
    _assert_all(check_data("adr_bcpnn", reports), [
        ("reports.csv", "line 2, column 'event'", "empty value"),
        ("reports.csv", "line 3, column 'date'", "neither an ISO date"),
    ])


def test_drug_screen(tmp_path):
    assert errors_of(check_data("drug_response", _screen(tmp_path / "ok"))) == []
    folder = _screen(tmp_path / "bad", expr="cell_line,g1,g2\nL1,1,x\nL1,2,3\n",
                     resp="cell_line,drug,response\nL1,dA,high\nL1,dA,2\nZ9,dA,1\n")
    problems = check_data("drug_response", folder)
    _assert_all(problems, [
        ("expression.csv", "line 2, column 'g2'", "'x' is not a number"),
        ("expression.csv", "line 3, column 'cell_line'", "cell-line id repeated"),
        ("response.csv", "line 2, column 'response'", "'high' is not a number"),
        ("response.csv", "line 3", "cell line and drug repeated"),
    ])
    assert any(p.warning and "'Z9' is not in expression.csv" in p.message for p in problems)


def test_mimic3_tables(tmp_path):
    for study in ("heart_failure", "suicide_risk", "deep_patient"):
        assert check_data(study, _mini(tmp_path / "ok")) == []
    folder = _mini(tmp_path / "bad", adm_rows=["1,7,100,2150-13-01", "2,x7,101,2150-01-02",
                                              "3,8,101,2150-01-03"],
                   dx_rows=["1,8,100,1,4019", "2,7,100,1,4280,extra"])
    _assert_all(check_data("heart_failure", folder), [
        ("ADMISSIONS.csv", "line 2", "ADMITTIME '2150-13-01' is not a date"),
        ("ADMISSIONS.csv", "line 3", "SUBJECT_ID 'x7' is not a whole number"),
        ("ADMISSIONS.csv", "line 4", "HADM_ID 101 appears twice"),
        ("DIAGNOSES_ICD.csv", "line 2", "HADM_ID 100 belongs to another SUBJECT_ID"),
        ("DIAGNOSES_ICD.csv", "line 3", "6 fields where the header has 5"),
    ])


# --- text formats -------------------------------------------------------------------------------

def test_brat_folder(tmp_path):
    ok = corpora.write_brat(brat_docs(), tmp_path / "ok")
    assert errors_of(check_data("concept_extraction", ok)) == []
    bad = corpora.write_brat(brat_docs(), tmp_path / "bad")
    ann = next(bad.rglob("*.ann"))
    ann.write_text("T1\tDrug 0 9999\tx\nX2 junk\nT3\tDrug 0 3\tPat\nT3\tDrug 0 3\tPat\n")
    _assert_all(check_data("concept_extraction", bad), [
        (ann.name, "line 1", "offsets 0 9999 of T1 are outside"),
        (ann.name, "line 2", "unknown annotation line"),
        (ann.name, "line 4", "entity id T3 appears twice"),
    ])


def test_conll_file(tmp_path):
    ok = corpora.write_conll(brat_docs(), tmp_path / "ok.conll")
    assert errors_of(check_data("concept_extraction", ok)) == []
    bad = tmp_path / "bad.conll"
    bad.write_text("a B-Drug\nb X-Drug\nlonely\nc O\n")
    _assert_all(check_data("concept_extraction", bad), [
        ("bad.conll", "line 2", "malformed tag 'X-Drug'"),
        ("bad.conll", "line 3", "expected 'token<TAB>tag'"),
    ])


def test_anafora_folder(tmp_path):
    for sub in ("ok", "bad", "broken"):
        (tmp_path / sub).mkdir()
    assert errors_of(check_data("temporal_events", _anafora(tmp_path / "ok", _xml(_entity())))) == []
    xml = _xml(_entity(span="18,999"), _entity(span="x,y", eid="2@e"), _entity(span="20,10", eid="3@e"))
    problems = check_data("temporal_events", _anafora(tmp_path / "bad", xml))
    xml_name = ".Temporal-Relation.gold.completed.xml"
    _assert_all(problems, [
        (xml_name, "line 6, <span> of 1@e@doc1@gold", "end 999 is past the end"),
        (xml_name, "line 12, <span> of 2@e", "'x,y' is not 'start,end'"),
        (xml_name, "line 18, <span> of 3@e", "start 20 is not before end 10"),
    ])
    broken = _anafora(tmp_path / "broken", "<data><annotations></data>")
    _assert_all(check_data("temporal_events", broken),
                [(xml_name, "line 1, column 22", "not well-formed XML")])


def test_i2b2_2014_xml(tmp_path):
    ok = tmp_path / "ok"
    ok.mkdir()
    for name in ("110-01.xml", "111-01.xml", "112-01.xml"):
        (ok / name).write_text(DEID_XML)
    assert errors_of(check_data("deidentification", ok)) == []
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("110-01.xml", "111-01.xml", "112-01.xml"):
        (bad / name).write_text(DEID_XML)
    broken = DEID_XML.replace('end="51"', 'end="999"').replace('start="28"', 'start="a"')
    (bad / "110-01.xml").write_text(broken)
    (bad / "111-01.xml").write_text(DEID_XML.replace("</TAGS>", ""))
    _assert_all(check_data("deidentification", bad), [
        ("110-01.xml", "tag 2 <NAME id='P1'>", "start and end must be integer offsets"),
        ("110-01.xml", "tag 3 <LOCATION id='P2'>", "offsets 46..999 are outside"),
        ("111-01.xml", "line 10, column 3", "not well-formed XML"),
    ])


def test_i2b2_2010_relations(tmp_path):
    assert errors_of(check_data("relation_extraction", _note(tmp_path / "ok"))) == []
    con = CON.replace('t="test"', 't="exam"') + 'c="x" 9:0 9:0||t="problem"\n'
    rel = REL + 'c="aspirin" 1:0 1:0||r="TrAP"||c="nothing" 1:2 1:2\nbroken line\n'
    folder = _note(tmp_path / "bad", con=con, rel_text=rel)
    _assert_all(check_data("relation_extraction", folder), [
        ("n1.con", "line 3", "concept type 'exam'"),
        ("n1.con", "line 6", "line 9 does not exist"),
        ("n1.rel", "line 3", "no concept at 1:2 1:2"),
        ("n1.rel", "line 4", "malformed relation line"),
    ])
    assert TXT  # the text the concepts point into is the readers' own fixture


# --- what the runner and the notebooks see -------------------------------------------------------

def test_reader_rejections_become_problems(tmp_path):
    """A file every cell of which is fine but which the study cannot use is still reported."""
    df = survival_table()
    p = write(tmp_path, df.assign(time=df["time"] / 365.25))
    problems = check_data("breast_cancer_prognosis", p)
    assert len(problems) == 1 and "look like years" in problems[0].message


def test_check_user_file_and_load_list_every_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,g1,g2\nA,1,x\nA,y,2\nB,1,2\nB,2,2\n")
    for call in (lambda: data.check_user_file("cancer_subtyping", bad),
                 lambda: data.load(str(bad), study="cancer_subtyping")):
        with pytest.raises(DataError) as err:
            call()
        text = str(err.value)
        assert "bad.csv: malformed data:" in text
        assert "line 2, column 'g2': 'x' is not a number" in text
        assert "line 3, column 'g1': 'y' is not a number" in text


def test_the_list_is_capped(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,g1\n" + "".join(f"{'AB'[i % 2]},x\n" for i in range(300)))
    problems = check_data("cancer_subtyping", bad, limit=50)
    assert len(problems) == 51 and problems[-1].message == "... and 250 more problem(s) not listed"


def test_total_errors_counts_the_problems_beyond_the_listing_limit():
    from precmed_utils.errors import Problem
    from precmed_utils.formats.checkdata import total_errors

    probs = [Problem("f", "line 2", "bad"), Problem("f", "line 3", "odd", warning=True),
             Problem("f", "", "... and 41 more problem(s) not listed")]
    assert total_errors(probs) == 42
    assert total_errors([]) == 0
