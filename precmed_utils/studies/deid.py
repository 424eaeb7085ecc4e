"""De-identification: the PhysioNet deid corpus, i2b2 2014 XML, a rule-and-dictionary baseline,
the character+word BiLSTM-CRF (NeuroNER's architecture), and writing de-identified copies.

Used by the deidentification study (notebook and the ``precmed deid`` command). The notebook
teaches the model; its class lives here so that the command can load a model the notebook saved.

Formats
- PhysioNet deid 1.1: ``id.text`` holds records ``START_OF_RECORD=<patient>||||<note>||||`` on a
  line of their own, the note's text, and ``||||END_OF_RECORD``; ``id-phi.phrase`` holds one PHI
  span a line, ``patient note start end TYPE surface``, offsets counted from the first character
  after the header line. Every span must reproduce its surface (checked on reading).
- i2b2 2014 XML: ``<deIdi2b2><TEXT><![CDATA[...]]></TEXT><TAGS><NAME id= start= end= text=
  TYPE=/>...</TAGS></deIdi2b2>`` (one note a file; a folder of ``.xml`` files).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from ..errors import DataError, Problems
from ..text import (
    TITLE_ABBREVIATIONS,
    Document,
    Span,
    Token,
    split_sentences,
    tags_to_spans,
    token_to_char_spans,
    tokenise,
)

STUDY = "deidentification"
SCHEME = "BIOES"

# --- readers -------------------------------------------------------------------------------------

_HEADER_RE = re.compile(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n")
_END = "||||END_OF_RECORD"


def read_physionet_text(path: str | Path) -> dict[tuple[str, str], str]:
    """Notes of a PhysioNet deid ``.text`` file: (patient, note) -> text."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    notes, pos = {}, 0
    for m in _HEADER_RE.finditer(raw):
        if m.start() < pos:
            continue
        end = raw.find(_END, m.end())
        if end < 0:
            line = raw.count("\n", 0, m.start()) + 1
            raise DataError(f"{path}, line {line}: record {m.group(1)}/{m.group(2)} has no "
                            f"'{_END}' line")
        key = (m.group(1), m.group(2))
        if key in notes:
            line = raw.count("\n", 0, m.start()) + 1
            raise DataError(f"{path}, line {line}: record {key[0]}/{key[1]} appears twice")
        notes[key] = raw[m.end():end]
        pos = end + len(_END)
    if not notes:
        raise DataError(f"{path}: no 'START_OF_RECORD=<patient>||||<note>||||' record found; "
                        "expected the PhysioNet deid .text format")
    return notes


def read_physionet_phrases(path: str | Path,
                           notes: dict[tuple[str, str], str]) -> dict[tuple[str, str], list[Span]]:
    """PHI spans of a ``.phrase`` file; every span's text must equal the surface on its line."""
    path = Path(path)
    spans: dict[tuple[str, str], list[Span]] = defaultdict(list)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split(" ", 5)  # 27 surfaces contain spaces: split at most 5 times
        if len(parts) != 6 or not (parts[2].isdigit() and parts[3].isdigit()):
            raise DataError(f"{path}, line {i}: expected 'patient note start end TYPE surface' "
                            f"with integer offsets, got {len(parts)} field(s)")
        pat, note, a, b, label, surface = parts
        key = (pat, note)
        if key not in notes:
            raise DataError(f"{path}, line {i}: note {pat}/{note} is not in the text file")
        a, b = int(a), int(b)
        text = notes[key]
        if not (0 <= a < b <= len(text)):
            raise DataError(f"{path}, line {i}: offsets {a}..{b} are outside note {pat}/{note} "
                            f"({len(text)} characters)")
        if text[a:b] != surface:
            raise DataError(f"{path}, line {i}: the text at {a}..{b} of note {pat}/{note} does not "
                            f"reproduce the span's surface ({b - a} characters); offsets must count "
                            "from the first character after the header line")
        spans[key].append(Span(a, b, label))
    return spans


