"""Check a user's data against the format its study documents, without running the study.

``check_data(study, path)`` returns every problem found (file, location, message), not only the
first: the text formats (brat, CoNLL/BIO, Anafora, i2b2 2014 XML, i2b2 2010) are checked by
their readers with a collecting :class:`~precmed_utils.errors.Problems`, so a reader and its check
share one set of rules; the tables (labelled matrix, survival table, pharmacovigilance tables,
drug screen, MIMIC-III) are checked cell by cell here; the other EHR layouts (MIMIC-IV, OMOP,
MEDS) by their readers, which also collect every problem. When nothing is found, the study's reader
runs as well, and whatever it still rejects (class sizes, follow-up in days, ...) is reported, so
data that passes the check is data the study accepts.

Used by ``precmed check-data``, by ``data.check_user_file`` (the runner, before a run) and by
``data.load`` (the notebooks, for a user's path).
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import data
from .errors import DataError, Problem, Problems, problem_text

LIMIT = 200  # problems listed at most; the rest are counted
_NA = data._NA_TOKENS  # what the readers take for a missing value


def _table(path: Path, report: Problems, required: tuple[str, ...] = (), *, upper: bool = False,
           expected: str = "", style: str = "list", row_names: bool | str = False) -> pd.DataFrame | None:
    """A CSV (plain or gzipped, with or without a byte-order mark) as text, one column per header
    name plus ``_line`` (the line in the file, header = 1); missing required columns and rows of
    the wrong width are reported. ``row_names``: a first column of row names, as R's ``write.csv``
    and pandas' ``to_csv`` write them (``data.is_row_names``), is called ``(row names)``, or the
    name given."""
    if not path.exists():
        report.add(path, "", f"no such file. {expected}".strip())
        return None
    if path.is_dir():
        report.add(path, "", f"is a folder, expected a file. {expected}".strip())
        return None
    try:
        with data._open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                report.add(path, "", f"the file is empty. {expected}".strip())
                return None
            header = [h.strip().upper() if upper else h.strip() for h in header]
            body = list(reader)
            if row_names and data.is_row_names(header[0], [r[0] for r in body[:50] if r]):
                header[0] = row_names if isinstance(row_names, str) else "(row names)"
            missing = [c for c in required if c not in header]
            shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
            if missing and style == "named":  # the wording of each reader, kept
                for c in missing:
                    report.add(path, "line 1", f"no column named {c!r} (columns: {shown}). {expected}")
            elif missing:
                names = ", ".join(missing) if style == "joined" else str(missing)
                report.add(path, "line 1", f"missing column(s) {names} (columns: {shown}). {expected}")
            for k, h in enumerate(header):
                if not h:
                    report.add(path, f"line 1, column {k + 1}", "empty column name")
            dupes = sorted(h for h, n in Counter(header).items() if n > 1 and h)
            if dupes:
                report.add(path, "line 1", f"duplicate column names {dupes[:5]}")
            rows, lines = [], []
            for line, row in enumerate(body, start=2):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    report.add(path, f"line {line}", f"{len(row)} fields where the header has {len(header)} "
                               "(a stray comma or quote?)")
                    continue
                rows.append([v.strip() for v in row])
                lines.append(line)
    except (UnicodeDecodeError, OSError, EOFError, gzip.BadGzipFile, csv.Error) as exc:
        report.add(path, "", f"cannot be read as a (gzipped) UTF-8 CSV ({exc}). {expected}".strip())
        return None
    if missing or dupes:
        return None
    df = pd.DataFrame(rows, columns=header, dtype=str)
    df["_line"] = lines
    return df


def _where(df: pd.DataFrame, i: int, col: str | None = None) -> str:
    line = f"line {int(df['_line'].iat[i])}"
    return f"{line}, column {col!r}" if col else line


def _numbers(report: Problems, path: Path, df: pd.DataFrame, col: str, *, missing_ok: bool = False,
             hint: str = "") -> pd.Series:
    """The column as numbers (NaN where missing); each cell that is not a number is reported."""
    text = df[col]
    missing = text.str.lower().isin(_NA)
    num = pd.to_numeric(text.where(~missing), errors="coerce")
    for i in range(len(df)):
        if missing.iat[i]:
            if not missing_ok:
                report.add(path, _where(df, i, col), "missing value")
        elif pd.isna(num.iat[i]):
            report.add(path, _where(df, i, col), f"{text.iat[i][:20]!r} is not a number{hint}")
    return num


def _non_empty(report: Problems, path: Path, df: pd.DataFrame, cols) -> None:
    for col in cols:
        for i in (df[col] == "").to_numpy().nonzero()[0]:
            report.add(path, _where(df, i, col), "empty value")


# --- tables -------------------------------------------------------------------------------------

def check_labelled_matrix(path: Path, report: Problems, min_per_class: int = 2, **_kw) -> None:
    expected = f"Expected: {data.LABELLED_MATRIX_FORMAT}"
    df = _table(path, report, ("label",), expected=expected, style="named", row_names="sample")
    if df is None:
        return
    if df.empty:
        report.add(path, "", "header only, no samples")
        return
    id_col = next((c for c in data.ID_COLUMNS if c in df.columns), None)
    feats = [c for c in df.columns if c not in ("label", id_col, "_line")]
    if not feats:
        report.add(path, "line 1", "no feature columns besides 'label'")
    for i in (df["label"] == "").to_numpy().nonzero()[0]:
        report.add(path, _where(df, i, "label"), "empty label")
    for col in feats:
        _numbers(report, path, df, col)
    counts = df.loc[df["label"] != "", "label"].value_counts()
    if len(counts) < 2:
        report.add(path, "column 'label'", f"a single class {list(counts.index)[:3]}; classification "
                   "needs at least two")
    small = counts[counts < min_per_class]
    for label, n in small.items():
        report.add(path, "column 'label'", f"class {label!r} has {n} sample(s); each class needs at least "
                   f"{min_per_class}")


def check_survival_table(path: Path, report: Problems, **_kw) -> None:
    expected = f"Expected: {data.SURVIVAL_TABLE_FORMAT}"
    df = _table(path, report, ("event", "time"), expected=expected, style="named", row_names="sample")
    if df is None:
        return
    genes = [c for c in df.columns if c.startswith(data.GENE_PREFIX)]
    if not genes:
        report.add(path, "line 1", f"no gene columns (names starting with {data.GENE_PREFIX!r})")
    if df.empty:
        report.add(path, "", "header only, no patients")
        return
    id_col = next((c for c in data.ID_COLUMNS if c in df.columns), None)
    clinical = [c for c in df.columns if c not in ("event", "time", id_col, "_line") and c not in genes]
    event = _numbers(report, path, df, "event")
    for i in ((event.notna()) & ~event.isin([0, 1])).to_numpy().nonzero()[0]:
        report.add(path, _where(df, i, "event"), "expected 0 (censored) or 1 (metastasis)")
    time = _numbers(report, path, df, "time")
    for i in ((time.notna()) & (time <= 0)).to_numpy().nonzero()[0]:
        report.add(path, _where(df, i, "time"), "must be a positive number of days")
    for col in genes:
        _numbers(report, path, df, col)
    for col in clinical:
        num = _numbers(report, path, df, col, missing_ok=True, hint=" (encode categories as numbers)")
        if num.isna().all() and df[col].str.lower().isin(_NA).all():
            report.add(path, f"column {col!r}", "no values at all (drop the column)")
    if id_col:
        for i in df[id_col].duplicated().to_numpy().nonzero()[0]:
            report.add(path, _where(df, i, id_col), "duplicate patient identifier")


def check_pharmacovigilance(path: Path, report: Problems, **_kw) -> None:
    either = f"Expected: {data.COUNT_TABLE_FORMAT} Or: {data.REPORT_TABLE_FORMAT}"
    df = _table(path, report, expected=either, row_names=True)
    if df is None:
        return
    if df.empty:
        report.add(path, "", f"no data rows. {either}")
        return
    low = {c.lower(): c for c in df.columns}
    if "report_id" in df.columns:
        missing = [c for c in ("drug", "event") if c not in df.columns]
        if missing:
            report.add(path, "line 1", f"missing column(s) {missing}. Expected: {data.REPORT_TABLE_FORMAT}")
            return
        _non_empty(report, path, df, ("report_id", "drug", "event"))
        if "date" in df.columns:
            as_num = pd.to_numeric(df["date"], errors="coerce")
            dates = pd.to_datetime(df["date"], errors="coerce", format="ISO8601")
            periods = as_num.notna().all()
            for i in (dates.isna() if not periods else as_num.isna()).to_numpy().nonzero()[0]:
                report.add(path, _where(df, i, "date"), f"{df['date'].iat[i][:20]!r} is neither an ISO date "
                           "(yyyy-mm-dd) nor a period number (use one kind throughout)")
        if df.loc[df["report_id"] != "", "report_id"].nunique() < 2:
            report.add(path, "column 'report_id'", "a single report; disproportionality needs many")
        return
    if {"drug", "event", "count"} <= set(low):
        cols = [low["count"]]
        _non_empty(report, path, df, (low["drug"], low["event"]))
    else:
        first, cols = df.columns[0], [c for c in df.columns[1:] if c != "_line"]
        if not cols:
            report.add(path, "line 1", f"only one column. Expected: {data.COUNT_TABLE_FORMAT}")
            return
        names = df[first]
        for i in names.duplicated().to_numpy().nonzero()[0]:
            report.add(path, _where(df, i, first), f"event name {names.iat[i][:30]!r} repeated")
    for col in cols:
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() | (num < 0) | (num % 1 != 0)
        for i in bad.to_numpy().nonzero()[0]:
            report.add(path, _where(df, i, col),
                       f"{df[col].iat[i][:20]!r} is not a non-negative integer count")


def check_drug_screen(path: Path, report: Problems, **_kw) -> None:
    from . import drug_response as dr

    expected = f"Expected: {dr.USER_SCREEN_FORMAT}"
    if not path.is_dir():
        report.add(path, "", f"expected a folder holding {dr.EXPRESSION_FILE} and {dr.RESPONSE_FILE}. "
                   f"{expected}")
        return
    found = {}
    for name in (dr.EXPRESSION_FILE, dr.RESPONSE_FILE):
        hit = next((c for c in (path / name, path / (name + ".gz")) if c.is_file()), None)
        if hit is None:
            report.add(path, "", f"no file {name} (or {name}.gz) in this folder. {expected}")
        found[name] = hit
    ids: set[str] | None = None
    if found[dr.EXPRESSION_FILE]:
        epath = found[dr.EXPRESSION_FILE]
        expr = _table(epath, report, expected=expected)
        if expr is not None:
            id_col, genes = expr.columns[0], [c for c in expr.columns[1:] if c != "_line"]
            if len(genes) < 2:
                report.add(epath, "line 1", f"expected an id column and at least two gene columns, found "
                           f"{len(genes) + 1} column(s)")
            if len(expr) < 2:
                report.add(epath, "", f"{len(expr)} cell line(s); at least two are needed")
            for i in (expr[id_col] == "").to_numpy().nonzero()[0]:
                report.add(epath, _where(expr, i, id_col), "empty cell-line id")
            for i in (expr[id_col].duplicated() & (expr[id_col] != "")).to_numpy().nonzero()[0]:
                report.add(epath, _where(expr, i, id_col), "cell-line id repeated")
            for col in genes:
                _numbers(report, epath, expr, col)
            ids = set(expr[id_col])
    if found[dr.RESPONSE_FILE]:
        rpath = found[dr.RESPONSE_FILE]
        resp = _table(rpath, report, ("cell_line", "drug", "response"), expected=expected)
        if resp is None:
            return
        if resp.empty:
            report.add(rpath, "", "header only, no responses")
            return
        _non_empty(report, rpath, resp, ("cell_line", "drug"))
        _numbers(report, rpath, resp, "response")
        dup = resp.duplicated(["cell_line", "drug"]) & (resp["cell_line"] != "") & (resp["drug"] != "")
        for i in dup.to_numpy().nonzero()[0]:
            report.add(rpath, _where(resp, i), "cell line and drug repeated (give one response per cell "
                       "line and drug, e.g. the mean of replicates)")
        ename = found[dr.EXPRESSION_FILE].name if found[dr.EXPRESSION_FILE] else ""
        if ids is not None:
            unknown = (~resp["cell_line"].isin(ids) & (resp["cell_line"] != "")).to_numpy().nonzero()[0]
            if len(unknown) == len(resp):
                report.add(rpath, "column 'cell_line'", f"none of its cell lines appears in {ename} "
                           "(ids must match exactly)")
            else:
                for i in unknown:
                    report.add(rpath, _where(resp, i, "cell_line"), f"cell line "
                               f"{resp['cell_line'].iat[i][:30]!r} is not in {ename}; the row is left out",
                               warning=True)


def check_mimic3(path: Path, report: Problems, **_kw) -> None:
    from . import ehr

    if not path.is_dir():
        report.add(path, "", "expected a folder of MIMIC-III tables (ADMISSIONS, DIAGNOSES_ICD, ...)")
        return
    tables = {}
    for name, (cols, required) in ehr._TABLES.items():
        p = ehr._find_table(path, name)
        if p is None:
            if required:
                report.add(path, "", f"no {name} table (looked for {name}.csv or {name.lower()}.csv.gz); "
                           f"{ehr.MIMIC_FORMAT}")
            continue
        df = _table(p, report, tuple(cols), upper=True, style="joined")
        if df is not None:
            tables[name] = (p, df)

    def ints(p, df, col, empty_ok=False):
        for i in (~df[col].str.fullmatch(r"\d+") & ~((df[col] == "") & empty_ok)).to_numpy().nonzero()[0]:
            report.add(p, _where(df, i), f"{col} {df[col].iat[i][:20]!r} is not a whole number")

    def dates(p, df, col, empty_ok=False):
        t = pd.to_datetime(df[col], errors="coerce", format="mixed")
        for i in (t.isna() & ~((df[col] == "") & empty_ok)).to_numpy().nonzero()[0]:
            report.add(p, _where(df, i), f"{col} {df[col].iat[i][:30]!r} is not a date "
                       "(expected e.g. 2164-10-23 21:09:00)")

    subject_of = {}
    if "ADMISSIONS" in tables:
        p, adm = tables["ADMISSIONS"]
        if adm.empty:
            report.add(p, "", "no admissions")
        ints(p, adm, "SUBJECT_ID")
        ints(p, adm, "HADM_ID")
        dates(p, adm, "ADMITTIME")
        for i in (adm["HADM_ID"].duplicated() & (adm["HADM_ID"] != "")).to_numpy().nonzero()[0]:
            report.add(p, _where(adm, i), f"HADM_ID {adm['HADM_ID'].iat[i]} appears twice")
        subject_of = dict(zip(adm["HADM_ID"], adm["SUBJECT_ID"], strict=True))
    for name in ("DIAGNOSES_ICD", "PROCEDURES_ICD", "PRESCRIPTIONS"):
        if name not in tables:
            continue
        p, t = tables[name]
        ints(p, t, "SUBJECT_ID")
        ints(p, t, "HADM_ID", empty_ok=True)
        if name == "PRESCRIPTIONS":
            dates(p, t, "STARTDATE", empty_ok=True)
        owner = t["HADM_ID"].map(subject_of)
        for i in (owner.notna() & (owner != t["SUBJECT_ID"])).to_numpy().nonzero()[0]:
            report.add(p, _where(t, i), f"HADM_ID {t['HADM_ID'].iat[i]} belongs to another "
                       "SUBJECT_ID in ADMISSIONS")
    if "PATIENTS" in tables:
        p, pt = tables["PATIENTS"]
        ints(p, pt, "SUBJECT_ID")
        dates(p, pt, "DOB", empty_ok=True)


def check_ehr(path: Path, report: Problems, **_kw) -> None:
    """The EHR studies' folder in any of its four layouts: MIMIC-III cell by cell (check_mimic3);
    MIMIC-IV, OMOP and MEDS by their readers in ehr_formats, which report every problem to a
    collecting ``report`` (one set of rules for the reader and its check)."""
    from . import ehr_formats

    try:
        layout = ehr_formats.detect_layout(path)
    except DataError as exc:
        report.add(*_split(path, str(exc)))
        return
    if layout == "MIMIC-III":
        check_mimic3(path, report)
    else:
        ehr_formats.read_ehr(path, report=report)


# --- the registry of checks ---------------------------------------------------------------------

def _by_reader(reader: Callable) -> Callable[[Path, Problems], None]:
    """A check that runs a reader which takes a ``report`` (the text formats)."""
    def check(path: Path, report: Problems, **_kw) -> None:
        reader(path, report=report)
    return check


def _checks() -> dict[str, Callable]:
    from . import corpora, deid, ehr, relations, temporal

    checks = {
        "cancer_subtyping": check_labelled_matrix,
        "adr_bcpnn": check_pharmacovigilance,
        "breast_cancer_prognosis": check_survival_table,
        "concept_extraction": _by_reader(corpora.read_user_corpus),
        "temporal_events": _by_reader(temporal.read_anafora),
        "deidentification": _by_reader(deid.read_user_deid),
        "relation_extraction": _by_reader(relations.read_i2b2_relations),
        "drug_response": check_drug_screen,
    }
    checks.update({s: check_ehr for s in ehr.EHR_STUDIES})
    return checks


def format_of(study: str) -> str:
    """The documented format of ``study``'s user data (DataError if it takes none)."""
    if study not in data.USER_FORMATS:
        from .studies import check_study

        check_study(study)  # an unknown study: UnknownStudyError
        raise DataError(f"study {study!r} does not take a data file of yours; it runs on its registered "
                        f"datasets: {', '.join(data.for_study(study)) or '(simulated data)'}")
    return data.USER_FORMATS[study][1]


