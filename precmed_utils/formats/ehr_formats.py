"""Readers of coded EHR extracts in the layouts people hold: MIMIC-IV (``hosp`` module), OMOP CDM
v5.4 and MEDS, each into the :class:`~precmed_utils.formats.ehr.EHR` the three EHR studies use, and
:func:`read_ehr`, which recognises the layout of a folder (those three and MIMIC-III) and calls the
right reader.

The tables are read by DuckDB: SQL over the CSV, CSV.gz or Parquet files; checks, joins and the
mapping of codes run in DuckDB, and only the final event table (patient, day, visit, code id) and
the vocabulary reach pandas, so a large extract never has every table in memory as Python objects.

Codes keep the kind prefixes of :mod:`precmed_utils.formats.ehr`, with one prefix per vocabulary so codes of
two vocabularies never collide: ``D:`` ICD-9-CM diagnosis and ``P:`` ICD-9-CM procedure in MIMIC's
undotted spelling (exactly as :func:`~precmed_utils.formats.ehr.read_mimic3` writes them), ``D10:``
ICD-10-CM diagnosis and ``P10:`` ICD-10-PCS procedure (undotted, upper case), ``M:`` a drug name
(lower case, runs of white space made one space), and for OMOP standard concepts that are not ICD
``<vocabulary_id>:<concept_id>`` (``SNOMED:4229440``, ``RxNorm:19019073``; ``OMOP:<concept_id>``
when no ``concept`` table names the vocabulary), whose kind comes from the table it was read from.

Every reader reports malformed input as a :class:`~precmed_utils.errors.DataError` naming the file,
the line (CSV; the header is line 1) or the row (Parquet; the first data row is row 0, as
``file_row_number``) and the column, and records what it dropped or repaired in ``EHR.notes``
(counts only). With a collecting :class:`~precmed_utils.errors.Problems` (``precmed check-data``) a
reader lists every problem it finds instead of stopping at the first.

Common rules: day 0 is the calendar date of a patient's first admission/visit or first kept event,
whichever is earlier; days are whole calendar days; ages are at the first admission/visit (MEDS: at
the first timed row), in years, and ages above 89 are recorded as 90 (as read_mimic3 does).

Used by: the heart_failure, suicide_risk and deep_patient studies (through datasets.yml's
user_formats), checkdata.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, Problems
from . import ehr as _ehr
from .phenotypes import ICD_PREFIXES
from .tables import UNREADABLE, csv_header, open_text

# ---------------------------------------------------------------------------------------------
# What each layout needs (the documentation shown by `precmed check-data`)

MIMIC4_FORMAT = (
    "MIMIC-IV (v2.x or v3.x) hosp module as distributed by PhysioNet: a folder holding hosp/ (or the "
    "hosp folder itself) with lower-case CSV or CSV.gz tables: admissions (subject_id, hadm_id, "
    "admittime) and diagnoses_icd (subject_id, hadm_id, icd_code, icd_version) are required; "
    "procedures_icd (subject_id, hadm_id, icd_code, icd_version), prescriptions (subject_id, hadm_id, "
    "starttime, drug), patients (subject_id, gender, anchor_age, anchor_year) and d_icd_diagnoses / "
    "d_icd_procedures (icd_code, icd_version, long_title) are used when present. Diagnoses and "
    "procedures are dated at their admission's admittime; prescriptions at starttime. ICD-9 codes "
    "become D:/P: (as MIMIC-III), ICD-10 codes D10:/P10:."
)
OMOP_FORMAT = (
    "OMOP CDM v5.4: a folder with one file per table, lower-case names, CSV, CSV.gz or Parquet (a "
    "table may also be a folder of Parquet files): person (person_id, gender_concept_id 8507 male / "
    "8532 female, year_of_birth, empty where unknown; month_of_birth, day_of_birth, birth_datetime used "
    "when present) and "
    "condition_occurrence (person_id, condition_concept_id, condition_start_date) are required; "
    "visit_occurrence (visit_occurrence_id, person_id, visit_start_date), procedure_occurrence "
    "(person_id, procedure_concept_id, procedure_date), drug_exposure (person_id, drug_concept_id, "
    "drug_exposure_start_date) and concept (concept_id, concept_name, vocabulary_id, concept_code) are "
    "used when present, as are the event tables' visit_occurrence_id, *_source_concept_id and "
    "drug_source_value, and concept_ancestor (ancestor_concept_id, descendant_concept_id). A condition or "
    "procedure whose source concept is ICD9CM, ICD10CM, ICD9Proc or ICD10PCS becomes D:, D10:, P: or P10: "
    "and the source concept's concept_code without its dot; any other row its standard concept, "
    "<vocabulary_id>:<concept_id>; a drug with drug_concept_id 0 becomes M: and its drug_source_value. "
    "An outcome defined in phenotypes.yml is found through its ICD codes and through its OMOP standard "
    "concept ids, with their descendants when concept_ancestor is present (otherwise the listed ids only, "
    "as the reader's notes say)."
)
MEDS_FORMAT = (
    "MEDS (Medical Event Data Standard): a folder with data/ holding Parquet files of events in the "
    "schema of the meds package (subject_id int64, time timestamp[us], code string, numeric_value "
    "float32 optional) and optionally metadata/codes.parquet (code, description). Codes used: "
    "ICD9CM//<code>, ICD10CM//<code>, ICD9Proc//<code>, ICD10PCS//<code> (one or two slashes; the "
    "code dotted or not), DIAGNOSIS//ICD//9|10//<code>, PROCEDURE//ICD//9|10//<code>, "
    "MEDICATION//<drug name>, RxNorm//<concept>, GENDER//F or GENDER//M, and MEDS_BIRTH (the date of "
    "birth); other codes and all numeric and text values are dropped (counted)."
)
EHR_FORMAT = (
    "A folder of coded EHR tables in one of four layouts, recognised from the files present. "
    f"(1) {_ehr.MIMIC_FORMAT} (2) {MIMIC4_FORMAT} (3) {OMOP_FORMAT} (4) {MEDS_FORMAT}"
)

ICD_PREFIX = {("diagnosis", 9): "D:", ("diagnosis", 10): "D10:", ("procedure", 9): "P:",
              ("procedure", 10): "P10:"}
AGE_CAP = 89  # ages above are recorded as 90

_TYPE_WORDS = {"BIGINT": "a whole number", "TIMESTAMP": "a date (expected e.g. 2180-07-23 or "
               "2180-07-23 12:36:00)", "DOUBLE": "a number"}


class _Stop(Exception):
    """Raised inside a reader when a collecting report already holds errors."""


def normalise_icd(code: str) -> str:
    """An ICD code in MIMIC's spelling: no dot, no blanks, upper case (``428.0`` -> ``4280``)."""
    return re.sub(r"[\s.]", "", str(code)).upper()


# ---------------------------------------------------------------------------------------------
# Tables on disk


