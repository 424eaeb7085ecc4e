"""The EHR readers of precmed_utils.formats.ehr_formats (MIMIC-IV, OMOP CDM, MEDS, and read_ehr's choice of
layout): small hand-built folders written here, valid and malformed, through the readers and through
`precmed check-data`; the MIMIC-III demo converted to OMOP, MEDS and MIMIC-IV (tests/helpers.py)
read back with the same patients, events and heart-failure cohort; the phenotype patterns of each
vocabulary."""

import dataclasses
import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import ROOT, mimic3_to_meds, mimic3_to_mimic4, mimic3_to_omop, precmed

from precmed_utils.errors import DataError
from precmed_utils.formats import ehr, ehr_formats, phenotypes
from precmed_utils.formats.checkdata import check_data, errors_of
from precmed_utils.studies import heart_failure
from precmed_utils.studies.deep_patient import candidate_diseases

DEMO = ROOT / "data" / "mimic3_demo"
STUDIES = ("heart_failure", "suicide_risk", "deep_patient")


def _flat(e: ehr.EHR) -> list[tuple[int, int, str]]:
    """(subject, day, code string) of every event, sorted."""
    codes = e.vocab["code"].to_numpy()
    subj = e.patients["subject"].to_numpy()
    ev = e.events
    return sorted(
        zip(subj[ev["patient_id"]].tolist(), ev["day"].tolist(), codes[ev["code"]].tolist(), strict=True)
    )


def _cohort(e: ehr.EHR) -> pd.DataFrame:
    c = heart_failure.matched_case_control(
        e, controls_per_case=2, prediction_window_days=0, min_obs_visits=0, seed=3
    )
    c["subject"] = e.patients["subject"].to_numpy()[c["patient_id"]]
    return c.drop(columns="patient_id").reset_index(drop=True)


# --- the MIMIC-III demo in every layout -----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    return {
        "omop csv": mimic3_to_omop(DEMO, root / "omop"),
        "omop parquet": mimic3_to_omop(DEMO, root / "omop_pq", "parquet"),
        "meds": mimic3_to_meds(DEMO, root / "meds"),
        "mimic4": mimic3_to_mimic4(DEMO, root / "mimic4"),
    }


SOURCE = {"omop csv": ("omop", "OMOP"), "omop parquet": ("omop", "OMOP"), "meds": ("meds", "MEDS"),
          "mimic4": ("mimic4", "MIMIC-IV")}


@pytest.mark.parametrize("layout", list(SOURCE))
def test_demo_converted_reads_back_the_same(demo_layouts, layout):
    m3 = ehr.read_mimic3(DEMO)
    e = ehr_formats.read_ehr(demo_layouts[layout])
    assert (e.source, ehr_formats.detect_layout(demo_layouts[layout])) == SOURCE[layout]
    # same patients, sexes, ages (MEDS: at the first timed row, which may be a prescription's
    # midnight before the admission's hour, so within 0.1 year; MIMIC-IV: anchor_age is whole
    # years, so within half a year, and the same 90 for the ages above 89)
    assert e.patients["subject"].tolist() == m3.patients["subject"].tolist()
    assert e.patients["sex"].tolist() == m3.patients["sex"].tolist()
    tol = {"meds": 0.1, "mimic4": 0.5}.get(layout, 0.0)
    assert np.allclose(e.patients["age"], m3.patients["age"], atol=tol + 1e-9)
    assert (e.patients["age"] == 90).tolist() == (m3.patients["age"] == 90).tolist()
    if layout == "mimic4":
        assert (e.patients["age"] % 1 == 0).all() and (e.patients["age"] != m3.patients["age"]).any()
    # the same events: code strings and days
    assert _flat(e) == _flat(m3)
    title = e.vocab.set_index("code").at["D:4280", "title"]
    if layout == "mimic4":  # MIMIC-IV's dictionaries have only the long title
        d = pd.read_csv(DEMO / "D_ICD_DIAGNOSES.csv.gz", dtype=str).set_index("ICD9_CODE")
        assert title == d.at["4280", "LONG_TITLE"] != d.at["4280", "SHORT_TITLE"]
    else:
        assert title == m3.vocab.set_index("code").at["D:4280", "title"]
    # the same heart-failure cohort (the phenotype's ICD-9 patterns: only D: codes are present)
    assert phenotypes.patterns("heart_failure", e) == ["D:428*"]
    got, want = _cohort(e), _cohort(m3)
    assert want["case"].sum() > 5
    if layout == "mimic4":
        # the same cases; controls are matched on 5-year age bands, which whole-year ages can
        # cross, so they are MIMIC-III's controls with MIMIC-IV's ages
        cols = ["subject", "set_id", "index_day", "obs_start", "obs_end", "sex"]
        pd.testing.assert_frame_equal(got.loc[got["case"], cols].reset_index(drop=True),
                                      want.loc[want["case"], cols].reset_index(drop=True))
        want = _cohort(dataclasses.replace(m3, patients=m3.patients.assign(age=e.patients["age"])))
    pd.testing.assert_frame_equal(got, want)


