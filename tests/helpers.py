"""Helpers shared by the tests (imported as `from helpers import ...`; conftest.py keeps only the
fixtures): the `precmed` command run in-process, a notebook's visible text, a small labelled matrix,
a tiny MIMIC-III folder built visit by visit and the three EHR chapters' tiny folders, and
converters of a MIMIC-III folder to OMOP CDM, MEDS and MIMIC-IV."""

import contextlib
import gzip
import io
import json
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def precmed(*args, cwd=None, subprocess_run=False):
    """Run `precmed` with ``args``; return a CompletedProcess (returncode, stdout, stderr).

    By default the command's ``main`` runs in this process (a new process per call costs seconds
    of imports, and the CLI tests make dozens of calls); an exception that escapes it becomes a
    traceback on stderr and exit status 1, as it would from the installed script.
    ``subprocess_run=True`` (or a ``cwd``) runs the installed script itself.
    """
    if subprocess_run or cwd is not None:
        return subprocess.run([str(BIN / "precmed"), *args], capture_output=True, text=True, cwd=cwd)
    from precmed_utils.tools.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(["precmed", *args], code, out.getvalue(), err.getvalue())


def output_text(notebook: Path) -> str:
    """Everything an executed notebook shows a reader (the text of every output), without
    papermill's metadata, whose timestamps can contain any digits."""
    from precmed_utils.privacy import output_texts

    nb = json.loads(Path(notebook).read_text())
    return "\n".join(text for cell in nb["cells"] for out in cell.get("outputs", [])
                     for _kind, text in output_texts(out))


