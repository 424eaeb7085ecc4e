"""The data registry: every dataset by name, with files, sha256, licence, citation and loader.

The registry is one declarative file, ``datasets.yml`` beside this module: each dataset's
description, kind, studies, files with their sha256 (or the PyPI package that ships it), licence,
citation and loader, and each study's user format (reader and description). Loaders and readers
are named ``"module:function"`` and imported only when that dataset or format is used, so reading
the registry imports no reader (and no torch); no module registers anything at import time.

Shipped (open) datasets live in ``data/<folder>/`` with a LICENSE and a SOURCE.md; each file's
sha256 is verified on every load. A user's own file is read by the reader of the format the study
documents, which reports what is wrong and where (file, line, column). Nothing here downloads
anything or writes into data/. This module also holds the readers of the table formats
(labelled expression matrices, pharmacovigilance count and report tables, survival tables).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import DataError, Problems
from ..studies import project_root
from .tables import (
    UNREADABLE,
    empty,
    header_problems,
    is_row_names,  # noqa: F401  (data.is_row_names, as before the tables module)
    missing,
    numbers,
    peek_header,
    read_csv,
    read_table,
    repeats,
    where,
)

KINDS = ("open", "simulated", "restricted")


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    files: dict[str, str]  # path relative to data/ -> sha256
    licence: str
    citation: str
    kind: str
    loader: str | Callable  # "module:function" (the registry file), imported when first loaded
    studies: tuple[str, ...]
    meta: dict = field(default_factory=dict)
    # A dataset that ships inside a PyPI package has no files here: the package's name is
    # recorded instead, and its installed version goes into the run manifest in place of sha256s.
    package: str | None = None
    role: str = "data"  # "auxiliary": used beside a study's data (a reference set), not a `data` choice

    def paths(self) -> list[Path]:
        return [data_dir() / rel for rel in self.files]

    def load_function(self) -> Callable:
        return resolve(self.loader) if isinstance(self.loader, str) else self.loader


def resolve(ref: str):
    """The object a registry reference ``"package.module:name"`` names (importing the module)."""
    module, sep, name = ref.partition(":")
    if not sep or not module.startswith("precmed_utils."):
        raise ValueError(f"registry reference {ref!r}: expected 'precmed_utils.<module>:<name>'")
    return getattr(importlib.import_module(module), name)


def data_dir() -> Path:
    return project_root() / "data"


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError as exc:
        raise DataError(f"this dataset ships inside the PyPI package {name!r}, which is not "
                        f"installed: pip install {name}") from exc


def verify(ds: Dataset) -> dict[str, str]:
    """Check that every file of ``ds`` exists and has its recorded sha256; return the checksums."""
    sums = {}
    for rel, expected in ds.files.items():
        path = data_dir() / rel
        if not path.exists():
            raise DataError(
                f"dataset {ds.name!r}: file {path} is missing. It ships with the repository; "
                "restore it with `git checkout -- data/`."
            )
        got = sha256(path)
        if got != expected:
            raise DataError(
                f"dataset {ds.name!r}: file {path} is corrupt or was changed "
                f"(sha256 {got[:12]}..., expected {expected[:12]}...). "
                "Restore it with `git checkout -- data/`."
            )
        sums[rel] = got
    return sums


# ---------------------------------------------------------------------------------------------
# Format: a labelled matrix (CSV, optionally gzipped): a `label` column and one numeric column
# per feature, one row per sample. Used by cancer_subtyping for shipped and user data.

LABELLED_MATRIX_FORMAT = (
    "CSV (optionally .gz), one row per sample: a column named 'label' with the class of each "
    "sample, and one numeric column per feature (gene/probe), with a header row. An optional "
    "first column named 'sample' (or 'sample_id', 'id') holds sample identifiers. At least two "
    "classes, each with at least two samples; no missing values."
)
ID_COLUMNS = ("sample", "sample_id", "id")


def read_labelled_matrix(path: str | Path, *, min_per_class: int = 2, report: Problems | None = None):
    """Read and validate a labelled matrix; return ``(X, y, sample_ids)``.

    X is a float DataFrame (samples x features), y a string Series. Every problem is reported
    with the file and the line (1-based, header = line 1) and column where it occurs: by default
    the first raises a DataError (the cells' problems together); with a collecting ``report``
    (``precmed check-data``) all are reported and None is returned when there are any.
    """
    report = Problems() if report is None else report
    n_errors = report.count()
    path = Path(path).expanduser()
    expected = f"Expected: {LABELLED_MATRIX_FORMAT}"
    header = peek_header(path, row_names="sample") if path.is_file() else None
    if header and not header_problems(header, ("label",)):
        fast = _read_numeric_fast(path, header[0] == "sample")
        if fast is not None:
            return _finish_matrix(path, *fast, min_per_class=min_per_class, report=report, n_errors=n_errors)
    df = read_table(path, report, ("label",), expected=expected, style="named", row_names="sample")
    if df is None:
        return None
    if df.empty:
        report.add(path, "", "header only, no samples")
        return None
    id_col = next((c for c in ID_COLUMNS if c in df.columns), None)
    feats = [c for c in df.columns if c not in ("label", id_col, "_line")]
    if not feats:
        report.add(path, "line 1", "no feature columns besides 'label'")
    cells = empty(df, ["label"], "empty label")
    values = {}
    for col in feats:
        values[col], bad = numbers(df, col)
        cells += bad
    report.table(path, cells, expected)
    y = df["label"]
    ids = df[id_col] if id_col else None
    X = pd.DataFrame(values, columns=feats).astype(float) if feats else None
    return _finish_matrix(path, X, y, ids, min_per_class=min_per_class, report=report, n_errors=n_errors)


def _read_numeric_fast(path: Path, row_names: bool = False):
    """The common case, a clean file: one vectorised read. None if anything needs a diagnosis
    (then ``read_table`` and the cell checks say what)."""
    try:
        df = read_csv(path, row_names_as="sample" if row_names else None, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError, *UNREADABLE):
        return None
    if not isinstance(df.index, pd.RangeIndex):  # rows wider than the header: pandas made an index
        return None
    id_col = next((c for c in ID_COLUMNS if c in df.columns), None)
    feats = [c for c in df.columns if c not in ("label", id_col)]
    if not feats or len(df) == 0 or df["label"].isna().any():
        return None
    X = df[feats]
    if not all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in X.dtypes) \
            or X.isna().to_numpy().any():
        return None
    y = df["label"].astype(str).str.strip()
    if (y == "").any():
        return None
    ids = df[id_col].astype(str) if id_col else None
    return X.astype(float), y, ids


def _finish_matrix(path: Path, X: pd.DataFrame | None, y: pd.Series, ids, *, min_per_class: int,
                   report: Problems, n_errors: int):
    counts = y[y != ""].value_counts()
    classes = []
    if len(counts) < 2:
        classes.append(("column 'label'", f"a single class {list(counts.index)[:3]}; classification "
                        "needs at least two"))
    classes += [("column 'label'", f"class {label!r} has {n} sample(s), fewer than {min_per_class} samples; "
                 "remove the class or add samples") for label, n in counts[counts < min_per_class].items()]
    report.table(path, classes, f"Expected: {LABELLED_MATRIX_FORMAT}")
    if report.count() > n_errors or X is None:
        return None
    if ids is None:
        ids = pd.Series([f"s{i + 1}" for i in range(len(X))])
    X.index = ids.to_numpy()
    y.index = ids.to_numpy()
    return X, y.rename("label"), ids


# ---------------------------------------------------------------------------------------------
# The registry

REGISTRY_FILE = Path(__file__).with_name("datasets.yml")


def _read_registry(path: Path = REGISTRY_FILE) -> tuple[dict[str, Dataset], dict[str, dict]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    datasets = {name: Dataset(name=name, description=e["description"], files=dict(e.get("files") or {}),
                              licence=e["licence"], citation=e["citation"], kind=e["kind"],
                              loader=e["loader"], studies=tuple(e["studies"]), meta=dict(e.get("meta") or {}),
                              package=e.get("package"), role=e.get("role", "data"))
                for name, e in doc["datasets"].items()}
    return datasets, dict(doc["user_formats"])


class _UserFormats(MutableMapping):
    """study -> (reader, format description), read from the registry file; a reader's module is
    imported only when its study's format is looked up. An entry may be set or removed at run
    time (a plug-in format, a test)."""

    def __init__(self, refs: dict[str, dict]):
        self._refs, self._cache = refs, {}

    def __getitem__(self, study: str) -> tuple[Callable, str]:
        if study not in self._cache:
            ref = self._refs[study]
            self._cache[study] = (resolve(ref["reader"]), resolve(ref["format"]))
        return self._cache[study]

    def __setitem__(self, study: str, value: tuple[Callable, str]) -> None:
        self._refs[study] = {"reader": None, "format": None}
        self._cache[study] = value

    def __delitem__(self, study: str) -> None:
        del self._refs[study]
        self._cache.pop(study, None)

    def __iter__(self):
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)


DATASETS, _FORMAT_REFS = _read_registry()
# The format each study accepts for a user's own file: (reader, description). The CLI validates
# a user's file with the same reader before a run starts.
USER_FORMATS: Mapping[str, tuple[Callable, str]] = _UserFormats(_FORMAT_REFS)


def get(name: str) -> Dataset:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; registered: {', '.join(DATASETS)}, "
                        "or pass a path to your own file")
    return DATASETS[name]


def for_study(study: str, role: str | None = None) -> list[str]:
    """The registered datasets of ``study`` (of one ``role`` only, when given), in registry order."""
    return [n for n, d in DATASETS.items() if study in d.studies and role in (None, d.role)]


def check_user_file(study: str, path: str | Path) -> None:
    """Validate a user's file for ``study`` without running anything (raises DataError)."""
    if study not in USER_FORMATS:
        raise DataError(f"study {study!r} does not take a data file; use one of its registered "
                        f"datasets: {', '.join(for_study(study)) or '(none)'}")
    from .checkdata import raise_if_problems

    raise_if_problems(study, path)  # every problem of the data, not only the first


def _user_checksums(path: Path, limit: int = 200) -> dict[str, str]:
    """sha256 of a user's file, or of the files in a user's folder (the first ``limit``)."""
    if path.is_file():
        return {str(path): sha256(path)}
    files = sorted(p for p in path.rglob("*") if p.is_file())
    sums = {str(p): sha256(p) for p in files[:limit]}
    if len(files) > limit:
        sums["..."] = f"{len(files) - limit} more files not checksummed"
    return sums


def load(name_or_path: str, *, study: str | None = None, user_loader: Callable | None = None, **kwargs):
    """Load a registered dataset (checksums verified) or a user's file (format validated).

    A user's file is read with the reader registered for ``study`` in USER_FORMATS.
    Returns ``(data, info)``: whatever the loader returns, and a dict with the name, kind,
    licence, citation, files and their sha256 for the run manifest. A user's file is treated as
    restricted: notebooks must show aggregates of it only.
    """
    if name_or_path in DATASETS:
        ds = DATASETS[name_or_path]
        sums = verify(ds)
        loaded = ds.load_function()(*ds.paths(), **kwargs)
        info = {"name": ds.name, "kind": ds.kind, "licence": ds.licence,
                "citation": ds.citation, "sha256": sums, **ds.meta}
        if ds.package:
            info["package"] = {"name": ds.package, "version": _package_version(ds.package)}
        return loaded, info
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise DataError(f"data: {name_or_path!r} is neither a registered dataset "
                        f"({', '.join(DATASETS)}) nor an existing file or folder")
    if user_loader is None:
        # the notebooks validate a user's data with the same checks as `precmed check-data`
        from .checkdata import raise_if_problems

        study = study if study in USER_FORMATS else "cancer_subtyping"
        user_loader = USER_FORMATS[study][0]
        raise_if_problems(study, path, **kwargs)
    loaded = user_loader(path, **kwargs)
    info = {"name": path.name, "kind": "restricted", "licence": "user-provided",
            "citation": "user-provided", "sha256": _user_checksums(path),
            "scale": "unknown", "short": path.stem}
    return loaded, info


# ---------------------------------------------------------------------------------------------
# Pharmacovigilance formats (adr_bcpnn): a drug x event count table, or report-level rows.

COUNT_TABLE_FORMAT = (
    "CSV of pair counts, either wide (first column: event names; one column per drug; each cell "
    "the number of reports, or of report-pairs, with that drug and event; a row or column of "
    "aggregates may be named 'Other'/'Other AE'/'Other AEs') or long (columns drug, event, count). "
    "Counts are non-negative integers; at least two drugs and two events."
)
REPORT_TABLE_FORMAT = (
    "CSV with one row per report and drug and event (or the cross product of a report's drugs "
    "and events): columns report_id, drug, event, and optionally stratum (e.g. sex or age band) "
    "and date (ISO yyyy-mm-dd, or a period number), which orders the reports for time scans."
)
AGGREGATE_NAMES = ("Other", "Other AE", "Other AEs")


@dataclass
class PharmacovigilanceData:
    """A count table (events x drugs) or report-level rows, as read from a file."""

    kind: str  # "table" | "reports"
    table: pd.DataFrame | None = None
    rows: pd.DataFrame | None = None  # report_id, drug, event[, stratum][, date]
    exclude: tuple[str, ...] = ()


def _pv_table(path: Path, report: Problems, what: str) -> pd.DataFrame | None:
    df = read_table(path, report, expected=f"Expected: {what}", row_names=True)
    if df is not None and df.empty:
        report.add(path, "", f"no data rows. Expected: {what}")
        return None
    return df


def _counts(df: pd.DataFrame, col: str) -> tuple[pd.Series, list[tuple[str, str]]]:
    """A column of counts as numbers, and (location, message) of each cell that is not a count."""
    num = pd.to_numeric(df[col], errors="coerce")
    bad = (num.isna() | (num < 0) | (num % 1 != 0)).to_numpy().nonzero()[0]
    return num, [(where(df, i, col), f"{df[col].iat[i][:20]!r} is not a non-negative integer count")
                 for i in bad]


def read_count_table(path: str | Path, report: Problems | None = None) -> PharmacovigilanceData | None:
    """Read a wide (events x drugs) or long (drug, event, count) count table, validated: the first
    problem raises a DataError, or all are reported to a collecting ``report`` (then None)."""
    report = Problems() if report is None else report
    n_errors = report.count()
    path = Path(path).expanduser()
    df = _pv_table(path, report, COUNT_TABLE_FORMAT)
    return None if df is None else _count_table(path, df, report, n_errors)


def _count_table(path: Path, df: pd.DataFrame, report: Problems,
                 n_errors: int) -> PharmacovigilanceData | None:
    expected = f"Expected: {COUNT_TABLE_FORMAT}"
    low = {c.lower(): c for c in df.columns}
    if {"drug", "event", "count"} <= set(low):
        cells = empty(df, [low["drug"], low["event"]], "empty drug or event name")
        counts, bad = _counts(df, low["count"])
        report.table(path, cells + bad, expected)
        if report.count() > n_errors:
            return None
        long = pd.DataFrame({"drug": df[low["drug"]], "event": df[low["event"]],
                             "count": counts.astype(float)})
        table = long.pivot_table(index="event", columns="drug", values="count", aggfunc="sum",
                                 fill_value=0.0)
    else:
        first, drugs = df.columns[0], [c for c in df.columns[1:] if c != "_line"]
        if not drugs:
            report.add(path, "line 1", f"only one column. {expected}")
            return None
        names = df[first]
        cells = [(where(df, i, first), f"event names repeated in the first column: {name[:30]!r} "
                  f"is also on line {line}") for i, name, line in repeats(df, first)]
        values = {}
        for d in drugs:
            values[d], bad = _counts(df, d)
            cells += bad
        report.table(path, cells, expected)
        if report.count() > n_errors:
            return None
        table = pd.DataFrame(values, columns=drugs).astype(float)
        table.index = names.to_numpy()
    table.index.name, table.columns.name = "event", "drug"
    real_drugs = [d for d in table.columns if d not in AGGREGATE_NAMES]
    real_events = [e for e in table.index if e not in AGGREGATE_NAMES]
    if len(real_drugs) < 2 and len(real_events) < 2:
        report.add(path, "", "needs at least two drugs or two events besides aggregates")
        return None
    return PharmacovigilanceData("table", table=table, exclude=AGGREGATE_NAMES)


def read_report_table(path: str | Path, rename: dict | None = None,
                      report: Problems | None = None) -> PharmacovigilanceData | None:
    """Read report-level rows (report_id, drug, event[, stratum][, date]), validated: the first
    problem raises a DataError, or all are reported to a collecting ``report`` (then None)."""
    report = Problems() if report is None else report
    n_errors = report.count()
    path = Path(path).expanduser()
    df = _pv_table(path, report, REPORT_TABLE_FORMAT)
    return None if df is None else _report_table(path, df.rename(columns=rename or {}), report, n_errors)


def _report_table(path: Path, df: pd.DataFrame, report: Problems,
                  n_errors: int) -> PharmacovigilanceData | None:
    required = ["report_id", "drug", "event"]
    missing_cols = [c for c in required if c not in df.columns]
    if missing_cols:
        cols = [c for c in df.columns if c != "_line"]
        report.add(path, "line 1", f"missing column(s) {missing_cols} (columns: {', '.join(cols[:6])}). "
                   f"Expected: {REPORT_TABLE_FORMAT}")
        return None
    keep = required + [c for c in ("stratum", "date") if c in df.columns]
    rows = df[keep].copy()
    cells = empty(df, required)
    if "date" in rows:
        as_num = pd.to_numeric(rows["date"], errors="coerce")
        periods = as_num.notna().all()
        parsed = as_num if periods else pd.to_datetime(rows["date"], errors="coerce", format="ISO8601")
        cells += [(where(df, i, "date"), f"{rows['date'].iat[i][:20]!r} is neither an ISO date (yyyy-mm-dd) "
                   "nor a period number (use one kind throughout)")
                  for i in parsed.isna().to_numpy().nonzero()[0]]
        rows["date"] = parsed
    report.table(path, cells, f"Expected: {REPORT_TABLE_FORMAT}")
    if rows.loc[rows["report_id"] != "", "report_id"].nunique() < 2:
        report.add(path, "column 'report_id'", "a single report; disproportionality needs many")
    if report.count() > n_errors:
        return None
    return PharmacovigilanceData("reports", rows=rows)


def read_pharmacovigilance(path: str | Path, report: Problems | None = None) -> PharmacovigilanceData | None:
    """A user's file in either documented format (report-level if it has a report_id column)."""
    report = Problems() if report is None else report
    n_errors = report.count()
    path = Path(path).expanduser()
    df = _pv_table(path, report, PHARMACOVIGILANCE_FORMAT)
    if df is None:
        return None
    if "report_id" in df.columns:
        return _report_table(path, df, report, n_errors)
    return _count_table(path, df, report, n_errors)


def _read_caers(path: Path) -> PharmacovigilanceData:
    return read_report_table(path, rename={"id": "report_id", "var1": "drug", "var2": "event",
                                           "strat1": "stratum"})


def read_reference_sets(euadr: Path, omop: Path, negatives: Path) -> pd.DataFrame:
    """EU-ADR and OMOP reference sets and OHDSI negative controls as (drug, outcome, truth, source)."""
    frames = []
    for path, source in ((euadr, "EU-ADR"), (omop, "OMOP")):
        d = pd.read_csv(path)
        frames.append(pd.DataFrame({"drug": d["exposureName"].str.lower(), "outcome": d["outcomeName"],
                                    "truth": d["groundTruth"].astype(int), "source": source}))
    n = pd.read_csv(negatives)
    frames.append(pd.DataFrame({"drug": n["targetName"].str.lower(), "outcome": n["outcomeName"],
                                "truth": 0, "source": "OHDSI negative control"}))
    return pd.concat(frames, ignore_index=True).drop_duplicates(["drug", "outcome", "source"])


PHARMACOVIGILANCE_FORMAT = f"{COUNT_TABLE_FORMAT} Or: {REPORT_TABLE_FORMAT}"


# ---------------------------------------------------------------------------------------------
# Survival table (breast_cancer_prognosis): one row per patient, `event` and `time` (days), the
# clinical variables, and the genes under a fixed prefix. The shipped sets are converted to it.

GENE_PREFIX = "gene_"
FIVE_YEARS_DAYS = 5 * 365.25
SURVIVAL_TABLE_FORMAT = (
    "CSV (optionally .gz) with a header row, one row per patient: 'event' (1 = distant metastasis "
    "observed, 0 = censored), 'time' (days from diagnosis to the metastasis or to the last "
    f"follow-up, > 0), one numeric column per gene whose name starts with '{GENE_PREFIX}' (at "
    "least one; no missing values), and every other column a numeric clinical variable (encode "
    "categories as numbers, e.g. er 1 = positive / 0 = negative, grade 1-3; an empty cell or NA "
    "is a missing value, imputed from the training part). Recognised clinical names: age "
    "(years), size (tumour diameter, cm), grade (1-3), er (0/1). An optional column 'sample' "
    "(or 'sample_id', 'id') holds patient identifiers."
)


def prognosis_labels(time_days, event, horizon_days: float = FIVE_YEARS_DAYS) -> pd.Series:
    """The prognosis class at a horizon: 1 = poor (event at or before it), 0 = good (followed
    beyond it with no event before it), NaN = censored at or before it (unknown: excluded).

    Used by breast_cancer_prognosis (Gevaert et al. 2006: distant metastasis within 5 years).
    """
    index = time_days.index if isinstance(time_days, pd.Series) else None
    t = np.asarray(time_days, dtype=float)
    e = np.asarray(event).astype(bool)
    label = np.where(e & (t <= horizon_days), 1.0, np.where(t > horizon_days, 0.0, np.nan))
    return pd.Series(label, index=index, name="poor_prognosis")


def read_survival_table(path: str | Path, *, horizon_days: float = FIVE_YEARS_DAYS,
                        min_per_class: int = 5, report: Problems | None = None) -> pd.DataFrame | None:
    """Read and validate a survival table; return it with the columns event, time, the clinical
    variables, then the genes (index: patient ids).

    Every problem is reported with the file, the line (header = line 1) and the column: by
    default the first raises a DataError (the cells' problems together); with a collecting
    ``report`` (``precmed check-data``) all are reported and None is returned when there are
    any. The table must hold at least ``min_per_class`` patients of each prognosis class at
    ``horizon_days`` (see ``prognosis_labels``). Cell values are never echoed beyond 20
    characters of a non-numeric token. Used by breast_cancer_prognosis.
    """
    report = Problems() if report is None else report
    n_errors = report.count()
    path = Path(path).expanduser()
    expected = f"Expected: {SURVIVAL_TABLE_FORMAT}"
    df = read_table(path, report, ("event", "time"), expected=expected, style="named", row_names="sample")
    if df is None:
        return None
    header = [c for c in df.columns if c != "_line"]
    genes = [h for h in header if h.startswith(GENE_PREFIX)]
    if not genes:
        shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
        report.add(path, "line 1", f"no gene columns (names starting with {GENE_PREFIX!r}; columns: "
                   f"{shown}). {expected}")
    if df.empty:
        report.add(path, "", "header only, no patients")
        return None
    id_col = next((c for c in ID_COLUMNS if c in header), None)
    clinical = [h for h in header if h not in ("event", "time", id_col) and h not in genes]
    values, cells = {}, []
    for col in ("event", "time", *genes):
        values[col], bad = numbers(df, col)
        cells += bad
    event, time = values["event"], values["time"]
    cells += [(where(df, i, "event"), "expected 0 (censored) or 1 (metastasis)")
              for i in (event.notna() & ~event.isin([0, 1])).to_numpy().nonzero()[0]]
    cells += [(where(df, i, "time"), "must be a positive number of days")
              for i in (time.notna() & (time <= 0)).to_numpy().nonzero()[0]]
    for col in clinical:
        values[col], bad = numbers(df, col, missing_ok=True, hint=" (encode categories as numbers)")
        cells += bad
        if missing(df[col]).all():
            cells.append((f"column {col!r}", "no values at all (drop the column)"))
    if id_col:
        cells += [(where(df, i, id_col), "duplicate patient identifiers (this one first seen "
                   f"on line {line})") for i, _, line in repeats(df, id_col)]
    report.table(path, cells, expected)
    if report.count() > n_errors or not genes:
        return None
    num = pd.DataFrame(values, columns=["event", "time", *clinical, *genes])
    if num["time"].max() < 100:
        report.add(path, "column 'time'", f"the longest follow-up is {num['time'].max():.1f}; times look "
                   "like years or months, but days are expected (multiply years by 365.25)")
        return None
    ids = df[id_col] if id_col else pd.Series([f"p{i + 1}" for i in range(len(df))])
    num.index = ids.to_numpy()
    num["event"] = num["event"].astype(int)
    counts = prognosis_labels(num["time"], num["event"], horizon_days).value_counts(dropna=False)
    poor, good = int(counts.get(1.0, 0)), int(counts.get(0.0, 0))
    if min(poor, good) < min_per_class:
        report.add(path, "", f"at a horizon of {horizon_days:.0f} days the table has {poor} "
                   f"patients with metastasis and {good} followed beyond it without one "
                   f"({len(num) - poor - good} censored earlier, excluded); each class needs "
                   f"at least {min_per_class}")
        return None
    return num


SYMBOL_COLUMNS = ["probe", "wang2005_group", "symbol", "status", "how"]
SYMBOL_STATUSES = ("confirmed", "[U]", "none")  # primary source / secondary source only / no symbol


def read_probe_symbols(path: str | Path) -> pd.DataFrame:
    """A probe-set -> gene-symbol map (``data/breast_cancer/gse7390_probe_symbols.csv``, sources in
    ``data/breast_cancer/SOURCE.md``), indexed by probe. ``status`` is ``confirmed`` (the symbol is
    printed in a primary source), ``[U]`` (found in a secondary source only) or ``none`` (no symbol:
    the probe keeps its id). Raises DataError, naming the line, if the file is malformed."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(df.columns) != SYMBOL_COLUMNS:
        raise DataError(f"{path}: columns {list(df.columns)}, expected {SYMBOL_COLUMNS}")
    problems = []
    for i, r in enumerate(df.itertuples(index=False), start=2):
        if not r.probe or r.probe != r.probe.strip():
            problems.append(f"line {i}: empty or padded probe id {r.probe!r}")
        if r.status not in SYMBOL_STATUSES:
            problems.append(f"line {i}: status {r.status!r} is not one of {SYMBOL_STATUSES}")
        elif (r.status == "none") != (r.symbol == ""):
            problems.append(f"line {i}: status {r.status!r} with symbol {r.symbol!r} (a symbol, and only a "
                            "symbol, needs a source)")
        if r.symbol and not r.symbol.replace("-", "").isalnum():
            problems.append(f"line {i}: {r.symbol!r} is not a gene symbol (letters, digits, '-')")
        if not r.how.strip():
            problems.append(f"line {i}: column 'how' (where the symbol, or its absence, comes from) is empty")
    for i, probe, line in repeats(df.assign(_line=np.arange(2, len(df) + 2)), "probe"):
        problems.append(f"line {i + 2}: probe {probe!r} is also on line {line}")
    if problems:
        raise DataError(f"{path}: " + "; ".join(problems))
    return df.set_index("probe")


def gene_labels(name: str) -> dict[str, str]:
    """Display labels of the genes of registered dataset ``name``: ``{id: "SYMBOL (id)"}`` for every
    gene its symbol map names (``"SYMBOL [U] (id)"`` when only a secondary source gives it); genes
    without a symbol, and datasets without a map, have no entry (show the id). The map's checksum
    is verified like the dataset's other files."""
    ds = get(name)
    maps = [path for rel, path in zip(ds.files, ds.paths(), strict=True)
            if rel.endswith("_probe_symbols.csv")]
    if not maps:
        return {}
    verify(ds)
    table = read_probe_symbols(maps[0])
    return {probe: f"{r.symbol}{' [U]' if r.status == '[U]' else ''} ({probe})"
            for probe, r in table.iterrows() if r.status != "none"}


def load_gse7390(symbols: str | Path | None = None) -> pd.DataFrame:
    """GSE7390 (Desmedt et al. 2007) as shipped in scikit-survival, as a survival table.

    grade 1/2/3 = well / intermediate / poorly differentiated (the package's 'unkown', sic, is a
    missing value); er 1 = positive; size in cm; time = t.tdm in days, event = e.tdm (distant
    metastasis). ``symbols``, the registry's probe-symbol map, must cover exactly the package's
    probes (a changed package is reported, not mislabelled). Used by breast_cancer_prognosis.
    """
    try:
        from sksurv.datasets import load_breast_cancer
    except ImportError as exc:
        raise DataError("dataset 'gse7390' ships inside the PyPI package scikit-survival, which "
                        "is not installed here: pip install scikit-survival") from exc
    X, y = load_breast_cancer()
    grades = {"well differentiated": 1.0, "intermediate": 2.0, "poorly differentiated": 3.0,
              "unkown": np.nan, "unknown": np.nan}
    unexpected = set(X["grade"].astype(str)) - set(grades)
    if unexpected or set(X["er"].astype(str)) != {"positive", "negative"}:
        raise DataError("dataset 'gse7390': the scikit-survival copy has unexpected categories "
                        f"({sorted(unexpected) or 'er'}); was the package changed?")
    clinical = ["age", "er", "grade", "size"]
    out = pd.DataFrame({
        "event": y["e.tdm"].astype(int), "time": y["t.tdm"].astype(float),
        "age": X["age"].to_numpy(float), "size": X["size"].to_numpy(float),
        "grade": X["grade"].astype(str).map(grades).to_numpy(float),
        "er": (X["er"].astype(str) == "positive").to_numpy(float),
    })
    genes = X.drop(columns=clinical)
    genes.columns = [GENE_PREFIX + c.removeprefix("X") for c in genes.columns]
    if symbols is not None:
        mapped = set(read_probe_symbols(symbols).index)
        probes = {c.removeprefix(GENE_PREFIX) for c in genes.columns}
        if mapped != probes:
            raise DataError(f"dataset 'gse7390': the probe-symbol map {symbols} does not match the package's "
                            f"probes (only in the map: {sorted(mapped - probes)[:5]}, only in the package: "
                            f"{sorted(probes - mapped)[:5]}); was the package changed?")
    out = pd.concat([out, genes.reset_index(drop=True).astype(float)], axis=1)
    out.index = [f"gse7390_{i + 1:03d}" for i in range(len(out))]
    return out


def read_vantveer2002(path: Path) -> pd.DataFrame:
    """The van 't Veer 2002 set as shipped (SurvSet `vdv`): time in years -> days, genes renamed
    from `num_<id>` to `gene_<id>`. No clinical variables. Used by breast_cancer_prognosis."""
    df = pd.read_csv(path)
    genes = [c for c in df.columns if c.startswith("num_")]
    out = pd.DataFrame({"event": df["event"].astype(int), "time": df["time"] * 365.25})
    g = df[genes].astype(float)
    g.columns = [GENE_PREFIX + c.removeprefix("num_") for c in genes]
    out = pd.concat([out, g], axis=1)
    out.index = [f"vdv_{int(p)}" for p in df["pid"]]
    return out