def test_meds_notes_count_the_dropped_codes(demo_layouts):
    e = ehr_formats.read_meds(demo_layouts["meds"])
    n_adm = len(pd.read_csv(DEMO / "ADMISSIONS_repaired_dates.csv"))
    assert (
        f"data: {n_adm} rows of codes the EHR studies do not use (labs, admissions, ...) dropped" in e.notes
    )


# --- MIMIC-IV ------------------------------------------------------------------------------------


def _write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


MIMIC4 = {
    "patients.csv.gz": "subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
    "1,F,60,2150,2008 - 2010,\n2,M,91,2140,2008 - 2010,\n",
    "admissions.csv.gz": "subject_id,hadm_id,admittime,dischtime\n"
    "1,11,2150-03-01 10:00:00,2150-03-05 10:00:00\n"
    "1,12,2153-06-01 08:00:00,2153-06-04 08:00:00\n2,21,2141-01-10 12:00:00,2141-01-12 12:00:00\n",
    "diagnoses_icd.csv.gz": "subject_id,hadm_id,seq_num,icd_code,icd_version\n1,11,1,4019,9\n1,12,1,I509,10\n"
    "1,12,2,I10,10\n2,21,1,4280,9\n2,99,1,4019,9\n2,21,2,,9\n",
    "procedures_icd.csv.gz": "subject_id,hadm_id,seq_num,chartdate,icd_code,icd_version\n"
    "1,12,1,2153-06-02,02HV33Z,10\n2,21,1,2141-01-11,3722,9\n",
    "prescriptions.csv.gz": "subject_id,hadm_id,pharmacy_id,starttime,stoptime,drug\n"
    "1,12,1,2153-05-31 20:00:00,2153-06-03 00:00:00,Furosemide\n"
    "2,21,2,,2141-01-11 00:00:00,Metoprolol  Tartrate\n",
    "d_icd_diagnoses.csv.gz": 'icd_code,icd_version,long_title\nI509,10,"Heart failure, unspecified"\n'
    '4280,9,"Congestive heart failure, unspecified"\n',
}


def _mimic4(folder, **replace):
    for name, text in {**MIMIC4, **replace}.items():
        if text is not None:
            _write(folder / "hosp" / name, text)
    return folder


def test_mimic4_codes_days_ages_and_notes(tmp_path):
    folder = _mimic4(tmp_path / "mimic-iv")
    assert ehr_formats.detect_layout(folder) == "MIMIC-IV"
    e = ehr_formats.read_ehr(folder)
    assert e.source == "mimic4"
    got = _flat(e)
    assert _flat(ehr_formats.read_ehr(folder / "hosp")) == got  # the parent of hosp/ or hosp/ itself
    # day 0 of patient 1 is 2150-03-01; the second admission 2153-06-01 is day 1188; furosemide
    # started the evening before it (day 1187); patient 2's prescription has no starttime: its admission
    assert got == sorted(
        [
            (1, 0, "D:4019"),
            (1, 1188, "D10:I10"),
            (1, 1188, "D10:I509"),
            (1, 1188, "P10:02HV33Z"),
            (1, 1187, "M:furosemide"),
            (2, 0, "D:4280"),
            (2, 0, "P:3722"),
            (2, 0, "M:metoprolol tartrate"),
        ]
    )
    assert e.patients["sex"].tolist() == ["F", "M"]
    assert e.patients["age"].tolist() == [60.0, 90.0]  # 91 (MIMIC-IV's >89) + 1 year -> 90
    voc = e.vocab.set_index("code")
    assert (
        voc.at["D10:I509", "title"] == "Heart failure, unspecified"
        and voc.at["D10:I509", "chapter"] == "circulatory"
    )
    assert voc.at["P10:02HV33Z", "kind"] == "procedure" and voc.at["M:furosemide", "kind"] == "medication"
    assert "diagnoses_icd: 1 rows without a code dropped" in e.notes
    assert "diagnoses_icd: 1 rows whose hadm_id has no admission dropped" in e.notes
    assert "prescriptions: 1 rows without starttime dated at their admission" in e.notes
    assert "1 ages above 89 set to 90" in e.notes
    # ICD-9 and ICD-10 heart failure both count; the ICD-10 patient is a case at day 1188
    pats = phenotypes.patterns("heart_failure", e)
    assert "D:428*" in pats and "D10:I50*" in pats
    assert e.first_day(e.code_ids(pats)).tolist() == [1188.0, 0.0]
    # deep_patient's candidate diseases: ICD-9 categories and D10: categories, side by side
    names = candidate_diseases(e).names
    assert "D10:I50" in names and "428" in names and "401" in names


