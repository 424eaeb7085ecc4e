"""Coded electronic health records: one patient/visit structure, a cohort simulator with a planted
truth, and a reader for MIMIC-III tables.

The three EHR studies (heart_failure, suicide_risk, deep_patient) learn patient representations
from dated bags of diagnosis, medication and procedure codes. Their cohorts are private, so
:func:`simulate_cohort` generates one whose structure is known: comorbidity phenotypes that emit
groups of interchangeable codes (which synonym a clinic uses depends on the clinic), heart-failure
onset driven by named precursors and drug effects, psychiatric factors behind a three-level
self-harm outcome, and phenotype mixtures that drive new diagnoses non-linearly. The simulator
returns the true probability of every outcome, so a chapter can show how far each model is from
the best possible score. :func:`read_mimic3` reads the MIMIC-III tables (ADMISSIONS,
DIAGNOSES_ICD, PRESCRIPTIONS, PROCEDURES_ICD, optionally PATIENTS and the ICD dictionaries) into
the same :class:`EHR`, so every chapter runs on real data with ``-p data=/path/to/mimic``.

Codes are strings with a kind prefix: ``D:4280`` (ICD-9 diagnosis, MIMIC's dotless spelling),
``M:furosemide`` (medication, lower-case name), ``P:3722`` (ICD-9 procedure). Days count from the
patient's first recorded visit (MIMIC's shifted dates make calendar time meaningless across
patients).

Used by: heart_failure, suicide_risk, deep_patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import Problems
from .data import data_dir
from .tables import read_table, where

EHR_STUDIES = ("heart_failure", "suicide_risk", "deep_patient")

# ---------------------------------------------------------------------------------------------
# ICD-9 structure


_CHAPTERS = [
    (1, 139, "infectious"), (140, 239, "neoplasms"), (240, 279, "endocrine/metabolic"),
    (280, 289, "blood"), (290, 319, "mental"), (320, 389, "nervous/sense organs"),
    (390, 459, "circulatory"), (460, 519, "respiratory"), (520, 579, "digestive"),
    (580, 629, "genitourinary"), (630, 679, "pregnancy"), (680, 709, "skin"),
    (710, 739, "musculoskeletal"), (740, 759, "congenital"), (760, 779, "perinatal"),
    (780, 799, "symptoms/ill-defined"), (800, 999, "injury/poisoning"),
]


def icd9_chapter(code: str) -> str:
    """The ICD-9-CM chapter of a diagnosis code (``"4280"``, ``"D:4280"``, ``"V6284"``, ``"E9500"``)."""
    c = code.split(":", 1)[-1].strip().upper()
    if not c:
        return "unknown"
    if c[0] == "V":
        return "supplementary (V)"
    if c[0] == "E":
        return "external causes (E)"
    try:
        head = int(c[:3])
    except ValueError:
        return "unknown"
    for lo, hi, name in _CHAPTERS:
        if lo <= head <= hi:
            return name
    return "unknown"


def icd9_block(code: str) -> str:
    """The three-character category (four for E codes) of a diagnosis code: ``D:42832`` -> ``428``."""
    c = code.split(":", 1)[-1].strip().upper()
    return c[:4] if c.startswith("E") else c[:3]


def code_kind(code: str) -> str:
    return {"D": "diagnosis", "M": "medication", "P": "procedure"}.get(code[:1], "other")


# ---------------------------------------------------------------------------------------------
# The patient/visit structure


@dataclass
class Truth:
    """What the simulator planted. Probabilities are the true ones: the best any model can do."""

    phenotypes: list[str]  # K phenotypes, then "general" (background codes only)
    theta: np.ndarray  # (patients, K + 1) phenotype mixture of each patient
    site: np.ndarray  # (patients,) the clinic, which decides the synonyms used
    groups: pd.DataFrame  # one row per group of interchangeable codes: group, phenotype, kind, codes
    code_group: np.ndarray  # (codes,) group index of each vocabulary code, -1 for background codes
    hf: pd.DataFrame  # per patient: probability, onset_day (NaN if none), case
    hf_effects: pd.Series  # log-odds of each precursor / drug group present before split_day
    hf_interactions: dict  # (group, group) -> log-odds of the pair
    suicide: pd.DataFrame  # per patient: cohort, prior_self_harm, p_low, p_moderate, p_high, level
    suicide_weights: pd.Series  # weight of each phenotype in the latent risk
    diseases: list[str]  # groups whose new diagnoses deep_patient predicts
    new_dx_probability: np.ndarray  # (patients, diseases); NaN where the disease is not new
    new_dx: np.ndarray  # (patients, diseases) bool: newly diagnosed in the prediction year
    disease_drivers: pd.DataFrame  # per disease: home and partner phenotype, intercept
    params: dict = field(default_factory=dict)


@dataclass
class EHR:
    patients: pd.DataFrame  # index patient_id (0..n-1); columns subject (original id), sex, age
    events: pd.DataFrame  # patient_id, day, visit, code (int index into vocab), sorted by patient, day
    vocab: pd.DataFrame  # index code id; columns code, kind, title, chapter, block
    source: str  # "simulated" or "mimic3"
    split_day: int | None = None  # the simulator's end of observation (the day outcomes are assessed)
    horizon_days: int | None = None  # the simulator's self-harm horizon after split_day
    truth: Truth | None = None
    notes: list[str] = field(default_factory=list)  # what the reader dropped or repaired, counts only
    # OMOP only, when the extract has a concept_ancestor table: its (ancestor, descendant) concept-id pairs
    # whose descendant is a standard concept the events use (phenotypes.py expands definitions with them)
    concept_ancestors: pd.DataFrame | None = None

    @property
    def n_patients(self) -> int:
        return len(self.patients)

    @property
    def n_codes(self) -> int:
        return len(self.vocab)

    def code_ids(self, patterns) -> np.ndarray:
        """Vocabulary ids of codes equal to, or starting with (pattern ending in ``*``), the patterns."""
        codes = self.vocab["code"].to_numpy(dtype=str)
        keep = np.zeros(len(codes), bool)
        for p in ([patterns] if isinstance(patterns, str) else patterns):
            keep |= np.char.startswith(codes, p[:-1]) if p.endswith("*") else codes == p
        return np.flatnonzero(keep)

    def first_day(self, code_ids) -> pd.Series:
        """Per patient, the first day any of ``code_ids`` is recorded (NaN if never)."""
        ev = self.events
        hit = ev[np.isin(ev["code"].to_numpy(), np.asarray(code_ids))]
        out = hit.groupby("patient_id")["day"].min()
        return out.reindex(self.patients.index).astype(float)

    def code_matrix(self, patient_ids, start=None, end=None, *, binary: bool = True,
                    code_ids=None) -> sparse.csr_matrix:
        """Patients x codes counts (or presence) of events with ``start <= day < end``.

        ``start`` and ``end`` are scalars or one value per patient (None: unbounded). Rows follow
        ``patient_ids``; columns are vocabulary ids (or ``code_ids``, in that order).
        """
        pid = np.asarray(patient_ids, np.int64)
        n_cols = self.n_codes if code_ids is None else len(code_ids)
        if len(pid) == 0:
            return sparse.csr_matrix((0, n_cols), dtype=np.float32)
        row_of = np.full(self.n_patients, -1, np.int64)
        row_of[pid] = np.arange(len(pid))
        ev = self.events
        p = ev["patient_id"].to_numpy()
        rows = row_of[p]
        keep = rows >= 0
        day = ev["day"].to_numpy()
        if start is not None:
            s = np.asarray(start, float)
            keep &= day >= (s if s.ndim == 0 else s[np.maximum(rows, 0)])
        if end is not None:
            e = np.asarray(end, float)
            keep &= day < (e if e.ndim == 0 else e[np.maximum(rows, 0)])
        codes = ev["code"].to_numpy()
        if code_ids is not None:
            col_of = np.full(self.n_codes, -1, np.int64)
            col_of[np.asarray(code_ids)] = np.arange(len(code_ids))
            codes = col_of[codes]
            keep &= codes >= 0
        m = sparse.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], codes[keep])),
                              shape=(len(pid), n_cols))
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def visit_code_lists(self, patient_ids=None, end=None) -> list[list[int]]:
        """Per patient, the codes of each visit in time order, flattened visit by visit (for
        skip-gram windows): a list of code-id lists, one per patient (events before ``end``)."""
        ev = self.events
        if patient_ids is not None:
            ev = ev[np.isin(ev["patient_id"].to_numpy(), np.asarray(patient_ids))]
        if end is not None:
            e = np.asarray(end, float)
            lim = e if e.ndim == 0 else \
                pd.Series(e, index=np.asarray(patient_ids)).reindex(ev["patient_id"]).to_numpy()
            ev = ev[ev["day"].to_numpy() < lim]
        p = ev["patient_id"].to_numpy()
        codes = ev["code"].to_numpy()
        cuts = np.flatnonzero(np.diff(p)) + 1
        return [c.tolist() for c in np.split(codes, cuts)] if len(codes) else []

    def summary(self) -> pd.DataFrame:
        """Counts a chapter may show for any data, restricted ones included (no rows)."""
        ev = self.events
        kinds = self.vocab["kind"].to_numpy()[ev["code"].to_numpy()]
        visits = ev.groupby("patient_id")["visit"].nunique()
        rows = {"patients": self.n_patients, "visits": int(ev["visit"].nunique()),
                "visits per patient (median)": float(visits.median()) if len(visits) else 0.0,
                "events": len(ev), "distinct codes": int(ev["code"].nunique())}
        for k in ("diagnosis", "medication", "procedure"):
            rows[f"{k} events"] = int((kinds == k).sum())
        return pd.DataFrame({"value": rows})


# ICD-10-CM chapters by the first three characters of a code, named as the ICD-9 chapters above
# where the two classifications share a chapter (ICD-10-CM Tabular List, chapters 1-22).
_ICD10_CHAPTERS = [
    ("A00", "B99", "infectious"), ("C00", "D49", "neoplasms"), ("D50", "D89", "blood"),
    ("E00", "E89", "endocrine/metabolic"), ("F01", "F99", "mental"), ("G00", "H95", "nervous/sense organs"),
    ("I00", "I99", "circulatory"), ("J00", "J99", "respiratory"), ("K00", "K95", "digestive"),
    ("L00", "L99", "skin"), ("M00", "M99", "musculoskeletal"), ("N00", "N99", "genitourinary"),
    ("O00", "O9A", "pregnancy"), ("P00", "P96", "perinatal"), ("Q00", "Q99", "congenital"),
    ("R00", "R99", "symptoms/ill-defined"), ("S00", "T88", "injury/poisoning"),
    ("U00", "U85", "special purposes (U)"), ("V00", "Y99", "external causes (V-Y)"),
    ("Z00", "Z99", "supplementary (Z)"),
]


def icd10_chapter(code: str) -> str:
    """The ICD-10-CM chapter of a diagnosis code (``"I509"``, ``"D10:I509"``)."""
    head = code.split(":", 1)[-1].strip().upper()[:3]
    for lo, hi, name in _ICD10_CHAPTERS:
        if len(head) == 3 and lo <= head <= hi:
            return name
    return "unknown"


def _vocab_frame(codes: list[str], titles: dict[str, str],
                 kinds: dict[str, str] | None = None) -> pd.DataFrame:
    """The vocabulary table. ``kinds`` (code -> kind) overrides the kind read from the prefix
    (codes such as ``SNOMED:4229440`` whose prefix names a vocabulary, not a kind). Blocks: the
    ICD-9 category without prefix (``428``), ``D10:`` and the ICD-10 category (``D10:I50``), else
    the code itself."""
    kind = [(kinds or {}).get(c) or code_kind(c) for c in codes]
    return pd.DataFrame({
        "code": codes,
        "kind": kind,
        "title": [titles.get(c, "") for c in codes],
        "chapter": [icd9_chapter(c) if c.startswith("D:") else icd10_chapter(c) if c.startswith("D10:")
                    else k for c, k in zip(codes, kind, strict=True)],
        "block": [icd9_block(c) if c.startswith("D:") else "D10:" + c[4:7] if c.startswith("D10:") else c
                  for c in codes],
    })


# ---------------------------------------------------------------------------------------------
# Reading MIMIC-III tables

MIMIC_FORMAT = (
    "A folder of MIMIC-III v1.4 tables as distributed by PhysioNet (CSV, optionally .csv.gz; upper- "
    "or lower-case file and column names, as in the full release and the demo): ADMISSIONS "
    "(SUBJECT_ID, HADM_ID, ADMITTIME) and DIAGNOSES_ICD (SUBJECT_ID, HADM_ID, ICD9_CODE) are required; "
    "PRESCRIPTIONS (SUBJECT_ID, HADM_ID, STARTDATE, DRUG), PROCEDURES_ICD (SUBJECT_ID, HADM_ID, "
    "ICD9_CODE), PATIENTS (SUBJECT_ID, GENDER, DOB) and the dictionaries D_ICD_DIAGNOSES / "
    "D_ICD_PROCEDURES (ICD9_CODE, SHORT_TITLE) are used when present. Diagnoses and procedures are "
    "dated at the admission time of their HADM_ID; prescriptions at STARTDATE."
)

_TABLES = {
    "ADMISSIONS": (["SUBJECT_ID", "HADM_ID", "ADMITTIME"], True),
    "DIAGNOSES_ICD": (["SUBJECT_ID", "HADM_ID", "ICD9_CODE"], True),
    "PRESCRIPTIONS": (["SUBJECT_ID", "HADM_ID", "STARTDATE", "DRUG"], False),
    "PROCEDURES_ICD": (["SUBJECT_ID", "HADM_ID", "ICD9_CODE"], False),
    "PATIENTS": (["SUBJECT_ID", "GENDER", "DOB"], False),
    "D_ICD_DIAGNOSES": (["ICD9_CODE", "SHORT_TITLE"], False),
    "D_ICD_PROCEDURES": (["ICD9_CODE", "SHORT_TITLE"], False),
}


def _find_table(folder: Path, name: str) -> Path | None:
    """``NAME.csv``, ``name.csv(.gz)``, or a variant such as ``ADMISSIONS_repaired_dates.csv``."""
    pat = re.compile(rf"^{name}(_[a-z0-9_]+)?\.csv(\.gz)?$", re.I)
    hits = sorted(p for p in folder.iterdir() if p.is_file() and pat.match(p.name))
    exact = [p for p in hits if p.name.lower().split(".")[0] == name.lower()]
    return (exact or hits or [None])[0]


def _text_table(path: Path, columns: list[str], report: Problems) -> pd.DataFrame | None:
    """The needed columns of a MIMIC-III table as text (names in upper case) and ``_line``; the
    file, header and rows checked by ``tables.read_table``."""
    return read_table(path, report, columns, upper=True, style="joined", keep=columns,
                      expected=f"Expected at least the columns {', '.join(columns)}.")


def _read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    """The needed columns as text; a DataError at the first problem."""
    return _text_table(path, columns, Problems()).drop(columns="_line")


def _ints(df: pd.DataFrame, col: str, path: Path, report: Problems, *,
          allow_empty: bool = False) -> pd.Series:
    s = df[col]
    bad = ~s.str.fullmatch(r"\d+") & ~(allow_empty & (s == ""))
    for i in bad.to_numpy().nonzero()[0]:
        report.add(path, where(df, i), f"{col} {s.iat[i][:20]!r} is not a whole number")
    return pd.to_numeric(s.where(s != "", None), errors="coerce").astype("Int64")


def _times(df: pd.DataFrame, col: str, path: Path, report: Problems, *,
           allow_empty: bool = False) -> pd.Series:
    s = df[col]
    t = pd.to_datetime(s, errors="coerce", format="mixed")
    for i in (t.isna() & ~(allow_empty & (s == ""))).to_numpy().nonzero()[0]:
        report.add(path, where(df, i), f"{col} {s.iat[i][:30]!r} is not a date "
                   "(expected e.g. 2164-10-23 21:09:00)")
    return t


def read_mimic3(folder: str | Path, report: Problems | None = None) -> EHR | None:
    """Read MIMIC-III tables (see MIMIC_FORMAT) into an :class:`EHR` (no truth).

    Real-file quirks handled: ICD-9 codes keep their leading zeros (read as text); empty codes and
    rows whose HADM_ID has no admission are dropped and counted; prescriptions without a start
    date take their admission's time; ages above 89 (shifted to about 300 years in MIMIC) are set
    to 90; file and column names in either case, gzipped or not. Every problem is reported with
    its file and line: by default the first raises a DataError; with a collecting ``report``
    (``precmed check-data``) all are reported and None is returned when there are any.
    """
    report = Problems() if report is None else report
    n_errors = report.count()
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        report.add(folder, "", "expected a folder of MIMIC-III tables (ADMISSIONS, DIAGNOSES_ICD, ...)")
        return None
    paths = {name: _find_table(folder, name) for name in _TABLES}
    missing = [n for n, (_, req) in _TABLES.items() if req and paths[n] is None]
    if missing:
        report.add(folder, "", f"no {' or '.join(missing)} table (looked for {missing[0]}.csv or "
                   f"{missing[0].lower()}.csv.gz); {MIMIC_FORMAT}")
    tab = {}
    for n, p in paths.items():
        if p is not None and (t := _text_table(p, _TABLES[n][0], report)) is not None:
            tab[n] = t
    if "ADMISSIONS" not in tab:
        return None
    notes = []

    adm_text, p_adm = tab["ADMISSIONS"], paths["ADMISSIONS"]
    adm = pd.DataFrame({"subject": _ints(adm_text, "SUBJECT_ID", p_adm, report),
                        "hadm": _ints(adm_text, "HADM_ID", p_adm, report),
                        "time": _times(adm_text, "ADMITTIME", p_adm, report)})
    dup = (adm["hadm"].duplicated() & adm["hadm"].notna()).to_numpy()
    for i in dup.nonzero()[0]:
        report.add(p_adm, where(adm_text, i), f"HADM_ID {adm['hadm'].iat[i]} appears twice")
    if adm.empty:
        report.add(p_adm, "", "no admissions")
    unique = adm[~dup & adm["hadm"].notna().to_numpy()].set_index("hadm")
    adm_time, adm_subject = unique["time"], unique["subject"]

    kept = []
    for name, prefix in (("DIAGNOSES_ICD", "D:"), ("PROCEDURES_ICD", "P:"), ("PRESCRIPTIONS", "M:")):
        if name not in tab:
            if paths[name] is None:
                notes.append(f"{name}: not found, no {code_kind(prefix)} codes")
            continue
        t, path = tab[name], paths[name]
        subj = _ints(t, "SUBJECT_ID", path, report)
        hadm = _ints(t, "HADM_ID", path, report, allow_empty=True)
        if name == "PRESCRIPTIONS":
            code = t["DRUG"].str.lower().str.replace(r"\s+", " ", regex=True)
            when = _times(t, "STARTDATE", path, report, allow_empty=True)
            no_date = when.isna()
            when = when.where(~no_date, hadm.map(adm_time))
            if no_date.any():
                notes.append(f"{name}: {int(no_date.sum())} rows without STARTDATE dated at their admission")
        else:
            code = t["ICD9_CODE"].str.upper()
            when = hadm.map(adm_time)
        ok = (code != "") & when.notna()
        orphan = (code != "") & hadm.notna() & ~hadm.isin(adm_time.index)
        if (code == "").any():
            notes.append(f"{name}: {int((code == '').sum())} rows without a code dropped")
        if orphan.any():
            notes.append(f"{name}: {int(orphan.sum())} rows whose HADM_ID has no admission dropped")
        owner = hadm.map(adm_subject)
        for i in (owner.notna() & subj.notna() & (owner != subj).fillna(False)).to_numpy().nonzero()[0]:
            report.add(path, where(t, i), f"HADM_ID {hadm.iat[i]} belongs to another SUBJECT_ID "
                       "in ADMISSIONS")
        ok &= ~orphan
        kept.append((prefix, subj, hadm, when, code, ok))
    if "PATIENTS" in tab:
        pt, path = tab["PATIENTS"], paths["PATIENTS"]
        ps = _ints(pt, "SUBJECT_ID", path, report)
        dob = _times(pt, "DOB", path, report, allow_empty=True)
    if report.count() > n_errors or missing:
        return None
    frames = [pd.DataFrame({"subject": subj[ok].astype(np.int64), "hadm": hadm[ok], "time": when[ok],
                            "code": prefix + code[ok]}) for prefix, subj, hadm, when, code, ok in kept]
    ev = pd.concat(frames, ignore_index=True)
    if ev.empty:
        report.add(folder, "", "no coded events (diagnoses, procedures or prescriptions) were found")
        return None

    subjects = np.sort(adm["subject"].astype(np.int64).unique())
    pid = pd.Series(np.arange(len(subjects)), index=subjects)
    ev = ev[ev["subject"].isin(pid.index)]
    # day 0 is the calendar date of the patient's first admission or event (a prescription may
    # start the day before its admission), so days are whole calendar days and never negative
    date = ev["time"].dt.normalize()
    first_adm = adm.groupby("subject")["time"].min()
    first = pd.concat([first_adm.dt.normalize(), date.groupby(ev["subject"]).min()]).groupby(level=0).min()
    day = (date - ev["subject"].map(first)).dt.days
    codes = sorted(ev["code"].unique())
    code_id = pd.Series(np.arange(len(codes)), index=codes)
    # a visit is an admission; a prescription outside any admission gets a visit of its own day
    visit_key = ev["hadm"].astype("float").fillna(-1).to_numpy()
    events = pd.DataFrame({"patient_id": ev["subject"].map(pid).to_numpy(np.int64),
                           "day": day.to_numpy().astype(np.int32),
                           "visit_key": visit_key, "code": ev["code"].map(code_id).to_numpy(np.int32)})
    events = events.sort_values(["patient_id", "day", "code"], kind="stable").reset_index(drop=True)
    vk = np.where(events["visit_key"] < 0, -(events["patient_id"] * 100000 + events["day"] + 1.0),
                  events["visit_key"])
    events["visit"] = pd.factorize(vk)[0].astype(np.int64)
    events = events[["patient_id", "day", "visit", "code"]]

    patients = pd.DataFrame({"subject": subjects, "sex": "U", "age": np.nan}, index=pid.to_numpy())
    patients.index.name = "patient_id"
    if "PATIENTS" in tab:
        ps = ps.astype(np.int64)
        sex = pt["GENDER"].str.upper().where(pt["GENDER"].str.upper().isin(["F", "M"]), "U")
        info = pd.DataFrame({"sex": sex.to_numpy(), "dob": dob.to_numpy()}, index=ps.to_numpy())
        info = info[~info.index.duplicated()]
        s = patients["subject"]
        patients["sex"] = info["sex"].reindex(s).fillna("U").to_numpy()
        dobs = info["dob"].reindex(s)
        # in seconds: MIMIC shifts the birth of patients over 89 to 300 years before their first
        # admission, beyond the +-292 years a nanosecond difference holds
        sec = "datetime64[s]"
        span = first_adm.reindex(s).to_numpy().astype(sec) - dobs.to_numpy().astype(sec)
        age = span / np.timedelta64(1, "D") / 365.25
        shifted = int(np.nansum(age > 89))
        if shifted:
            notes.append(f"PATIENTS: {shifted} ages above 89 (MIMIC's shifted dates of birth) set to 90")
        patients["age"] = np.where(age > 89, 90.0, np.round(age, 1))
    else:
        notes.append("PATIENTS: not found, sex and age unknown")

    titles = {}
    for name, prefix in (("D_ICD_DIAGNOSES", "D:"), ("D_ICD_PROCEDURES", "P:")):
        if name in tab:
            titles.update(dict(zip(prefix + tab[name]["ICD9_CODE"].str.upper(), tab[name]["SHORT_TITLE"],
                                   strict=True)))
    for c in codes:
        if c.startswith("M:"):
            titles[c] = c[2:]
    return EHR(patients=patients, events=events, vocab=_vocab_frame(codes, titles), source="mimic3",
               notes=notes)


# ---------------------------------------------------------------------------------------------
# The cohort simulator

# Phenotypes and their groups of interchangeable codes: (group, [codes], weight within the phenotype).
# Codes are real ICD-9 / drug names; which member of a group a record shows depends on the clinic.
PHENOTYPES: dict[str, list[tuple[str, list[str], float]]] = {
    "cardiometabolic": [
        ("hypertension", ["D:4019", "D:4011", "D:4010"], 3.0),
        ("hyperlipidemia", ["D:2724", "D:2720", "D:2722"], 2.0),
        ("diabetes", ["D:25000", "D:25002", "D:25001"], 2.0),
        ("obesity", ["D:27800", "D:27801"], 1.0),
        ("statin", ["M:atorvastatin", "M:simvastatin", "M:pravastatin", "M:rosuvastatin"], 2.0),
        ("ace_arb", ["M:lisinopril", "M:enalapril", "M:ramipril", "M:losartan"], 2.0),
        ("metformin", ["M:metformin", "M:glucophage xr"], 1.5),
        ("thiazolidinedione", ["M:pioglitazone", "M:rosiglitazone"], 0.5),
    ],
    "coronary": [
        ("cad", ["D:41401", "D:412", "D:4139"], 3.0),
        ("afib", ["D:42731", "D:42732"], 2.0),
        ("valve", ["D:4241", "D:4240", "D:3963"], 1.0),
        ("beta_blocker", ["M:metoprolol tartrate", "M:metoprolol", "M:carvedilol", "M:atenolol"], 2.5),
        ("antiplatelet", ["M:aspirin", "M:clopidogrel"], 2.0),
        ("anticoagulant", ["M:warfarin", "M:apixaban", "M:rivaroxaban"], 1.5),
        ("cardiac_cath", ["P:3722", "P:3723", "P:8856"], 1.0),
        ("pci", ["P:0066", "P:3607", "P:0045"], 0.7),
    ],
    "renal": [
        ("ckd", ["D:5859", "D:5853", "D:5854", "D:40390"], 3.0),
        ("anemia", ["D:2851", "D:2859", "D:2858"], 2.0),
        ("phosphate_binder", ["M:sevelamer", "M:calcium acetate"], 1.5),
        ("epoetin", ["M:epoetin alfa", "M:darbepoetin"], 1.0),
        ("dialysis", ["P:3995", "P:5498"], 0.7),
    ],
    "respiratory": [
        ("copd", ["D:496", "D:49121", "D:49120"], 3.0),
        ("asthma", ["D:49390", "D:49392"], 1.0),
        ("pneumonia", ["D:486", "D:4829", "D:481"], 1.5),
        ("bronchodilator", ["M:albuterol 0.083% neb soln", "M:albuterol inhaler", "M:ipratropium bromide neb",
                            "M:tiotropium"], 3.0),
        ("systemic_steroid", ["M:prednisone", "M:methylprednisolone"], 1.5),
    ],
    "depression": [
        ("depression", ["D:311", "D:29620", "D:29630", "D:3004"], 3.0),
        ("insomnia", ["D:78052", "D:30742"], 1.0),
        ("ssri", ["M:sertraline", "M:citalopram", "M:fluoxetine", "M:escitalopram"], 3.0),
        ("sedating_antidepressant", ["M:trazodone", "M:mirtazapine"], 1.0),
    ],
    "anxiety": [
        ("anxiety", ["D:30000", "D:30002", "D:30001"], 3.0),
        ("personality_disorder", ["D:3019", "D:30183"], 1.0),
        ("benzodiazepine", ["M:lorazepam", "M:clonazepam", "M:diazepam", "M:alprazolam"], 3.0),
    ],
    "substance": [
        ("alcohol_use", ["D:3039", "D:30500", "D:30390", "D:30391"], 3.0),
        ("alcohol_withdrawal", ["D:2910", "D:29181"], 1.0),
        ("opioid_use", ["D:30400", "D:30550", "D:30470"], 1.5),
        ("tobacco", ["D:3051", "D:V1582"], 1.5),
        ("thiamine", ["M:thiamine", "M:folic acid"], 2.0),
        ("opioid_agonist", ["M:methadone", "M:buprenorphine"], 1.0),
    ],
    "psychosis": [
        ("schizophrenia", ["D:2959", "D:29590", "D:29530"], 3.0),
        ("bipolar", ["D:29680", "D:29640", "D:29650"], 2.0),
        ("antipsychotic", ["M:olanzapine", "M:quetiapine", "M:risperidone", "M:haloperidol"], 3.0),
        ("mood_stabiliser", ["M:lithium carbonate", "M:divalproex"], 1.0),
    ],
    "oncology": [
        ("breast_cancer", ["D:1749", "D:1748"], 1.0),
        ("lung_cancer", ["D:1629", "D:1623"], 1.0),
        ("prostate_cancer", ["D:185"], 1.0),
        ("colon_cancer", ["D:1539", "D:1534"], 1.0),
        ("metastases", ["D:1983", "D:1977", "D:1970"], 1.0),
        ("chemotherapy", ["P:9925"], 1.5),
        ("antiemetic", ["M:ondansetron", "M:prochlorperazine"], 1.5),
    ],
    "liver_gi": [
        ("cirrhosis", ["D:5712", "D:5715", "D:5716"], 2.0),
        ("hepatitis_c", ["D:07070", "D:07054"], 1.5),
        ("gerd", ["D:53081", "D:5300"], 1.5),
        ("ppi", ["M:pantoprazole", "M:omeprazole", "M:pantoprazole sodium"], 2.5),
        ("lactulose", ["M:lactulose", "M:rifaximin"], 1.5),
    ],
    "musculoskeletal": [
        ("osteoarthritis", ["D:7159", "D:71596", "D:71590"], 3.0),
        ("back_pain", ["D:7242", "D:7245", "D:72210"], 2.0),
        ("nsaid", ["M:ibuprofen", "M:naproxen", "M:ketorolac"], 2.5),
        ("opioid_analgesic", ["M:oxycodone", "M:hydromorphone (dilaudid)", "M:morphine sulfate",
                              "M:tramadol"], 2.0),
        ("joint_replacement", ["P:8154", "P:8151"], 0.5),
    ],
    "infection": [
        ("sepsis", ["D:99591", "D:0389", "D:99592"], 1.5),
        ("uti", ["D:5990"], 2.0),
        ("cellulitis", ["D:6826", "D:6829"], 1.0),
        ("antibiotic", ["M:vancomycin", "M:vancomycin hcl", "M:piperacillin-tazobactam",
                        "M:ceftriaxone"], 3.0),
    ],
}

# Outcome codes, emitted only by the outcome processes.
HF_CODES = ["D:4280", "D:42832", "D:42833", "D:42822", "D:42823", "D:4289"]
HF_PRODROME = [["D:7823"], ["D:78605", "D:78609"], ["M:furosemide", "M:torsemide", "M:bumetanide"],
               ["P:8872"]]
IDEATION_CODES = ["D:V6284"]
SELF_HARM_CODES = ["D:E9500", "D:E9502", "D:E9503", "D:E9504", "D:E956", "D:E9588"]
# Codes of these blocks never come from the background: heart failure, intentional self-harm
# (E950-E959) and suicidal ideation, so that an outcome defined by codes is the planted one.
OUTCOME_PREFIXES = ("D:428", "D:E95", "D:V6284")

# Heart failure: log-odds of each group present before split_day (precursors up, some drugs down).
HF_EFFECTS = {"hypertension": 0.7, "cad": 0.9, "afib": 0.8, "diabetes": 0.5, "ckd": 0.6, "valve": 0.7,
              "obesity": 0.3, "copd": 0.3, "ace_arb": -0.5, "beta_blocker": -0.4, "nsaid": 0.4,
              "thiazolidinedione": 0.6}
HF_INTERACTIONS = {("hypertension", "diabetes"): 0.4}
HF_AGE_PER_DECADE = 0.35

# Self-harm: weight of each psychiatric phenotype in the latent risk, an interaction, prior self-harm.
SUICIDE_WEIGHTS = {"depression": 6.0, "substance": 5.0, "psychosis": 4.0, "anxiety": 2.5}
SUICIDE_INTERACTION = ("depression", "substance", 12.0)
SUICIDE_PRIOR = 1.2
PSYCH_PHENOTYPES = ("depression", "anxiety", "substance", "psychosis")

# New diagnoses (deep_patient): disease group, its home phenotype and a partner phenotype whose
# presence raises the risk multiplicatively (a non-linear, interaction-driven onset).
DISEASES = [
    ("diabetes", "cardiometabolic", "renal"), ("hypertension", "cardiometabolic", "coronary"),
    ("hyperlipidemia", "cardiometabolic", "coronary"), ("cad", "coronary", "cardiometabolic"),
    ("afib", "coronary", "respiratory"), ("ckd", "renal", "cardiometabolic"),
    ("anemia", "renal", "oncology"), ("copd", "respiratory", "substance"),
    ("pneumonia", "respiratory", "infection"), ("depression", "depression", "musculoskeletal"),
    ("anxiety", "anxiety", "depression"), ("alcohol_use", "substance", "liver_gi"),
    ("schizophrenia", "psychosis", "substance"), ("bipolar", "psychosis", "depression"),
    ("lung_cancer", "oncology", "respiratory"), ("breast_cancer", "oncology", "general"),
    ("prostate_cancer", "oncology", "general"), ("colon_cancer", "oncology", "liver_gi"),
    ("cirrhosis", "liver_gi", "substance"), ("osteoarthritis", "musculoskeletal", "cardiometabolic"),
]


DX_THRESHOLD, DX_INTERACTION = 4.0, 14.0


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _calibrate(z: np.ndarray, target: float) -> float:
    """The intercept a with mean(sigmoid(a + z)) == target (bisection)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _sigmoid(mid + z).mean() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass
class Calibration:
    """Background codes and their frequencies, and code titles, from MIMIC-III(-demo) tables."""

    codes: list[str]
    freq: np.ndarray
    titles: dict[str, str]


def calibration_from(folder: str | Path) -> Calibration:
    ehr = read_mimic3(folder)
    counts = np.bincount(ehr.events["code"].to_numpy(), minlength=ehr.n_codes).astype(float)
    titles = dict(zip(ehr.vocab["code"], ehr.vocab["title"], strict=True))
    for name, prefix in (("D_ICD_DIAGNOSES", "D:"), ("D_ICD_PROCEDURES", "P:")):
        p = _find_table(Path(folder), name)
        if p is not None:
            t = _read_table(p, _TABLES[name][0])
            titles.update(dict(zip(prefix + t["ICD9_CODE"].str.upper(), t["SHORT_TITLE"], strict=True)))
    return Calibration(codes=ehr.vocab["code"].tolist(), freq=counts / counts.sum(), titles=titles)


def simulate_cohort(n_patients: int = 20000, seed: int = 0, *, calibration: Calibration | None = None,
                    years: float = 5.0, split_year: float = 3.0, n_sites: int = 4,
                    visits_per_year: float = 1.6, codes_per_visit: float = 4.0,
                    background_share: float = 0.25,
                    hf_incidence: float = 0.05, suicide_cohort_min_groups: int = 3,
                    phenotype_concentration: float = 0.15,
                    suicide_prevalence: tuple[float, float] = (0.08, 0.03), suicide_horizon_days: int = 90,
                    new_dx_rate: float = 0.03) -> EHR:
    """A seeded cohort with planted structure; see the module docstring and the chapters.

    Timeline: visits over ``years``; ``split_day`` = ``split_year`` years ends the observation
    window. Heart-failure onset falls in [split_day + 180, end); self-harm outcomes within
    ``suicide_horizon_days`` after split_day; new diagnoses in the year after split_day.
    """
    if n_patients < 10:
        raise ValueError(f"n_patients must be at least 10, got {n_patients}")
    if not 0 < split_year < years - 1:
        raise ValueError(f"split_year must leave at least one year after it: got {split_year} of {years}")
    rng = np.random.default_rng(seed)
    cal = calibration or calibration_from(data_dir() / "mimic3_demo")
    end_day = int(years * 365)
    split_day = int(split_year * 365)
    n = n_patients

    # groups and vocabulary
    names = list(PHENOTYPES)
    K = len(names)
    group_rows = [(g, ph, codes, w) for ph, gs in PHENOTYPES.items() for g, codes, w in gs]
    groups = pd.DataFrame({"group": [g for g, *_ in group_rows],
                           "phenotype": [ph for _, ph, *_ in group_rows],
                           "codes": [c for *_, c, _ in group_rows], "weight": [w for *_, w in group_rows]})
    groups["kind"] = [code_kind(c[0]) for c in groups["codes"]]
    extra = [("heart_failure", "outcome", HF_CODES)] + [
        (f"hf_prodrome_{i}", "outcome", c) for i, c in enumerate(HF_PRODROME)] + [
        ("suicidal_ideation", "outcome", IDEATION_CODES), ("self_harm", "outcome", SELF_HARM_CODES)]
    outcome_groups = pd.DataFrame({"group": [e[0] for e in extra], "phenotype": [e[1] for e in extra],
                                   "codes": [e[2] for e in extra], "weight": 0.0,
                                   "kind": [code_kind(e[2][0]) for e in extra]})
    groups = pd.concat([groups, outcome_groups], ignore_index=True)
    gidx = {g: i for i, g in enumerate(groups["group"])}
    planted = [c for cs in groups["codes"] for c in cs]
    vocab_codes = list(dict.fromkeys(planted + list(cal.codes)))
    code_id = {c: i for i, c in enumerate(vocab_codes)}
    code_group = np.full(len(vocab_codes), -1, np.int64)
    for gi, cs in enumerate(groups["codes"]):
        for c in cs:
            code_group[code_id[c]] = gi
    # background: the calibration's codes at their frequencies, minus the planted ones
    # (prodrome codes keep their base rate, so symptoms before onset are a hint, not a give-away;
    # outcome codes come only from the outcome processes)
    bg_ids = np.array([code_id[c] for c in cal.codes], np.int64)
    prodrome = np.isin(code_group[bg_ids], [gidx[f"hf_prodrome_{i}"] for i in range(len(HF_PRODROME))])
    outcome_block = np.array([c.startswith(OUTCOME_PREFIXES) for c in cal.codes], bool)
    bg_p = np.where(((code_group[bg_ids] >= 0) & ~prodrome) | outcome_block, 0.0, cal.freq)
    bg_p = bg_p / bg_p.sum()

    # patients: demographics, clinic, phenotype mixture, utilisation
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    age = np.round(rng.uniform(30, 85, n), 1)
    site = rng.integers(0, n_sites, n)
    # the last component, "general", emits background codes only
    alpha = np.r_[np.full(K, phenotype_concentration), 1.5]
    theta = rng.dirichlet(alpha, n)
    util = rng.normal(0, 1, n)
    n_visits = 1 + rng.poisson(visits_per_year * years * np.exp(0.4 * util - 0.08))

    # visits and their codes
    v_pat = np.repeat(np.arange(n), n_visits)
    v_day = rng.integers(0, end_day, len(v_pat))
    v_ncodes = 1 + rng.poisson(codes_per_visit - 1, len(v_pat))
    mix = np.c_[(1 - background_share) * theta[:, :K] / np.maximum(theta[:, :K].sum(1, keepdims=True), 1e-12)
                * (1 - theta[:, K:]), np.zeros((n, 1))]
    mix[:, K] = 1 - mix[:, :K].sum(1)
    counts = rng.multinomial(v_ncodes, mix[v_pat])
    comp = np.tile(np.arange(K + 1), len(v_pat))
    e_comp = np.repeat(comp, counts.ravel())
    e_visit = np.repeat(np.repeat(np.arange(len(v_pat)), K + 1), counts.ravel())
    e_code = np.empty(len(e_comp), np.int64)
    # member choice: each clinic prefers its synonyms (Dirichlet weights per clinic and group)
    member_cdf = {}
    for gi, cs in enumerate(groups["codes"]):
        w = rng.dirichlet(np.full(len(cs), 0.7), n_sites)
        member_cdf[gi] = np.cumsum(w, 1)
    e_group = np.full(len(e_comp), -1, np.int64)
    for k, ph in enumerate(names):
        idx = np.flatnonzero(e_comp == k)
        gs = groups.index[groups["phenotype"] == ph].to_numpy()
        w = groups.loc[gs, "weight"].to_numpy(float)
        pick = np.searchsorted(np.cumsum(w / w.sum()), rng.random(len(idx)), side="right")
        e_group[idx] = gs[pick.clip(0, len(gs) - 1)]
    bg = np.flatnonzero(e_comp == K)
    e_code[bg] = bg_ids[rng.choice(len(bg_ids), len(bg), p=bg_p)]
    e_pat = v_pat[e_visit]
    e_day = v_day[e_visit]

    def members(gi_arr, pats):
        """A code of each group for each patient's clinic (vectorised over events)."""
        out = np.empty(len(gi_arr), np.int64)
        order = np.argsort(gi_arr, kind="stable")
        bounds = np.flatnonzero(np.diff(gi_arr[order])) + 1
        for chunk in np.split(order, bounds):
            if not len(chunk):
                continue
            gi = int(gi_arr[chunk[0]])
            cdf = member_cdf[gi][site[pats[chunk]]]
            j = (rng.random(len(chunk))[:, None] > cdf).sum(1).clip(0, cdf.shape[1] - 1)
            out[chunk] = np.array([code_id[c] for c in groups.at[gi, "codes"]])[j]
        return out

    ph_ev = np.flatnonzero(e_group >= 0)
    e_code[ph_ev] = members(e_group[ph_ev], e_pat[ph_ev])

    # presence of each group before split_day (the information the outcomes depend on)
    obs = e_day < split_day
    G = len(groups)
    present = np.zeros((n, G), bool)
    present[e_pat[obs & (e_group >= 0)], e_group[obs & (e_group >= 0)]] = True

    add_pat, add_day, add_group = [], [], []

    def emit(pats, days, gi):
        add_pat.append(np.asarray(pats, np.int64))
        add_day.append(np.asarray(days, np.int64))
        add_group.append(np.full(len(pats), gi, np.int64))

    # heart failure: onset after split_day + 180, probability from groups present before split_day
    z = HF_AGE_PER_DECADE * (age - 65) / 10
    for g, b in HF_EFFECTS.items():
        z = z + b * present[:, gidx[g]]
    for (g1, g2), b in HF_INTERACTIONS.items():
        z = z + b * (present[:, gidx[g1]] & present[:, gidx[g2]])
    a_hf = _calibrate(z, hf_incidence)
    p_hf = _sigmoid(a_hf + z)
    case = rng.random(n) < p_hf
    onset = np.where(case, rng.integers(split_day + 180, end_day, n), -1)
    cases = np.flatnonzero(case)
    emit(cases, onset[cases], gidx["heart_failure"])
    # prodrome: symptoms, a loop diuretic and an echocardiogram in the months before onset
    pro = cases[rng.random(len(cases)) < 0.8]
    pro_day = onset[pro] - rng.integers(14, 181, len(pro))
    for i in range(len(HF_PRODROME)):
        sel = rng.random(len(pro)) < 0.6
        emit(pro[sel], pro_day[sel], gidx[f"hf_prodrome_{i}"])
    # after onset the HF codes recur at later visits
    later = (e_day > onset[e_pat]) & case[e_pat] & (rng.random(len(e_pat)) < 0.7)
    emit(e_pat[later], e_day[later], gidx["heart_failure"])

    # self-harm: latent risk from psychiatric factors; cohort = patients with psychiatric codes
    psych_groups = groups.index[groups["phenotype"].isin(PSYCH_PHENOTYPES)].to_numpy()
    n_psych = present[:, psych_groups].sum(1)
    cohort = n_psych >= suicide_cohort_min_groups
    ph_i = {p: i for i, p in enumerate(names)}
    eta = sum(w * theta[:, ph_i[p]] for p, w in SUICIDE_WEIGHTS.items())
    p1, p2, b = SUICIDE_INTERACTION
    eta = eta + b * theta[:, ph_i[p1]] * theta[:, ph_i[p2]] - 0.02 * (age - 45)
    # prior self-harm before split_day, more likely at higher risk
    a_prior = _calibrate(eta[cohort], 0.04)
    prior = cohort & (rng.random(n) < _sigmoid(a_prior + eta))
    pr = np.flatnonzero(prior)
    emit(pr, rng.integers(0, split_day, len(pr)), gidx["self_harm"])
    eta = eta + SUICIDE_PRIOR * prior
    t_mod = -_calibrate(eta[cohort], suicide_prevalence[0] + suicide_prevalence[1])
    t_high = -_calibrate(eta[cohort], suicide_prevalence[1])
    p_ge_mod = _sigmoid(eta - t_mod)
    p_high = _sigmoid(eta - t_high)
    u = rng.random(n)
    level = np.where(u < p_high, 2, np.where(u < p_ge_mod, 1, 0))
    level[~cohort] = 0
    for lev, g in ((1, "suicidal_ideation"), (2, "self_harm")):
        who = np.flatnonzero(cohort & (level == lev))
        emit(who, split_day + rng.integers(0, suicide_horizon_days, len(who)), gidx[g])
    suicide = pd.DataFrame({"cohort": cohort, "prior_self_harm": prior, "risk": eta,
                            "p_low": np.where(cohort, 1 - p_ge_mod, np.nan),
                            "p_moderate": np.where(cohort, p_ge_mod - p_high, np.nan),
                            "p_high": np.where(cohort, p_high, np.nan), "level": np.where(cohort, level, -1)})

    # new diagnoses in the year after split_day: only the planted process creates them
    th = theta
    ph_i["general"] = K
    dz = np.zeros((n, len(DISEASES)))
    drivers = []
    for d, (g, home, partner) in enumerate(DISEASES):
        h, q = th[:, ph_i[home]], th[:, ph_i[partner]]
        # a threshold in the home phenotype, sharpened by the partner (non-linear in the mixture)
        dz[:, d] = DX_THRESHOLD * _sigmoid(14 * (h - 0.2)) + DX_INTERACTION * h * q + 0.02 * (age - 60)
        drivers.append({"disease": g, "home": home, "partner": partner})
    eligible = ~present[:, [gidx[g] for g, *_ in DISEASES]]
    new_p = np.full((n, len(DISEASES)), np.nan)
    new_dx = np.zeros((n, len(DISEASES)), bool)
    for d, (g, *_) in enumerate(DISEASES):
        el = eligible[:, d]
        a = _calibrate(dz[el, d], new_dx_rate)
        drivers[d]["intercept"] = a
        new_p[el, d] = _sigmoid(a + dz[el, d])
        new_dx[el, d] = rng.random(int(el.sum())) < new_p[el, d]
        who = np.flatnonzero(new_dx[:, d])
        emit(who, split_day + rng.integers(0, 365, len(who)), gidx[g])
    # the baseline process must not create other new diagnoses of these diseases in that year
    dis_of_group = np.full(G, -1)
    for d, (g, *_) in enumerate(DISEASES):
        dis_of_group[gidx[g]] = d
    ed = np.where(e_group >= 0, dis_of_group[np.maximum(e_group, 0)], -1)
    in_year = (e_day >= split_day) & (e_day < split_day + 365) & (ed >= 0)
    drop = np.zeros(len(e_pat), bool)
    drop[in_year] = eligible[e_pat[in_year], ed[in_year]]
    keep = ~drop

    a_pat, a_day, a_group = (np.concatenate(x) for x in (add_pat, add_day, add_group))
    a_code = members(a_group, a_pat)
    pat = np.r_[e_pat[keep], a_pat]
    day = np.r_[e_day[keep], a_day]
    code = np.r_[e_code[keep], a_code]
    order = np.lexsort((code, day, pat))
    pat, day, code = pat[order], day[order], code[order]
    # one timeline for all patients (day 0 = the start of follow-up), so split_day is one date
    visit = np.r_[0, np.cumsum((np.diff(pat) != 0) | (np.diff(day) != 0))]
    events = pd.DataFrame({"patient_id": pat, "day": day.astype(np.int32), "visit": visit.astype(np.int64),
                           "code": code.astype(np.int32)})
    patients = pd.DataFrame({"subject": np.arange(n), "sex": sex, "age": age}, index=np.arange(n))
    patients.index.name = "patient_id"
    titles = dict(cal.titles)
    for c in vocab_codes:
        if c.startswith("M:"):
            titles.setdefault(c, c[2:])
    hf = pd.DataFrame({"probability": p_hf, "onset_day": np.where(case, onset, np.nan), "case": case})
    truth = Truth(
        phenotypes=names + ["general"], theta=theta, site=site, groups=groups.drop(columns="weight"),
        code_group=code_group, hf=hf, hf_effects=pd.Series(HF_EFFECTS, name="log-odds"),
        hf_interactions=dict(HF_INTERACTIONS), suicide=suicide,
        suicide_weights=pd.Series(SUICIDE_WEIGHTS, name="weight"),
        diseases=[g for g, *_ in DISEASES], new_dx_probability=new_p, new_dx=new_dx,
        disease_drivers=pd.DataFrame(drivers).set_index("disease"),
        params={"n_patients": n, "seed": seed, "years": years, "split_year": split_year, "n_sites": n_sites,
                "hf_incidence": hf_incidence, "hf_intercept": a_hf,
                "suicide_prevalence": list(suicide_prevalence),
                "suicide_thresholds": [t_mod, t_high], "new_dx_rate": new_dx_rate},
    )
    return EHR(patients=patients, events=events, vocab=_vocab_frame(vocab_codes, titles), source="simulated",
               split_day=split_day, horizon_days=suicide_horizon_days, truth=truth)