def check_data(study: str, path: str | Path, *, limit: int = LIMIT, **reader_kwargs) -> list[Problem]:
    """Every problem of the user's data at ``path`` for ``study`` (an empty list: the study
    accepts it). At most ``limit`` problems are listed; a last entry then says how many more
    there are. Warnings (the data is usable, but something looks off) come as problems with
    ``warning=True``. ``reader_kwargs`` go to the study's reader (e.g. ``horizon_days``)."""
    format_of(study)
    path = Path(path).expanduser()
    report = Problems(collect=True, limit=limit)
    if not path.exists():
        report.add(path, "", "no such file or folder")
        return report.items
    check = _checks().get(study)
    if check is not None:
        try:
            check(path, report, **reader_kwargs)
        except DataError as exc:  # a problem the check could not localise further
            report.add(*_split(path, str(exc)))
    if not report.errors and not report.more:
        reader = data.USER_FORMATS[study][0]
        try:
            reader(path, **reader_kwargs)
        except DataError as exc:
            report.add(*_split(path, str(exc)))
    items = list(report.items)
    if report.more:
        items.append(Problem(path, "", f"... and {report.more} more problem(s) not listed"))
    return items


def _split(path: Path, message: str) -> tuple[str, str, str]:
    """(file, location, message) of a reader's DataError text 'file[, location]: message'."""
    for f in sorted({str(p) for p in (path, *path.rglob("*"))} if path.is_dir() else {str(path)},
                    key=len, reverse=True):
        if message.startswith(f + ": "):
            return f, "", message[len(f) + 2:]
        if message.startswith(f + ", ") and ": " in message[len(f) + 2:]:
            loc, msg = message[len(f) + 2:].split(": ", 1)
            return f, loc, msg
    return str(path), "", message


