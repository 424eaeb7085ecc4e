"""Readers of the pharmacovigilance formats (adr_bcpnn): count tables and report-level rows."""

import pytest

from precmed_utils.errors import DataError
from precmed_utils.formats import data


def _csv(tmp_path, text, name="pv.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_tables_and_reports():
    (pv, info) = data.load("faers_statin49")
    assert pv.kind == "table" and pv.table.shape == (50, 7) and "Other" in pv.exclude
    assert pv.table.loc["Rhabdomyolysis", "Atorvastatin"] == 2041
    caers, _ = data.load("caers_2012")
    assert caers.kind == "reports" and caers.rows["report_id"].nunique() == 3356
    assert set(caers.rows["stratum"]) == {"Female", "Male", "Not Available"}
    ref, _ = data.load("ohdsi_reference_sets")
    assert {"drug", "outcome", "truth", "source"} <= set(ref.columns)
    assert ref[(ref.drug == "simvastatin") & (ref.outcome == "Rhabdomyolysis #1")]["truth"].item() == 1


def test_wide_and_long_count_tables_agree(tmp_path):
    wide = _csv(tmp_path, "event,DrugA,DrugB,Other\nNausea,3,0,10\nRash,1,2,20\nOther AE,5,5,100\n", "w.csv")
    long = _csv(tmp_path, "drug,event,count\nDrugA,Nausea,3\nDrugA,Rash,1\nDrugB,Rash,2\n"
                "Other,Nausea,10\nOther,Rash,20\nDrugA,Other AE,5\nDrugB,Other AE,5\nOther,Other AE,100\n",
                "l.csv")
    a = data.read_pharmacovigilance(wide).table
    b = data.read_pharmacovigilance(long).table
    assert a.loc[b.index, b.columns].equals(b.loc[b.index, b.columns].astype(float))


def test_report_rows_with_dates(tmp_path):
    p = _csv(tmp_path, "report_id,drug,event,stratum,date\n1,A,x,F,2024-01-03\n1,B,x,F,2024-01-03\n"
             "2,A,y,M,2024-02-01\n")
    pv = data.read_pharmacovigilance(p)
    assert pv.kind == "reports" and str(pv.rows["date"].dtype).startswith("datetime64")


@pytest.mark.parametrize("text,expected", [
    ("event,A,B\nx,1,oops\ny,2,3\n", "line 2, column 'B': 'oops' is not a non-negative integer"),
    ("event,A,B\nx,1,-2\ny,2,3\n", "is not a non-negative integer"),
    ("event,A,B\nx,1,2.5\ny,2,3\n", "is not a non-negative integer"),
    ("event,A,B\nx,1,2\nx,2,3\n", "event names repeated"),
    ("event\nx\n", "only one column"),
    ("event,A\nx,1\n", "at least two drugs or two events"),
    # the one rule set of the reader and check-data names the empty cell's column as well
    ("drug,event,count\nA,,3\nB,y,1\n", "line 2, column 'event': empty drug or event name"),
    ("report_id,drug,event\n1,A,\n2,B,y\n", "line 2, column 'event': empty value"),
    ("report_id,drug,event,date\n1,A,x,yesterday\n2,B,y,2024-01-01\n", "line 2, column 'date'"),
    ("report_id,drug,event\n1,A,x\n1,B,y\n", "a single report"),
    ("report_id,drug\n1,A\n", "missing column(s) ['event']"),
    ("event,A,B\n", "no data rows"),
])
def test_malformed_files_are_explained(tmp_path, text, expected):
    with pytest.raises(DataError) as err:
        data.read_pharmacovigilance(_csv(tmp_path, text))
    assert expected in str(err.value)