class _Source:
    """One logical table: its file(s), whether CSV or Parquet, and its header (as in the file)."""

    def __init__(self, name: str, paths: list[Path], kind: str, shown: Path):
        self.name, self.paths, self.kind, self.shown = name, paths, kind, shown
        self.header: list[str] = []

    def col(self, name: str) -> str | None:
        """The header name that equals ``name`` ignoring case."""
        return next((h for h in self.header if h.lower() == name.lower()), None)


def _find(folder: Path, name: str) -> _Source | None:
    """``name.csv``, ``name.csv.gz`` or ``name.parquet`` (any case), or a folder ``name`` of
    Parquet files."""
    if not folder.is_dir():
        return None
    for p in sorted(folder.iterdir()):
        low = p.name.lower()
        if p.is_file() and low in (f"{name}.csv", f"{name}.csv.gz"):
            return _Source(name, [p], "csv", p)
        if p.is_file() and low == f"{name}.parquet":
            return _Source(name, [p], "parquet", p)
        if p.is_dir() and low == name:
            files = sorted(p.rglob("*.parquet"))
            if files:
                return _Source(name, files, "parquet", p)
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


class _Reader:
    """One read: a DuckDB connection, the report, the notes."""

    def __init__(self, report: Problems | None, expected: str):
        import duckdb

        self.duckdb = duckdb
        self.report = report if report is not None else Problems()
        self.expected = expected
        self.notes: list[str] = []
        self.tmp = tempfile.mkdtemp(prefix="precmed_duckdb_")
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET temp_directory = {_lit(self.tmp)}")
        self.con.execute("SET preserve_insertion_order = false")
        self.sources: dict[str, _Source] = {}

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, file, location: str, message: str) -> None:
        self.report.add(file, location, message)  # raises DataError unless collecting

    def stop_if_errors(self) -> None:
        if self.report.errors or self.report.more:
            raise _Stop

    def q(self, sql: str):
        return self.con.execute(sql)

    def scalar(self, sql: str):
        return self.con.execute(sql).fetchone()[0]

    # --- loading ------------------------------------------------------------------------------

    def load(self, src: _Source, spec: dict[str, str], optional: tuple[str, ...] = ()) -> bool:
        """Table ``src.name`` in DuckDB with the columns of ``spec`` (lower-case name -> type), text
        trimmed and empty text NULL, and ``_file``/``_row`` for Parquet. A column of ``optional``
        that the file lacks is NULL. Cells that are not of their type are reported with their
        line (CSV) or row (Parquet). Returns False when the table could not be read at all."""
        self.sources[src.name] = src
        try:
            if src.kind == "csv":
                src.header = csv_header(src.paths[0])
            else:
                import pyarrow.parquet as pq

                src.header = list(pq.read_schema(src.paths[0]).names)
        except UNREADABLE as exc:
            what = "(gzipped) UTF-8 CSV" if src.kind == "csv" else "Parquet"
            self.add(src.shown, "", f"cannot be read as a {what} table: {exc}")
            return False
        except Exception as exc:  # pyarrow's errors for a file that is not Parquet
            self.add(src.shown, "", f"cannot be read as a Parquet table: {exc}")
            return False
        where = "line 1" if src.kind == "csv" else "schema"
        if not src.header:
            self.add(src.shown, "", f"the file is empty; expected a header with {', '.join(spec)}")
            return False
        dupes = sorted({h for h in src.header if [x.lower() for x in src.header].count(h.lower()) > 1})
        if dupes:
            self.add(src.shown, where, f"duplicate column names {dupes[:5]}")
            return False
        missing = [c for c in spec if c not in optional and src.col(c) is None]
        if missing:
            shown = ", ".join(src.header[:8]) + (", ..." if len(src.header) > 8 else "")
            self.add(src.shown, where, f"missing column(s) {', '.join(missing)} (columns: {shown}); "
                     f"expected at least {', '.join(c for c in spec if c not in optional)}")
            return False
        table = _quote(src.name)
        try:
            if src.kind == "csv":
                self._load_csv(src, spec, table)
            else:
                self._load_parquet(src, spec, table)
        except self.duckdb.Error as exc:
            self.add(src.shown, "", f"cannot be read: {str(exc).splitlines()[0]}")
            return False
        return True

    def _select(self, src: _Source, spec: dict[str, str], typed: bool) -> str:
        cols = []
        for c, t in spec.items():
            h = src.col(c)
            if h is None:
                cols.append(f"CAST(NULL AS {t}) AS {c}")
            elif t == "VARCHAR":
                cols.append(f"NULLIF(trim(CAST({_quote(h)} AS VARCHAR)), '') AS {c}")
            elif typed:
                cols.append(f"{_quote(h)} AS {c}")
            else:
                cols.append(f"TRY_CAST({_quote(h)} AS {t}) AS {c}")
        return ", ".join(cols)

    def _load_csv(self, src: _Source, spec: dict[str, str], table: str) -> None:
        types = {h: spec.get(h.lower(), "VARCHAR") for h in src.header}
        cols = "{" + ", ".join(f"{_lit(h)}: {_lit(t)}" for h, t in types.items()) + "}"
        rej = f"rej_{src.name}"
        self.q(f"DROP TABLE IF EXISTS {rej}; DROP TABLE IF EXISTS {rej}_scan")
        path = _lit(str(src.paths[0]))
        self.q(f"CREATE TEMP TABLE {table} AS SELECT {self._select(src, spec, True)} FROM read_csv({path}, "
               f"header=true, auto_detect=false, columns={cols}, delim=',', quote='\"', escape='\"', "
               f"store_rejects=true, rejects_table='{rej}', rejects_scan='{rej}_scan', "
               "rejects_limit=0)")
        n = self.scalar(f"SELECT count(*) FROM {rej}")
        if not n:
            return
        rows = self.q(f"SELECT line, column_name, error_type, error_message FROM {rej} ORDER BY line, "
                      f"column_idx LIMIT {self.report.limit + 1}").fetchall()
        for line, col, kind, msg in rows:
            if kind == "CAST":
                m = re.search(r'Could not convert string "(.*)" to', msg)
                value = m.group(1) if m else "?"
                what = _TYPE_WORDS.get(types.get(col, ""), types.get(col, ""))
                self.add(src.shown, f"line {line}, column {col.lower()!r}", f"{value[:30]!r} is not {what}")
            elif kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
                m = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", msg)
                found, want = (m.group(2), m.group(1)) if m else ("?", len(src.header))
                self.add(src.shown, f"line {line}", f"{found} fields where the header has {want} "
                         "(a stray comma or quote?)")
            else:
                self.add(src.shown, f"line {line}", msg.splitlines()[0])

    def _load_parquet(self, src: _Source, spec: dict[str, str], table: str) -> None:
        files = "[" + ", ".join(_lit(str(p)) for p in src.paths) + "]"
        raw = f"raw_{src.name}"
        self.q(f"CREATE OR REPLACE TEMP VIEW {raw} AS SELECT * FROM read_parquet({files}, filename=true, "
               "file_row_number=true, union_by_name=true)")
        self.q(f"CREATE TEMP TABLE {table} AS SELECT {self._select(src, spec, False)}, filename AS _file, "
               f"file_row_number AS _row FROM {raw}")
        for c, t in spec.items():
            h = src.col(c)
            if h is None or t == "VARCHAR":
                continue
            bad = self.q(f"SELECT filename, file_row_number, CAST({_quote(h)} AS VARCHAR) FROM {raw} "
                         f"WHERE {_quote(h)} IS NOT NULL AND TRY_CAST({_quote(h)} AS {t}) IS NULL "
                         f"ORDER BY filename, file_row_number LIMIT {self.report.limit + 1}").fetchall()
            for f, row, value in bad:
                self.add(f, f"row {row}, column {c!r}", f"{str(value)[:30]!r} is not {_TYPE_WORDS.get(t, t)}")

    # --- locating a row the checks found ----------------------------------------------------------

    def locate(self, name: str, cond_sql: str, match, nth: int = 1) -> tuple[str, str]:
        """(file, 'line N' or 'row N') of the ``nth`` row of table ``name`` where ``cond_sql``
        holds (Parquet) or where ``match`` (a function of the row as a dict of lower-case column
        name -> text) is true (CSV, scanned with Python's csv module, so line numbers are exact)."""
        src = self.sources[name]
        if src.kind == "parquet":
            hit = self.q(f"SELECT _file, _row FROM {_quote(name)} WHERE {cond_sql} ORDER BY _file, _row "
                         f"LIMIT 1 OFFSET {nth - 1}").fetchone()
            return (hit[0], f"row {hit[1]}") if hit else (str(src.shown), "")
        seen = 0
        with open_text(src.paths[0]) as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            for row in reader:
                if len(row) != len(header):
                    continue
                if match(dict(zip(header, (v.strip() for v in row), strict=True))):
                    seen += 1
                    if seen == nth:
                        return str(src.shown), f"line {reader.line_num}"
        return str(src.shown), ""

    def require(self, name: str, col: str, where: str = "TRUE") -> None:
        """Report a missing value in ``col`` of table ``name`` (rows where ``where`` holds)."""
        n = self.scalar(f"SELECT count(*) FROM {_quote(name)} WHERE {col} IS NULL AND {where}")
        if n:
            cond = f"{col} IS NULL AND {where}"
            f, loc = self.locate(name, cond, lambda r, c=col: r.get(c, "") == "" and self._py_where(r, where))
            self.add(f, f"{loc}, column {col!r}" if loc else f"column {col!r}",
                     f"missing value ({n} row(s) in all)")

    @staticmethod
    def _py_where(row: dict, where: str) -> bool:
        # the only conditions `require` is given: TRUE, or "<column> IS NOT NULL"
        m = re.fullmatch(r"(\w+) IS NOT NULL", where)
        return True if where == "TRUE" else (row.get(m.group(1), "") != "" if m else True)

    def unique(self, name: str, col: str) -> None:
        dup = self.q(f"SELECT {col}, count(*) FROM {_quote(name)} WHERE {col} IS NOT NULL GROUP BY {col} "
                     f"HAVING count(*) > 1 ORDER BY {col} LIMIT 1").fetchone()
        if dup:
            f, loc = self.locate(name, f"{col} = {dup[0]}", lambda r: _int_text(r.get(col)) == dup[0], nth=2)
            self.add(f, f"{loc}, column {col!r}" if loc else f"column {col!r}", f"{col} {dup[0]} appears "
                     f"{dup[1]} times")

    def note_count(self, sql: str, text: str) -> int:
        n = int(self.scalar(sql) or 0)
        if n:
            self.notes.append(text.format(n=n))
        return n

    # --- the EHR --------------------------------------------------------------------------------

    def assemble(self, folder: Path, source: str, titles_sql: str | None) -> _ehr.EHR:
        """The EHR from tables ``ev`` (subject, t, visit, code, kind), ``anchor`` (subject, t: the
        admissions/visits), ``subjects`` (subject) and ``demo`` (subject, sex, birth, anchor_age,
        anchor_year)."""
        q = self.q
        if not self.scalar("SELECT count(*) FROM ev"):
            raise DataError(f"{folder}: no coded events (diagnoses, procedures or medications) were found. "
                            f"{self.expected}")
        q("""CREATE TEMP TABLE subj AS SELECT subject, row_number() OVER (ORDER BY subject) - 1 AS pid
             FROM subjects""")
        q("""CREATE TEMP TABLE first AS SELECT subject, min(d) AS d0 FROM (
               SELECT subject, CAST(t AS DATE) AS d FROM anchor UNION ALL
               SELECT subject, CAST(t AS DATE) FROM ev) GROUP BY subject""")
        codes = q("SELECT code, min(kind) FROM ev WHERE subject IN (SELECT subject FROM subj) GROUP BY code"
                  ).df()
        codes = codes.iloc[np.argsort(codes.iloc[:, 0].to_numpy(dtype=str), kind="stable")]
        code_list = codes.iloc[:, 0].tolist()
        kinds = dict(zip(code_list, codes.iloc[:, 1], strict=True))
        codemap = pd.DataFrame({"code": code_list, "id": np.arange(len(code_list), dtype=np.int32)})
        self.con.register("codemap", codemap)
        ev = q("""SELECT s.pid AS patient_id, date_diff('day', f.d0, CAST(e.t AS DATE)) AS day,
                         e.visit AS visit_key, c.id AS code
                  FROM ev e JOIN subj s USING (subject) JOIN first f USING (subject)
                  JOIN codemap c USING (code)
                  ORDER BY patient_id, day, code""").df()
        events = pd.DataFrame({"patient_id": ev["patient_id"].to_numpy(np.int64),
                               "day": ev["day"].to_numpy().astype(np.int32),
                               "code": ev["code"].to_numpy(np.int32)})
        vk = ev["visit_key"].astype("float").fillna(-1).to_numpy()
        vk = np.where(vk < 0, -(events["patient_id"] * 100000 + events["day"] + 1.0), vk)
        events["visit"] = pd.factorize(vk)[0].astype(np.int64)
        events = events[["patient_id", "day", "visit", "code"]]

        pt = q("""SELECT s.subject, d.sex,
                    CASE WHEN d.birth IS NOT NULL
                         THEN (epoch(r.ref) - epoch(d.birth)) / 86400.0 / 365.25
                         WHEN d.anchor_age IS NOT NULL
                         THEN d.anchor_age + year(r.ref) - d.anchor_year END AS age
                  FROM subj s
                  LEFT JOIN demo d USING (subject)
                  LEFT JOIN (SELECT subject, coalesce(min(a.t), min(e.t)) AS ref FROM subj
                             LEFT JOIN anchor a USING (subject) LEFT JOIN ev e USING (subject)
                             GROUP BY subject) r USING (subject)
                  ORDER BY s.pid""").df()
        age = pt["age"].to_numpy(float)
        capped = int(np.nansum(age > AGE_CAP))
        if capped:
            self.notes.append(f"{capped} ages above {AGE_CAP} set to 90")
        patients = pd.DataFrame({"subject": pt["subject"].to_numpy(np.int64),
                                 "sex": pt["sex"].fillna("U").to_numpy(),
                                 "age": np.where(age > AGE_CAP, 90.0, np.round(age, 1))},
                                index=np.arange(len(pt)))
        patients.index.name = "patient_id"
        titles = {}
        if titles_sql:
            t = q(f"SELECT code, title FROM ({titles_sql}) WHERE code IN (SELECT code FROM codemap) "
                  "AND title IS NOT NULL").fetchall()
            titles = dict(t)
        for c in code_list:
            if c.startswith("M:"):
                titles[c] = c[2:]
        return _ehr.EHR(patients=patients, events=events, vocab=_ehr._vocab_frame(code_list, titles, kinds),
                        source=source, notes=self.notes)


