"""The privacy gate: small-cell suppression for tables of a user's data, and a PHI scan of every
executed notebook before it goes into the book.

- ``suppress_small_cells`` hides counts 0 < n < threshold in a table. Notebooks apply it to their
  count tables when the loaded data is the user's own file (``kind == "restricted"``, see
  ``data.load``), with the threshold taken from their ``min_cell_count`` parameter. Shipped open
  or simulated data keeps exact counts.
- ``scan_notebook`` reads the text of every output of an executed notebook (stream text,
  ``text/plain``, ``text/html`` without its tags, ``text/markdown``, errors; images are skipped)
  and runs the project's rule-based de-identifier (``deid.RuleDeidentifier``: regular
  expressions, title and kinship context; it needs no trained weights, unlike the BiLSTM-CRF of
  the deidentification study) plus a few identifier patterns of its own (e-mail, SSN, record
  numbers, street addresses, a patient's name after "patient"/"name:", first name + surname).
  A finding names the cell, the output, the line, the PHI category and the length and shape
  (``Xxxx 999-9999``) of the text; the text itself is never repeated.
- ``gate`` is what ``runner.stage_book`` calls for every chapter: a chapter with likely PHI in
  its outputs is refused (it counts as a failed study, so ``precmed book`` exits 1) and
  ``refusal_page`` stands in for it, saying where and what to do.

Limits: rules and patterns for English text; they catch the formats and contexts they describe
(a bare surname in a table cell is not one of them) and flag some harmless text. A clean scan
is evidence, not a guarantee; aggregates-only notebooks remain the first protection.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

# --- small cells ---------------------------------------------------------------------------------


def _small(v, threshold: int) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and v == v and float(v).is_integer() and 0 < v < threshold)


def suppress_small_cells(df: pd.DataFrame, threshold: int, columns=None, totals=()) -> pd.DataFrame:
    """A copy of ``df`` in which every count 0 < n < ``threshold`` reads ``"<threshold"``.

    ``columns``: the count columns (default: every integer column; a column of floats such as a
    rate or a score is not a count and is left alone). Zeros are kept (an empty cell discloses
    nobody) and so are non-numbers. ``threshold`` <= 1 returns an unchanged copy.

    ``totals``: columns holding a row's total (or any value from which a suppressed cell could be
    computed); in a row where some cell was suppressed they read ``"hidden"`` (and a small total
    reads ``"<threshold"`` like any count). For a total *row*, suppress the transposed table. Without that, a
    total printed beside a row with a single suppressed cell gives it back by subtraction. This
    is the only complementary suppression done: totals across rows (a column sum printed in
    another table), or one small cell recovered from the other rows' cells and a known grand
    total, are the caller's to avoid, by not printing them.
    """
    threshold = int(threshold)
    out = df.copy()
    if threshold <= 1:
        return out
    if columns is None:
        columns = [c for c in df.columns if pd.api.types.is_integer_dtype(df[c]) and c not in totals]
    label = f"<{threshold}"
    hit = pd.Series(False, index=df.index)
    for c in columns:
        mask = df[c].map(lambda v: _small(v, threshold)).astype(bool)
        if mask.any():
            out[c] = df[c].astype(object).where(~mask, label)
            hit |= mask
    for c in totals:
        small = df[c].map(lambda v: _small(v, threshold)).astype(bool)
        out[c] = df[c].astype(object).where(~small, label).where(~hit, "hidden")
    return out


def restricted(data) -> bool:
    """Whether ``data`` (a data info dict, or a list of them such as ``run.data``) includes a
    user's own file (``kind == "restricted"``)."""
    infos = [data] if isinstance(data, dict) else list(data or [])
    return any(d.get("kind") == "restricted" for d in infos)


def shown(table, data, threshold: int, columns=None, totals=()):
    """What a notebook displays of a count table: the table itself when ``data`` is shipped open
    or simulated data, else its small counts suppressed. ``table``: a DataFrame (see
    ``suppress_small_cells``), a Series or a dict of counts (``totals``: keys to hide when another
    value was suppressed)."""
    if not restricted(data) or int(threshold) <= 1:
        return table
    if isinstance(table, pd.DataFrame):
        return suppress_small_cells(table, threshold, columns, totals)
    items = dict(table)
    keys = [k for k in (columns if columns is not None else items) if k not in totals]
    small = [k for k in keys if _small(items[k], threshold)]
    out = {k: (f"<{int(threshold)}" if k in small else "hidden" if small and k in totals else v)
           for k, v in items.items()}
    return pd.Series(out, name=table.name) if isinstance(table, pd.Series) else out


