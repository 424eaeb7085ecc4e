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

import csv
import gzip
import hashlib
import importlib
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .errors import DataError
from .studies import project_root

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


def _open_text(path: Path):
    """A text file, gzipped or not whatever its name says (by its first bytes), read as UTF-8 with
    or without the byte-order mark Excel writes; line ends are left to the CSV reader (CRLF too)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


# The first header cell above a column of row names: R's write.csv writes "", pandas' to_csv ""
# (read back by pandas as "Unnamed: 0"), and R's read.csv turns "" into "X".
ROW_NAME_HEADERS = ("", "Unnamed: 0")


def is_row_names(header: str, values) -> bool:
    """Whether a table's first column holds row names: an empty header cell (or pandas' name for
    one), or R's "X" above values that are not numbers (a feature named X stays a feature)."""
    h = str(header).strip()
    if h in ROW_NAME_HEADERS:
        return True
    vals = [v for v in values if str(v).strip()]
    return h == "X" and bool(vals) and pd.to_numeric(pd.Series(vals, dtype=str), errors="coerce").isna().all()


def row_names_first(path: Path, peek: int = 50) -> bool:
    """Whether the CSV at ``path`` starts with a column of row names (see ``is_row_names``)."""
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            values = [row[0] for _, row in zip(range(peek), reader, strict=False) if row]
    except (UnicodeDecodeError, OSError, EOFError, csv.Error):
        return False
    return bool(header) and is_row_names(header[0], values)


def read_user_csv(path: Path, *, row_names_as: str | None = None, **kwargs) -> pd.DataFrame:
    """A user's CSV read by pandas whatever wrote it (gzip by content, a byte-order mark, CRLF);
    column names stripped. ``row_names_as``: the name a first column of row names gets."""
    with _open_text(path) as fh:
        df = pd.read_csv(fh, **kwargs)
    df.columns = [str(c).strip() for c in df.columns]
    if row_names_as and len(df.columns) and row_names_as not in df.columns \
            and is_row_names(df.columns[0], df.iloc[:, 0].astype(str)):
        df = df.rename(columns={df.columns[0]: row_names_as})
    return df


def read_header(path: Path, expected: str) -> list[str]:
    """The stripped header row of a CSV (plain or gzipped), or a DataError saying what is wrong."""
    if not path.exists():
        raise DataError(f"{path}: no such file. {expected}")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a file. {expected}")
    try:
        with _open_text(path) as fh:
            header = next(csv.reader(fh), None)
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read as a UTF-8 CSV ({exc}). {expected}") from exc
    if not header:
        raise DataError(f"{path}: the file is empty. {expected}")
    return [h.strip() for h in header]