def _int_text(v) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def _run(body, folder, report: Problems | None, expected: str):
    """Run a reader's ``body(reader, folder)``; a collecting report's errors end it with None."""
    r = _Reader(report, expected)
    try:
        return body(r, folder)
    except _Stop:
        return None
    finally:
        r.close()


def _required(r: _Reader, folder: Path, names: list[str], optional: list[str], what: str) -> dict:
    found = {n: _find(folder, n) for n in names + optional}
    missing = [n for n in names if found[n] is None]
    if missing:
        r.add(folder, "", f"no {' or '.join(missing)} table (looked for {missing[0]}.csv, {missing[0]}.csv.gz"
              f"{', ' + missing[0] + '.parquet' if what != 'MIMIC-IV' else ''}). {r.expected}")
        raise _Stop
    return found


# ---------------------------------------------------------------------------------------------
# MIMIC-IV


def mimic4_root(folder: Path) -> Path:
    """The folder holding MIMIC-IV's hosp tables: ``folder/hosp`` when there is one, else ``folder``."""
    sub = next((p for p in folder.iterdir() if p.is_dir() and p.name.lower() == "hosp"), None) \
        if folder.is_dir() else None
    return sub or folder


def read_mimic4(folder: str | Path, report: Problems | None = None) -> _ehr.EHR | None:
    """Read MIMIC-IV hosp tables (see MIMIC4_FORMAT) into an :class:`~precmed_utils.formats.ehr.EHR`.

    Rules as :func:`~precmed_utils.formats.ehr.read_mimic3`: rows without a code, and rows whose hadm_id
    has no admission, are dropped and counted; a prescription without starttime takes its
    admission's time; an event whose hadm_id belongs to another subject, a repeated hadm_id, an
    icd_version other than 9 or 10, a missing id or admittime are errors. Age: anchor_age plus the
    years from anchor_year to the first admission (MIMIC-IV records ages above 89 as 91; they
    become 90).
    """
    def body(r: _Reader, folder: Path):
        root = mimic4_root(folder)
        src = _required(r, root, ["admissions", "diagnoses_icd"],
                        ["procedures_icd", "prescriptions", "patients", "d_icd_diagnoses",
                         "d_icd_procedures"], "MIMIC-IV")
        ids = {"subject_id": "BIGINT", "hadm_id": "BIGINT"}
        icd = {**ids, "icd_code": "VARCHAR", "icd_version": "BIGINT"}
        title = {"icd_code": "VARCHAR", "icd_version": "BIGINT", "long_title": "VARCHAR"}
        specs = {"admissions": {**ids, "admittime": "TIMESTAMP"}, "diagnoses_icd": icd, "procedures_icd": icd,
                 "prescriptions": {**ids, "starttime": "TIMESTAMP", "drug": "VARCHAR"},
                 "patients": {"subject_id": "BIGINT", "gender": "VARCHAR", "anchor_age": "BIGINT",
                              "anchor_year": "BIGINT"},
                 "d_icd_diagnoses": title, "d_icd_procedures": title}
        loaded = {n: r.load(s, specs[n]) for n, s in src.items() if s is not None}
        r.stop_if_errors()
        for n in ("procedures_icd", "prescriptions", "patients"):
            if src[n] is None:
                r.notes.append(f"{n}: not found" + (", sex and age unknown" if n == "patients" else ""))
        present = [n for n, ok in loaded.items() if ok]
        for n in present:
            if n.startswith("d_icd"):
                continue
            r.require(n, "subject_id")
            if n in ("admissions", "diagnoses_icd", "procedures_icd"):
                r.require(n, "hadm_id")
        r.require("admissions", "admittime")
        r.unique("admissions", "hadm_id")
        if "patients" in present:
            r.unique("patients", "subject_id")
        for n in ("diagnoses_icd", "procedures_icd"):
            if n in present:
                r.require(n, "icd_version", "icd_code IS NOT NULL")
                bad = r.q(f"SELECT icd_version FROM {n} WHERE icd_version NOT IN (9, 10) LIMIT 1").fetchone()
                if bad:
                    f, loc = r.locate(n, f"icd_version = {bad[0]}", lambda x, v=bad[0]: _int_text(
                        x.get("icd_version")) == v)
                    r.add(f, f"{loc}, column 'icd_version'",
                          f"{bad[0]} is not an ICD version (expected 9 or 10)")
        if not r.scalar("SELECT count(*) FROM admissions"):
            r.add(r.sources["admissions"].shown, "", "no admissions")
        for n in ("diagnoses_icd", "procedures_icd", "prescriptions"):
            if n not in present:
                continue
            bad = r.q(f"""SELECT t.hadm_id, t.subject_id FROM {n} t JOIN admissions a USING (hadm_id)
                          WHERE a.subject_id <> t.subject_id ORDER BY t.hadm_id LIMIT 1""").fetchone()
            if bad:
                f, loc = r.locate(n, f"hadm_id = {bad[0]} AND subject_id = {bad[1]}", lambda x, b=bad: (
                    _int_text(x.get("hadm_id")), _int_text(x.get("subject_id"))) == tuple(b))
                r.add(f, loc, f"hadm_id {bad[0]} belongs to another subject_id in admissions")
        r.stop_if_errors()

        parts = []
        for n, kind in (("diagnoses_icd", "diagnosis"), ("procedures_icd", "procedure")):
            if n not in present:
                continue
            r.note_count(f"SELECT count(*) FROM {n} WHERE icd_code IS NULL",
                         f"{n}: {{n}} rows without a code dropped")
            r.note_count(f"SELECT count(*) FROM {n} t WHERE icd_code IS NOT NULL AND hadm_id NOT IN "
                         "(SELECT hadm_id FROM admissions)",
                         f"{n}: {{n}} rows whose hadm_id has no admission dropped")
            p9, p10 = ICD_PREFIX[(kind, 9)], ICD_PREFIX[(kind, 10)]
            parts.append(f"""SELECT t.subject_id AS subject, a.admittime AS t, t.hadm_id AS visit,
                   (CASE t.icd_version WHEN 9 THEN '{p9}' ELSE '{p10}' END)
                   || upper(regexp_replace(t.icd_code, '[\\s.]', '', 'g')) AS code, '{kind}' AS kind
                   FROM {n} t JOIN admissions a USING (hadm_id) WHERE t.icd_code IS NOT NULL""")
        if "prescriptions" in present:
            n = "prescriptions"
            count = f"SELECT count(*) FROM {n} t"
            r.note_count(f"{count} WHERE drug IS NULL", f"{n}: {{n}} rows without a drug dropped")
            r.note_count(f"{count} WHERE drug IS NOT NULL AND hadm_id IS NOT NULL AND hadm_id NOT IN "
                         "(SELECT hadm_id FROM admissions)",
                         f"{n}: {{n}} rows whose hadm_id has no admission dropped")
            r.note_count(f"{count} JOIN admissions a USING (hadm_id) WHERE drug IS NOT NULL "
                         "AND starttime IS NULL",
                         f"{n}: {{n}} rows without starttime dated at their admission")
            r.note_count(f"{count} WHERE drug IS NOT NULL AND starttime IS NULL AND hadm_id IS NULL",
                         f"{n}: {{n}} rows without starttime or hadm_id dropped")
            r.note_count(f"{count} WHERE drug IS NOT NULL AND hadm_id IS NULL AND starttime IS NOT NULL AND "
                         "subject_id NOT IN (SELECT subject_id FROM admissions)",
                         f"{n}: {{n}} rows of subjects without an admission dropped")
            parts.append(f"""SELECT t.subject_id, coalesce(t.starttime, a.admittime), t.hadm_id,
                   'M:' || lower(regexp_replace(t.drug, '\\s+', ' ', 'g')), 'medication'
                   FROM {n} t LEFT JOIN admissions a USING (hadm_id)
                   WHERE t.drug IS NOT NULL AND (t.hadm_id IS NULL OR a.hadm_id IS NOT NULL)
                     AND coalesce(t.starttime, a.admittime) IS NOT NULL""")
        r.q("CREATE TEMP TABLE ev AS SELECT * FROM (" + " UNION ALL ".join(parts) + ") "
            "WHERE subject IN (SELECT subject_id FROM admissions)")
        r.q("CREATE TEMP TABLE anchor AS SELECT subject_id AS subject, admittime AS t FROM admissions")
        r.q("CREATE TEMP TABLE subjects AS SELECT DISTINCT subject_id AS subject FROM admissions")
        if "patients" in present:
            r.note_count("SELECT count(*) FROM patients WHERE upper(coalesce(gender, '')) NOT IN ('F', 'M')",
                         "patients: {n} rows with a gender other than F or M (sex unknown)")
            r.q("""CREATE TEMP TABLE demo AS SELECT subject_id AS subject,
                   CASE WHEN upper(gender) IN ('F', 'M') THEN upper(gender) ELSE 'U' END AS sex,
                   CAST(NULL AS TIMESTAMP) AS birth, anchor_age, anchor_year FROM patients""")
        else:
            r.q("""CREATE TEMP TABLE demo (subject BIGINT, sex VARCHAR, birth TIMESTAMP, anchor_age BIGINT,
                   anchor_year BIGINT)""")
        titles = []
        for n, kind in (("d_icd_diagnoses", "diagnosis"), ("d_icd_procedures", "procedure")):
            if n in present:
                p9, p10 = ICD_PREFIX[(kind, 9)], ICD_PREFIX[(kind, 10)]
                titles.append(f"""SELECT (CASE icd_version WHEN 9 THEN '{p9}' ELSE '{p10}' END)
                    || upper(regexp_replace(icd_code, '[\\s.]', '', 'g')) AS code, long_title AS title
                    FROM {n} WHERE icd_code IS NOT NULL AND icd_version IN (9, 10)""")
        return r.assemble(folder, "mimic4", " UNION ALL ".join(titles) or None)

    return _run(body, Path(folder).expanduser(), report, MIMIC4_FORMAT)


