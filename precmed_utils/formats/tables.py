"""A user's CSV table, read and checked once: the helpers every table reader shares.

The table readers (``data.read_labelled_matrix``, ``data.read_survival_table``, the
pharmacovigilance readers in ``data``, ``drug_response.read_user_screen`` and
``ehr.read_mimic3``) open a user's CSV with :func:`read_table`, which gives it as text, one column
per header name plus ``_line`` (the line in the file, header = 1), and reports what is wrong with
the file, its header and the width of its rows to a :class:`~precmed_utils.errors.Problems`. The
cells are then checked with :func:`numbers` and :func:`empty` (file, line, column, what). A reader
given a collecting ``Problems`` (``precmed check-data``) reports every problem and carries on; by
default the first problem raises a DataError. So a reader and its check share one set of rules.

What the field's tools write is accepted alike: gzip recognised by its first bytes whatever the
file's name, a byte-order mark (Excel), CRLF line ends, quoted headers, and a first column of row
names (R's ``write.csv``, pandas' ``to_csv`` with its index, R's ``read.csv`` round trip).
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from itertools import chain, islice
from pathlib import Path

import pandas as pd

from ..errors import Problems

# What a table reader takes for a missing value (compared in lower case, after stripping).
NA_TOKENS = ("", "na", "nan", "n/a", "null", "none")

# The first header cell above a column of row names: R's write.csv writes "", pandas' to_csv ""
# (read back by pandas as "Unnamed: 0"), and R's read.csv turns "" into "X".
ROW_NAME_HEADERS = ("", "Unnamed: 0")
ROW_NAMES = "(row names)"  # what a column of row names is called when the reader gives it no name
_PEEK = 50  # rows looked at to tell row names from a feature named X

UNREADABLE = (UnicodeDecodeError, OSError, EOFError, gzip.BadGzipFile, csv.Error)


def open_text(path: Path):
    """A text file, gzipped or not whatever its name says (by its first bytes), read as UTF-8 with
    or without the byte-order mark Excel writes; line ends are left to the CSV reader (CRLF too)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def is_row_names(header: str, values) -> bool:
    """Whether a table's first column holds row names: an empty header cell (or pandas' name for
    one), or R's "X" above values that are not numbers (a feature named X stays a feature)."""
    h = str(header).strip()
    if h in ROW_NAME_HEADERS:
        return True
    vals = [v for v in values if str(v).strip()]
    return h == "X" and bool(vals) and pd.to_numeric(pd.Series(vals, dtype=str), errors="coerce").isna().all()


def csv_header(path: Path) -> list[str]:
    """The stripped header row of a CSV (plain or gzipped; [] when empty). Raises what the file
    raises (see ``UNREADABLE``): for a quick look, not for checking."""
    with open_text(path) as fh:
        return [h.strip() for h in next(csv.reader(fh), [])]


def _names(header: list[str], first_values, *, upper: bool, row_names: bool | str) -> list[str]:
    names = [h.strip().upper() if upper else h.strip() for h in header]
    if row_names and names and is_row_names(names[0], first_values):
        names[0] = row_names if isinstance(row_names, str) else ROW_NAMES
    return names


def peek_header(path: Path, *, row_names: bool | str = False) -> list[str] | None:
    """The header as :func:`read_table` names it, or None when the file cannot be read (a fast
    path's look; read_table says what is wrong)."""
    try:
        with open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            firsts = [r[0] for r in islice(reader, _PEEK) if r]
    except UNREADABLE:
        return None
    return _names(header, firsts, upper=False, row_names=row_names) if header else None


def header_problems(header: list[str], required=(), *, expected: str = "",
                    style: str = "list") -> list[tuple[str, str]]:
    """(location, message) of what is wrong with a header: required columns missing (``style``:
    one message listing them as a Python list, ``"joined"`` by commas, or ``"named"`` one message
    per column), empty column names, duplicate names."""
    out = []
    missing = [c for c in required if c not in header]
    shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
    tail = f" {expected}" if expected else ""
    if missing and style == "named":
        out += [("line 1", f"no column named {c!r} (columns: {shown}).{tail}") for c in missing]
    elif missing:
        names = ", ".join(missing) if style == "joined" else str(missing)
        out.append(("line 1", f"missing column(s) {names} (columns: {shown}).{tail}"))
    out += [(f"line 1, column {k + 1}", "empty column name") for k, h in enumerate(header) if not h]
    dupes = sorted(h for h, n in Counter(header).items() if n > 1 and h)
    if dupes:
        out.append(("line 1", f"duplicate column names {dupes[:5]}"))
    return out