def read_physionet_deid(text_path: str | Path, phrase_path: str | Path) -> list[Document]:
    """The PhysioNet deid corpus as Documents (``group`` = patient id, note order kept)."""
    notes = read_physionet_text(text_path)
    spans = read_physionet_phrases(phrase_path, notes)
    docs = []
    for (pat, note), text in notes.items():
        d = Document(id=f"{pat}-{note}", text=text, spans=sorted(spans.get((pat, note), [])),
                     group=pat, meta={"patient": pat, "note": note})
        d.check()
        docs.append(d)
    return docs


I2B2_FORMAT = (
    "i2b2 2014 de-identification XML: one note a file, <deIdi2b2><TEXT><![CDATA[note text]]></TEXT>"
    "<TAGS><NAME id=\"P0\" start=\"10\" end=\"15\" text=\"Smith\" TYPE=\"PATIENT\"/>...</TAGS>"
    "</deIdi2b2> (any tag name; start/end are character offsets into the text, end exclusive), "
    "given as a file or a folder of .xml files. Or a folder holding a PhysioNet deid pair "
    "<name>.text + <name>.phrase (or id-phi.phrase)."
)


def read_i2b2_xml(path: str | Path, report: Problems | None = None) -> list[Document]:
    """Notes of an i2b2 2014 XML file, or of every ``.xml`` file of a folder (sorted by name).

    The patient of a note is the part of the file name before the first ``-`` (``110-01.xml`` is
    patient 110), so splits keep a patient's notes together. Problems go to ``report`` (by
    default the first raises a DataError)."""
    report = Problems() if report is None else report
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.xml"))
        if not files:
            report.add(path, "", f"the folder holds no .xml file. Expected: {I2B2_FORMAT}")
    elif path.is_file():
        files = [path]
    else:
        report.add(path, "", f"no such file or folder. Expected: {I2B2_FORMAT}")
        files = []
    docs = []
    for f in files:
        try:
            root = ElementTree.parse(f).getroot()
        except ElementTree.ParseError as exc:
            line, col = exc.position
            report.add(f, f"line {line}, column {col + 1}",
                       f"not well-formed XML ({exc}). Expected: {I2B2_FORMAT}")
            continue
        except OSError as exc:
            report.add(f, "", f"cannot be read ({exc})")
            continue
        text_el = root.find("TEXT")
        if text_el is None or text_el.text is None:
            report.add(f, "", f"no <TEXT> element with the note's text. Expected: {I2B2_FORMAT}")
            continue
        text = text_el.text
        spans = []
        tags = root.find("TAGS")
        for k, el in enumerate(list(tags) if tags is not None else []):
            where = f"tag {k + 1} <{el.tag} id={el.get('id')!r}>"
            try:
                a, b = int(el.get("start")), int(el.get("end"))
            except (TypeError, ValueError):
                report.add(f, where, "start and end must be integer offsets, got "
                           f"start={el.get('start')!r} end={el.get('end')!r}")
                continue
            label = el.get("TYPE") or el.tag
            if not (0 <= a < b <= len(text)):
                report.add(f, where, f"offsets {a}..{b} are outside the {len(text)}-character text")
                continue
            surface = el.get("text")
            if surface is not None and text[a:b] != surface:
                report.add(f, where, f"the text at {a}..{b} does not reproduce the tag's text "
                           f"attribute ({b - a} characters)")
                continue
            spans.append(Span(a, b, label))
        docs.append(Document(id=f.stem, text=text, spans=sorted(spans), group=f.stem.split("-")[0],
                             meta={"file": f.name}))
    return docs