def is_suppressed(n, data, threshold: int) -> bool:
    """Whether a count ``n`` of ``data`` is shown as ``"<threshold"`` (restricted data only)."""
    return restricted(data) and _small(n, int(threshold))


def shown_total(total, parts, data, threshold: int):
    """A total as a notebook shows it: ``"hidden"`` when one of its ``parts`` is suppressed (it
    would give the part back), ``"<threshold"`` when it is small itself, else unchanged."""
    if is_suppressed(total, data, threshold):
        return f"<{int(threshold)}"
    return "hidden" if any(is_suppressed(p, data, threshold) for p in parts) else total


def count_text(n, data, threshold: int, parts=()) -> str:
    """A count for a sentence or a text cell: ``1,234``, or ``<10`` / ``hidden`` as above."""
    v = shown_total(n, parts, data, threshold)
    return f"{v:,}" if not isinstance(v, str) else v


# --- output text ---------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _Text(HTMLParser):
    """The text nodes of an HTML fragment, one a line (table cells never run into each other)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def html_text(source: str) -> str:
    p = _Text()
    p.feed(source)
    p.close()
    return "\n".join(p.parts)


def _join(v) -> str:
    return "".join(v) if isinstance(v, list) else str(v)


def output_texts(output: dict) -> list[tuple[str, str]]:
    """(kind, text) of one notebook output: stream text, text/plain, text/html (tags stripped),
    text/markdown, error name/value/traceback. Images and other binary types are skipped."""
    kind = output.get("output_type")
    if kind == "stream":
        return [(output.get("name", "stream"), _join(output.get("text", "")))]
    if kind == "error":
        tb = "\n".join(_ANSI.sub("", line) for line in output.get("traceback", []))
        return [("error", f"{output.get('ename', '')}: {output.get('evalue', '')}\n{tb}")]
    data = output.get("data", {})
    out = []
    for mime in ("text/plain", "text/markdown", "text/latex"):
        if mime in data:
            out.append((mime, _join(data[mime])))
    if "text/html" in data:
        out.append(("text/html", html_text(_join(data["text/html"]))))
    return out


# --- detection -----------------------------------------------------------------------------------

# PHI categories the gate refuses. Years alone, month/day without a year (indistinguishable from
# "3/14 repeats") and the months' names are left out: the book's own tables are full of them.
LIKELY_PHI = ("name", "phone", "id", "email", "address", "date", "age")

_TITLES = {"Dr", "DR", "Drs", "DRS", "Mr", "MR", "Mrs", "MRS", "Ms", "MS", "Miss", "MISS", "Doctor",
           "DOCTOR"}
_FULL_DATE = re.compile(r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}$|.*\b\d{4}$", re.IGNORECASE)
_NAME = r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?"
_NAME_CONTEXT = re.compile(  # the word after the context must be capitalised: case-sensitive
    rf"\b(?:[Pp]atient|[Pp]t|PATIENT|[Nn]ame|NAME)(?:'s)?(?: name| NAME)?(?:\s*[:=]\s*|\s+)"
    rf"({_NAME}(?:\s+{_NAME})?)\b")
_SERIES_FOOTER = re.compile(r",\s*(?:dtype|Length|Freq):")  # pandas: "Name: Recall, dtype: float64"
_MONTH_WORDS = {"January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"}
PATTERNS: list[tuple[str, re.Pattern]] = [
    ("email", re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    ("id", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),  # SSN-shaped
    # an ISO date after a word of a person's life (birth, admission...); alone, an ISO date is as
    # likely the date a claim was set or a run finished
    ("date", re.compile(
        r"\b(?:DOB|[Dd]\.?[Oo]\.?[Bb]\.?|[Bb]irth(?:\s?date|day)?|[Bb]orn|[Aa]dmi(?:tted|ssion)|"
        r"[Dd]ischarg\w*|[Dd]ied|[Dd]eath|[Dd]eceased)\b\W{0,12}"
        r"((?:1[89]|2[01])\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))\b")),
    ("id", re.compile(  # a record number after its name
        r"\b(?:MRN|mrn|[Mm]edical [Rr]ecord(?: [Nn]umber| [Nn]o\.?| #)?|[Rr]ecord [Nn]umber|"
        r"[Pp]atient (?:ID|[Ii]d|[Nn]umber|[Nn]o\.?)|SSN|[Uu]nit [Nn]o\.?|"
        r"[Aa]ccount (?:[Nn]umber|#|[Nn]o\.?))"
        r"\s*(?:[:#=]|is)?\s*([A-Z]{0,3}-?\d[\d-]{3,})\b")),
    ("address", re.compile(
        r"\b\d{1,5}\s+(?:[A-Z][a-z]+\.?\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|"
        r"Drive|Court|Ct|Terrace|Place|Parkway|Highway|Hwy)\b\.?")),
]
_PATTERN_LABELS = {"email": "Email", "id": "Identifier", "address": "Address", "date": "Date"}


@dataclass(frozen=True)
class Finding:
    cell: int  # index of the cell in the notebook (0-based, as nbformat counts)
    output: int  # index of the output in the cell
    mime: str  # stream name, mime type or "error"
    line: int  # line of that output's text (1-based)
    category: str  # name | phone | id | email | address | date | age
    label: str  # the rule's label (PTName, Phone, ...)
    length: int  # characters of the flagged text
    shape: str  # the flagged text with letters as X/x and digits as 9

    def describe(self) -> str:
        return (f"cell {self.cell}, output {self.output} ({self.mime}), line {self.line}: "
                f"{self.category} ({self.label}), {self.length} characters shaped '{self.shape}'")


def shape(text: str) -> str:
    """Letters become X/x and digits 9; the shape of a phone number or name, not its content."""
    return "".join("9" if c.isdigit() else ("X" if c.isupper() else "x") if c.isalpha() else c
                   for c in text)


_RULES = None


def _deidentifier():
    global _RULES
    if _RULES is None:
        from .deid import RuleDeidentifier

        _RULES = RuleDeidentifier()  # not fitted: rules and context only, no corpus dictionary
    return _RULES


def _category(label: str, surface: str, text: str, start: int) -> str | None:
    """The gate's category of one de-identifier span, or None when it is not likely PHI here."""
    if label == "Phone":
        if re.fullmatch(r"\d+\.\d+|\d{3}\s\d{7}", surface):
            return None  # a float (421924.0000) or two numbers of a table row
        after = text[start + len(surface):start + len(surface) + 1]
        if re.fullmatch(r"\d{3}-\d{4}", surface) and (text[start - 1:start] in ("-", ".") and start > 0
                                                       or re.match(r"[.\d]", after)):
            return None  # part of a longer range or number
        return "phone"
    if label == "Date":
        return "date" if _FULL_DATE.match(surface) else None
    if label == "Age":
        return "age"
    if label in ("PTName", "HCPName", "RelativeProxyName"):
        # Title and kinship rules: "Dr Smith", "daughter Maria". Only a capitalised word after a
        # written title counts ("ms" is milliseconds, "Dr.VAE" a model) and a name written in capitals.
        before = text[max(0, start - 12):start]
        m = re.search(r"(\w+)(\.?)(\s*)$", before)
        title_like = m is not None and m.group(1) in _TITLES
        if title_like and (not m.group(3) or surface.isupper() and len(surface) <= 4):
            return None
        if not (surface[:1].isupper() and surface[1:].islower() or surface.isupper() and len(surface) > 1):
            return None
        if surface in _MONTH_WORDS:
            return None
        return "name"
    return None