def write_matrix(path: Path, n_per_class=(12, 10, 8), n_genes=30, seed=1, raw=False) -> Path:
    """A small labelled expression matrix with planted class differences (3 classes by default)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"type_{k}" for k in range(len(n_per_class))], n_per_class)
    X = rng.normal(size=(len(labels), n_genes))
    for k in range(len(n_per_class)):
        X[labels == f"type_{k}", 3 * k: 3 * k + 3] += 2.0
    if raw:
        X = np.exp2(X + 8)
    df = pd.DataFrame(X, columns=[f"gene_{j}" for j in range(n_genes)])
    df.insert(0, "label", labels)
    df.insert(0, "sample", [f"p{i}" for i in range(len(labels))])
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            df.to_csv(fh, index=False)
    else:
        df.to_csv(path, index=False)
    return path


class TinyMimic:
    """Rows of a tiny MIMIC-III v1.4 folder, added patient by patient and visit by visit;
    ``write(folder)`` writes ADMISSIONS and DIAGNOSES_ICD (and PRESCRIPTIONS, PATIENTS when any
    row was added) in the layout PhysioNet distributes."""

    def __init__(self, first_hadm: int = 100):
        self.adm = ["ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME,DISCHTIME"]
        self.dx = ["ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE"]
        self.rx = ["ROW_ID,SUBJECT_ID,HADM_ID,STARTDATE,ENDDATE,DRUG"]
        self.pts = ["ROW_ID,SUBJECT_ID,GENDER,DOB"]
        self.hadm = first_hadm

    def patient(self, subject: int, gender: str, dob: str) -> None:
        self.pts.append(f"{len(self.pts)},{subject},{gender},{dob}")

    def visit(self, subject: int, day, codes, drugs=(), *, stay: int = 3, drug_days: int = 2) -> int:
        """An admission on ``day`` (numpy datetime64 of a day) with its ICD-9 codes and drugs."""
        self.hadm += 1
        h = self.hadm
        self.adm.append(f"{h},{subject},{h},{day} 10:00:00,{day + stay} 10:00:00")
        self.dx += [f"{len(self.dx)},{subject},{h},{j + 1},{c}" for j, c in enumerate(codes)]
        self.rx += [f"{len(self.rx)},{subject},{h},{day} 00:00:00,{day + drug_days} 00:00:00,{d}"
                    for d in drugs]
        return h

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        tables = {"ADMISSIONS": self.adm, "DIAGNOSES_ICD": self.dx, "PRESCRIPTIONS": self.rx,
                  "PATIENTS": self.pts}
        for name, rows in tables.items():
            if name in ("ADMISSIONS", "DIAGNOSES_ICD") or len(rows) > 1:
                (folder / f"{name}.csv").write_text("\n".join(rows) + "\n")
        return folder


# --- the tiny MIMIC-III folders of the three EHR chapters' CLI tests (test_cli_heart_failure.py,
# test_cli_suicide_risk.py, test_cli_deep_patient.py; test_cli_ehr_layouts.py runs them in the
# other layouts), each with the -p options its chapter runs it with


def tiny_heart_failure(folder, n=120, seed=0):
    """A tiny MIMIC-III-format folder: every subject has two or three admissions over two years;
    a third of them get heart failure (ICD-9 4280) at the last admission, after hypertension and
    atrial fibrillation codes at the earlier ones; PATIENTS gives sex and date of birth."""
    rng = np.random.default_rng(seed)
    m = TinyMimic()
    pool = ["25000", "2724", "5990", "486", "311", "53081", "7159"]
    for s in range(1, n + 1):
        start = np.datetime64("2150-01-01") + int(rng.integers(0, 100))
        sick = s % 3 == 0
        m.patient(s, "F" if s % 2 else "M", f"2090-06-0{1 + s % 5} 00:00:00")
        for k, offset in enumerate((0, 300, 700)):
            codes = list(rng.choice(pool, 2, replace=False))
            if sick and k < 2:
                codes += ["4019", "42731"]
            if sick and k == 2:
                codes += ["4280"]
            m.visit(s, start + offset, codes, ["Metoprolol Tartrate" if sick and k < 2 else "Heparin"])
    return m.write(folder)


TINY_HEART_FAILURE_PARAMS = ("-p", "min_code_patients=2", "-p", "age_band_years=20")


def tiny_suicide_risk(folder, n=90, seed=0):
    """A tiny MIMIC-III-format folder: every subject has a psychiatric admission (three items), some
    a readmission within 90 days with suicidal ideation or self-harm."""
    rng = np.random.default_rng(seed)
    m = TinyMimic()
    pool = ["4019", "25000", "2724", "5990", "486", "42731", "311", "30500"]
    drugs = ["Sertraline", "Lorazepam", "Quetiapine Fumarate", "Furosemide", "Heparin"]
    for s in range(1, n + 1):
        first = np.datetime64("2150-01-01") + int(rng.integers(0, 3000))
        level = rng.choice(3, p=[0.6, 0.25, 0.15])
        for k, offset in enumerate((0, 30 if level else 200)):
            codes = ["29620", "30000"] + list(rng.choice(pool, 3, replace=False)) if k == 0 else \
                [["V6284"], ["V6284"], ["E9503", "96509"]][level] + list(rng.choice(pool, 2, replace=False))
            m.visit(s, first + offset, codes, rng.choice(drugs, 3, replace=False) if k == 0 else ())
    return m.write(folder)


TINY_SUICIDE_RISK_PARAMS = ("-p", "min_code_patients=3")


def tiny_deep_patient(folder):
    """60 patients admitted twice, a year apart; half of those with hypertension at the first
    admission (every other one) get a new diabetes code at the second, the others a tobacco-history
    code; every sixth also atrial fibrillation. No PATIENTS table: sex and age unknown."""
    m = TinyMimic(first_hadm=19999)  # admissions 20000 + 2s and 20001 + 2s
    for s in range(60):
        subject = 9000 + s
        first = ["4019", "2724"] if s % 2 == 0 else ["5990", "486"]
        second = ["25000"] if s % 2 == 0 else ["V1582"]
        if s % 6 == 1:
            second.append("42731")
        m.visit(subject, np.datetime64(f"2150-03-0{1 + s % 9}"), first)
        m.visit(subject, np.datetime64(f"2151-06-1{s % 9}"), second)
    return m.write(folder)


TINY_DEEP_PATIENT_PARAMS = ("-p", "split_day=200", "-p", "min_train_positives=3", "-p", "test_fraction=0.3",
                            "-p", "rf_leaf_grid=1", "-p", "rf_max_samples=1.0")


# --- the MIMIC-III demo in the other EHR layouts (the end-to-end test of precmed_utils.formats.ehr_formats)

def _mimic3_rows(folder: Path) -> dict[str, pd.DataFrame]:
    """The MIMIC-III tables the readers use, as text, dated as read_mimic3 dates them: diagnoses
    and procedures at their admission, prescriptions at STARTDATE or else their admission; rows
    without a code or a date, or whose HADM_ID has no admission, left out (read_mimic3 drops them).
    A table the folder lacks (a tiny folder may hold only ADMISSIONS and DIAGNOSES_ICD) is empty;
    the dictionaries keep LONG_TITLE too when their file has it."""
    from precmed_utils.formats import ehr
    from precmed_utils.formats.tables import csv_header

    tab = {}
    for n, (cols, _) in ehr._TABLES.items():
        path = ehr._find_table(folder, n)
        if path is None:
            tab[n] = pd.DataFrame({c: pd.Series(dtype=str) for c in cols})
            continue
        extra = ["LONG_TITLE"] if n.startswith("D_ICD") and "LONG_TITLE" in \
            [h.upper() for h in csv_header(path)] else []
        tab[n] = ehr._read_table(path, cols + extra)
    adm = tab["ADMISSIONS"]
    adm_time = dict(zip(adm["HADM_ID"], adm["ADMITTIME"], strict=True))
    out = {"ADMISSIONS": adm, "PATIENTS": tab["PATIENTS"]}
    for name in ("DIAGNOSES_ICD", "PROCEDURES_ICD", "PRESCRIPTIONS"):
        t = tab[name].copy()
        code = t["DRUG"] if name == "PRESCRIPTIONS" else t["ICD9_CODE"]
        start = t["STARTDATE"] if name == "PRESCRIPTIONS" else pd.Series("", index=t.index, dtype=str)
        t["TIME"] = start.where(start != "", t["HADM_ID"].map(adm_time)).fillna("")
        orphan = (t["HADM_ID"] != "") & ~t["HADM_ID"].isin(adm_time)
        out[name] = t[(code != "") & (t["TIME"] != "") & ~orphan].reset_index(drop=True)
    for name in ("D_ICD_DIAGNOSES", "D_ICD_PROCEDURES"):
        out[name] = tab[name]
    return out


def _persons(rows: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """SUBJECT_ID, GENDER and DOB (text, "" when unknown) of every subject of PATIENTS or
    ADMISSIONS: read_mimic3 keeps a subject with admissions but no PATIENTS row (sex and age
    unknown), so the other layouts get one too."""
    pts = rows["PATIENTS"][["SUBJECT_ID", "GENDER", "DOB"]]
    extra = sorted(set(rows["ADMISSIONS"]["SUBJECT_ID"]) - set(pts["SUBJECT_ID"]), key=int)
    more = pd.DataFrame({"SUBJECT_ID": extra, "GENDER": "", "DOB": ""}, dtype=str)
    return pd.concat([pts, more], ignore_index=True)


def _dotted(code: str, kind: str) -> str:
    """An undotted ICD-9-CM code as OMOP's concept_code spells it (4280 -> 428.0, E9500 -> E950.0,
    3722 -> 37.22 for a procedure)."""
    head = 2 if kind == "procedure" else 4 if code.startswith("E") else 3
    return code if len(code) <= head else code[:head] + "." + code[head:]


def mimic3_to_omop(src: Path, dst: Path, fmt: str = "csv", standard: dict | None = None,
                   ancestors: list | None = None) -> Path:
    """The MIMIC-III tables of ``src`` as an OMOP CDM v5.4 folder (``fmt`` csv or parquet): person,
    visit_occurrence, condition_occurrence and procedure_occurrence with ICD9CM / ICD9Proc source
    concepts (concept ids made up here, standard concept 0), drug_exposure with drug_concept_id 0
    and the drug name as drug_source_value, and the concept table of those source concepts.

    ``standard`` (undotted ICD-9 diagnosis code -> (concept_id, concept_name, vocabulary_id,
    concept_code)) codes
    those diagnoses by that standard concept only, as an extract without ICD source concepts does
    (condition_source_concept_id 0); ``ancestors`` ((ancestor, descendant) pairs) is written as a
    concept_ancestor table."""
    rows = _mimic3_rows(src)
    dst.mkdir(parents=True, exist_ok=True)
    adm, pts = rows["ADMISSIONS"], _persons(rows)
    sex = {"M": 8507, "F": 8532}
    dob = pd.to_datetime(pts["DOB"].replace("", None))
    tables = {"person": pd.DataFrame({
        "person_id": pts["SUBJECT_ID"].astype(int),
        "gender_concept_id": pts["GENDER"].map(sex).fillna(0).astype(int),
        "year_of_birth": dob.dt.year.astype("Int64"), "month_of_birth": dob.dt.month.astype("Int64"),
        "day_of_birth": dob.dt.day.astype("Int64"), "birth_datetime": dob.dt.strftime("%Y-%m-%d %H:%M:%S")})}
    at = pd.to_datetime(adm["ADMITTIME"])
    tables["visit_occurrence"] = pd.DataFrame({
        "visit_occurrence_id": adm["HADM_ID"].astype(int), "person_id": adm["SUBJECT_ID"].astype(int),
        "visit_concept_id": 9201, "visit_start_date": at.dt.strftime("%Y-%m-%d"),
        "visit_start_datetime": at.dt.strftime("%Y-%m-%d %H:%M:%S")})
    concepts = {}

    def concept(code, vocab, kind, title):
        key = (vocab, code)
        if key not in concepts:
            concepts[key] = (2_000_000_000 + len(concepts), _dotted(code, kind), title)
        return concepts[key][0]

    titles = {n: dict(zip(rows[n]["ICD9_CODE"], rows[n]["SHORT_TITLE"], strict=True))
              for n in ("D_ICD_DIAGNOSES", "D_ICD_PROCEDURES")}
    for name, table, vocab, kind, prefix in (
            ("DIAGNOSES_ICD", "condition_occurrence", "ICD9CM", "diagnosis", "condition"),
            ("PROCEDURES_ICD", "procedure_occurrence", "ICD9Proc", "procedure", "procedure")):
        t = rows[name]
        dic = titles["D_ICD_DIAGNOSES" if kind == "diagnosis" else "D_ICD_PROCEDURES"]
        date_col = "condition_start_date" if kind == "diagnosis" else "procedure_date"
        tables[table] = pd.DataFrame({
            f"{prefix}_occurrence_id": range(1, len(t) + 1), "person_id": t["SUBJECT_ID"].astype(int),
            f"{prefix}_concept_id": 0, date_col: pd.to_datetime(t["TIME"]).dt.strftime("%Y-%m-%d"),
            "visit_occurrence_id": t["HADM_ID"].replace("", None).astype("Int64"),
            f"{prefix}_source_value": [_dotted(c, kind) for c in t["ICD9_CODE"]],
            f"{prefix}_source_concept_id": [concept(c, vocab, kind, dic.get(c, "")) for c in t["ICD9_CODE"]]})
        if standard and kind == "diagnosis":
            std = t["ICD9_CODE"].map({c: v[0] for c, v in standard.items()})
            hit = std.notna().to_numpy()
            tables[table].loc[hit, f"{prefix}_concept_id"] = std[hit].astype(int).to_numpy()
            tables[table].loc[hit, f"{prefix}_source_concept_id"] = 0
    rx = rows["PRESCRIPTIONS"]
    tables["drug_exposure"] = pd.DataFrame({
        "drug_exposure_id": range(1, len(rx) + 1), "person_id": rx["SUBJECT_ID"].astype(int),
        "drug_concept_id": 0,
        "drug_exposure_start_date": pd.to_datetime(rx["TIME"]).dt.strftime("%Y-%m-%d"),
        "visit_occurrence_id": rx["HADM_ID"].replace("", None).astype("Int64"),
        "drug_source_value": rx["DRUG"]})
    tables["concept"] = pd.DataFrame(
        [(cid, title, vocab, "Condition" if vocab == "ICD9CM" else "Procedure", code)
         for (vocab, _), (cid, code, title) in concepts.items()],
        columns=["concept_id", "concept_name", "vocabulary_id", "domain_id", "concept_code"])
    if standard:
        extra = pd.DataFrame([(cid, name, vocab, "Condition", code) for cid, name, vocab, code in
                              sorted(set(standard.values()))], columns=tables["concept"].columns)
        tables["concept"] = pd.concat([tables["concept"], extra], ignore_index=True)
    if ancestors is not None:
        tables["concept_ancestor"] = pd.DataFrame(ancestors,
                                                  columns=["ancestor_concept_id", "descendant_concept_id"])
    for name, df in tables.items():
        if fmt == "parquet":
            df.to_parquet(dst / f"{name}.parquet", index=False)
        else:
            df.to_csv(dst / f"{name}.csv", index=False)
    return dst


def mimic3_to_meds(src: Path, dst: Path, shards: int = 2) -> Path:
    """The MIMIC-III tables of ``src`` as a MEDS folder: data/<shard>.parquet (subjects split
    over ``shards`` files, each subject's rows together and in time order) with GENDER//F|M
    (no time), MEDS_BIRTH, HOSPITAL_ADMISSION at ADMITTIME, ICD9CM//<dotted code> at the
    admission, ICD9Proc//<dotted code>, MEDICATION//<drug name>; metadata/codes.parquet with the
    diagnosis titles when ``src`` has D_ICD_DIAGNOSES."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _mimic3_rows(src)
    adm, pts = rows["ADMISSIONS"], rows["PATIENTS"]
    sexed, born = pts[pts["GENDER"] != ""], pts[pts["DOB"] != ""]
    parts = [pd.DataFrame({"subject_id": sexed["SUBJECT_ID"], "time": pd.NaT,
                           "code": "GENDER//" + sexed["GENDER"]}),
             pd.DataFrame({"subject_id": born["SUBJECT_ID"], "time": pd.to_datetime(born["DOB"]),
                           "code": "MEDS_BIRTH"}),
             pd.DataFrame({"subject_id": adm["SUBJECT_ID"], "time": pd.to_datetime(adm["ADMITTIME"]),
                           "code": "HOSPITAL_ADMISSION"})]
    for name, vocab, kind in (("DIAGNOSES_ICD", "ICD9CM//", "diagnosis"),
                              ("PROCEDURES_ICD", "ICD9Proc//", "procedure")):
        t = rows[name]
        parts.append(pd.DataFrame({"subject_id": t["SUBJECT_ID"], "time": pd.to_datetime(t["TIME"]),
                                   "code": [vocab + _dotted(c, kind) for c in t["ICD9_CODE"]]}))
    rx = rows["PRESCRIPTIONS"]
    parts.append(pd.DataFrame({"subject_id": rx["SUBJECT_ID"], "time": pd.to_datetime(rx["TIME"]),
                               "code": "MEDICATION//" + rx["DRUG"]}))
    df = pd.concat(parts, ignore_index=True)
    df["subject_id"] = df["subject_id"].astype("int64")
    df["numeric_value"] = np.float32("nan")
    df = df.sort_values(["subject_id", "time"], na_position="first", kind="stable")
    schema = pa.schema([("subject_id", pa.int64()), ("time", pa.timestamp("us")), ("code", pa.string()),
                        ("numeric_value", pa.float32())])
    (dst / "data").mkdir(parents=True, exist_ok=True)
    subjects = np.sort(df["subject_id"].unique())
    for k, chunk in enumerate(np.array_split(subjects, shards)):
        part = df[df["subject_id"].isin(chunk)]
        pq.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False),
                       dst / "data" / f"{k}.parquet")
    dx = rows["D_ICD_DIAGNOSES"]
    if len(dx):  # metadata is optional in MEDS: none without a dictionary
        (dst / "metadata").mkdir(exist_ok=True)
        meta = pd.DataFrame({"code": ["ICD9CM//" + _dotted(c, "diagnosis") for c in dx["ICD9_CODE"]],
                             "description": dx["SHORT_TITLE"], "parent_codes": [[] for _ in range(len(dx))]})
        meta_schema = pa.schema([("code", pa.string()), ("description", pa.string()),
                                 ("parent_codes", pa.list_(pa.string()))])
        pq.write_table(pa.Table.from_pandas(meta, schema=meta_schema, preserve_index=False),
                       dst / "metadata" / "codes.parquet")
    return dst


