"""One set of rules per table format: a malformed file gives the same problem (file, location,
message) through its reader (raising at the first problem, as data.load and the notebooks see it)
and through `check_data` (collecting every problem, as `precmed check-data` lists them)."""

import pytest
from test_ehr import _mini

from precmed_utils.errors import DataError, Problems
from precmed_utils.formats import data, ehr
from precmed_utils.formats.checkdata import check_data, errors_of
from precmed_utils.studies import drug_response


def _table(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def _screen(tmp_path, expr, resp):
    folder = tmp_path / "screen"
    folder.mkdir()
    (folder / "expression.csv").write_text(expr)
    (folder / "response.csv").write_text(resp)
    return folder


def _raised(read, path) -> str:
    with pytest.raises(DataError) as err:
        read(path)
    return str(err.value)


def _in_raised(text: str, file: str, location: str, message: str) -> bool:
    """Whether a raised DataError names this problem: 'file, location: message', or in a
    'file: malformed data:' list, '  - location: message'."""
    one = f"{file}, {location}: {message}" if location else f"{file}: {message}"
    listed = f"{file}: malformed data:\n" in text and f"  - {location}: {message}" in text
    return one in text or listed


GOOD_EXPR = "cell_line,g1,g2\n" + "".join(f"L{i},{i},1\n" for i in range(12))
GOOD_RESP = "cell_line,drug,response\n" + "".join(f"L{i},dA,{i % 3}\n" for i in range(12))

# study, reader, how to write the malformed input, the file the first problem is in
CASES = {
    "labelled matrix, a cell": ("cancer_subtyping", data.read_labelled_matrix,
                                lambda t: _table(t, "m.csv", "label,g1,g2\nA,1,x\nA,,2\nB,1,2\nB,2,2\n"),
                                "m.csv"),
    "labelled matrix, header": ("cancer_subtyping", data.read_labelled_matrix,
                                lambda t: _table(t, "m.csv", "a,b\n1,2\n"), "m.csv"),
    "labelled matrix, classes": ("cancer_subtyping", data.read_labelled_matrix,
                                 lambda t: _table(t, "m.csv", "label,g1\nx,1\nx,2\ny,3\n"), "m.csv"),
    "survival table, cells": ("breast_cancer_prognosis", data.read_survival_table,
                              lambda t: _table(t, "s.csv", "sample,event,time,gene_a\np1,2,100,0.1\n"
                                               "p2,1,-4,x\np1,0,300,NA\n"), "s.csv"),
    "survival table, width": ("breast_cancer_prognosis", data.read_survival_table,
                              lambda t: _table(t, "s.csv", "event,time,gene_a\n1,100,0.1,9\n"), "s.csv"),
    "count table": ("adr_bcpnn", data.read_pharmacovigilance,
                    lambda t: _table(t, "c.csv", "event,A,B\nx,1,-2\nx,2.5,3\n"), "c.csv"),
    "long count table": ("adr_bcpnn", data.read_pharmacovigilance,
                         lambda t: _table(t, "c.csv", "drug,event,count\nA,,3\nB,y,z\n"), "c.csv"),
    "report table": ("adr_bcpnn", data.read_pharmacovigilance,
                     lambda t: _table(t, "r.csv", "report_id,drug,event,date\n1,A,,2024-01-01\n"
                                      "2,B,y,yesterday\n"), "r.csv"),
    "drug screen, expression": ("drug_response", drug_response.read_user_screen,
                                lambda t: _screen(t, "cell_line,g1,g2\nL1,1,x\nL1,2,3\n", GOOD_RESP),
                                "expression.csv"),
    "drug screen, response": ("drug_response", drug_response.read_user_screen,
                              lambda t: _screen(t, GOOD_EXPR, "cell_line,drug,response\nL1,dA,high\n"
                                                "L1,dA,2\n"), "response.csv"),
    "MIMIC-III": ("heart_failure", ehr.read_mimic3,
                  lambda t: _mini(t / "mimic", adm_rows=["1,7,100,2150-13-01", "2,x7,101,2150-01-02",
                                                         "3,8,101,2150-01-03"],
                                  dx_rows=["1,8,100,1,4019", "2,7,100,1,4280,extra"]), "DIAGNOSES_ICD.csv"),
    "MIMIC-III, cells": ("deep_patient", ehr.read_mimic3,
                         lambda t: _mini(t / "mimic", adm_rows=["1,7,100,2150-01-01", "2,x7,101,2150-01-02",
                                                                "3,8,101,2150-01-03"]), "ADMISSIONS.csv"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_reader_and_check_data_report_the_same_problem(case, tmp_path):
    study, read, make, first_file = CASES[case]
    path = make(tmp_path)
    listed = errors_of(check_data(study, path))
    assert listed, case
    raised = _raised(read, path)
    # the reader raises at its first problem, which check-data lists first, word for word
    first = listed[0]
    assert first.file.endswith(first_file)
    assert _in_raised(raised, first.file, first.location, first.message), (raised, listed)
    # a reader's error listing a table's cells ('malformed data:') words each as check-data does
    for p in listed:
        if p.file == first.file and f"  - {p.location}: " in raised:
            assert f"  - {p.location}: {p.message}" in raised, (p, raised)
    # collecting, the reader itself gives exactly what check-data lists
    report = Problems(collect=True)
    assert read(path, report=report) is None
    assert errors_of(report.items) == listed


@pytest.mark.parametrize("case", list(CASES))
def test_data_load_and_the_runner_reject_it(case, tmp_path):
    study, _read, make, first_file = CASES[case]
    path = make(tmp_path)
    for call in (lambda: data.load(str(path), study=study), lambda: data.check_user_file(study, path)):
        with pytest.raises(DataError, match=first_file):
            call()