def find_phi(text: str, categories=LIKELY_PHI) -> list[tuple[int, int, str, str]]:
    """Likely PHI in ``text``: (start, end, category, label), sorted, non-overlapping."""
    found: list[tuple[int, int, str, str]] = []
    taken: list[tuple[int, int]] = []

    def add(a, b, cat, label):
        if cat in categories and not any(a < y and x < b for x, y in taken):
            taken.append((a, b))
            found.append((a, b, cat, label))

    for cat, rx in PATTERNS:
        for m in rx.finditer(text):
            g = 1 if rx.groups else 0
            add(m.start(g), m.end(g), cat, _PATTERN_LABELS[cat])
    for s in _deidentifier().find(text):
        surface = text[s.start:s.end]
        cat = _category(s.label, surface, text, s.start)
        if cat:
            add(s.start, s.end, cat, s.label)
    for m in _NAME_CONTEXT.finditer(text):
        words = m.group(1).split()
        if words[0] not in _MONTH_WORDS and not _SERIES_FOOTER.match(text, m.end()):
            add(m.start(1), m.end(1), "name", "PTName")
    from .deid import FIRST_NAMES

    for m in re.finditer(rf"\b(?:{'|'.join(FIRST_NAMES)})\s+{_NAME}\b", text):
        add(m.start(), m.end(), "name", "FullName")
    return sorted(found)