MIMIC4_BAD = {
    "missing table": ({"diagnoses_icd.csv.gz": None}, "hosp", "", "no diagnoses_icd table"),
    "missing column": (
        {"admissions.csv.gz": "subject_id,hadm_id,dischtime\n1,11,2150-03-05\n"},
        "admissions.csv.gz",
        "line 1",
        "missing column(s) admittime",
    ),
    "bad date": (
        {"admissions.csv.gz": MIMIC4["admissions.csv.gz"].replace("2153-06-01 08:00:00", "2153-13-01 08:00")},
        "admissions.csv.gz",
        "line 3, column 'admittime'",
        "'2153-13-01 08:00' is not a date",
    ),
    "bad id": (
        {"diagnoses_icd.csv.gz": MIMIC4["diagnoses_icd.csv.gz"].replace("1,12,1,I509", "x1,12,1,I509")},
        "diagnoses_icd.csv.gz",
        "line 3, column 'subject_id'",
        "'x1' is not a whole number",
    ),
    "missing id": (
        {"admissions.csv.gz": MIMIC4["admissions.csv.gz"].replace("1,12,", ",12,")},
        "admissions.csv.gz",
        "line 3, column 'subject_id'",
        "missing value",
    ),
    "bad version": (
        {"procedures_icd.csv.gz": MIMIC4["procedures_icd.csv.gz"].replace("3722,9", "3722,11")},
        "procedures_icd.csv.gz",
        "line 3, column 'icd_version'",
        "11 is not an ICD version",
    ),
    "another subject": (
        {"diagnoses_icd.csv.gz": MIMIC4["diagnoses_icd.csv.gz"].replace("2,21,1,4280", "1,21,1,4280")},
        "diagnoses_icd.csv.gz",
        "line 5",
        "hadm_id 21 belongs to another subject_id",
    ),
    "repeated hadm": (
        {"admissions.csv.gz": MIMIC4["admissions.csv.gz"] + "2,21,2141-02-10 12:00:00,\n"},
        "admissions.csv.gz",
        "line 5, column 'hadm_id'",
        "hadm_id 21 appears 2 times",
    ),
    "extra field": (
        {"prescriptions.csv.gz": MIMIC4["prescriptions.csv.gz"] + "2,21,3,,,x,y\n"},
        "prescriptions.csv.gz",
        "line 4",
        "7 fields where the header has 6",
    ),
}


@pytest.mark.parametrize("case", list(MIMIC4_BAD))
def test_mimic4_malformed(tmp_path, case):
    replace, file, loc, msg = MIMIC4_BAD[case]
    folder = _mimic4(tmp_path / "m", **replace)
    where = f"{file}, {loc}: " if loc else f"{file}: "
    with pytest.raises(DataError) as err:
        ehr_formats.read_ehr(folder)
    assert where + msg in str(err.value)
    problems = errors_of(check_data("heart_failure", folder))
    assert any(p.file.endswith(file) and p.location == loc and msg in p.message for p in problems), problems


def test_check_data_lists_every_bad_cell(tmp_path):
    adm = MIMIC4["admissions.csv.gz"].replace("2153-06-01 08:00:00", "soon").replace("2,21,", "two,21,")
    folder = _mimic4(tmp_path / "m", **{"admissions.csv.gz": adm})
    found = {(p.location, p.message) for p in errors_of(check_data("deep_patient", folder))}
    assert found == {
        (
            "line 3, column 'admittime'",
            "'soon' is not a date (expected e.g. 2180-07-23 or 2180-07-23 12:36:00)",
        ),
        ("line 4, column 'subject_id'", "'two' is not a whole number"),
    }


# --- OMOP ------------------------------------------------------------------------------------------