# ---------------------------------------------------------------------------------------------
# OMOP CDM v5.4

GENDER_CONCEPTS = {8507: "M", 8532: "F"}
# source vocabularies whose codes become the ICD prefixes
OMOP_ICD = {"ICD9CM": "D:", "ICD10CM": "D10:", "ICD9Proc": "P:", "ICD10PCS": "P10:"}
_OMOP_EVENTS = {  # table: (kind, concept column, date column, source concept column)
    "condition_occurrence": ("diagnosis", "condition_concept_id", "condition_start_date",
                             "condition_source_concept_id"),
    "procedure_occurrence": ("procedure", "procedure_concept_id", "procedure_date",
                             "procedure_source_concept_id"),
    "drug_exposure": ("medication", "drug_concept_id", "drug_exposure_start_date", "drug_source_concept_id"),
}


def read_omop(folder: str | Path, report: Problems | None = None) -> _ehr.EHR | None:
    """Read OMOP CDM v5.4 tables (see OMOP_FORMAT) into an :class:`~precmed_utils.formats.ehr.EHR`.

    Used: person (sex from gender_concept_id 8507/8532, other concepts counted as unknown sex; date
    of birth from birth_datetime, else year_of_birth with month_of_birth and day_of_birth, a
    missing month taken as July and a missing day as the 15th, counted; neither birth_datetime nor
    year_of_birth: age unknown, counted), visit_occurrence (visits; day 0 and the age's reference
    date), the three event tables dated at their start date, and concept (vocabularies and titles),
    concept_ancestor (the ancestors of the standard concepts that code events, kept as
    ``EHR.concept_ancestors`` for phenotypes.py; without it a note says that phenotypes match their
    listed concept ids only). Dropped and counted: events of persons missing from person, events
    with concept 0 and no ICD source (and, for drugs, no drug_source_value), persons with neither a
    visit nor a kept event. An event whose visit_occurrence_id is not in visit_occurrence keeps its
    date and gets a visit of its own day (counted). Errors: a missing or non-integer person_id, a
    repeated person_id or visit_occurrence_id, a missing or unparsable start date.
    """
    def body(r: _Reader, folder: Path):
        events = list(_OMOP_EVENTS)
        src = _required(r, folder, ["person", "condition_occurrence"],
                        ["visit_occurrence", "procedure_occurrence", "drug_exposure", "concept",
                         "concept_ancestor"], "OMOP")
        specs = {"person": {"person_id": "BIGINT", "gender_concept_id": "BIGINT", "year_of_birth": "BIGINT",
                            "month_of_birth": "BIGINT", "day_of_birth": "BIGINT",
                            "birth_datetime": "TIMESTAMP"},
                 "visit_occurrence": {"visit_occurrence_id": "BIGINT", "person_id": "BIGINT",
                                      "visit_start_date": "TIMESTAMP", "visit_start_datetime": "TIMESTAMP"},
                 "concept": {"concept_id": "BIGINT", "concept_name": "VARCHAR", "vocabulary_id": "VARCHAR",
                             "concept_code": "VARCHAR"},
                 "concept_ancestor": {"ancestor_concept_id": "BIGINT", "descendant_concept_id": "BIGINT"}}
        optional = {"person": ("month_of_birth", "day_of_birth", "birth_datetime"),
                    "visit_occurrence": ("visit_start_datetime",)}
        for t, (_, concept, date, source) in _OMOP_EVENTS.items():
            specs[t] = {"person_id": "BIGINT", concept: "BIGINT", date: "TIMESTAMP",
                        "visit_occurrence_id": "BIGINT", source: "BIGINT"}
            optional[t] = ("visit_occurrence_id", source)
            if t == "drug_exposure":
                specs[t]["drug_source_value"] = "VARCHAR"
                optional[t] += ("drug_source_value",)
        loaded = {n: r.load(s, specs[n], optional.get(n, ())) for n, s in src.items() if s is not None}
        r.stop_if_errors()
        present = [n for n, ok in loaded.items() if ok]
        for n in ("visit_occurrence", "procedure_occurrence", "drug_exposure", "concept"):
            if n not in present:
                r.notes.append(f"{n}: not found" + (", no ICD source codes recognised, standard concept ids "
                                                     "used" if n == "concept" else ""))
        r.require("person", "person_id")
        r.unique("person", "person_id")
        if "visit_occurrence" in present:
            for c in ("visit_occurrence_id", "person_id", "visit_start_date"):
                r.require("visit_occurrence", c)
            r.unique("visit_occurrence", "visit_occurrence_id")
        if "concept" in present:
            r.unique("concept", "concept_id")
        for t in events:
            if t in present:
                r.require(t, "person_id")
                r.require(t, _OMOP_EVENTS[t][2])
        bad = r.q("""SELECT person_id FROM person WHERE birth_datetime IS NULL AND year_of_birth IS NOT NULL
                     AND TRY_CAST(printf('%04d-%02d-%02d', year_of_birth, coalesce(month_of_birth, 7),
                                  coalesce(day_of_birth, 15)) AS DATE) IS NULL
                     ORDER BY person_id LIMIT 1""").fetchone()
        if bad:
            f, loc = r.locate("person", f"person_id = {bad[0]}",
                              lambda x: _int_text(x.get("person_id")) == bad[0])
            r.add(f, loc, "year_of_birth, month_of_birth and day_of_birth do not form a date")
        r.stop_if_errors()

        has_concept = "concept" in present
        if not has_concept:
            r.q("CREATE TEMP TABLE concept (concept_id BIGINT, concept_name VARCHAR, vocabulary_id VARCHAR, "
                "concept_code VARCHAR)")
        if "visit_occurrence" in present:
            r.q("""CREATE TEMP TABLE anchor AS SELECT v.person_id AS subject,
                   coalesce(v.visit_start_datetime, v.visit_start_date) AS t FROM visit_occurrence v
                   WHERE v.person_id IN (SELECT person_id FROM person)""")
            r.note_count("SELECT count(*) FROM visit_occurrence WHERE person_id NOT IN "
                         "(SELECT person_id FROM person)",
                         "visit_occurrence: {n} visits of persons missing from person dropped")
        else:
            r.q("CREATE TEMP TABLE anchor (subject BIGINT, t TIMESTAMP)")
        parts, titles = [], []
        for t in events:
            if t not in present:
                continue
            kind, concept, date, source = _OMOP_EVENTS[t]
            icd = [v for v, p in OMOP_ICD.items() if p[0] == kind[0].upper()] if kind != "medication" else []
            icd_sql = ("CASE " + " ".join(f"WHEN sc.vocabulary_id = {_lit(v)} THEN {_lit(OMOP_ICD[v])} || "
                                          "upper(regexp_replace(sc.concept_code, '[\\s.]', '', 'g'))"
                                          for v in icd) + " END") if icd else "NULL"
            drug_sql = ("WHEN coalesce(e.drug_concept_id, 0) = 0 AND e.drug_source_value IS NOT NULL "
                        "THEN 'M:' || lower(regexp_replace(e.drug_source_value, '\\s+', ' ', 'g'))"
                        if t == "drug_exposure" else "")
            code = (f"CASE WHEN ({icd_sql}) IS NOT NULL THEN ({icd_sql}) {drug_sql} "
                    f"WHEN coalesce(e.{concept}, 0) <> 0 THEN coalesce(c.vocabulary_id, 'OMOP') || ':' || "
                    f"e.{concept} END")
            title = (f"CASE WHEN ({icd_sql}) IS NOT NULL THEN sc.concept_name "
                     f"WHEN coalesce(e.{concept}, 0) <> 0 THEN c.concept_name END")
            visit = ("CASE WHEN e.visit_occurrence_id IN (SELECT visit_occurrence_id FROM visit_occurrence) "
                     "THEN e.visit_occurrence_id END" if "visit_occurrence" in present else "NULL")
            r.q(f"""CREATE TEMP TABLE ev_{t} AS
                    SELECT e.person_id AS subject, e.{date} AS t, {visit} AS visit,
                    {code} AS code, '{kind}' AS kind, {title} AS title, e.visit_occurrence_id AS raw_visit
                    FROM {t} e LEFT JOIN concept sc ON sc.concept_id = e.{source}
                    LEFT JOIN concept c ON c.concept_id = e.{concept}""")
            r.note_count(f"SELECT count(*) FROM ev_{t} WHERE subject NOT IN (SELECT person_id FROM person)",
                         f"{t}: {{n}} rows of persons missing from person dropped")
            what = "concept 0, no ICD source concept and no drug_source_value" if t == "drug_exposure" else \
                "concept 0 and no ICD source concept"
            r.note_count(f"SELECT count(*) FROM ev_{t} WHERE code IS NULL",
                         f"{t}: {{n}} rows with {what} dropped")
            if "visit_occurrence" in present:
                r.note_count(f"SELECT count(*) FROM ev_{t} WHERE raw_visit IS NOT NULL AND visit IS NULL",
                             f"{t}: {{n}} rows whose visit_occurrence_id is not in visit_occurrence given a "
                             "visit of their own day")
            parts.append(f"SELECT subject, t, visit, code, kind FROM ev_{t} WHERE code IS NOT NULL AND "
                         "subject IN (SELECT person_id FROM person)")
            titles.append(f"SELECT code, min(title) AS title FROM ev_{t} WHERE code IS NOT NULL "
                          "GROUP BY code")
        r.q("CREATE TEMP TABLE ev AS " + " UNION ALL ".join(parts))
        ancestors = _omop_ancestors(r, "concept_ancestor" in present)
        r.q("CREATE TEMP TABLE subjects AS SELECT subject FROM anchor UNION SELECT subject FROM ev")
        r.note_count("SELECT count(*) FROM person WHERE person_id NOT IN (SELECT subject FROM subjects)",
                     "person: {n} persons with neither a visit nor a kept event dropped")
        r.note_count("SELECT count(*) FROM person WHERE coalesce(gender_concept_id, 0) NOT IN (8507, 8532)",
                     "person: {n} persons whose gender_concept_id is neither 8507 nor 8532 (sex unknown)")
        r.note_count("SELECT count(*) FROM person WHERE birth_datetime IS NULL AND year_of_birth IS NULL",
                     "person: {n} persons without birth_datetime or year_of_birth (age unknown)")
        r.note_count("SELECT count(*) FROM person WHERE birth_datetime IS NULL AND year_of_birth IS NOT NULL "
                     "AND (month_of_birth IS NULL OR day_of_birth IS NULL)",
                     "person: {n} persons without birth_datetime, month_of_birth or day_of_birth: "
                     "born in July / on the 15th assumed")
        r.q("""CREATE TEMP TABLE demo AS SELECT person_id AS subject,
               CASE gender_concept_id WHEN 8507 THEN 'M' WHEN 8532 THEN 'F' ELSE 'U' END AS sex,
               coalesce(birth_datetime, CAST(printf('%04d-%02d-%02d', year_of_birth,
                        coalesce(month_of_birth, 7), coalesce(day_of_birth, 15)) AS TIMESTAMP)) AS birth,
               CAST(NULL AS BIGINT) AS anchor_age, CAST(NULL AS BIGINT) AS anchor_year FROM person""")
        e = r.assemble(folder, "omop", " UNION ALL ".join(titles))
        e.concept_ancestors = ancestors
        return e

    return _run(body, Path(folder).expanduser(), report, OMOP_FORMAT)