def read_table(path: Path, report: Problems, required=(), *, expected: str = "", upper: bool = False,
               style: str = "list", row_names: bool | str = False, keep=None) -> pd.DataFrame | None:
    """A CSV (plain or gzipped, with or without a byte-order mark) as text: one column per header
    name (cells stripped) plus ``_line``, the line of each row in the file (header = 1); blank
    lines are skipped. Reported: no such file, a folder, an unreadable or empty file, the
    header's problems (:func:`header_problems`) and rows of the wrong width (left out). None when
    the file cannot be used at all (it, its header or a required column missing, duplicate
    names). ``upper``: header names in upper case. ``row_names``: a first column of row names
    (:func:`is_row_names`) is called ``(row names)``, or the name given. ``keep``: the columns
    to keep (default: all)."""
    tail = f" {expected}" if expected else ""
    if not path.exists():
        report.add(path, "", f"no such file.{tail}")
        return None
    if path.is_dir():
        report.add(path, "", f"is a folder, expected a file.{tail}")
        return None
    try:
        with open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                report.add(path, "", f"the file is empty.{tail}")
                return None
            head = list(islice(reader, _PEEK))
            names = _names(header, [r[0] for r in head if r], upper=upper, row_names=row_names)
            problems = header_problems(names, required, expected=expected, style=style)
            for loc, msg in problems:
                report.add(path, loc, msg)
            idx = list(range(len(names))) if keep is None else [names.index(c) for c in keep if c in names]
            rows, lines = [], []
            for line, row in enumerate(chain(head, reader), start=2):
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(names):
                    report.add(path, f"line {line}", f"{len(row)} fields where the header has {len(names)} "
                               "(a stray comma or quote?)")
                    continue
                rows.append([row[i].strip() for i in idx])
                lines.append(line)
    except UNREADABLE as exc:
        report.add(path, "", f"cannot be read as a (gzipped) UTF-8 CSV ({exc}).{tail}")
        return None
    if any(c not in names for c in required) or any(n > 1 for h, n in Counter(names).items() if h):
        return None
    df = pd.DataFrame(rows, columns=[names[i] for i in idx], dtype=str)
    df["_line"] = lines
    return df


def where(df: pd.DataFrame, i: int, col: str | None = None) -> str:
    """'line N' or 'line N, column 'c'' of row ``i`` of a :func:`read_table` frame."""
    line = f"line {int(df['_line'].iat[i])}"
    return f"{line}, column {col!r}" if col else line


def missing(text: pd.Series) -> pd.Series:
    """Where a text column holds a missing value (``NA_TOKENS``)."""
    return text.str.lower().isin(NA_TOKENS)


def numbers(df: pd.DataFrame, col: str, *, missing_ok: bool = False,
            hint: str = "") -> tuple[pd.Series, list[tuple[str, str]]]:
    """Column ``col`` as numbers (NaN where missing or not a number) and (location, message) for
    each cell that is not a number, or missing unless ``missing_ok``. Values are never echoed
    beyond 20 characters."""
    text = df[col]
    na = missing(text)
    num = pd.to_numeric(text.where(~na), errors="coerce")
    bad = num.isna().to_numpy() & (~na.to_numpy() | (not missing_ok))
    out = [(where(df, i, col), "missing value" if na.iat[i] else f"{text.iat[i][:20]!r} is not a "
            f"number{hint}") for i in bad.nonzero()[0]]
    return num, out


def repeats(df: pd.DataFrame, col: str, *, skip_empty: bool = False):
    """``(row, value, line first seen)`` for each cell of ``col`` whose value an earlier row holds
    (``skip_empty``: empty cells are never counted as repeats; they are reported as empty)."""
    first: dict[str, int] = {}
    for i, v in enumerate(df[col]):
        if v in first:
            yield i, v, first[v]
        elif v or not skip_empty:
            first[v] = int(df["_line"].iat[i])


def empty(df: pd.DataFrame, cols, message: str = "empty value") -> list[tuple[str, str]]:
    """(location, message) of each empty cell of ``cols``."""
    return [(where(df, i, col), message) for col in cols for i in (df[col] == "").to_numpy().nonzero()[0]]


def read_csv(path: Path, *, row_names_as: str | None = None, **kwargs) -> pd.DataFrame:
    """A user's CSV read by pandas whatever wrote it (gzip by content, a byte-order mark, CRLF);
    column names stripped. ``row_names_as``: the name a first column of row names gets. For the
    fast path of a clean file only: the checks are :func:`read_table`'s."""
    with open_text(path) as fh:
        df = pd.read_csv(fh, **kwargs)
    df.columns = [str(c).strip() for c in df.columns]
    if row_names_as and len(df.columns) and row_names_as not in df.columns \
            and is_row_names(df.columns[0], df.iloc[:, 0].astype(str)):
        df = df.rename(columns={df.columns[0]: row_names_as})
    return df