def read_user_deid(path: str | Path, report: Problems | None = None) -> list[Document]:
    """A user's annotated notes: i2b2 2014 XML (file or folder) or a PhysioNet deid pair in a folder.
    Problems go to ``report`` (by default the first raises a DataError); a PhysioNet pair is
    checked up to its first problem."""
    report = Problems() if report is None else report
    path = Path(path).expanduser()
    if not path.exists():
        report.add(path, "", f"no such file or folder. Expected: {I2B2_FORMAT}")
        return []
    if path.is_dir():
        texts = sorted(path.glob("*.text"))
        if texts and not any(path.glob("*.xml")):
            t = texts[0]
            phrase = next((p for p in (t.with_suffix(".phrase"), path / f"{t.stem}-phi.phrase")
                           if p.exists()), None)
            if phrase is None:
                report.add(path, "", f"found {t.name} but no {t.stem}.phrase or {t.stem}-phi.phrase "
                           f"beside it. Expected: {I2B2_FORMAT}")
                return []
            return read_physionet_deid(t, phrase)
    elif path.suffix.lower() != ".xml":
        report.add(path, "", f"expected an .xml file (i2b2 2014) or a folder. Expected: {I2B2_FORMAT}")
        return []
    docs = read_i2b2_xml(path, report)
    if report.errors:
        return docs
    patients = {d.group for d in docs}
    if not any(d.spans for d in docs):
        report.add(path, "", f"no PHI annotation found in {len(docs)} note(s); a model cannot be "
                   f"trained or scored without them. Expected: {I2B2_FORMAT}")
    if len(patients) < 3:
        report.add(path, "", f"{len(docs)} note(s) of {len(patients)} patient(s); the study splits by "
                   "patient into train, dev and test and needs notes of at least 3 patients (the "
                   "patient is the part of a file name before its first '-')")
    return docs


# --- splits and sequences -----------------------------------------------------------------------

def split_by_patient(docs: Sequence[Document], *, test_size: float = 0.2, dev_size: float = 0.1,
                     seed: int = 0) -> tuple[list[int], list[int], list[int]]:
    """Train/dev/test document indices with every patient's notes on one side (GroupShuffleSplit;
    the sizes count patients; dev is carved from the training patients)."""
    from sklearn.model_selection import GroupShuffleSplit

    groups = np.array([d.group or d.id for d in docs])
    idx = np.arange(len(docs))
    if len(set(groups)) < 3:
        raise DataError(f"a patient-level split needs at least 3 patients, got {len(set(groups))}")
    gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    trainval, test = next(gss.split(idx, groups=groups))
    gss = GroupShuffleSplit(n_splits=1, test_size=dev_size / (1 - test_size), random_state=seed + 1)
    tr, dv = next(gss.split(trainval, groups=groups[trainval]))
    return sorted(trainval[tr].tolist()), sorted(trainval[dv].tolist()), sorted(test.tolist())


def _clip_tags(tags: Sequence[str], a: int, b: int) -> list[str]:
    """Tags of tokens a..b, with spans cut by the window re-encoded (no dangling B-/E-)."""
    out = ["O"] * (b - a)
    for lab, s, e in tags_to_spans(tags, SCHEME):
        s, e = max(s, a), min(e, b)
        if s >= e:
            continue
        if e - s == 1:
            out[s - a] = f"S-{lab}"
        else:
            out[s - a], out[e - 1 - a] = f"B-{lab}", f"E-{lab}"
            for i in range(s + 1, e - 1):
                out[i - a] = f"I-{lab}"
    return out


def note_sentences(text: str, *, max_len: int = 60) -> list[list[Token]]:
    """The token sequences a tagger reads: tokens (offsets kept), cut at sentence ends, blank
    lines and every ``max_len`` tokens (nursing-note lines run long). A full stop after a title
    or an initial is not a sentence end: "Dr. Smith" stays one sequence, so the name keeps its
    strongest cue."""
    return [s for s in _sentences(text, tokenise(text), max_len) if s]


def _sentences(text: str, tokens: list[Token], max_len: int) -> list[list[Token]]:
    return split_sentences(text, tokens, max_len=max_len, no_break_after=TITLE_ABBREVIATIONS, initials=True)


def document_sequences(doc: Document, *, max_len: int = 60) -> tuple[list[dict], list[Span]]:
    """A document as tagged sequences: ``tokens`` (Token list), ``tags`` (BIOES over the tokens
    each gold span overlaps), ``doc`` (its id); and the gold spans a flat tag sequence cannot
    hold (two spans touching one token: the longer is kept)."""
    from ..text import char_to_token_spans, spans_to_tags

    tokens = tokenise(doc.text)
    kept, dropped = char_to_token_spans(tokens, doc.spans)
    tags = spans_to_tags(len(tokens), kept, SCHEME)
    where = {id(t): i for i, t in enumerate(tokens)}
    out = []
    for sent in _sentences(doc.text, tokens, max_len):
        a = where[id(sent[0])]
        b = a + len(sent)
        out.append({"tokens": sent, "tags": _clip_tags(tags, a, b), "doc": doc.id})
    return out, dropped


