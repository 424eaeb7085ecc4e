"""The three EHR studies read a user's MIMIC-III folder through one reader: a malformed table is
refused before anything runs (exit status 2) with its file and line, and no run folder is made.

The reader's own unit tests (tests/unit/test_ehr.py) cover every quirk; this checks that each
study's `data` parameter reaches it and reports its errors the same way.
"""

import pytest
from helpers import precmed

EHR_STUDIES = ["heart_failure", "suicide_risk", "deep_patient"]
ADM = "ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME\n"
DX = "ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE\n"
GOOD_ADM = ["1,7,100,2101-01-01 10:00:00", "2,8,101,2101-02-01 10:00:00"]
GOOD_DX = ["1,7,100,1,4019", "2,8,101,1,311"]

CASES = {
    "bad date": ({"ADMISSIONS.csv": ADM + "1,7,100,2101-01-01 10:00:00\n2,7,101,2101-13-45 10:00:00\n",
                  "DIAGNOSES_ICD.csv": DX + "1,7,100,1,4019\n"},
                 "ADMISSIONS.csv, line 3: ADMITTIME '2101-13-45 10:00:00' is not a date"),
    "extra field": ({"ADMISSIONS.csv": ADM + "\n".join(GOOD_ADM) + "\n",
                     "DIAGNOSES_ICD.csv": DX + "1,7,100,1,4019,extra\n"},
                    "DIAGNOSES_ICD.csv, line 2: 6 fields"),
    "bad subject": ({"ADMISSIONS.csv": ADM + "\n".join(GOOD_ADM) + "\n",
                     "DIAGNOSES_ICD.csv": DX + "1,seven,100,1,4019\n"},
                    "DIAGNOSES_ICD.csv, line 2: SUBJECT_ID 'seven'"),
    "admission of another patient": ({"ADMISSIONS.csv": ADM + "\n".join(GOOD_ADM) + "\n",
                                      "DIAGNOSES_ICD.csv": DX + "1,7,100,1,4019\n2,8,100,1,311\n"},
                                     "DIAGNOSES_ICD.csv, line 3: HADM_ID 100 belongs to another SUBJECT_ID"),
    "missing column": ({"ADMISSIONS.csv": ADM + "\n".join(GOOD_ADM) + "\n",
                        "DIAGNOSES_ICD.csv": DX.replace("ICD9_CODE", "ICD_CODE") + "\n".join(GOOD_DX) + "\n"},
                       "DIAGNOSES_ICD.csv, line 1: missing column(s) ICD9_CODE"),
    "no admissions table": ({"DIAGNOSES_ICD.csv": DX + "\n".join(GOOD_DX) + "\n"}, "no ADMISSIONS"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("study", EHR_STUDIES)
def test_malformed_mimic_folder_is_refused_with_file_and_line(tmp_path, study, case):
    files, expected = CASES[case]
    folder = tmp_path / "mimic"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    runs = tmp_path / "runs"
    r = precmed("run", study, "-p", f"data={folder}", "--runs-dir", str(runs))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert not runs.exists()