def _omop_ancestors(r: _Reader, has_table: bool) -> pd.DataFrame | None:
    """The concept_ancestor rows (ancestor, descendant) whose descendant is a standard concept coding
    an event of ``ev`` (None without the table), and the note on how phenotypes will match them."""
    icd = " AND ".join(f"code NOT LIKE '{p}%'" for p in ICD_PREFIXES)
    r.q(f"""CREATE TEMP TABLE std AS SELECT DISTINCT TRY_CAST(regexp_extract(code, ':([0-9]+)$', 1) AS BIGINT)
            AS concept_id FROM ev WHERE {icd}""")
    n_std = int(r.scalar("SELECT count(*) FROM std WHERE concept_id IS NOT NULL"))
    if not has_table:
        if n_std:
            r.notes.append(f"concept_ancestor: not found; {n_std} standard concepts code events: a phenotype "
                           "matches its listed concept ids only, not their descendants")
        return None
    r.require("concept_ancestor", "ancestor_concept_id")
    r.require("concept_ancestor", "descendant_concept_id")
    r.stop_if_errors()
    anc = r.q("""SELECT DISTINCT ancestor_concept_id AS ancestor, descendant_concept_id AS descendant
                  FROM concept_ancestor WHERE descendant_concept_id IN (SELECT concept_id FROM std)
                  ORDER BY ancestor, descendant""").df()
    r.notes.append(f"concept_ancestor: {len(anc)} ancestor links of the {n_std} standard concepts coding "
                   "events (phenotypes match their concepts' descendants)")
    return pd.DataFrame({"ancestor": anc["ancestor"].to_numpy(np.int64),
                         "descendant": anc["descendant"].to_numpy(np.int64)})