EXEMPT_TAG = "privacy-made-up-example"
"""Cell tag for an output made only of text typed into the notebook (a made-up example note) and
of the de-identifier's own surrogates. Scanned cells so tagged are listed, not judged; the
notebook contract allows the tag on the deidentification study's example cell only."""


@dataclass
class ScanReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    exempt_cells: list[int] = field(default_factory=list)
    seconds: float = 0.0


def scan_notebook(path: str | Path, categories=LIKELY_PHI, *, report: bool = False):
    """Findings of likely PHI in the outputs of the executed notebook at ``path``.

    Returns the list of Findings (or, with ``report=True``, a ScanReport that also lists the
    cells exempted by the ``privacy-made-up-example`` tag and the seconds the scan took)."""
    import time

    t0 = time.perf_counter()
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    rep = ScanReport(str(path))
    for ci, cell in enumerate(nb.get("cells", [])):
        outputs = cell.get("outputs") or []
        if not outputs:
            continue
        if EXEMPT_TAG in cell.get("metadata", {}).get("tags", []):
            rep.exempt_cells.append(ci)
            continue
        for oi, out in enumerate(outputs):
            seen = set()
            for mime, text in output_texts(out):
                text = html.unescape(text) if mime == "text/markdown" else text
                for a, b, cat, label in find_phi(text, categories):
                    surface = text[a:b]
                    if (cat, surface) in seen:  # text/plain and text/html of one table
                        continue
                    seen.add((cat, surface))
                    line = text.count("\n", 0, a) + 1
                    rep.findings.append(Finding(ci, oi, mime, line, cat, label, len(surface), shape(surface)))
    rep.seconds = round(time.perf_counter() - t0, 3)
    return rep if report else rep.findings


# --- the gate ------------------------------------------------------------------------------------

REFUSED = "privacy gate: "


def refusal_message(study: str, findings: list[Finding], restricted: bool, limit: int = 12) -> str:
    by_cat: dict[str, int] = {}
    for f in findings:
        by_cat[f.category] = by_cat.get(f.category, 0) + 1
    cells = sorted({f.cell for f in findings})
    lines = [f"{REFUSED}{study}: {len(findings)} likely PHI finding(s) in the outputs of cell(s) "
             f"{', '.join(map(str, cells))} ({', '.join(f'{k} {v}' for k, v in sorted(by_cat.items()))}); "
             "the chapter is not staged."]
    lines += [f"  - {f.describe()}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"  - ... and {len(findings) - limit} more")
    src = "the user's own (restricted) data" if restricted else "shipped data"
    lines.append(f"The run used {src}. Show aggregates only: no rows, notes or identifiers of "
                 "patients in any output; count tables of a user's data go through "
                 "suppress_small_cells (parameter min_cell_count, e.g. -p min_cell_count=11). "
                 "Then re-run the study and rebuild the book. `precmed privacy-scan <notebook>` "
                 "repeats this check.")
    return "\n".join(lines)


def check_chapter(study: str, notebook_path: str | Path, manifest: dict | None = None):
    """The gate for one chapter: (ok, message, report). ``manifest``: the run's manifest.json
    (read beside the notebook when not given); it says whether the data was restricted."""
    notebook_path = Path(notebook_path)
    if manifest is None:
        mf = notebook_path.parent / "manifest.json"
        manifest = json.loads(mf.read_text()) if mf.exists() else {}
    restricted = any(d.get("kind") == "restricted" for d in manifest.get("data", []))
    rep = scan_notebook(notebook_path, report=True)
    if not rep.findings:
        return True, "", rep
    return False, refusal_message(study, rep.findings, restricted), rep


def gate(result):
    """``runner.stage_book``'s check of one RunResult: unchanged when the chapter is clean (or the
    run failed anyway), else a failed copy whose error is the refusal message."""
    if not result.ok:
        return result
    ok, message, _ = check_chapter(result.study, Path(result.path) / "notebook.ipynb")
    return result if ok else replace(result, ok=False, error=message)


def is_refusal(result) -> bool:
    return bool(result.error) and result.error.startswith(REFUSED)


def refusal_page(study: str, result) -> str:
    """The page that stands in for a refused chapter (no output of it is copied)."""
    from .studies import study_info

    return (f"# {study_info(study)['title']}\n\n```{{warning}}\nThe privacy gate refused this "
            f"chapter (profile `{result.profile}`): its executed notebook shows text that looks "
            "like protected health information, so it is left out of this build.\n```\n\n"
            f"```text\n{result.error}\n```\n\nThe executed notebook stays in `{result.path}` "
            "for its owner to inspect; it is not published.\n")