def spans_from_tags(tokens: Sequence[Token], tags: Sequence[str]) -> list[Span]:
    return token_to_char_spans(tokens, tags_to_spans(tags, SCHEME))


def tags_from_spans(tokens: Sequence[Token], spans: Iterable[Span]) -> list[str]:
    """BIOES tags of ``tokens`` for character spans (a token a span touches is inside it)."""
    from ..text import char_to_token_spans, spans_to_tags

    kept, _ = char_to_token_spans(tokens, spans)
    return spans_to_tags(len(tokens), kept, SCHEME)


# --- a rule-and-dictionary baseline (after Neamatullah et al. 2008) ------------------------------

_MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_MD = r"(?:0?[1-9]|1[0-2])([/-])(?:0?[1-9]|[12]\d|3[01])"
_MD_SLASH = r"(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])"
RULES: list[tuple[str, str]] = [
    # (label, pattern); matched case-insensitively, earlier rules win overlaps
    ("Phone", r"\(?\b\d{3}\)?[\s.-]?\d{3}[.-]\d{4}\b|\b\d{3}[\s-]\d{7}\b|\b[2-9]\d{2}[.-]\d{4}\b"),
    ("Date", rf"\b{_MD}\1(?:\d{{4}}|\d{{2}})\b|\b{_MD_SLASH}\b(?![/-]?\d)"),
    ("Date", rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{2,4}})?\b"),
    ("Date", rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b"),
    ("Date", r"\b(?:january|february|april|june|july|august|sept|september|october|november|december)\b"),
    ("Date", r"\b(?:christmas|thanksgiving|easter)\b"),
    ("DateYear", r"\b(?:19[5-9]\d|200\d)\b(?!\s*(?:cc|ml|mg|mcg|units?|u\b|kcal|calories))"),
    ("Age", r"\b(?:9\d|1[0-1]\d)\s*(?=(?:yo|y/o|y\.o\.|yr|year|-year))"),
]
# Fractions and strength grades look like month/day: 1/2, 1/4, 3/4, 5/5 ...
_NOT_DATES = re.compile(r"^(?:1/2|1/3|2/3|1/4|3/4|[0-5]/5)$")
def _is_time_range(s: str) -> bool:
    """'900-1500', '0800-1000': a range of clock times, not a phone number."""
    m = re.fullmatch(r"(\d{3,4})-(\d{3,4})", s)
    return bool(m) and all(int(x) <= 2400 and int(x) % 100 < 60 for x in m.groups())


_TITLE_RE = re.compile(r"\b(dr|drs|mr|mrs|ms|miss|doctor)\b\.?\s*(?:[a-z]\.\s*)?([a-z][a-z'-]+)"
                       r"(?:\s+(?:and|&)\s+([a-z][a-z'-]+))?", re.IGNORECASE)
_TITLE_LABEL = {"dr": "HCPName", "drs": "HCPName", "doctor": "HCPName"}
_KIN_RE = re.compile(r"\b(?:son|daughter|dtr|wife|husband|sister|brother|mother|father|girlfriend|boyfriend|"
                     r"friend|niece|nephew|aunt|uncle|cousin|grandson|granddaughter|hcp|proxy)\b"
                     r"(?:,?\s*(?:name is|named))?\s+([a-z][a-z'-]+)(?:\s+([a-z][a-z'-]+))?", re.IGNORECASE)