def errors_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.warning]


_MORE = re.compile(r"^\.\.\. and (\d+) more problem")


def total_errors(problems: list[Problem]) -> int:
    """How many errors ``check_data`` found, those beyond its listing limit included."""
    total = 0
    for p in errors_of(problems):
        m = _MORE.match(p.message)
        total += int(m.group(1)) if m else 1
    return total


def raise_if_problems(study: str, path: str | Path, shown: int = 20, **reader_kwargs) -> None:
    """A DataError listing the first ``shown`` problems of the data (and how many there are in
    all), or nothing when the study accepts it. Used by data.check_user_file and data.load."""
    errors = errors_of(check_data(study, path, **reader_kwargs))
    if not errors:
        return
    files = {p.file for p in errors}
    if len(files) == 1 and all(", column " in p.location for p in errors):
        # cells of one table: the readers' wording, 'FILE: malformed data:' and a list
        lines = [f"{p.location}: {p.message}" for p in errors[:shown]]
        more = f"\n  - ... and {len(errors) - shown} more" if len(errors) > shown else ""
        raise DataError(f"{files.pop()}: malformed data:\n  - " + "\n  - ".join(lines) + more
                        + f"\nExpected: {format_of(study)}")
    if len(errors) == 1:
        p = errors[0]
        raise DataError(problem_text(p.file, p.location, p.message))
    lines = [problem_text(p.file, p.location, p.message) for p in errors[:shown]]
    more = f"\n  ... and {len(errors) - shown} more" if len(errors) > shown else ""
    raise DataError(f"{path}: {total_errors(errors)} problem(s) for {study}:\n  " + "\n  ".join(lines) + more
                    + f"\nExpected: {format_of(study)}\n(`precmed check-data {study} {path}` lists them all)")
