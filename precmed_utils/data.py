"""The data registry: every dataset by name, with files, sha256, licence, citation and loader.

Shipped (open) datasets live in ``data/<folder>/`` with a LICENSE and a SOURCE.md; each file's
sha256 is recorded here and verified on every load. A user's own file is read by the loader of
the format the study documents, which reports what is wrong and where (file, line, column).
Nothing here downloads anything or writes into data/.

Used by: cancer_subtyping (labelled expression matrices); later studies add their datasets.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

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
    loader: Callable
    studies: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def paths(self) -> list[Path]:
        return [data_dir() / rel for rel in self.files]


def data_dir() -> Path:
    return project_root() / "data"


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


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
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_labelled_matrix(path: str | Path, *, min_per_class: int = 2):
    """Read and validate a labelled matrix; return ``(X, y, sample_ids)``.

    X is a float DataFrame (samples x features), y a string Series. Every problem found is
    reported with the file and the line (1-based, header = line 1) and column where it occurs.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file. Expected: {LABELLED_MATRIX_FORMAT}")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a file. Expected: {LABELLED_MATRIX_FORMAT}")
    try:
        with _open_text(path) as fh:
            header = next(csv.reader(fh), None)
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read as a UTF-8 CSV ({exc}). "
                        f"Expected: {LABELLED_MATRIX_FORMAT}") from exc
    if not header:
        raise DataError(f"{path}: the file is empty. Expected: {LABELLED_MATRIX_FORMAT}")
    header = [h.strip() for h in header]
    if "label" not in header:
        shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
        raise DataError(f"{path}, line 1: no column named 'label' (columns: {shown}). "
                        f"Expected: {LABELLED_MATRIX_FORMAT}")
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise DataError(f"{path}, line 1: duplicate column names {dupes[:5]}")
    fast = _read_numeric_fast(path)
    if fast is not None:
        return _finish_matrix(path, *fast, min_per_class=min_per_class)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: malformed CSV ({exc}). Expected: {LABELLED_MATRIX_FORMAT}") from exc
    df.columns = [c.strip() for c in df.columns]
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


def _read_numeric_fast(path: Path):
    """The common case, a clean file: one vectorised read. None if anything needs a diagnosis."""
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return None
    df.columns = [str(c).strip() for c in df.columns]
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

_MICROARRAY_CITE = "data/microarray/SOURCE.md"
DATASETS: dict[str, Dataset] = {
    "gordon_lung": Dataset(
        name="gordon_lung",
        description="Gordon et al. 2002: lung adenocarcinoma (ADCA) vs malignant pleural "
                    "mesothelioma (MPM), Affymetrix HG-U95A, MAS5 intensities",
        files={"microarray/gordon_2002_lung.csv.gz":
               "9a5c2ac1e0f9adf31195c7efa4a3434363474cb0ffeaa1374b13ec0220646852"},
        licence="MIT (datamicroarray R package)",
        citation="Gordon GJ et al. Cancer Res 62:4963-4967, 2002",
        kind="open", loader=read_labelled_matrix, studies=("cancer_subtyping",),
        meta={"scale": "raw", "short": "Lung (Gordon)"},
    ),
    "shipp_lymphoma": Dataset(
        name="shipp_lymphoma",
        description="Shipp et al. 2002: diffuse large B-cell (DLBCL) vs follicular lymphoma (FL), "
                    "Affymetrix Hu6800, raw intensities",
        files={"microarray/shipp_2002_dlbcl_fl.csv.gz":
               "e5e48080b57aec319403efc0529bc2df3e9c7eee7c96a47c0c54b1dbc93656ec"},
        licence="MIT (datamicroarray R package)",
        citation="Shipp MA et al. Nat Med 8:68-74, 2002",
        kind="open", loader=read_labelled_matrix, studies=("cancer_subtyping",),
        meta={"scale": "raw", "short": "Lymphoma (Shipp)"},
    ),
    "alizadeh_lymphoma": Dataset(
        name="alizadeh_lymphoma",
        description="Alizadeh et al. 2000: DLBCL / FL / CLL, cDNA arrays, Dettling's "
                    "preprocessing (imputed, log ratios, standardised)",
        files={"microarray/alizadeh2000_lymphoma_dettling.csv.gz":
               "8abc8da7c6fa63f45bc722410b653420c9e8789897bc22cdd80518b62af74f7d"},
        licence="GPL (>= 2) (spls R package)",
        citation="Alizadeh AA et al. Nature 403:503-511, 2000; Dettling M, Bioinformatics 2004",
        kind="open", loader=read_labelled_matrix, studies=("cancer_subtyping",),
        meta={"scale": "log", "short": "Lymphoma 3-class (Alizadeh)"},
    ),
}


def get(name: str) -> Dataset:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; registered: {', '.join(DATASETS)}, "
                        "or pass a path to your own file")
    return DATASETS[name]


def for_study(study: str) -> list[str]:
    return [n for n, d in DATASETS.items() if study in d.studies]


# The format each study accepts for a user's own file: (reader, description). The CLI validates
# a user's file with the same reader before a run starts.
USER_FORMATS: dict[str, tuple[Callable, str]] = {
    "cancer_subtyping": (read_labelled_matrix, LABELLED_MATRIX_FORMAT),
}


def check_user_file(study: str, path: str | Path) -> None:
    """Validate a user's file for ``study`` without running anything (raises DataError)."""
    if study not in USER_FORMATS:
        raise DataError(f"study {study!r} does not take a data file; use one of its registered "
                        f"datasets: {', '.join(for_study(study)) or '(none)'}")
    reader, _ = USER_FORMATS[study]
    reader(path)


def load(name_or_path: str, *, user_loader: Callable = read_labelled_matrix, **kwargs):
    """Load a registered dataset (checksums verified) or a user's file (format validated).

    Returns ``(data, info)``: whatever the loader returns, and a dict with the name, kind,
    licence, citation, files and their sha256 for the run manifest. A user's file is treated as
    restricted: notebooks must show aggregates of it only.
    """
    if name_or_path in DATASETS:
        ds = DATASETS[name_or_path]
        sums = verify(ds)
        loaded = ds.loader(*ds.paths(), **kwargs)
        info = {"name": ds.name, "kind": ds.kind, "licence": ds.licence,
                "citation": ds.citation, "sha256": sums, **ds.meta}
        return loaded, info
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise DataError(f"data: {name_or_path!r} is neither a registered dataset "
                        f"({', '.join(DATASETS)}) nor an existing file")
    loaded = user_loader(path, **kwargs)
    info = {"name": path.name, "kind": "restricted", "licence": "user-provided",
            "citation": "user-provided", "sha256": {str(path): sha256(path)},
            "scale": "unknown", "short": path.stem}
    return loaded, info
