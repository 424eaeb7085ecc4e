"""The privacy gate: small-cell suppression for tables of a user's data, and a PHI scan of every
executed notebook before it goes into the book.

- ``suppress_small_cells`` hides counts 0 < n < threshold in a table. Notebooks apply it to their
  count tables when the loaded data is the user's own file (``kind == "restricted"``, see
  ``data.load``), with the threshold taken from their ``min_cell_count`` parameter. Shipped open
  or simulated data keeps exact counts.
- ``scan_notebook`` reads the text of every output of an executed notebook (stream text,
  ``text/plain``, ``text/html`` without its tags, ``text/markdown``, errors; images are skipped)
  and runs ``find_phi``: rules for each of the 16 Safe Harbor categories of identifiers that can
  appear in text (see "detection" below). Text the run itself vouches for (``known_safe``: its
  timestamps, its claims' set dates, its paper's and datasets' citations) is exempt, exactly
  that text and nowhere else. A finding names the cell, the output, the line, the PHI category
  and the length and shape (``Xxxx 999-9999``) of the text; the text itself is never repeated.
- ``gate`` is what ``runner.stage_book`` calls for every chapter: a chapter with likely PHI in
  its outputs is refused (it counts as a failed study, so ``precmed book`` exits 1) and
  ``refusal_page`` stands in for it, saying where and what to do.

Limits: rules for English text; they catch the formats and contexts they describe and miss
others (a bare surname or city in a table cell, a name in lower case or made of common words, a
number whose meaning is only in its column's header). benchmarks/privacy_gate.py measures recall
per category and false positives on the chapters' real outputs; book/rerun.md (Privacy) gives
the numbers. A clean scan is evidence, not a guarantee; aggregates-only notebooks remain the
first protection, and outputs of restricted data are to be read before they are published.
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
#
# One family of rules per Safe Harbor category that can appear in text. Machine-readable
# identifiers (e-mail, URL, IP and MAC addresses, SSN, phone and fax numbers, ZIP+4, VIN, UDI,
# Medicare MBI, dates in every common written form) are matched by their shape alone; numbers
# that look like any other number (a record, account, licence, plate or serial number; a ZIP code
# alone; an age) are matched after a word or field name that says what they are; names by a
# title, a context word or field name, or a first name from a dictionary followed by a
# capitalised surname. What the rules cannot see is listed in book/rerun.md (Privacy) and
# measured by benchmarks/privacy_gate.py.

# Categories of a finding. "id" covers SSN, record, health-plan, account, certificate/licence
# and other identifying numbers; "phone" phone and fax numbers; "address" every geographic unit
# smaller than a state; "date" every element of a date but the year; "age" ages over 89.
LIKELY_PHI = ("name", "address", "date", "age", "phone", "email", "id", "vehicle", "device", "url", "ip")

_I = re.IGNORECASE


def _words(text: str) -> list[str]:
    return text.split()

_Q = r"['\"]?"  # a quote of a dict or JSON repr
# between a field's name and its value: "MRN: ", "'mrn': '", "**mrn**: ", "mrn=", "mrn is "
_SEP = rf"(?:{_Q}|\*\*|__)[ \t]*(?:[:=#]|\bis\b|-|\|)?[ \t]*(?:#[ \t]*)?{_Q}"

# months and week days
_MON = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
        r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_MON_UP = _MON.upper()  # JAN, MARCH ... (the same alternatives in capitals)
_MONTH = rf"(?:{_MON}|{_MON_UP})"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MM = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_ORD = r"(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs?)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?,?[ \t]+)?"
_TIME = r"(?:[T ][0-2]\d:[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"

_DATE_CONTEXT = (r"(?:DOB|D\.O\.B\.?|date[ _]of[ _](?:birth|death|admission|discharge|service|visit|"
                 r"surgery|procedure)|birth[ _]?date|birthday|born|adm(?:itted|ission)(?:[ _]date)?|"
                 r"disch(?:arged?)?(?:[ _]date)?|died|death(?:[ _]date)?|deceased|expired|"
                 r"visit(?:[ _]date)?|seen[ _]on|dos|surgery(?:[ _]date)?|operated[ _]on|"
                 r"(?:encounter|service|procedure)[ _]date)")

_STATES_AB = _words("""AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE
NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR""")
_STATES = _words("""Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia
Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan
Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee
Texas Utah Vermont Virginia Washington Wisconsin Wyoming""")
_STATES += ["New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota",
            "Rhode Island", "South Carolina", "South Dakota", "West Virginia", "Puerto Rico",
            "District of Columbia"]
_STATE = rf"(?:{'|'.join(_STATES_AB)}|{'|'.join(_STATES)}|{'|'.join(s.upper() for s in _STATES)})"
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Terrace|Ter|"
           r"Place|Pl|Parkway|Pkwy|Highway|Hwy|Way|Circle|Cir|Square|Sq|Trail|Trl|Pike|Turnpike|Row|"
           r"Alley|Crescent|Close|Plaza|Expressway|Route|Rte)")
_STREET_ALL = rf"(?:{_STREET}|{_STREET.upper()})"
# Towson, TOWSON, Mary's, Kessler-Adventist. Runs are possessive (++, *+) and the repeats bounded,
# so that a long run of letters is scanned in linear time
_CAPWORD = r"(?:[A-Z][a-z]++|[A-Z]{2,}+)(?:['’.-][A-Za-z]++){0,3}"
_PLACE = rf"(?:{_CAPWORD}\.?(?: {_CAPWORD}\.?){{0,3}})"  # a place of up to four capitalised words

# an identifying number: letters, digits and - / . inside, at least one digit, 4+ characters
_IDVAL = (r"(?P<v>[A-Z]{1,4} \d{2,5}(?![\w-])|\d{1,4} [A-Z]{2,4}(?![\w-])|(?=[A-Za-z0-9./-]{4})"
          r"(?=(?:[A-Za-z./-]*+\d){2})[A-Za-z0-9]+(?:[-./][A-Za-z0-9]+){0,4})")
_NUMWORD = r"(?:number|num|nbr|no\.?|nr|#|id|identifier|code)"

_FIELD = r"(?<![A-Za-z0-9])"  # a field name starts here ("billing_account": "_" is no boundary)
# field names of identifying numbers, by category and label; a value follows
_ID_FIELDS: list[tuple[str, str, str]] = [
    ("id", "SSN", r"ssn|ss#|soc(?:ial)?[ _]sec(?:urity)?(?:[ _]" + _NUMWORD + r")?"),
    ("id", "MRN", r"mrn|med(?:ical)?[ _]rec(?:ord)?(?:[ _]" + _NUMWORD + r")?|(?:patient|pt|chart|unit|"
                  r"hospital|subject|encounter|visit|admission|case|accession|enrol(?:l?ment)?|"
                  r"participant|person|client|record)[ _]?" + _NUMWORD + r"|pid|pat[ _]?id|rec[ _]?#"),
    ("id", "HealthPlan", r"(?:health[ _])?plan[ _]?" + _NUMWORD + r"|(?:member|subscriber|beneficiary|"
                         r"medicare|medicaid|mbi|hicn)(?:[ _]" + _NUMWORD + r")?|(?:insured|insurance|"
                         r"policy|group|payer|coverage)[ _]" + _NUMWORD),
    ("id", "Account", r"(?:account|acct|acc)(?:[ _]" + _NUMWORD + r")?|(?:billing|invoice|claim|financial)"
                      r"[ _]" + _NUMWORD),
    ("id", "Licence", r"(?:driver'?s?[ _])?licen[cs]e(?:[ _]" + _NUMWORD + r")?|dl[ _]?#|certificate"
                      r"(?:[ _]" + _NUMWORD + r")?|cert[ _]?(?:" + _NUMWORD + r")|dea(?:[ _]" + _NUMWORD +
                      r")?|npi|passport(?:[ _]" + _NUMWORD + r")?|permit(?:[ _]" + _NUMWORD + r")?|"
                      r"badge(?:[ _]" + _NUMWORD + r")?|employee[ _]?" + _NUMWORD + r"|state[ _]id"),
    ("vehicle", "Plate", r"(?:licen[cs]e[ _])?plates?(?:[ _]" + _NUMWORD + r")?|(?:vehicle|car)[ _]"
                         r"(?:" + _NUMWORD + r"|plate|registration|reg)|registration(?:[ _]" + _NUMWORD +
                         r")?|vin|(?:vehicle[ _])?tag[ _]" + _NUMWORD + r"|vehicle[ _]tag"),
    ("device", "Serial", r"serial(?:[ _]" + _NUMWORD + r")?|s/n|sn|(?:device|implant|pacemaker|pump|"
                         r"monitor|sensor|meter|defibrillator|icd|hearing[ _]aid)[ _](?:serial|" +
                         _NUMWORD + r")|udi|imei|lot(?:[ _]" + _NUMWORD + r")?|model/serial"),
]
_ID_CONTEXT = [(cat, label, re.compile(rf"{_FIELD}(?:{words}){_SEP}{_IDVAL}", _I))
               for cat, label, words in _ID_FIELDS]

PATTERNS: list[tuple[str, str, re.Pattern]] = [
    # machine-readable: the shape alone
    ("email", "Email", re.compile(r"(?<![\w.+-])[\w.+-]++@(?:[A-Za-z0-9-]++\.)++[A-Za-z]{2,}\b")),
    ("url", "URL", re.compile(r"\b(?:https?|ftp|sftp)://[^\s'\"<>)\]}]+|"
                              r"\bwww\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[^\s'\"<>)\]}]*)?", _I)),
    ("url", "URL", re.compile(r"(?<![A-Za-z0-9.-])(?:[A-Za-z0-9-]++\.)++(?:com|org|net|edu|gov|mil|io|us|uk|"
                              r"info|biz|health|care|med|co|me)(?::\d+)?/[^\s'\"<>)\]}]*")),
    ("ip", "IPv4", re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                              r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:/\d{1,2})?(?![\w.]|\.\d)")),
    ("ip", "IPv6", re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])|"
                              r"(?<![\w:])(?=[0-9A-Fa-f:]*[A-Fa-f][0-9A-Fa-f:]*)(?:[0-9A-Fa-f]{1,4}:){1,6}"
                              r":(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![\w:])")),
    ("device", "MAC", re.compile(r"\b[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}\b")),
    ("device", "UDI", re.compile(r"\(01\)\d{14}(?:\(\d{2,4}\)[A-Za-z0-9-]+)*")),
    ("vehicle", "VIN", re.compile(r"\b(?=[A-HJ-NPR-Z0-9]{17}\b)(?=[A-Z0-9]*\d)(?=[0-9]*[A-Z])"
                                  r"[A-HJ-NPR-Z0-9]{17}\b")),
    ("id", "MBI", re.compile(r"\b[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]"
                             r"[AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d\d\b")),
    ("id", "SSN", re.compile(r"(?<![A-Za-z0-9])(?:ssn|ss#|soc(?:ial)?[ _]sec(?:urity)?"
                             r"(?:[ _](?:number|no\.?|#))?)" + _SEP
                             + r"(?P<v>\d{3}[ -]?\d{2}[ -]?\d{4})(?!\d)", _I)),
    ("id", "SSN", re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])|"
                             r"(?<!\d)(?<!\d )\d{3} \d{2} \d{4}(?! ?\d)")),
    # a number behind the abbreviation of what it is: MRN-4471923, ACCT#8821, SN4471923
    ("id", "Code", re.compile(r"\b(?:MRN|ACCT|ACC|PT|PID|MBR|MEM|LIC|CERT|DL|PAT|REC|HP|INS|"
                              r"POL|CLM|EMP|NPI|DEA)[-#:]?\d{4,}\b", _I)),
    ("device", "Serial", re.compile(r"\b(?:SN|SER|DEV|IMEI)[-#:]?\d{4,}\b", _I)),
    ("phone", "Phone", re.compile(r"(?<![\w.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[.-])\d{3}[.-]\d{4}"
                                  r"(?:[ \t]*(?:x|ext\.?)[ \t]*\d{1,5})?(?![\w-]|\.\d)", _I)),
    ("phone", "Phone", re.compile(r"(?<![\w.-])\+\d{1,3}[ .-]\(?\d{1,4}\)?(?:[ .-]\d{2,4}){2,4}"
                                  r"(?![\w-]|\.\d)")),
    ("phone", "Phone", re.compile(r"(?<![\d/-])\d{3}/\d{3}/\d{4}(?![\d/-])")),
    ("phone", "Phone", re.compile(r"(?<![A-Za-z0-9])(?:tel(?:ephone)?|phone|ph|fax|facsimile|cell(?:phone)?|"
                                  r"mobile|pager|beeper|call|contact|home|work)\.?(?:[ _](?:no|number|#))?"
                                  + _SEP +
                                  r"(?P<v>\+?\(?\d(?:[\d()./-]| (?=[\d(]))*+)", _I)),  # single spaces
    ("phone", "Phone7", re.compile(r"(?<![\w.-])[2-9]\d{2}-\d{4}(?![\w-]|\.\d)")),
    # geography
    ("address", "Street", re.compile(
        rf"\b\d{{1,6}}[A-Za-z]? (?:[NSEW]\.? |North |South |East |West |NORTH |SOUTH |EAST |WEST )?"
        rf"(?:{_CAPWORD}\.? ){{1,3}}{_STREET_ALL}\b\.?(?:,? (?i:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|"
        rf"Room|Rm|#)\.? ?#?[A-Za-z0-9-]+)?")),
    ("address", "Street", re.compile(r"\bP\.? ?O\.? Box \d+", _I)),
    ("address", "City", re.compile(rf"(?<![\w-]){_PLACE}(?:, {_STATE}\.?(?:,? \d{{5}}(?:-\d{{4}})?)?|"
                                     rf",? {_STATE}\.?,? \d{{5}}(?:-\d{{4}})?)(?![\w-])")),
    ("address", "ZIP", re.compile(r"(?<![\w-])\d{5}-\d{4}(?![\w-])")),
    ("address", "ZIP", re.compile(rf"{_FIELD}(?:zip|zip[ _]?code|zipcode|postal[ _]code|postcode){_SEP}"
                                  rf"(?P<v>\d{{5}}(?:-\d{{4}})?)\b", _I)),
    ("address", "County", re.compile(rf"\b{_PLACE}[ \t]+(?:County|COUNTY|Parish|PARISH|Borough|Township)\b")),
    ("address", "City", re.compile(
        rf"\b(?i:(?:lives|living|resides|residing|moved|home|located|from|hometown) (?:in|at|near|to)) "
        rf"(?P<v>{_PLACE})")),
    ("address", "City", re.compile(
        rf"\b(?i:town|city|county|residence|hometown|municipality|neighbou?rhood|address|location|"
        rf"place[ _]of[ _]birth|birth[ _]?place)(?:{_Q}|\*\*|__)[ \t]*[:=][ \t]*{_Q}"
        rf"(?P<v>{_PLACE}|(?<=['\"])[a-z][a-z'-]+(?: [a-z][a-z'-]+)?(?=['\"]))")),
    ("address", "City", re.compile(  # a Series line: the field's name, a wide gap, the place, the end
        rf"^\s*(?i:town|city|county|residence|hometown|municipality|address|location|birth[ _]?place)"
        rf"[ \t]{{2,}}(?P<v>{_PLACE})[ \t]*$", re.MULTILINE)),
    # dates: every common written form with a day and a month
    ("date", "Date", re.compile(rf"(?<![\w./-]){_YEAR}([-/.]){_MM}\1{_DAY}{_TIME}(?![\w/-]|\.\d)")),
    ("date", "Date", re.compile(rf"(?<![\w./-]){_MM}([-/.]){_DAY}\1(?:{_YEAR}|\d\d){_TIME}"
                                rf"(?![\w/-]|\.\d)")),
    ("date", "Date", re.compile(rf"(?<![\w./-]){_DAY}([-/.]){_MM}\1{_YEAR}{_TIME}(?![\w/-]|\.\d)")),
    ("date", "Date", re.compile(rf"\b{_WEEKDAY}{_MONTH}\.?[ \t]+{_DAY}{_ORD}\b(?:,?[ \t]+{_YEAR}\b)?", 0)),
    ("date", "Date", re.compile(rf"\b{_WEEKDAY}{_DAY}{_ORD}[ \t]+(?:of[ \t]+)?{_MONTH}\b\.?"
                                rf"(?:,?[ \t]+{_YEAR}\b)?")),
    ("date", "Date", re.compile(rf"\b{_DAY}([-/ ]?){_MONTH}\1(?:{_YEAR}|\d\d)\b", _I)),
    # after a word of a person's life: month/day alone, a compact 20190314
    ("date", "Date", re.compile(rf"{_FIELD}{_DATE_CONTEXT}(?: on| of)?{_SEP}"
                                rf"(?P<v>\d{{8}}|{_MM}[-/.]{_DAY}|{_YEAR}[-/.]{_MM})\b", _I)),
    # ages over 89
    ("age", "Age", re.compile(r"\b(?:9\d|1[0-4]\d)(?:\.0)?[ \t-]*(?:yo|y/o|y\.o\.?|yrs?|years?|-years?)\b"
                              r"(?:[ \t-]*old)?", _I)),
    ("age", "Age", re.compile(r"(?<![A-Za-z0-9])(?:age[ds]?|aged|age[ _](?:at|on)[ _]\w+|"
                              r"age[ _]?\(?y(?:ea)?rs?\)?)" + _SEP + r"(?P<v>9\d|1[0-4]\d)(?:\.0+)?"
                              r"(?![\d.%]|[ \t]*(?:%|percent|months|days|weeks))", _I)),
    ("age", "Age", re.compile(r"\b(?:ninety|one[ -]hundred)(?:[ -](?:one|two|three|four|five|six|seven|eight|"
                              r"nine))?[ -]years?[ -]old\b", _I)),
]
PATTERNS += [(cat, label, rx) for cat, label, rx in _ID_CONTEXT]

# --- names
_TITLES = r"(?:Dr|DR|Drs|DRS|Mr|MR|Mrs|MRS|Ms|MS|Mx|Miss|MISS|Prof|PROF|Doctor|DOCTOR|Sr|Nurse|NURSE)"
# Smith, McLaughlin, O'brien, RIZZO, Smith-Jones
_SURNAME = (r"(?:(?:Mc|Mac|De|Di|Da|Le|La|St\.? ?|Van |Von |Van der )?[A-Z](?=[A-Z]*+[a-z])[A-Za-z]*+|"
            r"[A-Z]['’][A-Za-z]{2,}+|(?:[A-Z]['’])?[A-Z]{2,}+)(?:['’-][A-Za-z]++){0,2}")
_LOWER_NAME = r"[a-z][a-z]++(?:['’-][a-z]++){0,2}"
_NAME_CONTEXT_WORDS = (r"patient|pt|patient[ _]name|name|full[ _]name|first[ _]name|last[ _]name|"
                       r"surname|given[ _]name|family[ _]name|fname|lname|contact|emergency[ _]contact|"
                       r"next[ _]of[ _]kin|nok|son|daughter|dtr|wife|husband|spouse|partner|sister|brother|"
                       r"mother|father|mom|dad|"
                       r"niece|nephew|aunt|uncle|cousin|grandson|granddaughter|grandmother|grandfather|"
                       r"guardian|proxy|hcp|caregiver|friend|neighbou?r|attending|physician|provider|"
                       r"resident|intern|nurse|surgeon|clinician|doctor|pcp|seen[ _]by|signed[ _]by|"
                       r"dictated[ _]by|referred[ _]by|author|member|subscriber|insured|"
                       r"beneficiary|mr|mrs|ms|dr")

# names in a dict/JSON field: 'name': 'anita morris' (lower case allowed inside quotes)
_NAME_FIELD = re.compile(rf"{_FIELD}(?:{_NAME_CONTEXT_WORDS})['\"][ \t]*[:=][ \t]*['\"]"
                         rf"((?:{_SURNAME}|{_LOWER_NAME})"
                         rf"(?:,?[ \t]+(?:[A-Za-z]\.?|{_SURNAME}|{_LOWER_NAME})){{0,3}})['\"]", _I)
_TITLED = re.compile(rf"(?<![\w.]){_TITLES}\.?[ \t]+"
                     rf"((?:[A-Z]\.[ \t]?)*{_SURNAME}(?: {_SURNAME}(?![\w'’-]))?)")
_TITLED_LOWER = re.compile(rf"\b(?:dr|mr|mrs|ms|miss|prof)\.[ \t]*({_LOWER_NAME})")
_CONTEXT_NAME = re.compile(rf"{_FIELD}(?i:{_NAME_CONTEXT_WORDS})(?![A-Za-z0-9])(?:'s)?(?i:[ _]name)?"
                           rf"(?:{_Q}|\*\*|__)[ \t]*(?:[:=#-][ \t]*)?{_Q}[ \t]*"
                           rf"((?:[A-Z]\.[ \t]?)*{_SURNAME}(?: (?:[A-Z]\.|{_SURNAME})){{0,2}})")
_CONTEXT_LOWER = re.compile(rf"\b(?:{_NAME_CONTEXT_WORDS})[ \t]*[:=][ \t]*"
                            rf"({_LOWER_NAME}(?:[ \t]+{_LOWER_NAME})?)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_SERIES_FOOTER = re.compile(r",\s*(?:dtype|Length|Freq):")  # pandas: "Name: Recall, dtype: float64"

# Given names common in English-speaking records (with frequent short forms), lower case. Written
# for this gate; a name outside it is still caught after a title or a context word.
FIRST_NAMES = frozenset(_words("""
aaron abby abdul abe abigail abraham ada adam addie adele adeline adrian adrienne agatha agnes ahmed aidan
aileen aimee al alan alana albert alberta alberto alec alejandro alex alexa alexander alexandra alexis alfred
alfredo ali alice alicia alison allan allen allison alma alonzo alvin amanda amber amelia amos amy ana
anastasia andre andrea andres andrew andy angel angela angelica angelo angie anita ann anna annabelle anne
annette annie anthony antoinette antonio april archie arlene arnold art arthur ashley audrey augusta
austin ava barb barbara barry bart beatrice becky belinda ben benjamin bernadette bernard bernice
bert bertha beryl bessie beth bethany betsy betty beulah beverly bill billie billy blake blanche bob bobbie
bobby bonnie boris brad bradley brandon brenda brendan brent brett brian bridget brittany brooke bruce
bryan bryce byron caleb calvin cameron camille candace cara carl carla carlos carlton carmen carol
carole caroline carolyn carrie carroll casey cassandra catherine cathy cecil cecilia cedric celeste
celia chad charlene charles charlie charlotte chase chelsea cheryl chester chloe chris christian christina
christine christopher christy chuck cindy claire clara clarence claude claudia clay clayton clifford
clifton clint clinton clyde cody colin colleen connie conrad constance cora corey cornelius courtney
craig cristina curtis cynthia daisy dale dallas damian dan dana daniel danielle danny daphne darlene
darrell darren daryl dave david dawn dean deanna debbie deborah debra deirdre delia della delores denise
dennis derek desmond devin dewey diana diane dianne dick dolores dominic don donald donna dora doreen
doris dorothy doug douglas duane dustin dwayne dwight earl ed eddie edgar edith edmund edna eduardo edward
edwin eileen elaine eleanor elena eli elijah elisa elise eliza elizabeth ella ellen ellie elmer eloise
elsa elsie elvira emil emily emma emmanuel enrique eric erica erik erin ernest ernestine ernie esther
ethan ethel eugene eunice eva evan evelyn everett faith fannie faye felicia felix fernando flora florence
floyd frances francesca francis francisco frank frankie franklin fred freda freddie frederick gabriel
gabriella gail garrett gary gavin gayle gene genevieve geoffrey george georgia gerald geraldine gerard
gerry gertrude gilbert gina gladys glen glenda glenn gloria gordon grace grant greg gregory greta
gretchen guadalupe gus gwen gwendolyn hal hank hannah harold harriet harry harvey hazel heather hector
heidi helen helena henrietta henry herbert herman hilda holly homer hope howard hubert hugh hugo ian
ida ilene imogen inez ingrid irene iris irma irving isaac isabel isabella isaiah ivan ivy jack jackie
jacob jacqueline jaime jake james jamie jan jane janet janice janie jared jasmine jason jay jean jeanette
jeanne jeff jeffery jeffrey jenna jennie jennifer jenny jeremiah jeremy jerome jerry jess jesse jessica
jessie jesus jill jim jimmy jo joan joann joanna joanne jocelyn jodi jody joe joel joey john johnnie johnny
jon jonathan jordan jorge jose joseph josephine josh joshua joy joyce juan juanita judith judy julia julian
juliana julie julius june justin kara karen kari karl kate katherine kathleen kathryn kathy katie katrina
kay kayla keith kelly ken kendra kenneth kenny kent kerry kevin kim kimberly kirk kristen kristin kristina
kurt kyle lamar lance larry laura lauren laurence laurie lawrence leah lee leila lena leo leon leona leonard
leroy leslie lester leticia lewis lillian lillie lily linda lindsay lindsey lionel lisa liz liza lloyd
logan lois lonnie lora loren lorena lorenzo loretta lori lorraine lou louis louise lucas lucia lucie
lucille lucy luis luke luther lydia lyle lynn mabel mack madeline madison mae maggie malcolm mamie mandy
manuel marc marcela marcella marcia marco marcus margaret margarita margie marguerite maria marian
marianne marie marilyn marion marjorie mark marlene marsha marshall martha martin marty marvin mary
mathew matt matthew mattie maureen maurice mavis max maxine may megan melanie melinda melissa melody
melvin mercedes meredith michael michele michelle miguel mike mildred miles millie milton mindy minnie
miranda miriam misty mitchell molly mona monica morgan morris muriel myra myrtle nadia nancy naomi natalie
natasha nathan nathaniel neal ned neil nellie nelson nettie nicholas nick nicole nina noah noel nora
norma norman olga olive oliver olivia ollie omar opal ora oscar otis owen pam pamela pat patricia patrick
patsy patti patty paul paula pauline pearl pedro peggy penelope penny percy perry pete peter phil philip
phillip phyllis polly priscilla quentin rachel rafael ralph ramon randall randy raphael raquel ray raymond
reba rebecca reggie regina reginald rene renee rex rhonda ricardo rich richard rick ricky rita rob robert
roberta roberto robin rochelle rodney roger roland ron ronald ronnie rosa rosalie rose rosemary ross roxanne
roy ruby rudolph rudy russell ruth ryan sabrina sadie sally salvador sam samantha samuel sandra sandy sara
sarah saul scott sean sergio seth shane shannon sharon shawn sheila shelby shelley sheri sherman sherry
shirley sidney silvia simon sofia sonia sonya sophia sophie stacey stacy stan stanley stella stephanie
stephen steve steven stuart sue susan susie suzanne suzette sylvia tabitha tamara tammy tanya tara ted
teresa terri terrence terry thelma theodore theresa thomas tiffany tim timothy tina toby todd tom tommy
toni tony tracey traci tracy travis trevor troy tyler valerie vanessa velma vera vernon veronica vicki
vickie victor victoria vince vincent viola violet virgil virginia vivian wade wallace walter wanda warren
wayne wendell wendy wesley wilbur wilfred will willard william willie wilma winifred winston yolanda
yvette yvonne zachary zoe
abel adolfo agustin alba alfonso alicia alma amparo anabel araceli armando arturo aurelio beatriz benito
blanca carmela catalina cesar concepcion consuelo cristobal dolores domingo elena elias emilio ernesto
esperanza esteban eusebio evangelina felipe fidel florencia gilberto graciela guillermo gustavo ignacio
inés ines isidro javier jesus joaquin josefina julio leticia lorena lourdes lucio luz manuela marisol
mateo mercedes migdalia milagros mireya nestor noemi octavio orlando pablo paloma pilar ramiro raul
refugio reynaldo rigoberto rocio rodolfo rogelio rolando rosario ruben salvador santiago socorro teodoro
ulises valentina wilfredo xavier yesenia alessandro angela antonella beppe carla carlo cesare chiara
enzo fabrizio federico filippo franco gianni giorgio giovanni giuseppe giulia ida lorenzo luca luigi
marcello mario massimo nicola paolo pasquale pietro rocco salvatore sergio silvio stefano tommaso vito
aleksandr alexei anatoly andrei anya boris bogdan dmitri dmitry fyodor galina grigori igor ilya irina
ivana katarina konstantin ludmila lyudmila milan miroslav mikhail natasha nikolai oksana olga pavel
petra radu sasha sergei stanislav svetlana tatiana vadim valentin vasily viktor vladimir yuri zoran
zofia agnieszka andrzej bartosz grzegorz jacek jerzy krzysztof malgorzata marek piotr stanislaw tomasz
wojciech zbigniew adolf anselm bernd dieter ernst ferdinand friedrich fritz gerhard gunter hans heinz
helmut hermann horst jurgen klaus manfred matthias otto rainer rudolf siegfried ulrich uwe werner
wolfgang anneliese brigitte gisela hannelore heike helga hildegard ilse liesel lotte renate ursula
astrid axel bjorn erik freya gunnar ingrid karin lars leif nils olaf sigrid sven thor aoife brendan
bridget ciaran colm declan dermot eamon eileen fergus fiona niamh orla padraig seamus siobhan aurelie
benoit brigitte camille celine claude denis etienne fabien francois gaston genevieve guillaume helene
jacques jean-pierre josephine laurent lucien marcel mathilde nathalie pascal pierre remy sylvie thierry
yves agathe alexandros andreas athena christos costas demetrios dimitri eleni georgios kostas nikos
sophia spiros stavros vasiliki yiannis aziz fatima hassan hussein ibrahim jamal karim khalid layla
mahmoud mariam mohammed muhammad mustafa nadia omar rashid salma samir tariq yasmin youssef zainab
aarav amit anil anjali arjun deepak divya ganesh gita hari kavita krishna lakshmi manoj meena neha
nikhil pooja priya rahul raj rajesh ravi sanjay sunil sunita vijay vikram wei fang hui jing jun lan
li lin ling mei ming ping qiang xiao xin yan yong yu zhen hiroshi kenji yuki akira haruto sakura
takashi yoko minh thanh hoa linh nguyen jin-ho min-jun seo-yeon ji-woo kwame kofi amara chinedu ngozi
oluwaseun adebayo aisha ayanna darnell deandre demetrius deshawn ebony imani jalen jamal jasmine kenya
keisha lakisha latasha latoya malik marquis precious shanice tyrone
lorrie lori loretta lorna lottie lula lupe luella lynette madge marcie marge margo maribel marla marlon
maude maxine merle minerva myrna nell nola norene odessa opal orville oswald ozzie pansy pearlie phoebe
rosalind rosetta roxie sallie selma sybil tessa thaddeus trudy ula verna vida virgie wilhelmina zelda
"""))
# The commonest surnames in English-speaking records, many of them also words (White, Young,
# Hill): after a given name they make a name even when both are words ("Art White").
COMMON_SURNAMES = frozenset(_words("""
smith johnson williams brown jones miller davis wilson anderson taylor thomas moore martin jackson
thompson white harris clark lewis robinson walker young allen king wright scott hill green adams baker
nelson carter mitchell roberts turner phillips campbell parker evans edwards collins stewart morris
rogers reed cook morgan bell murphy bailey cooper richardson cox howard ward peterson gray james watson
brooks kelly sanders price bennett wood barnes ross henderson coleman jenkins perry powell long patterson
hughes flores washington butler simmons foster bryant alexander russell griffin hayes myers ford hamilton
graham sullivan wallace woods cole west jordan owens reynolds fisher ellis harrison gibson mcdonald
cruz marshall ortiz gomez murray freeman wells webb simpson stevens tucker porter hunter hicks crawford
henry boyd mason morales kennedy warren dixon ramos reyes burns gordon shaw holmes rice robertson hunt
black daniels palmer mills nichols grant knight ferguson rose stone hawkins dunn perkins hudson spencer
gardner stephens payne pierce berry matthews arnold wagner willis ray watkins olson carroll duncan snyder
hart cunningham bradley lane andrews ruiz harper fox riley armstrong carpenter weaver greene lawrence
elliott chavez sims austin peters kelley franklin lawson fields ryan schmidt carr vasquez castillo wheeler
chapman oliver montgomery richards williamson johnston banks meyer bishop mccoy howell morrison hansen
fernandez garza harvey little burton stanley nguyen george jacobs reid fuller lynch dean gilbert romero
welch larson frazier burke hanson day mendoza moreno bowman medina fowler brewer hoffman carlson silva
pearson holland douglas fleming jensen vargas byrd davidson hopkins may terry herrera wade soto walters
curtis neal caldwell lowe jennings barnett graves jimenez horton shelton barrett obrien castro sutton
gregory mckinney lucas miles craig rodriquez chambers holt lambert fletcher watts bates hale rhodes pena
beck newman haynes mcdaniel mendez bush vaughn parks dawson santiago norris hardy love steele curry powers
schultz barker guzman page munoz ball keller chandler weber leonard walsh lyons ramsey wolfe schneider
mullins benson sharp bowen daniel barber cummings hines baldwin griffith valdez hubbard salazar reeves
warner stevenson burgess santos tate cross garner mann mack moss thornton dennis mcgee farmer delgado
aguilar vega glover manning cohen harmon rodgers robbins newton todd blair higgins ingram reese cannon
strickland townsend potter goodwin walton rowe hampton ortega patton swanson joseph francis goodman
maldonado yates becker erickson hodges rios conner adkins webster norman malone hammond flowers cobb
moody quinn blake maxwell pope floyd osborne paul mccarthy guerrero lindsey estrada sandoval gibbs tyler
gross fitzgerald stokes doyle sherman saunders wise colon gill alvarado greer padilla simon waters nunez
ballard schwartz mcbride houston christensen klein pratt briggs parsons mclaughlin zimmerman french
buchanan moran copeland roy pittman brady mccormick holloway brock poole frank logan owen bass marsh
drake wong jefferson park morton abbott sparks patrick norton huff clayton massey lloyd figueroa carson
bowers roberson barton tran lamb harrington casey boone cortez clarke mathis singleton wilkins cain bryan
underwood hogan mckenzie collier luna phelps mcguire allison bridges wilkerson nash summers atkins
"""))

# Given names that are also words ("Will", "Mark", "Max Pool", "Gene Set"): with one of these, the
# next word must not be a common word either.
_WORD_FIRST_NAMES = frozenset(_words("""
art bill bob dawn don faith frank gene grace grant hope ivy jack jay joy june lance lee mark max may
miles neal nick pat pearl penny ray rich rob rose sandy sue will chase dale gus hal mack noel olive
ora earl lily misty holly glen ross kent colin morgan carol stan tim ted jun lan li lin ping fang yan yu
ming wei hui jin xin luz milan kenya precious otto hans thor paloma sasha
"""))

_COMMON: frozenset | None = None


def common_words() -> frozenset:
    """Words (lower case) that are ordinary text rather than names: the words of the shipped
    PhysioNet deid notes seen outside PHI more often than inside it (the corpus's PHI surfaces
    are surrogates), and the book's own words (the study registry paper_values.yml, the
    notebooks' cells, the pages under book/ but rerun.md: "Nottingham Prognostic Index" is not a
    name).
    Given names of ``FIRST_NAMES`` are never common here."""
    global _COMMON
    if _COMMON is None:
        from .studies import project_root  # not .data: it loads torch

        folder = project_root() / "data" / "physionet_deid"
        words: dict[str, int] = {}
        inside: dict[str, int] = {}
        try:
            for w in _WORD_RE.findall((folder / "id.text").read_text(encoding="utf-8")):
                words[w.lower()] = words.get(w.lower(), 0) + 1
            for line in (folder / "id-phi.phrase").read_text(encoding="utf-8").splitlines():
                for w in _WORD_RE.findall(" ".join(line.split(" ")[5:])):
                    inside[w.lower()] = inside.get(w.lower(), 0) + 1
        except OSError:
            words = {}
        common = {w for w, n in words.items() if n - inside.get(w, 0) > inside.get(w, 0)}
        common |= set(_BOOK_WORDS.split())
        root = project_root()
        # not book/rerun.md: its Privacy section is full of example names
        pages = [p for p in sorted((root / "book").glob("*.md")) if p.name != "rerun.md"]
        book = [root / "precmed_utils" / "paper_values.yml", *pages]
        for path in book + sorted((root / "notebooks").glob("*.ipynb")):
            try:
                text = path.read_text(encoding="utf-8")
                if path.suffix == ".ipynb":  # the cells' text, not the JSON around it
                    text = "\n".join("".join(c.get("source", [])) for c in json.loads(text).get("cells", []))
            except (OSError, ValueError):
                continue
            common.update(w.lower() for w in _WORD_RE.findall(text))
        _COMMON = frozenset(common - (FIRST_NAMES - _WORD_FIRST_NAMES))
    return _COMMON


# words of the book's tables that follow a name's context word ("patient split", "Name: AUC")
_BOOK_WORDS = """id ids mrn dob ssn no number name names count counts level split splits group groups
data table note notes auc f1 recall precision accuracy loss score scores model models type types
nan none true false null
"""


_BOOK_WORD_SET = frozenset(_BOOK_WORDS.split())


def _is_common(word: str) -> bool:
    return word.lower().strip("'’.") in common_words()


def _name_ok(surface: str) -> bool:
    """A name candidate whose words are not all ordinary words (or whose first word is a given
    name); month names are not names."""
    words = [w for w in _WORD_RE.findall(surface) if len(w) > 1]
    if not words or words[0].capitalize() in _MONTH_WORDS:
        return False
    if words[0].lower() in FIRST_NAMES and words[0].lower() not in _WORD_FIRST_NAMES:
        return True
    return not all(_is_common(w) for w in words)


_MONTH_WORDS = {"January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December", "Jan", "Feb", "Mar", "Apr", "Jun",
                "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec"}
_ALONE_BEFORE = r"(?<![\w-])(?<![A-Za-z]['’])"  # not inside a word (a quote before is fine)
_ALONE_AFTER = r"(?![\w-])(?!['’][A-Za-z])"
_PAIR = re.compile(rf"{_ALONE_BEFORE}([A-Z][a-z]+|[A-Z]{{2,}})(?: [A-Z]\.?)? ({_SURNAME}){_ALONE_AFTER}")
# exactly two words in capitals, with no third one before or after: product names run longer
# (HYDROXYCUT NATURAL CAPLETS), a name in a capitals-only record is two words (URSLA MORETTI)
_CAPS_PAIR = re.compile(r"(?<![A-Z0-9)] )(?<![\w&(/-])(?<![A-Za-z]['’])"
                        r"([A-Z]{3,}) ([A-Z]{3,}|[A-Z]['’][A-Z]{3,})"
                        r"(?![\w-])(?!['’][A-Za-z])(?! [A-Z]{2,}\b)(?! \()")  # a closing quote may follow
_LAST_FIRST = re.compile(rf"{_ALONE_BEFORE}({_SURNAME}), ?([A-Z][a-z]+|[A-Z]{{2,}})(?: [A-Z]\.?)?"
                         rf"{_ALONE_AFTER}")
# documentation hosts: a URL there is a library's page, not a person's
_PUBLIC_HOSTS = re.compile(r"(?:^|[/.@])(?:scikit-learn\.org|pytorch\.org|numpy\.org|scipy\.org|"
                           r"pandas\.pydata\.org|"
                           r"python\.org|matplotlib\.org|seaborn\.pydata\.org|jupyter\.org|readthedocs\.io|"
                           r"github\.com|githubusercontent\.com|doi\.org|physionet\.org|ncbi\.nlm\.nih\.gov|"
                           r"pypi\.org|huggingface\.co)(?:[:/]|$)", re.IGNORECASE)


def _names(text: str, add) -> None:
    for rx in (_NAME_FIELD, _TITLED, _TITLED_LOWER):
        for m in rx.finditer(text):
            # a value under a name's own field ('name': 'White') is a name whatever the word
            if rx is not _TITLED_LOWER or _name_ok(m.group(1)):
                add(m.start(1), m.end(1), "name", "Name")
    for m in _CONTEXT_NAME.finditer(text):
        if _SERIES_FOOTER.match(text, m.end()):
            continue
        words = m.group(1)
        # after "name:", "contact=" any capitalised word is a name (Foley, Small), bar the book's
        # own words ("Name: Recall"); after a bare context word it must not be an ordinary word
        context = text[m.start():m.start(1)]
        field_sep = re.search(r"[:=]", context) is not None
        # "pt White", "patient Foley": a context word in lower case right before a capitalised word
        # is how a name is written in a note, even when the surname is also a word
        lower_ctx = re.fullmatch(r"\W*[a-z][a-z ]*[ \t]+", context) is not None and words[:1].isupper() \
            and words.split()[0][1:].islower()
        first = words.split()[0].strip(".,").lower()
        if _name_ok(words) or ((field_sep or lower_ctx) and first not in _BOOK_WORD_SET
                               and first.capitalize() not in _MONTH_WORDS):
            add(m.start(1), m.end(1), "name", "Name")
    for m in _CONTEXT_LOWER.finditer(text):
        if not all(_is_common(w) for w in m.group(1).split()):
            add(m.start(1), m.end(1), "name", "Name")
    for m in _CAPS_PAIR.finditer(text):  # URSLA MORETTI: two capitalised words alone, neither a word
        pair = (m.group(1), m.group(2))
        if not any(_is_common(w) or w.capitalize() in _MONTH_WORDS for w in pair):
            add(m.start(), m.end(), "name", "FullName")
    for rx, first_group in ((_PAIR, 1), (_LAST_FIRST, 2)):
        pos = 0
        while (m := rx.search(text, pos)) is not None:
            if _full_name_ok(m.group(first_group), m.group(3 - first_group), comma=rx is _LAST_FIRST):
                add(m.start(), m.end(), "name", "FullName")
                pos = m.end()
            else:  # "7 Sep Ferdinand Halfpenny": the pair may start at the second word (not in a run of
                pos = m.end() if m.group(1).isupper() else m.start(2)  # capitals: CLINICAL STRENGTH GREEN)


_PARTICLES = {"van", "von", "de", "der", "den", "del", "della", "di", "da", "du", "le", "la", "mac", "mc"}


def _full_name_ok(first: str, last: str, comma: bool) -> bool:
    """Whether a capitalised pair ("Natalie Gaudreau", "GAUDREAU, Natalie") is a name."""
    given = first.lower()
    if given in _PARTICLES:  # a surname with its particle: Van Leeuwen, DE LUCA, "LEEUWEN, Van"
        return len(last) > 2 and not _is_common(last) and last.capitalize() not in _MONTH_WORDS
    if given in FIRST_NAMES or (last.isupper() and last.lower() in COMMON_SURNAMES):
        # a given name that is also a word (Will, Mark, Max) needs a surname that is not a word
        # ("Max Pool", "Gene Set") or one of the commonest surnames ("Art White")
        return not (_is_common(last) and (given in _WORD_FIRST_NAMES or last.capitalize() in _MONTH_WORDS)
                    and last.lower() not in COMMON_SURNAMES)
    # capitalisation context: two capitalised words (Ursla Moretti; Moretti, Ursla), neither an
    # ordinary word. Not with a surname in capitals unless a comma says "surname, given name":
    # product names and acronyms are written so (HYDROXYCUT CAPLETS, Bayes AUROC)
    return (len(first) > 2 and len(last) > 2 and first[1:].islower()
            and not _is_common(first) and not _is_common(last)
            and first.capitalize() not in _MONTH_WORDS and last.capitalize() not in _MONTH_WORDS)


def find_phi(text: str, categories=LIKELY_PHI, safe=()) -> list[tuple[int, int, str, str]]:
    """Likely PHI in ``text``: (start, end, category, label), sorted, non-overlapping (the first
    rule to claim characters keeps them). ``safe``: exact strings known to be safe (see
    ``known_safe``); they are blanked out before the rules run, so nothing in them is found."""
    for value in safe:
        if value and value in text:
            text = text.replace(value, "\0" * len(value))
    found: list[tuple[int, int, str, str]] = []
    taken = bytearray(len(text))  # characters already in a finding

    def add(a, b, cat, label):
        if a >= b or cat not in categories:
            return
        if any(taken[a:b]):
            # a match that overlaps an earlier finding keeps its longest part outside the
            # findings (two identifiers printed side by side), when that is 4+ letters or digits
            runs, start = [], None
            for i in range(a, b + 1):
                free = i < b and not taken[i]
                if free and start is None:
                    start = i
                elif not free and start is not None:
                    runs.append((start, i))
                    start = None
            if not runs:
                return
            a, b = max(runs, key=lambda r: r[1] - r[0])
            if sum(c.isalnum() for c in text[a:b]) < 4:
                return
        taken[a:b] = b"\x01" * (b - a)
        found.append((a, b, cat, label))

    for cat, label, rx in PATTERNS:
        for m in rx.finditer(text):
            a, b = m.span("v") if "v" in rx.groupindex else m.span()
            surface = text[a:b]
            if cat == "url" and _PUBLIC_HOSTS.search(surface.split("//")[-1].split("/")[0] + "/"):
                continue
            if label == "City" and not _place_ok(surface):
                continue
            if label == "Phone7" and _is_range(surface):
                continue
            if label == "Phone" and sum(map(str.isdigit, surface)) < 7:  # "phone  1  0  3" (a table)
                continue
            add(a, b, cat, label)
    _names(text, add)
    return sorted(found)


def _is_range(s: str) -> bool:
    """'900-1500', '200-1000': a range of round numbers, not a local phone number."""
    m = re.fullmatch(r"(\d{3})-(\d{4})", s)
    return bool(m) and int(m.group(1)) % 50 == 0 and int(m.group(2)) % 50 == 0


def _place_ok(surface: str) -> bool:
    """A place unless it is one or two ordinary words in capitals before a state's abbreviation
    ("ER, PR": oestrogen and progesterone receptors, not a town in Puerto Rico)."""
    words = _WORD_RE.findall(surface)
    return bool(words) and not (len(words) <= 2 and all(w.isupper() and _is_common(w) for w in words))


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


def known_safe(study: str | None, manifest: dict | None = None, metrics: dict | None = None) -> list[str]:
    """Text a chapter prints that is known to be safe, by where it comes from rather than by its
    shape: the run's own timestamps (``started`` of the manifest, ``finished`` of metrics.json),
    the claims table's headers ``rule (set DATE)`` and ``under the DATE rule`` (the date each
    of the study's rules was set), the
    citations of the datasets the run recorded in its manifest and the study's paper. Only these
    exact strings are exempt; the same date or name anywhere else is still found."""
    manifest = manifest or {}
    stamps = [manifest.get("started"), (metrics or {}).get("finished")]
    stamps += [d.get("citation") for d in manifest.get("data", []) if isinstance(d, dict)]
    out = [v for v in stamps if isinstance(v, str) and v]
    if study:
        from .studies import study_info

        try:
            info = study_info(study)
        except Exception:  # an unknown study: the run's own records only
            info = {}
        for d in sorted({str(c["set"]) for c in info.get("claims", []) if c.get("set")}):
            out += [f"rule (set {d})", f"under the {d} rule"]  # the claims table's headers
        out += [info[k] for k in ("paper", "title") if isinstance(info.get(k), str)]
    return sorted(set(out), key=len, reverse=True)


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


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def scan_notebook(path: str | Path, categories=LIKELY_PHI, *, report: bool = False, safe=None):
    """Findings of likely PHI in the outputs of the executed notebook at ``path``.

    ``safe``: exact strings known to be safe; by default ``known_safe`` of the run whose
    manifest.json (and metrics.json) lie beside the notebook. Returns the list of Findings (or,
    with ``report=True``, a ScanReport that also lists the cells exempted by the
    ``privacy-made-up-example`` tag and the seconds the scan took)."""
    import time

    t0 = time.perf_counter()
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    if safe is None:
        manifest = _read_json(path.parent / "manifest.json")
        safe = known_safe(manifest.get("study"), manifest, _read_json(path.parent / "metrics.json"))
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
                for a, b, cat, label in find_phi(text, categories, safe):
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