# ---------------------------------------------------------------------------------------------
# Checks of a representation against the simulator's planted truth (used by heart_failure and
# suicide_risk; additions only, nothing above depends on them)


def probe_r2(Z_train, F_train, Z_test, F_test,
             alphas=(0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)) -> np.ndarray:
    """A linear probe: ridge regression from a representation (rows x features, standardised on
    the training rows) to planted factors (rows x factors), its penalty chosen per factor by
    leave-one-out on the training rows; returns the R^2 of each factor on the test rows.

    R^2 near 1: the factor is a linear function of the representation; 0: no better than the
    training mean (it can be negative on the test rows).
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.preprocessing import StandardScaler

    def dense(a):
        return np.asarray(a.toarray() if sparse.issparse(a) else a, np.float64)

    Ztr, Zte = dense(Z_train), dense(Z_test)
    Ftr = np.asarray(F_train, np.float64).reshape(len(Ztr), -1)
    Fte = np.asarray(F_test, np.float64).reshape(len(Zte), -1)
    scaler = StandardScaler().fit(Ztr)
    model = RidgeCV(alphas=list(alphas), alpha_per_target=True).fit(scaler.transform(Ztr), Ftr)
    pred = model.predict(scaler.transform(Zte)).reshape(len(Zte), -1)
    return np.asarray(r2_score(Fte, pred, multioutput="raw_values"), float)


# ---------------------------------------------------------------------------------------------
# Registry

_DEMO = "mimic3_demo"
_DEMO_FILES = {
    f"{_DEMO}/ADMISSIONS_repaired_dates.csv":
        "3569c7bfdfa7b983df1766bf76d0cd0053adfd1054a9e0c6d455879ddc066066",
    f"{_DEMO}/DIAGNOSES_ICD.csv":
        "2d3d53b2639e344ce13c598c8754ac0a17adb00815e69da3e73973c438ec1c9c",
    f"{_DEMO}/D_ICD_DIAGNOSES.csv.gz":
        "571944a2b6ea1a4ec81208af7afcce45f0c85f46770dd3d2f9f0c94edb42d139",
    f"{_DEMO}/D_ICD_PROCEDURES.csv.gz":
        "e4ac71c933eb882b0eb2a13d24e2d1c50111ee878ad0b00edd7a6552e59d9bf3",
    f"{_DEMO}/PATIENTS_repaired_dates.csv":
        "a63f3b4f7e3234c3fbc19208bdffbe71d27dbedbbafe6dee85f67f5872ef3719",
    f"{_DEMO}/PRESCRIPTIONS.csv.gz":
        "a33f6107316640d05b84a6ad07a32e58ac4adfd80ec6f720119c12e287fc39fd",
    f"{_DEMO}/PROCEDURES_ICD.csv":
        "b700b8a223efa8024853ee800f57ed261acd09eb95e4b131cb267e6822f16ee6",
}
_DEMO_CITATION = ("Johnson AEW et al. MIMIC-III, a freely accessible critical care database. "
                  "Sci Data 3:160035, 2016 (demo v1.4, PhysioNet)")


def _load_demo(*paths) -> EHR:
    return read_mimic3(Path(paths[0]).parent)


def _load_simulated(*paths, n_patients: int = 20000, seed: int = 0, **kwargs) -> EHR:
    return simulate_cohort(n_patients, seed, calibration=calibration_from(Path(paths[0]).parent), **kwargs)