OMOP = {
    "person": pd.DataFrame(
        {
            "person_id": [5, 6, 7],
            "gender_concept_id": [8532, 8507, 0],
            "year_of_birth": [1950, 1940, 1980],
            "month_of_birth": [6, None, 1],
            "day_of_birth": [15, None, 1],
        }
    ),
    "visit_occurrence": pd.DataFrame(
        {
            "visit_occurrence_id": [50, 51, 60],
            "person_id": [5, 5, 6],
            "visit_start_date": ["2010-06-15", "2011-01-10", "2012-03-03"],
        }
    ),
    "condition_occurrence": pd.DataFrame(
        {
            "condition_occurrence_id": [1, 2, 3, 4, 5],
            "person_id": [5, 5, 6, 6, 9],
            "condition_concept_id": [316139, 320128, 0, 4229440, 316139],
            "condition_start_date": ["2010-06-15", "2011-01-10", "2012-03-03", "2012-03-04", "2012-01-01"],
            "visit_occurrence_id": [50, 51, 60, 77, None],
            "condition_source_value": ["I50.9", "401.9", "X", "", "I50.9"],
            "condition_source_concept_id": [45, 44, 0, 0, 45],
        }
    ),
    "drug_exposure": pd.DataFrame(
        {
            "drug_exposure_id": [1, 2],
            "person_id": [5, 6],
            "drug_concept_id": [19019073, 0],
            "drug_exposure_start_date": ["2010-06-16", "2012-03-03"],
            "drug_source_value": ["furosemide 40 MG", "Aspirin  81"],
        }
    ),
    "concept": pd.DataFrame(
        {
            "concept_id": [45, 44, 316139, 320128, 4229440, 19019073],
            "concept_name": [
                "Heart failure, unspecified",
                "Essential hypertension NOS",
                "Heart failure",
                "Essential hypertension",
                "Chronic disease",
                "furosemide 40 MG Oral Tablet",
            ],
            "vocabulary_id": ["ICD10CM", "ICD9CM", "SNOMED", "SNOMED", "SNOMED", "RxNorm"],
            "concept_code": ["I50.9", "401.9", "84114007", "59621000", "27624003", "310429"],
        }
    ),
}


def _omop(folder, fmt="csv", **replace):
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in {**OMOP, **replace}.items():
        if df is None:
            continue
        if isinstance(df, str):
            (folder / f"{name}.csv").write_text(df)
        elif fmt == "parquet":
            df.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            df.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_omop_codes_demographics_and_notes(tmp_path, fmt):
    e = ehr_formats.read_ehr(_omop(tmp_path / "omop", fmt))
    assert _flat(e) == [
        (5, 0, "D10:I509"),
        (5, 1, "RxNorm:19019073"),
        (5, 209, "D:4019"),
        (6, 0, "M:aspirin 81"),
        (6, 1, "SNOMED:4229440"),
    ]
    assert e.patients["subject"].tolist() == [5, 6]  # 7: no visit, no event; 9: not in person
    assert e.patients["sex"].tolist() == ["F", "M"]
    assert e.patients["age"].tolist() == [
        60.0,
        round((pd.Timestamp("2012-03-03") - pd.Timestamp("1940-07-15")).days / 365.25, 1),
    ]
    voc = e.vocab.set_index("code")
    assert voc.at["D10:I509", "title"] == "Heart failure, unspecified"
    assert (
        voc.at["SNOMED:4229440", "kind"] == "diagnosis" and voc.at["RxNorm:19019073", "kind"] == "medication"
    )
    for note in (
        "condition_occurrence: 1 rows of persons missing from person dropped",
        "condition_occurrence: 1 rows with concept 0 and no ICD source concept dropped",
        "condition_occurrence: 1 rows whose visit_occurrence_id is not in visit_occurrence given a "
        "visit of their own day",
        "person: 1 persons with neither a visit nor a kept event dropped",
        "person: 1 persons whose gender_concept_id is neither 8507 nor 8532 (sex unknown)",
        "procedure_occurrence: not found",
    ):
        assert note in e.notes, e.notes
    first = e.first_day(e.code_ids(phenotypes.patterns("heart_failure", e)))
    assert first.iloc[0] == 0.0 and np.isnan(first.iloc[1])  # I50.9 from its ICD10CM source concept


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_omop_person_without_year_of_birth_has_an_unknown_age(tmp_path, fmt):
    """year_of_birth empty (a source without dates of birth, as the suicide_risk and deep_patient
    CLI tests' tiny MIMIC-III folders, which have no PATIENTS): the person is kept with an unknown
    age, as read_mimic3 keeps a subject without DOB, and the reader counts it."""
    person = OMOP["person"].astype({"year_of_birth": "Int64"})
    person.loc[1, "year_of_birth"] = pd.NA
    e = ehr_formats.read_ehr(_omop(tmp_path / "omop", fmt, person=person))
    assert e.patients["subject"].tolist() == [5, 6] and e.patients["sex"].tolist() == ["F", "M"]
    assert e.patients["age"].iloc[0] == 60.0 and np.isnan(e.patients["age"].iloc[1])
    assert "person: 1 persons without birth_datetime or year_of_birth (age unknown)" in e.notes
    assert not any("born in July" in n for n in e.notes), e.notes  # person 6 has no year to complete
    assert _flat(e) == _flat(ehr_formats.read_ehr(_omop(tmp_path / "full", fmt)))