# ---------------------------------------------------------------------------------------------
# MEDS

# (regular expression on the code, kind, prefix, normalise as ICD): the codes the reader keeps
MEDS_CODES = [
    (r"^ICD9CM//?(.+)$", "diagnosis", "D:", True),
    (r"^ICD10CM//?(.+)$", "diagnosis", "D10:", True),
    (r"^ICD9PROC//?(.+)$", "procedure", "P:", True),
    (r"^ICD10PCS//?(.+)$", "procedure", "P10:", True),
    (r"^DIAGNOSIS//ICD//9//(.+)$", "diagnosis", "D:", True),
    (r"^DIAGNOSIS//ICD//10//(.+)$", "diagnosis", "D10:", True),
    (r"^PROCEDURE//ICD//9//(.+)$", "procedure", "P:", True),
    (r"^PROCEDURE//ICD//10//(.+)$", "procedure", "P10:", True),
    (r"^MEDICATION//(.+)$", "medication", "M:", False),
    (r"^RXNORM//?(.+)$", "medication", "RxNorm:", False),
]


def meds_files(folder: Path) -> list[Path]:
    data = next((p for p in folder.iterdir() if p.is_dir() and p.name == "data"), None) \
        if folder.is_dir() else None
    return sorted(data.rglob("*.parquet")) if data else []