def mimic3_to_mimic4(src: Path, dst: Path) -> Path:
    """The MIMIC-III tables of ``src`` as a MIMIC-IV (v2/v3) folder: ``hosp/`` with admissions,
    diagnoses_icd and procedures_icd (icd_version 9, codes undotted as in both releases),
    prescriptions (starttime = STARTDATE, empty where MIMIC-III has none, so the reader dates it at
    its admission), d_icd_diagnoses / d_icd_procedures (long_title: LONG_TITLE when the dictionary
    has it, else SHORT_TITLE), all as lower-case .csv.gz, and patients when ``src`` has PATIENTS.
    Dates are kept (no new shift). MIMIC-IV gives an age only as anchor_age in anchor_year, whole
    years: anchor_year is the year of the subject's first admission and anchor_age the age then
    (from DOB, in years of 365.25 days) rounded to the nearest year, or 91 above 89 as MIMIC-IV
    records those ages; a PATIENTS row without admissions gets anchor_age 0 in its year of
    birth, one without DOB no anchor."""
    rows = _mimic3_rows(src)
    hosp = dst / "hosp"
    hosp.mkdir(parents=True, exist_ok=True)
    adm = rows["ADMISSIONS"]
    tables = {"admissions": pd.DataFrame({"subject_id": adm["SUBJECT_ID"], "hadm_id": adm["HADM_ID"],
                                          "admittime": adm["ADMITTIME"]})}
    for name, table in (("DIAGNOSES_ICD", "diagnoses_icd"), ("PROCEDURES_ICD", "procedures_icd")):
        t = rows[name]
        tables[table] = pd.DataFrame({"subject_id": t["SUBJECT_ID"], "hadm_id": t["HADM_ID"],
                                      "icd_code": t["ICD9_CODE"], "icd_version": 9})
    rx = rows["PRESCRIPTIONS"]
    tables["prescriptions"] = pd.DataFrame({"subject_id": rx["SUBJECT_ID"], "hadm_id": rx["HADM_ID"],
                                            "starttime": rx["STARTDATE"], "drug": rx["DRUG"]})
    for name in ("D_ICD_DIAGNOSES", "D_ICD_PROCEDURES"):
        d = rows[name]
        title = d["LONG_TITLE"] if "LONG_TITLE" in d else d["SHORT_TITLE"]
        tables[name.lower()] = pd.DataFrame({"icd_code": d["ICD9_CODE"], "icd_version": 9,
                                             "long_title": title})
    pts = rows["PATIENTS"]
    if len(pts):
        sec = "datetime64[s]"
        first = pd.to_datetime(adm["ADMITTIME"]).groupby(adm["SUBJECT_ID"]).min()
        dob = pd.to_datetime(pts["DOB"].replace("", None)).to_numpy().astype(sec)
        adm_first = first.reindex(pts["SUBJECT_ID"]).to_numpy().astype(sec)
        age = (adm_first - dob) / np.timedelta64(1, "D") / 365.25
        birth_year = pd.Series(dob).dt.year.to_numpy(float)
        anchor_age = np.where(np.isnan(age), np.where(np.isnan(birth_year), np.nan, 0.0),
                              np.where(age > 89, 91.0, np.floor(age + 0.5)))
        anchor_year = np.where(np.isnan(age), birth_year, pd.Series(adm_first).dt.year.to_numpy(float))
        tables["patients"] = pd.DataFrame({"subject_id": pts["SUBJECT_ID"], "gender": pts["GENDER"],
                                           "anchor_age": pd.array(anchor_age).astype("Int64"),
                                           "anchor_year": pd.array(anchor_year).astype("Int64")})
    for name, df in tables.items():
        with gzip.open(hosp / f"{name}.csv.gz", "wt") as fh:
            df.to_csv(fh, index=False)
    return dst