OMOP_BAD = {
    "missing table": ({"person": None}, "omop", "", "no person table"),
    "missing column": (
        {"condition_occurrence": OMOP["condition_occurrence"].drop(columns="condition_start_date")},
        "condition_occurrence.",
        "line 1|schema",
        "missing column(s) condition_start_date",
    ),
    "bad date": (
        {
            "visit_occurrence": OMOP["visit_occurrence"].assign(
                visit_start_date=["2010-06-15", "10/01/2011", "2012-03-03"]
            )
        },
        "visit_occurrence.",
        "line 3, column 'visit_start_date'|row 1, column 'visit_start_date'",
        "'10/01/2011' is not a date",
    ),
    "bad id": (
        {"drug_exposure": OMOP["drug_exposure"].astype({"person_id": str}).assign(person_id=["5", "6b"])},
        "drug_exposure.",
        "line 3, column 'person_id'|row 1, column 'person_id'",
        "'6b' is not a whole number",
    ),
    "repeated person": (
        {"person": OMOP["person"].assign(person_id=[5, 6, 5])},
        "person.",
        "line 4, column 'person_id'|row 2, column 'person_id'",
        "person_id 5 appears 2 times",
    ),
}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("case", list(OMOP_BAD))
def test_omop_malformed(tmp_path, case, fmt):
    replace, file, locs, msg = OMOP_BAD[case]
    folder = _omop(tmp_path / "omop", fmt, **replace)
    loc = locs.split("|")[0 if fmt == "csv" else -1]
    with pytest.raises(DataError) as err:
        ehr_formats.read_omop(folder)
    assert file in str(err.value) and (f", {loc}: " if loc else ": ") + msg in str(err.value)
    problems = errors_of(check_data("suicide_risk", folder))
    assert any(file in p.file and p.location == loc and msg in p.message for p in problems), problems


# --- MEDS ------------------------------------------------------------------------------------------

MEDS_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("time", pa.timestamp("us")),
        ("code", pa.string()),
        ("numeric_value", pa.float32()),
    ]
)


def _meds(folder, rows, schema=MEDS_SCHEMA):
    (folder / "data").mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows, columns=["subject_id", "time", "code", "numeric_value"])
    df["time"] = pd.to_datetime(df["time"], format="ISO8601")
    pq.write_table(
        pa.Table.from_pandas(df, schema=schema, preserve_index=False), folder / "data" / "0.parquet"
    )
    return folder


MEDS_ROWS = [
    (1, None, "GENDER//F", None),
    (1, "1950-01-01", "MEDS_BIRTH", None),
    (1, "2010-01-01 09:00", "HOSPITAL_ADMISSION//EW EMER.", None),
    (1, "2010-01-01 09:00", "ICD10CM//I50.9", None),
    (1, "2010-01-02", "DIAGNOSIS//ICD//9//4280", None),
    (1, "2010-01-02", "LAB//50912//mg/dL", 1.2),
    (1, "2010-01-05", "MEDICATION//Furosemide", None),
    (1, None, "ICD9CM//250.00", None),
    (2, None, "GENDER//M", None),
    (2, "1960-05-05", "MEDS_BIRTH", None),
    (3, "2011-03-01", "PROCEDURE//ICD//10//02HV33Z", None),
    (3, "2011-03-04", "RxNorm//310429", None),
]


def test_meds_codes_demographics_and_notes(tmp_path):
    e = ehr_formats.read_ehr(_meds(tmp_path / "meds", MEDS_ROWS))
    assert _flat(e) == [
        (1, 0, "D10:I509"),
        (1, 1, "D:4280"),
        (1, 4, "M:furosemide"),
        (3, 0, "P10:02HV33Z"),
        (3, 3, "RxNorm:310429"),
    ]
    assert e.patients["sex"].tolist() == ["F", "U"] and e.patients["age"].tolist()[0] == 60.0
    assert np.isnan(e.patients["age"].iloc[1])
    assert "data: 2 rows of codes the EHR studies do not use (labs, admissions, ...) dropped" in e.notes
    assert "data: 1 coded rows without a time dropped" in e.notes
    assert "data: 1 subjects with no timed row besides birth and gender dropped" in e.notes
    # each calendar day is a visit
    assert e.events["visit"].nunique() == 5