class RuleDeidentifier:
    """Regular expressions (dates, phone numbers, years, ages over 89, titled names) plus name and
    location dictionaries built from the training notes' PHI surfaces, minus common words (words
    seen outside PHI more often than inside it in the training notes), the recipe of the deid
    package the corpus was released with."""

    def __init__(self, *, min_word_len: int = 2):
        self.min_word_len = min_word_len
        self.lexicon: dict[str, str] = {}
        self.outside: dict[str, int] = {}
        self.rules = [(lab, re.compile(p, re.IGNORECASE)) for lab, p in RULES]

    def fit(self, docs: Iterable[Document]) -> RuleDeidentifier:
        inside: dict[str, Counter] = defaultdict(Counter)
        outside: Counter = Counter()
        for d in docs:
            phi = np.zeros(len(d.text), dtype=bool)
            for s in d.spans:
                phi[s.start:s.end] = True
                if s.label in ("Date", "DateYear", "Phone", "Age"):
                    continue  # the regexes handle these
                for t in tokenise(d.text, s.start, s.end):
                    if t.text[0].isalpha() and len(t.text) >= self.min_word_len:
                        inside[t.text.lower()][s.label] += 1
            for t in tokenise(d.text):
                if not phi[t.start:t.end].any():
                    outside[t.text.lower()] += 1
        self.lexicon = {w: c.most_common(1)[0][0] for w, c in inside.items()
                        if sum(c.values()) >= outside[w]}
        self.outside = dict(outside)
        return self

    def common(self, word: str) -> bool:
        """A word seen outside PHI in the training notes more often than inside it."""
        w = word.lower()
        return w not in self.lexicon and self.outside.get(w, 0) > 0

    def find(self, text: str) -> list[Span]:
        taken = np.zeros(len(text), dtype=bool)
        out = []

        def add(a, b, label):
            if a < b and not taken[a:b].any():
                taken[a:b] = True
                out.append(Span(a, b, label))

        for label, rx in self.rules:
            for m in rx.finditer(text):
                if ((label == "Date" and _NOT_DATES.match(m.group()))
                        or (label == "Phone" and _is_time_range(m.group()))):
                    continue
                add(m.start(), m.end(), label)
        for m in _TITLE_RE.finditer(text):
            label = _TITLE_LABEL.get(m.group(1).lower(), "PTName")
            for g in (2, 3):
                if m.group(g) and not self.common(m.group(g)):
                    add(m.start(g), m.end(g), label)
        for m in _KIN_RE.finditer(text):
            for g in (1, 2):
                if not m.group(g) or self.common(m.group(g)):
                    break
                add(m.start(g), m.end(g), "RelativeProxyName")
        for t in tokenise(text):
            w = t.text.lower()
            lab = self.lexicon.get(w) or self.lexicon.get(w.rstrip("0123456789"))
            if lab is not None:
                add(t.start, t.end, lab)
        return sorted(out)


# --- writing a de-identified copy ----------------------------------------------------------------

FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
               "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
               "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
              "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris",
              "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill")
PLACES = ("Springfield", "Riverside", "Fairview", "Franklin", "Greenville", "Bristol", "Clinton",
          "Madison", "Georgetown", "Salem", "Oakland", "Ashland", "Burlington", "Milton", "Newport",
          "Dover", "Hudson", "Kingston", "Lexington", "Marion", "Oxford", "Winchester")


def phi_category(label: str) -> str:
    """A coarse category for a PHI label of either corpus: name, date, year, phone, age,
    location or id (anything else)."""
    u = label.upper()
    if "YEAR" in u:
        return "year"
    if "DATE" in u:
        return "date"
    if "PHONE" in u or "FAX" in u:
        return "phone"
    if u == "AGE":
        return "age"
    if any(k in u for k in ("NAME", "PATIENT", "DOCTOR", "USERNAME", "PROXY", "INITIAL")):
        return "name"
    if any(k in u for k in ("LOCATION", "HOSPITAL", "CITY", "STATE", "STREET", "COUNTRY", "ORGANIZATION",
                            "ZIP")):
        return "location"
    return "id"


def _match_case(new: str, old: str) -> str:
    if old.isupper():
        return new.upper()
    if old.islower():
        return new.lower()
    return new


def _shape_digits(surface: str, rng: np.random.Generator) -> str:
    return "".join(str(rng.integers(10)) if c.isdigit() else
                   (chr(rng.integers(65, 91)) if c.isupper() else chr(rng.integers(97, 123)) if c.islower()
                    else c) for c in surface)