def read_labelled_matrix(path: str | Path, *, min_per_class: int = 2):
    """Read and validate a labelled matrix; return ``(X, y, sample_ids)``.

    X is a float DataFrame (samples x features), y a string Series. Every problem found is
    reported with the file and the line (1-based, header = line 1) and column where it occurs.
    """
    path = Path(path).expanduser()
    header = read_header(path, f"Expected: {LABELLED_MATRIX_FORMAT}")
    if row_names_first(path):  # R's write.csv or pandas' to_csv with an index: the sample ids
        header[0] = "sample"
    if "label" not in header:
        shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
        raise DataError(f"{path}, line 1: no column named 'label' (columns: {shown}). "
                        f"Expected: {LABELLED_MATRIX_FORMAT}")
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise DataError(f"{path}, line 1: duplicate column names {dupes[:5]}")
    fast = _read_numeric_fast(path, header[0] == "sample")
    if fast is not None:
        return _finish_matrix(path, *fast, min_per_class=min_per_class)
    try:
        df = read_user_csv(path, row_names_as="sample", dtype=str, keep_default_na=False,
                           skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: malformed CSV ({exc}). Expected: {LABELLED_MATRIX_FORMAT}") from exc
    if len(df) == 0:
        raise DataError(f"{path}: header only, no samples")
    id_col = next((c for c in ID_COLUMNS if c in df.columns), None)
    feats = [c for c in df.columns if c not in ("label", id_col)]
    if not feats:
        raise DataError(f"{path}: no feature columns besides 'label'")
    y = df["label"].str.strip()
    problems = [f"line {i + 2}, column 'label': empty label" for i in np.flatnonzero(y == "")]
    num = df[feats].apply(pd.to_numeric, errors="coerce")
    bad = num.isna().to_numpy()
    if bad.any():
        rows, cols = np.nonzero(bad)
        for r, c in list(zip(rows, cols, strict=True))[:10]:
            raw = df.iat[r, df.columns.get_loc(feats[c])]
            what = "missing value" if raw.strip() in ("", "NA", "NaN", "nan") else f"{raw!r} is not a number"
            problems.append(f"line {r + 2}, column {feats[c]!r}: {what}")
        if len(rows) > 10:
            problems.append(f"... and {len(rows) - 10} more non-numeric or missing cells")
    if problems:
        raise DataError(f"{path}: malformed data:\n  - " + "\n  - ".join(problems)
                        + f"\nExpected: {LABELLED_MATRIX_FORMAT}")
    ids = df[id_col].astype(str) if id_col else None
    return _finish_matrix(path, num.astype(float), y, ids, min_per_class=min_per_class)


def _read_numeric_fast(path: Path, row_names: bool = False):
    """The common case, a clean file: one vectorised read. None if anything needs a diagnosis."""
    try:
        df = read_user_csv(path, row_names_as="sample" if row_names else None, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return None
    id_col = next((c for c in ID_COLUMNS if c in df.columns), None)
    feats = [c for c in df.columns if c not in ("label", id_col)]
    if not feats or len(df) == 0 or df["label"].isna().any():
        return None
    X = df[feats]
    if not all(pd.api.types.is_numeric_dtype(t) for t in X.dtypes) or X.isna().to_numpy().any():
        return None
    y = df["label"].astype(str).str.strip()
    if (y == "").any():
        return None
    ids = df[id_col].astype(str) if id_col else None
    return X.astype(float), y, ids


def _finish_matrix(path: Path, X: pd.DataFrame, y: pd.Series, ids, *, min_per_class: int):
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(f"{path}: column 'label' has a single class {list(counts.index)}; "
                        "classification needs at least two")
    small = counts[counts < min_per_class]
    if len(small):
        raise DataError(f"{path}: classes with fewer than {min_per_class} samples: "
                        f"{small.to_dict()}; remove them or add samples")
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


def _read_csv_checked(path: Path, what: str) -> pd.DataFrame:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file. Expected: {what}")
    try:
        df = read_user_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read as a CSV ({exc}). Expected: {what}") from exc
    if len(df) == 0:
        raise DataError(f"{path}: no data rows. Expected: {what}")
    return df


def _count_cells(path: Path, df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    num = df[cols].apply(pd.to_numeric, errors="coerce")
    bad = num.isna().to_numpy() | (num.to_numpy() < 0) | (num.to_numpy() % 1 != 0)
    if bad.any():
        rows, cs = np.nonzero(bad)
        probs = [f"line {r + 2}, column {cols[c]!r}: {df.iat[r, df.columns.get_loc(cols[c])]!r} "
                 "is not a non-negative integer count" for r, c in list(zip(rows, cs, strict=True))[:10]]
        raise DataError(f"{path}: malformed counts:\n  - " + "\n  - ".join(probs)
                        + f"\nExpected: {COUNT_TABLE_FORMAT}")
    return num.astype(float)


def read_count_table(path: str | Path) -> PharmacovigilanceData:
    """Read a wide (events x drugs) or long (drug, event, count) count table, validated."""
    path = Path(path).expanduser()
    df = _read_csv_checked(path, COUNT_TABLE_FORMAT)
    low = {c.lower(): c for c in df.columns}
    if {"drug", "event", "count"} <= set(low):
        counts = _count_cells(path, df, [low["count"]])[low["count"]]
        long = pd.DataFrame({"drug": df[low["drug"]].str.strip(), "event": df[low["event"]].str.strip(),
                             "count": counts})
        if (long["drug"] == "").any() or (long["event"] == "").any():
            line = int(np.flatnonzero((long["drug"] == "") | (long["event"] == ""))[0]) + 2
            raise DataError(f"{path}, line {line}: empty drug or event name")
        table = long.pivot_table(index="event", columns="drug", values="count", aggfunc="sum",
                                 fill_value=0.0)
    else:
        first = df.columns[0]
        drugs = list(df.columns[1:])
        if not drugs:
            raise DataError(f"{path}: only one column. Expected: {COUNT_TABLE_FORMAT}")
        names = df[first].str.strip()
        dupes = sorted(names[names.duplicated()].unique())
        if dupes:
            raise DataError(f"{path}: event names repeated in the first column: {dupes[:5]}")
        table = _count_cells(path, df, drugs)
        table.index = names.to_numpy()
        table.columns = [d.strip() for d in drugs]
    table.index.name, table.columns.name = "event", "drug"
    real_drugs = [d for d in table.columns if d not in AGGREGATE_NAMES]
    real_events = [e for e in table.index if e not in AGGREGATE_NAMES]
    if len(real_drugs) < 2 and len(real_events) < 2:
        raise DataError(f"{path}: needs at least two drugs or two events besides aggregates")
    return PharmacovigilanceData("table", table=table, exclude=AGGREGATE_NAMES)


def read_report_table(path: str | Path, rename: dict | None = None) -> PharmacovigilanceData:
    """Read report-level rows (report_id, drug, event[, stratum][, date]), validated."""
    path = Path(path).expanduser()
    df = _read_csv_checked(path, REPORT_TABLE_FORMAT).rename(columns=rename or {})
    missing = [c for c in ("report_id", "drug", "event") if c not in df.columns]
    if missing:
        raise DataError(f"{path}, line 1: missing column(s) {missing} (columns: "
                        f"{', '.join(df.columns[:6])}). Expected: {REPORT_TABLE_FORMAT}")
    keep = ["report_id", "drug", "event"] + [c for c in ("stratum", "date") if c in df.columns]
    rows = df[keep].apply(lambda s: s.str.strip())
    empty = (rows[["report_id", "drug", "event"]] == "").to_numpy()
    if empty.any():
        r, c = np.argwhere(empty)[0]
        raise DataError(f"{path}, line {r + 2}, column {['report_id', 'drug', 'event'][c]!r}: empty "
                        f"value ({int(empty.sum())} empty cells in all). Expected: {REPORT_TABLE_FORMAT}")
    if "date" in rows:
        as_num = pd.to_numeric(rows["date"], errors="coerce")
        parsed = as_num if as_num.notna().all() else pd.to_datetime(rows["date"], errors="coerce",
                                                                     format="ISO8601")
        if parsed.isna().any():
            r = int(np.flatnonzero(parsed.isna())[0])
            raise DataError(f"{path}, line {r + 2}, column 'date': {rows['date'].iat[r]!r} is neither "
                            "an ISO date (yyyy-mm-dd) nor a period number")
        rows["date"] = parsed
    if rows["report_id"].nunique() < 2:
        raise DataError(f"{path}: a single report; disproportionality needs many")
    return PharmacovigilanceData("reports", rows=rows)


def read_pharmacovigilance(path: str | Path) -> PharmacovigilanceData:
    """A user's file in either documented format (report-level if it has a report_id column)."""
    path = Path(path).expanduser()
    header = _read_csv_checked(path, f"{COUNT_TABLE_FORMAT} Or: {REPORT_TABLE_FORMAT}").columns
    if "report_id" in header:
        return read_report_table(path)
    return read_count_table(path)


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
_NA_TOKENS = ("", "na", "nan", "n/a", "null", "none")


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


def _cell_problems(path: Path, cols: list[str], *, allow_missing: tuple[str, ...] = (),
                   hint: dict[str, str] | None = None, limit: int = 10) -> list[str]:
    """Re-read ``cols`` as text and name each cell that is not a number (line, column, what)."""
    raw = read_user_csv(path, row_names_as="sample", dtype=str, keep_default_na=False, skipinitialspace=True,
                        skip_blank_lines=False)[cols]
    problems = []
    for col in cols:
        text = raw[col].str.strip()
        missing = text.str.lower().isin(_NA_TOKENS)
        bad = pd.to_numeric(text.where(~missing), errors="coerce").isna() & ~missing
        if col not in allow_missing:
            bad |= missing
        for r in np.flatnonzero(bad.to_numpy()):
            what = ("missing value" if missing.iat[r]
                    else f"{text.iat[r][:20]!r} is not a number{(hint or {}).get(col, '')}")
            problems.append(f"line {r + 2}, column {col!r}: {what}")
    if len(problems) > limit:
        problems = problems[:limit] + [f"... and {len(problems) - limit} more such cells"]
    return problems


def read_survival_table(path: str | Path, *, horizon_days: float = FIVE_YEARS_DAYS,
                        min_per_class: int = 5) -> pd.DataFrame:
    """Read and validate a survival table; return it with the columns event, time, the clinical
    variables, then the genes (index: patient ids).

    Every problem is reported with the file, the line (header = line 1) and the column. The
    table must hold at least ``min_per_class`` patients of each prognosis class at
    ``horizon_days`` (see ``prognosis_labels``). Cell values are never echoed beyond 20
    characters of a non-numeric token. Used by breast_cancer_prognosis.
    """
    path = Path(path).expanduser()
    expected = f"Expected: {SURVIVAL_TABLE_FORMAT}"
    header = read_header(path, expected)
    raw_first = header[0] or "Unnamed: 0"  # what pandas calls the first column
    if row_names_first(path):  # R's write.csv or pandas' to_csv with an index: the patient ids
        header[0] = "sample"
    shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
    for col in ("event", "time"):
        if col not in header:
            raise DataError(f"{path}, line 1: no column named {col!r} (columns: {shown}). {expected}")
    if "" in header:
        raise DataError(f"{path}, line 1, column {header.index('') + 1}: empty column name")
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise DataError(f"{path}, line 1: duplicate column names {dupes[:5]}")
    genes = [h for h in header if h.startswith(GENE_PREFIX)]
    if not genes:
        raise DataError(f"{path}, line 1: no gene columns (names starting with "
                        f"{GENE_PREFIX!r}; columns: {shown}). {expected}")
    id_col = next((c for c in ID_COLUMNS if c in header), None)
    clinical = [h for h in header if h not in ("event", "time", id_col) and h not in genes]
    try:
        ids_as_text = {raw_first if id_col == header[0] else id_col: str} if id_col else None
        df = read_user_csv(path, row_names_as="sample", skipinitialspace=True, skip_blank_lines=False,
                           dtype=ids_as_text)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: malformed CSV ({exc}). {expected}") from exc
    if len(df) == 0:
        raise DataError(f"{path}: header only, no patients")
    values = ["event", "time", *clinical, *genes]
    text_cols = [c for c in values if not pd.api.types.is_numeric_dtype(df[c])]
    problems = []
    if text_cols:
        problems += _cell_problems(path, text_cols, allow_missing=tuple(clinical),
                                   hint={c: " (encode categories as numbers)" for c in clinical})
    num = df[values].apply(pd.to_numeric, errors="coerce")
    required = ["event", "time", *genes]
    missing = [c for c in required if c not in text_cols and num[c].isna().any()]
    if missing:
        problems += _cell_problems(path, missing)
    ok = ~num["event"].isna()
    for r in np.flatnonzero((ok & ~num["event"].isin([0, 1])).to_numpy())[:5]:
        problems.append(f"line {r + 2}, column 'event': expected 0 (censored) or 1 (metastasis)")
    ok = ~num["time"].isna()
    for r in np.flatnonzero((ok & (num["time"] <= 0)).to_numpy())[:5]:
        problems.append(f"line {r + 2}, column 'time': must be a positive number of days")
    empty = [c for c in clinical if c not in text_cols and num[c].isna().all()]
    problems += [f"column {c!r}: no values at all (drop the column)" for c in empty]
    if problems:
        raise DataError(f"{path}: malformed data:\n  - " + "\n  - ".join(problems) + f"\n{expected}")
    if num["time"].max() < 100:
        raise DataError(f"{path}, column 'time': the longest follow-up is {num['time'].max():.1f}; "
                        "times look like years or months, but days are expected (multiply years "
                        "by 365.25)")
    ids = df[id_col].astype(str).str.strip() if id_col else pd.Series(
        [f"p{i + 1}" for i in range(len(df))])
    if ids.duplicated().any():
        raise DataError(f"{path}, column {id_col!r}: duplicate patient identifiers")
    num.index = ids.to_numpy()
    num["event"] = num["event"].astype(int)
    counts = prognosis_labels(num["time"], num["event"], horizon_days).value_counts(dropna=False)
    poor, good = int(counts.get(1.0, 0)), int(counts.get(0.0, 0))
    if min(poor, good) < min_per_class:
        raise DataError(f"{path}: at a horizon of {horizon_days:.0f} days the table has {poor} "
                        f"patients with metastasis and {good} followed beyond it without one "
                        f"({len(num) - poor - good} censored earlier, excluded); each class needs "
                        f"at least {min_per_class}")
    return num


def load_gse7390() -> pd.DataFrame:
    """GSE7390 (Desmedt et al. 2007) as shipped in scikit-survival, as a survival table.

    grade 1/2/3 = well / intermediate / poorly differentiated (the package's 'unkown', sic, is a
    missing value); er 1 = positive; size in cm; time = t.tdm in days, event = e.tdm (distant
    metastasis). Used by breast_cancer_prognosis.
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