def test_meds_malformed(tmp_path):
    with pytest.raises(DataError, match=r"no Parquet files under data/"):
        ehr_formats.read_meds(tmp_path)
    bad_type = pa.schema([("subject_id", pa.int32()), *list(MEDS_SCHEMA)[1:]])
    folder = _meds(tmp_path / "a", MEDS_ROWS, bad_type)
    with pytest.raises(
        DataError, match=r"0\.parquet, schema: not a MEDS data file: .*subject_id \(want int64"
    ):
        ehr_formats.read_ehr(folder)
    no_code = pa.schema([f for f in MEDS_SCHEMA if f.name != "code"])
    (tmp_path / "b" / "data").mkdir(parents=True)
    pq.write_table(
        pa.table({"subject_id": [1], "time": [None], "numeric_value": [None]}, schema=no_code),
        tmp_path / "b" / "data" / "0.parquet",
    )
    with pytest.raises(DataError, match=r"Missing required columns: code"):
        ehr_formats.read_ehr(tmp_path / "b")
    rows = [*MEDS_ROWS[:3], (1, "2010-01-03", None, None)]
    folder = _meds(
        tmp_path / "c",
        rows,
        pa.schema([*list(MEDS_SCHEMA)[:2], ("code", pa.string()), ("numeric_value", pa.float32())]),
    )
    problems = errors_of(check_data("heart_failure", folder))
    assert len(problems) == 1 and problems[0].location == "row 3, column 'code'", problems


# --- the layout and the command ----------------------------------------------------------------------