def read_meds(folder: str | Path, report: Problems | None = None) -> _ehr.EHR | None:
    """Read a MEDS dataset (see MEDS_FORMAT) into an :class:`~precmed_utils.formats.ehr.EHR`.

    Each data file's schema is validated with ``meds.DataSchema`` (subject_id int64, time
    timestamp[us], code string; extra columns allowed); a null subject_id or code is an error with
    its file and row. Kept: the codes of MEDS_CODES, mapped to the EHR's prefixes (matching ignores
    case); GENDER//F and GENDER//M give the sex, MEDS_BIRTH the date of birth. Dropped and counted:
    rows of any other code (labs, admissions, ...), coded rows without a time, and every
    numeric_value and text_value. MEDS has no visit identifier: each calendar day of a subject is a
    visit. Day 0 and the age's reference are the subject's first timed row of any code other than
    MEDS_BIRTH and GENDER//*; subjects with no such row are dropped (counted).
    """
    def body(r: _Reader, folder: Path):
        import meds
        import pyarrow.parquet as pq
        from flexible_schema.exceptions import SchemaValidationError

        files = meds_files(folder)
        if not files:
            r.add(folder, "", f"no Parquet files under data/. {r.expected}")
            raise _Stop
        for f in files:
            try:
                meds.DataSchema.validate(pq.read_schema(f))
            except SchemaValidationError as exc:
                r.add(f, "schema", f"not a MEDS data file: {exc}. Expected: subject_id int64, time "
                      "timestamp[us], code string (meds.DataSchema)")
            except Exception as exc:
                r.add(f, "", f"cannot be read as a Parquet file: {exc}")
        r.stop_if_errors()
        src = _Source("meds", files, "parquet", folder / "data")
        r.load(src, {"subject_id": "BIGINT", "time": "TIMESTAMP", "code": "VARCHAR"})
        r.stop_if_errors()
        r.require("meds", "subject_id")
        r.require("meds", "code")
        r.stop_if_errors()
        cases, prefixes = [], []
        for pat, kind, prefix, icd in MEDS_CODES:
            part = f"regexp_extract(code, {_lit('(?i)' + pat)}, 1)"
            val = f"upper(regexp_replace({part}, '[\\s.]', '', 'g'))" if icd else \
                f"lower(regexp_replace({part}, '\\s+', ' ', 'g'))" if prefix == "M:" else part
            cases.append(f"WHEN regexp_matches(code, {_lit('(?i)' + pat)}) THEN {_lit(prefix)} || {val}")
            prefixes.append(f"WHEN regexp_matches(code, {_lit('(?i)' + pat)}) THEN '{kind}'")
        r.q(f"""CREATE TEMP TABLE m AS SELECT subject_id AS subject, time AS t, code AS raw,
                CASE {' '.join(cases)} END AS code, CASE {' '.join(prefixes)} END AS kind FROM meds""")
        static = "(upper(raw) = 'MEDS_BIRTH' OR upper(raw) LIKE 'GENDER//%')"
        r.note_count(f"SELECT count(*) FROM m WHERE code IS NULL AND NOT {static}",
                     "data: {n} rows of codes the EHR studies do not use (labs, admissions, ...) dropped")
        r.note_count("SELECT count(*) FROM m WHERE code IS NOT NULL AND t IS NULL",
                     "data: {n} coded rows without a time dropped")
        r.note_count("SELECT count(*) FROM m WHERE code IS NOT NULL AND code IN ('D:', 'D10:', 'P:', 'P10:', "
                     "'M:', 'RxNorm:')", "data: {n} rows whose code has nothing after the vocabulary dropped")
        r.q("""CREATE TEMP TABLE ev AS SELECT subject, t, CAST(NULL AS BIGINT) AS visit, code, kind FROM m
               WHERE code IS NOT NULL AND t IS NOT NULL
                 AND code NOT IN ('D:', 'D10:', 'P:', 'P10:', 'M:', 'RxNorm:')""")
        r.q(f"CREATE TEMP TABLE anchor AS SELECT subject, t FROM m WHERE t IS NOT NULL AND NOT {static}")
        r.q("CREATE TEMP TABLE subjects AS SELECT DISTINCT subject FROM anchor")
        r.note_count("SELECT count(DISTINCT subject) FROM m WHERE subject NOT IN "
                     "(SELECT subject FROM subjects)",
                     "data: {n} subjects with no timed row besides birth and gender dropped")
        r.note_count("""SELECT count(*) FROM (SELECT subject FROM m WHERE upper(raw) LIKE 'GENDER//%'
                        GROUP BY subject HAVING count(DISTINCT upper(raw)) > 1)""",
                     "data: {n} subjects with two different GENDER codes (the first in code order kept)")
        r.note_count("""SELECT count(*) FROM (SELECT DISTINCT subject FROM m WHERE upper(raw) LIKE 'GENDER//%'
                        AND upper(raw) NOT IN ('GENDER//F', 'GENDER//M'))""",
                     "data: {n} subjects with a GENDER code other than GENDER//F or GENDER//M (sex unknown)")
        r.q("""CREATE TEMP TABLE demo AS SELECT subject,
               min(CASE WHEN upper(raw) IN ('GENDER//F', 'GENDER//M') THEN upper(substr(raw, 9)) END) AS sex,
               min(CASE WHEN upper(raw) = 'MEDS_BIRTH' THEN t END) AS birth,
               CAST(NULL AS BIGINT) AS anchor_age, CAST(NULL AS BIGINT) AS anchor_year
               FROM m GROUP BY subject""")
        titles = None
        meta = folder / "metadata" / "codes.parquet"
        if meta.is_file():
            try:
                meds.CodeMetadataSchema.validate(pq.read_schema(meta))
            except SchemaValidationError as exc:
                r.add(meta, "schema", f"not a MEDS code metadata file: {exc}")
                raise _Stop from None
            cols = pq.read_schema(meta).names
            if "description" in cols:
                r.q(f"""CREATE TEMP TABLE meta AS SELECT DISTINCT m.code, first(c.description) AS title
                        FROM m JOIN read_parquet({_lit(str(meta))}) c ON c.code = m.raw
                        WHERE m.code IS NOT NULL GROUP BY m.code""")
                titles = "SELECT code, title FROM meta"
        return r.assemble(folder, "meds", titles)

    return _run(body, Path(folder).expanduser(), report, MEDS_FORMAT)