_DATE_RE = re.compile(r"^(\d{1,2})([/-])(\d{1,2})(?:([/-])(\d{2}|\d{4}))?$")


class Surrogates:
    """Realistic replacements, consistent within one note: the same surface (ignoring case) gets
    the same surrogate; dates move by one random shift per note (keeping their format)."""

    def __init__(self, seed: int, note_key: str):
        self.rng = np.random.default_rng([seed, zlib.crc32(note_key.encode("utf-8"))])
        self.shift = int(self.rng.integers(-365, 366)) or 1
        self.year_shift = int(self.rng.integers(-5, 6)) or 1
        self.memory: dict[tuple[str, str], str] = {}

    def __call__(self, surface: str, label: str) -> str:
        cat = phi_category(label)
        key = (cat, surface.lower())
        if key not in self.memory:
            self.memory[key] = self._make(surface, cat)
        return _match_case(self.memory[key], surface)

    def _date(self, surface: str) -> str:
        m = _DATE_RE.match(surface)
        if not m:
            return _shape_digits(surface, self.rng)
        a, sep, b, _, y = m.groups()
        year = int(y) if y else 2001
        year = year + (2000 if year < 30 else 1900) if y and len(y) == 2 else year
        try:
            d = date(year, int(a), int(b)) + timedelta(days=self.shift)
        except ValueError:  # not a valid month/day: keep the shape only
            return _shape_digits(surface, self.rng)
        out = f"{d.month}{sep}{d.day}"
        if y:
            out += f"{m.group(4)}{str(d.year)[-len(y):]}"
        return out

    def _make(self, surface: str, cat: str) -> str:
        r = self.rng
        if cat == "date":
            return self._date(surface)
        if cat == "year" and surface.isdigit():
            return str(int(surface) + self.year_shift)[-len(surface):].zfill(len(surface))
        if cat in ("phone", "id", "year"):
            return _shape_digits(surface, r)
        if cat == "age":
            return str(int(r.integers(90, 100))) if surface.strip().isdigit() else "90+"
        if cat == "location":
            return str(PLACES[r.integers(len(PLACES))])
        words = surface.split()
        if len(words) == 1 and len(surface) <= 2:  # initials
            return "".join(chr(r.integers(65, 91)) for _ in surface if _.isalpha()) or "X"
        if len(words) >= 2:
            return f"{FIRST_NAMES[r.integers(len(FIRST_NAMES))]} {LAST_NAMES[r.integers(len(LAST_NAMES))]}"
        pool = LAST_NAMES if r.random() < 0.6 else FIRST_NAMES
        return str(pool[r.integers(len(pool))])


def replace_spans(text: str, spans: Sequence[Span], *, mode: str = "tags", seed: int = 0,
                  note_key: str = "") -> tuple[str, list[dict]]:
    """``text`` with each span replaced by ``[**LABEL**]`` (mode ``tags``) or a surrogate
    (mode ``surrogates``); everything outside the spans is kept byte for byte. Overlapping spans
    are merged (the first label is kept). Returns the new text and the output spans
    ``{start, end, label}`` (offsets into the new text)."""
    if mode not in ("tags", "surrogates"):
        raise ValueError(f"mode must be 'tags' or 'surrogates', got {mode!r}")
    merged: list[list] = []
    for s in sorted(spans):
        if merged and s.start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], s.end)
        else:
            merged.append([s.start, s.end, s.label])
    sur = Surrogates(seed, note_key) if mode == "surrogates" else None
    out, records, pos, n = [], [], 0, 0
    for a, b, label in merged:
        out.append(text[pos:a])
        n += a - pos
        new = f"[**{label}**]" if sur is None else sur(text[a:b], label)
        out.append(new)
        records.append({"start": n, "end": n + len(new), "label": label})
        n += len(new)
        pos = b
    out.append(text[pos:])
    return "".join(out), records