def test_an_unknown_layout_names_what_was_found_and_each_layout(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "events.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError) as err:
        ehr_formats.read_ehr(tmp_path / "x")
    text = str(err.value)
    assert "found: events.csv" in text
    for layout in (
        "MIMIC-III (ADMISSIONS.csv",
        "MIMIC-IV (hosp/",
        "OMOP CDM v5.4 (person",
        "MEDS (data/*.parquet",
    ):
        assert layout in text


@pytest.mark.parametrize("study", STUDIES)
def test_precmed_check_data_on_each_layout(tmp_path, study):
    good = {
        "mimic4": _mimic4(tmp_path / "m4"),
        "omop": _omop(tmp_path / "omop"),
        "meds": _meds(tmp_path / "meds", MEDS_ROWS),
    }
    for folder in good.values():
        r = precmed("check-data", study, str(folder))
        assert r.returncode == 0 and f"OK for {study}" in r.stdout, r.stdout + r.stderr
    bad = _mimic4(tmp_path / "bad", **MIMIC4_BAD["bad date"][0])
    r = precmed("check-data", study, str(bad))
    assert r.returncode == 1
    assert "admissions.csv.gz:line 3, column 'admittime': '2153-13-01 08:00' is not a date" in r.stdout


def test_phenotype_patterns_follow_the_vocabularies():
    sim = ehr.simulate_cohort(200, seed=1)
    assert phenotypes.patterns("heart_failure", sim) == heart_failure.HF_CODES == ["D:428*"]
    assert phenotypes.patterns("self_harm", sim) == ["D:E95*"]
    assert phenotypes.patterns("suicidal_ideation", sim) == ["D:V6284"]
    assert "D10:I50*" in phenotypes.patterns("heart_failure") and "D10:R45851" in phenotypes.patterns(
        "suicidal_ideation"
    )
    with pytest.raises(KeyError, match="no phenotype 'hf'"):
        phenotypes.patterns("hf")


def test_every_icd10_pattern_of_the_phenotypes_is_an_icd10cm_code():
    """Each ICD-10-CM pattern in phenotypes.yml names a code (or, with '*', a category) of the CMS
    ICD-10-CM list, so a typo cannot silently define an empty outcome."""
    import simple_icd_10_cm as cm

    from precmed_utils.formats import phenotypes

    checked = 0
    for name, d in phenotypes.definitions().items():
        for pattern in d["codes"].get("D10:", []):
            code = pattern[len("D10:"):].rstrip("*")
            dotted = code if len(code) <= 3 else code[:3] + "." + code[3:]
            prefix_of_codes = pattern.endswith("*") and len(code) < 3 and \
                any(c.startswith(code) for c in cm.get_all_codes(False))
            valid = cm.is_valid_item(dotted) or prefix_of_codes
            assert valid, f"{name}: {pattern} is not an ICD-10-CM code or code prefix ({dotted})"
            checked += 1
    assert checked >= 10


# --- OMOP standard concepts: a phenotype found without ICD source codes --------------------------


def _standard_only(**replace):
    """The OMOP fixture with its heart-failure row coded by a standard concept only: person 5's
    condition 1 becomes concept 4229440 (a stand-in descendant here) without a source concept."""
    cond = OMOP["condition_occurrence"].copy()
    cond.loc[0, ["condition_concept_id", "condition_source_concept_id"]] = [4229440, 0]
    return {"condition_occurrence": cond, **replace}


def test_a_phenotype_matches_its_standard_concept_ids_without_icd_source_codes(tmp_path):
    # the listed id itself, no concept_ancestor table: found, and the note says descendants are not
    cond = OMOP["condition_occurrence"].copy()
    cond.loc[0, ["condition_concept_id", "condition_source_concept_id"]] = [316139, 0]
    e = ehr_formats.read_ehr(_omop(tmp_path / "listed", condition_occurrence=cond))
    assert e.concept_ancestors is None
    assert "SNOMED:316139" in phenotypes.patterns("heart_failure", e)
    first = e.first_day(e.code_ids(phenotypes.patterns("heart_failure", e)))
    assert first.iloc[0] == 0.0  # person 5's first day, through SNOMED 316139 instead of I50.9
    assert any(n.startswith("concept_ancestor: not found") and "listed concept ids only" in n
               for n in e.notes)
    assert "the listed ids only" in phenotypes.describe("heart_failure", e)
    # a descendant without concept_ancestor: not found (the honest limit the note states)
    e = ehr_formats.read_ehr(_omop(tmp_path / "no_anc", **_standard_only()))
    assert phenotypes.concept_patterns("heart_failure", e) == []
    assert np.isnan(e.first_day(e.code_ids(phenotypes.patterns("heart_failure", e))).iloc[0])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_concept_ancestor_expands_a_phenotype_to_the_descendants_in_the_data(tmp_path, fmt):
    anc = pd.DataFrame({"ancestor_concept_id": [316139, 316139, 4229440, 441840],
                        "descendant_concept_id": [316139, 4229440, 4229440, 4229440],
                        "min_levels_of_separation": [0, 1, 0, 3]})
    e = ehr_formats.read_ehr(_omop(tmp_path / "anc", fmt, **_standard_only(concept_ancestor=anc)))
    # only links whose descendant codes an event are kept (4229440 here; RxNorm 19019073 has none)
    links = sorted(map(tuple, e.concept_ancestors.to_numpy().tolist()))
    assert links == [(316139, 4229440), (441840, 4229440), (4229440, 4229440)]
    assert phenotypes.concept_ids("heart_failure", e) == ({316139, 4229440}, 1)
    assert phenotypes.concept_patterns("heart_failure", e) == ["SNOMED:4229440"]
    first = e.first_day(e.code_ids(phenotypes.patterns("heart_failure", e)))
    assert first.iloc[0] == 0.0 and first.iloc[1] == 1.0  # person 6's 2012-03-04 row is 4229440 too
    assert "1 descendant(s) from concept_ancestor" in phenotypes.describe("heart_failure", e)
    # another phenotype, none of whose concepts is an ancestor here, takes none of them
    assert phenotypes.concept_patterns("suicidal_ideation", e) == []
    # a bad cell of concept_ancestor is reported with its place
    bad = anc.astype({"ancestor_concept_id": str}).assign(ancestor_concept_id=["316139", "x", "4229440", "1"])
    with pytest.raises(DataError, match="concept_ancestor.*'x' is not a whole number"):
        ehr_formats.read_ehr(_omop(tmp_path / "bad", fmt, **_standard_only(concept_ancestor=bad)))


HF_STANDARD = 316139  # SNOMED 'Heart failure' (phenotypes.yml)


@pytest.fixture(scope="module")
def standard_demo(tmp_path_factory):
    """The MIMIC-III demo as OMOP with every heart-failure diagnosis (ICD-9 428.x) coded by a
    standard concept only: 428.0 by 316139 itself, the other 428.x codes by made-up concepts
    (vocabulary 'Test', ids from 2100000000) that concept_ancestor places below 316139; once with
    that table, once without."""
    dx = ehr.read_mimic3(DEMO).vocab
    hf = sorted(c[2:] for c in dx["code"] if c.startswith("D:428"))
    assert "4280" in hf and len(hf) > 2
    standard = {c: ((HF_STANDARD, "Heart failure", "SNOMED", "84114007") if c == "4280" else
                    (2_100_000_000 + k, f"test descendant of heart failure ({c})", "Test", f"T{k}"))
                for k, c in enumerate(hf)}
    links = [(HF_STANDARD, HF_STANDARD)] + [(a, v[0]) for v in standard.values() if v[0] != HF_STANDARD
                                            for a in (HF_STANDARD, v[0])]
    root = tmp_path_factory.mktemp("standard")
    return {"ancestor": mimic3_to_omop(DEMO, root / "anc", standard=standard, ancestors=links),
            "none": mimic3_to_omop(DEMO, root / "none", standard=standard)}


def test_demo_heart_failure_cohort_through_standard_concepts_equals_the_icd_one(standard_demo):
    m3 = ehr.read_mimic3(DEMO)
    e = ehr_formats.read_ehr(standard_demo["ancestor"])
    assert not any(c.startswith("D:428") for c in e.vocab["code"])  # no ICD source code left for 428.x
    assert phenotypes.patterns("heart_failure", e)[0] == "D:428*"
    assert len(phenotypes.concept_patterns("heart_failure", e)) == len(
        [c for c in m3.vocab["code"] if c.startswith("D:428")])
    pd.testing.assert_frame_equal(_cohort(e), _cohort(m3))
    assert _cohort(m3)["case"].sum() > 5


def test_demo_without_concept_ancestor_finds_the_listed_concept_only(standard_demo):
    m3 = ehr.read_mimic3(DEMO)
    e = ehr_formats.read_ehr(standard_demo["none"])
    assert phenotypes.concept_patterns("heart_failure", e) == [f"SNOMED:{HF_STANDARD}"]
    assert any(n.startswith("concept_ancestor: not found") for n in e.notes)
    ours = e.first_day(e.code_ids(phenotypes.patterns("heart_failure", e)))
    icd = m3.first_day(m3.code_ids(["D:4280"]))
    np.testing.assert_array_equal(ours.to_numpy(), icd.to_numpy())  # exactly the patients with 428.0
    # the other 428.x rows are missed (their concepts are descendants nobody listed) ...
    n_ours = e.events["code"].isin(e.code_ids(phenotypes.patterns("heart_failure", e))).sum()
    n_icd = m3.events["code"].isin(m3.code_ids(["D:428*"])).sum()
    assert 0 < n_ours < n_icd
    # ... but on the demo every heart-failure patient has 428.0 on the day of their first 428.x
    # code, so the first days, and the cohort, come out the same
    np.testing.assert_array_equal(ours.to_numpy(), m3.first_day(m3.code_ids(["D:428*"])).to_numpy())


# --- phenotypes.yml itself -----------------------------------------------------------------------


def test_every_icd9_pattern_of_the_phenotypes_names_codes_of_the_icd9_list():
    """Each ICD-9-CM pattern is a code, or with '*' the prefix of at least one code, of MIMIC-III's
    ICD-9-CM diagnosis dictionary (D_ICD_DIAGNOSES, 14,567 codes), so a typo cannot define an empty
    outcome."""
    known = set(pd.read_csv(DEMO / "D_ICD_DIAGNOSES.csv.gz", dtype=str)["ICD9_CODE"].str.strip())
    checked = 0
    for name, d in phenotypes.definitions().items():
        for pattern in d["codes"].get("D:", []):
            code = pattern[2:]
            ok = any(k.startswith(code[:-1]) for k in known) if code.endswith("*") else code in known
            assert ok, f"{name}: {pattern} names no ICD-9-CM diagnosis code"
            checked += 1
    assert checked >= 20


def test_the_concepts_and_deep_patient_diseases_of_the_phenotypes_file():
    defs = phenotypes.definitions()
    ids = {c["concept_id"]: (name, c) for name, d in defs.items() for c in d.get("concepts", [])}
    assert ids[316139][1]["name"] == "Heart failure" and ids[316139][1]["vocabulary"] == "SNOMED"
    assert ids[316139][1]["verified"] and "PhenotypeLibrary" in ids[316139][1]["source"]
    for cid, (name, c) in ids.items():  # an unverified id says so in its source
        assert c["verified"] or "[U]" in c["source"], (name, cid)
    rule = phenotypes.deep_patient_rule()
    assert rule["rule"]["min_train_positives"] == 10 and len(rule["named"]) == 6
    named = phenotypes.named_diseases()
    assert {d["table2_name"] for d in named.values()} >= {"schizophrenia", "multiple myeloma",
                                                          "prostate cancer"}
    assert all({"D:", "D10:"} <= set(d["codes"]) for d in named.values())
    # every phenotype without an ehr lists its concepts after its ICD patterns
    assert phenotypes.patterns("dp_schizophrenia") == ["D:295*", "D10:F20*", "D10:F25*", "SNOMED:435783"]
    with pytest.raises(KeyError, match="no phenotype 'deep_patient_rule'"):
        phenotypes.patterns("deep_patient_rule")


def test_deep_patient_names_standard_concept_categories_through_concept_ancestor(tmp_path):
    cond = OMOP["condition_occurrence"].copy()
    cond.loc[0, ["condition_concept_id", "condition_source_concept_id"]] = [4229440, 0]
    anc = pd.DataFrame({"ancestor_concept_id": [435783], "descendant_concept_id": [4229440]})
    e = ehr_formats.read_ehr(_omop(tmp_path / "dp", condition_occurrence=cond, concept_ancestor=anc))
    d = candidate_diseases(e)
    assert "SNOMED:4229440 (schizophrenia)" in d.names
    assert d.named["SNOMED:4229440 (schizophrenia)"] == "schizophrenia"