# ---------------------------------------------------------------------------------------------
# Which layout is it?

LAYOUTS = ("MIMIC-III", "MIMIC-IV", "OMOP", "MEDS")


def detect_layout(folder: str | Path) -> str:
    """The layout of ``folder``: MEDS (data/ holding Parquet files), MIMIC-IV (a hosp/ folder, or
    a diagnoses_icd table with an icd_version column or a patients table with anchor_age), OMOP (a
    person or condition_occurrence table), MIMIC-III (an ADMISSIONS or DIAGNOSES_ICD table); a
    DataError naming what was found and what each layout expects when none fits."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder of EHR tables (MIMIC-III, MIMIC-IV, OMOP CDM or MEDS)")
    if meds_files(folder):
        return "MEDS"
    root = mimic4_root(folder)
    if root != folder:
        return "MIMIC-IV"
    for name, col in (("diagnoses_icd", "icd_version"), ("patients", "anchor_age")):
        src = _find(folder, name)
        if src is not None and src.kind == "csv":
            try:
                if col in [h.lower() for h in csv_header(src.paths[0])]:
                    return "MIMIC-IV"
            except UNREADABLE:
                pass
    if _find(folder, "person") or _find(folder, "condition_occurrence"):
        return "OMOP"
    if _ehr._find_table(folder, "ADMISSIONS") or _ehr._find_table(folder, "DIAGNOSES_ICD"):
        return "MIMIC-III"
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    shown = ", ".join(found[:12]) + (f", ... ({len(found)} in all)" if len(found) > 12 else "")
    raise DataError(
        f"{folder}: not a layout of EHR tables this reader knows (found: {shown or 'nothing'}). Expected one "
        "of: MIMIC-III (ADMISSIONS.csv and DIAGNOSES_ICD.csv, upper- or lower-case, optionally .gz); "
        "MIMIC-IV (hosp/ with admissions.csv.gz and diagnoses_icd.csv.gz, or those files here); "
        "OMOP CDM v5.4 (person and condition_occurrence as .csv, .csv.gz or .parquet); "
        "MEDS (data/*.parquet, optionally metadata/codes.parquet). Details: " + EHR_FORMAT)


def read_ehr(folder: str | Path, report: Problems | None = None) -> _ehr.EHR | None:
    """Read a folder of EHR tables in any of the four layouts (see :func:`detect_layout`)."""
    layout = detect_layout(folder)
    if layout == "MIMIC-III":
        return _ehr.read_mimic3(folder, report=report)
    reader = {"MIMIC-IV": read_mimic4, "OMOP": read_omop, "MEDS": read_meds}[layout]
    return reader(folder, report=report)