def _atomic_write(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_notes(src: str | Path) -> dict[Path, str]:
    """The notes of a UTF-8 text file, or of every ``.txt`` file under a folder, keyed by their
    path relative to the folder (or the file's name). Clear errors for a missing path, an empty
    folder or a file that is not UTF-8."""
    src = Path(src).expanduser().resolve()
    if not src.exists():
        raise DataError(f"{src}: no such file or folder; expected a UTF-8 text file or a folder of "
                        ".txt files")
    if src.is_dir():
        files = sorted(p for p in src.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"{src}: the folder holds no .txt file; expected one note per .txt file")
    else:
        files = [src]
    texts = {}
    for f in files:
        try:
            text = f.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{f}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise DataError(f"{f}: cannot be read ({exc})") from None
        texts[f.relative_to(src) if src.is_dir() else Path(f.name)] = text
    return texts


def deidentify(model_dir: str | Path, src: str | Path, dst: str | Path, *, mode: str = "tags",
               seed: int = 0, max_len: int | None = None, device: str = "cpu") -> dict:
    """Write a de-identified copy of a text file, or of every ``.txt`` file of a folder.

    ``dst`` is the output file (for a file) or folder (for a folder); it must not exist, and may
    not be, or lie inside, the input. Beside each output file a ``<name>.phi.json`` sidecar lists
    the replaced spans (output offsets and labels, never the original text). All notes are
    de-identified in memory first, and the output is written through temporary names, so a
    failure leaves no partial output. Returns a summary (files, spans per label)."""
    if mode not in ("tags", "surrogates"):
        raise DataError(f"--mode must be 'tags' or 'surrogates', got {mode!r}")
    src, dst = Path(src).expanduser().resolve(), Path(dst).expanduser().resolve()
    texts = read_notes(src)
    if dst == src or src in dst.parents or (src.is_dir() and dst.is_relative_to(src)):
        raise DataError(f"{dst}: the output may not be the input or lie inside it; choose another path")
    if dst.exists():
        raise DataError(f"{dst}: already exists; refusing to overwrite it (choose a new output path)")
    if not dst.parent.is_dir():
        raise DataError(f"{dst.parent}: the output's folder does not exist")
    from .deid_model import DeidModel  # torch: imported only when a model is used

    dm = DeidModel.load(model_dir, device=device)
    if max_len:
        dm.max_len = max_len
    results, counts = {}, Counter()
    for rel, text in texts.items():
        spans = dm.spans(text)
        new, records = replace_spans(text, spans, mode=mode, seed=seed, note_key=str(rel))
        counts.update(r["label"] for r in records)
        results[rel] = (new, records)
    # write: a single file directly; a folder under a temporary name, renamed at the end
    if not src.is_dir():
        new, records = results[Path(src.name)]
        side = dst.with_name(dst.name + ".phi.json")
        if side.exists():
            raise DataError(f"{side}: already exists; refusing to overwrite it")
        _atomic_write(side, json.dumps({"source": src.name, "mode": mode, "spans": records}, indent=1))
        try:
            _atomic_write(dst, new)
        except BaseException:
            side.unlink(missing_ok=True)
            raise
    else:
        tmp = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part"))
        try:
            for rel, (new, records) in results.items():
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(new, encoding="utf-8", newline="")
                out.with_name(out.name + ".phi.json").write_text(
                    json.dumps({"source": str(rel), "mode": mode, "spans": records}, indent=1))
            os.replace(tmp, dst)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return {"files": len(results), "spans": sum(counts.values()), "by_label": dict(sorted(counts.items())),
            "output": str(dst)}


def tokens_per_second(n_tokens: int, seconds: float) -> float:
    return n_tokens / seconds if seconds > 0 else math.nan


# The model (torch) lives in deid_model; its names stay reachable here (deid.load_model, ...),
# imported on first use, so that reading corpora never imports torch.
_MODEL_NAMES = frozenset({"reverse_padded", "BiLSTM", "CHAR_LENGTH_GROUPS", "CharWordBiLSTMCRF",
                          "MODEL_FILES", "build_model", "save_model", "load_model", "MODEL_CARD",
                          "write_model_card", "DeidModel", "tag_text"})


def __getattr__(name: str):
    if name in _MODEL_NAMES:
        from . import deid_model

        return getattr(deid_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