def check_tiny_heart_failure_run(run_dir: Path) -> None:
    """What a heart_failure run on tiny_heart_failure's folder (any layout) must show: 40 incident
    cases, 80 matched controls, the planted precursors beating chance, aggregates only."""
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["cohort"]["incident cases in the cohort"].startswith("40 ")
    assert doc["cohort"]["matched controls"] == "80"
    m = doc["metrics"]
    assert m["user_data/raw_lr/auc"]["mean"] > 0.8, "hypertension + AF before HF: an easy signal"
    assert "user_data/emb_mlp/auc" in m
    assert not any(k.startswith("user_data/oracle") for k in m), "no truth on real data"
    assert {c["id"] for c in doc["claims"]} == {"C1", "C2"}
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "2150-" not in nb and "2090-" not in nb, "no rows of a user's tables may appear"


def check_tiny_deep_patient_run(run_dir: Path) -> None:
    """What a deep_patient run on tiny_deep_patient's folder (any layout) must show: its three new
    diagnoses, diabetes predicted from the first admission's hypertension, no id in the notebook."""
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["data_source"] == "user_data" and set(doc["diseases"]) == {"250", "427", "V15"}
    m = doc["metrics"]
    assert "user_data/RawFeat/auc" in m and "user_data/DeepPatient/auc" in m
    # diabetes follows hypertension at the first admission: the raw codes separate it perfectly
    assert m["user_data/RawFeat/auc/250"]["mean"] > 0.9
    nb = output_text(run_dir / "notebook.ipynb")  # ids are digits: papermill's timestamps would match
    assert "9001" not in nb and "20001" not in nb, "no subject or admission id may appear"
