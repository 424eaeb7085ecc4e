"""Benchmark (and test fixture) of the privacy gate: recall per Safe Harbor identifier category,
and false positives on the chapters' real outputs.

Planted lines: output lines in the shapes notebooks print (pandas table rows and Series, dict
and list reprs, f-strings, log and error messages, Markdown, HTML table cells), each holding zero
or more identifiers of the 16 HIPAA Safe Harbor categories that can appear in text (biometric
identifiers and photographs cannot). Values come from the surrogate PHI phrases of the shipped
PhysioNet deid corpus (names, places, phone numbers, dates, ages: data/physionet_deid/id-phi.phrase)
and from generated values (numbers, codes, addresses, URLs...). An identifier is planted in a form
in which a reader of the line alone would recognise it (a record number after "MRN", a name after
a title or as first name + surname); forms a reader needs the surrounding output for (a bare
number under a table header, a surname alone) are the gate's blind spots, measured apart.

Two splits: ``dev`` (seed 1, the surrogate phrases whose hash is even) was used to write and
tune the rules; ``held-out`` (seed 2, the other half of the surrogate phrases) is the one reported.
Clean lines: every distinct line of the outputs of a smoke-profile book (all eleven chapters),
committed in benchmarks/privacy_clean_lines.jsonl (aggregate results, no PHI) with the
known-safe strings of their run (``privacy.known_safe``).

    .venv/bin/python benchmarks/privacy_gate.py                  # held-out split, the report
    .venv/bin/python benchmarks/privacy_gate.py --split dev --misses 20
    .venv/bin/python benchmarks/privacy_gate.py --extract-clean RUNS_DIR   # rebuild the fixture
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from precmed_utils import privacy  # noqa: E402

CLEAN_FIXTURE = ROOT / "benchmarks" / "privacy_clean_lines.jsonl"
SAMPLE_FIXTURE = ROOT / "benchmarks" / "privacy_planted_sample.jsonl"
PHRASES = ROOT / "data" / "physionet_deid" / "id-phi.phrase"
PHRASE_TEXT = ROOT / "data" / "physionet_deid" / "id.text"

# the Safe Harbor categories that can appear in text, in the order of 45 CFR 164.514(b)(2)
CATEGORIES = ("names", "geographic", "dates", "ages over 89", "phone", "fax", "email", "SSN", "MRN",
              "health plan", "account", "certificate/licence", "vehicle", "device", "URL", "IP",
              "other unique number")
SPLITS = {"dev": (1, 0), "held-out": (4, 1)}  # seed, which half of the surrogate phrases


@dataclass
class Plant:
    category: str
    form: str
    value: str  # the identifier itself: what must be found
    lead: str = ""  # the words before it in prose ("MRN ", "seen by Dr. ")
    key: str = "value"  # its field name in a dict, Series or log record


@dataclass
class Line:
    text: str
    shape: str
    plants: list[tuple[int, int, Plant]] = field(default_factory=list)


# --- surrogate phrases ---------------------------------------------------------------------------

def _half(surface: str) -> int:
    return zlib.crc32(surface.lower().encode()) % 2


def surrogates(half: int) -> dict[str, list]:
    """The corpus's surrogate PHI of one half (by hash of the surface), by use."""
    from precmed_utils.studies.deid import read_physionet_text

    rows = [line.split(" ", 5) for line in PHRASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    notes = read_physionet_text(PHRASE_TEXT)
    name_labels = {"PTName", "HCPName", "RelativeProxyName"}
    by_note: dict[tuple, list] = {}
    for pat, note, a, b, label, surface in rows:
        by_note.setdefault((pat, note), []).append((int(a), int(b), label, surface))
    pairs, titled = set(), set()
    word = re.compile(r"[A-Za-z][A-Za-z'-]+$")
    for key, spans in by_note.items():
        text = notes[key]
        spans.sort()
        for (_, b1, l1, s1), (a2, _, l2, s2) in zip(spans, spans[1:], strict=False):
            if l1 in name_labels and l2 in name_labels and text[b1:a2] == " " and word.match(s1) \
                    and word.match(s2.strip(" .,")) and len(s2.strip(" .,")) > 1:
                pairs.add((s1, s2.strip(" .,")))
        for a, _, label, surface in spans:
            if label in name_labels and re.search(r"(?i)\b(?:dr|mr|mrs|ms)\.?\s*$", text[max(0, a - 6):a]) \
                    and word.match(surface) and len(surface) > 1:
                titled.add(surface)
    out = {"pairs": sorted(p for p in pairs if _half(p[0] + " " + p[1]) == half),
           "surnames": sorted(s for s in titled if _half(s) == half)}
    locs = {s for _, _, _, _, lab, s in rows if lab == "Location" and word.match(s) and len(s) > 3}
    out["places"] = sorted(s for s in locs if _half(s) == half)
    phones = {s.strip("().") for _, _, _, _, lab, s in rows if lab == "Phone"}
    out["phones"] = sorted(s for s in phones if sum(c.isdigit() for c in s) >= 7 and _half(s) == half)
    dates = {s.strip() for _, _, _, _, lab, s in rows if lab == "Date"}
    out["full_dates"] = sorted(s for s in dates if re.fullmatch(r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}", s)
                               and _half(s) == half)
    out["month_days"] = sorted(s for s in dates if re.fullmatch(r"(?:1[0-2]|[1-9])/(?:[12]\d|3[01]|[1-9])", s)
                               and _half(s) == half)
    out["ages"] = sorted({s for _, _, _, _, lab, s in rows if lab == "Age"})
    return out


# --- generated values ----------------------------------------------------------------------------

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
STATES = ["MD", "VA", "PA", "NY", "MA", "CA", "TX", "OH", "NJ", "DE", "Maryland", "Virginia",
          "Pennsylvania", "New York", "Massachusetts"]
SUFFIXES = ["Street", "St", "St.", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Dr.", "Court",
            "Boulevard", "Blvd", "Way", "Place", "Terrace", "Pike"]
TITLES = ["Dr.", "Dr", "Mr.", "Mrs.", "Ms.", "Miss", "DR.", "Mr", "Mrs"]


def ordinal(d: int) -> str:
    return "th" if 10 < d % 100 < 14 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")


class Gen:
    def __init__(self, seed: int, half: int):
        self.rng = np.random.default_rng(seed)
        self.s = surrogates(half)

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def digits(self, n: int) -> str:
        return "".join(str(int(d)) for d in self.rng.integers(0, 10, n))

    def letters(self, n: int, alphabet="ABCDEFGHJKLMNPRSTUVWXYZ") -> str:
        return "".join(self.pick(alphabet) for _ in range(n))

    def case(self, s: str) -> str:
        r = self.rng.random()
        return s.upper() if r < 0.15 else s.capitalize() if r < 0.9 else s

    # one plant of a category, in one of its forms
    def plant(self, cat: str) -> Plant:
        name = {"certificate/licence": "certificate", "ages over 89": "ages", "health plan": "health",
                "other unique number": "other"}.get(cat, cat)
        return getattr(self, "p_" + name.lower())()

    def p_names(self) -> Plant:
        first, last = self.pick(self.s["pairs"])
        sur = self.pick(self.s["surnames"] + [p[1] for p in self.s["pairs"]])
        first, last, sur = first.capitalize(), last[0].upper() + last[1:], sur[0].upper() + sur[1:]
        forms = [
            ("titled", Plant("names", "titled", sur, lead=self.pick(TITLES) + " ")),
            ("titled", Plant("names", "titled", f"{first} {last}", lead=self.pick(TITLES) + " ")),
            ("first last", Plant("names", "first last", f"{first} {last}", key="patient")),
            ("first last", Plant("names", "first last", f"{first} {self.letters(1)}. {last}", key="name")),
            ("LAST, First", Plant("names", "last, first", f"{last.upper()}, {first}", key="pt")),
            ("last, first", Plant("names", "last, first", f"{last}, {first}", key="name")),
            ("capitals", Plant("names", "capitals", f"{first.upper()} {last.upper()}", key="patient_name")),
            ("context", Plant("names", "context", sur, lead=self.pick(["patient ", "Patient: ", "pt ",
                                                                         "name: ", "seen by Dr. ",
                                                                         "attending: ", "daughter ",
                                                                         "son ", "wife ", "contact: "]),
                              key=self.pick(["patient", "name", "surname", "attending", "contact"]))),
        ]
        return forms[int(self.rng.integers(len(forms)))][1]

    def p_geographic(self) -> Plant:
        place = self.pick(self.s["places"]).capitalize()
        place2 = self.pick(self.s["places"]).capitalize()
        number, side = int(self.rng.integers(1, 9999)), self.pick(["", "N. ", "West ", "S "])
        street = f"{number} {side}{place2} {self.pick(SUFFIXES)}"
        zip5 = f"{int(self.rng.integers(1001, 99950)):05d}"
        r = int(self.rng.integers(8))
        if r == 0:
            return Plant("geographic", "street", street, key="address")
        if r == 1:
            return Plant("geographic", "street", f"{street}, Apt {int(self.rng.integers(1, 40))}"
                         f"{self.pick('ABC')}", lead="lives at ", key="home_address")
        if r == 2:
            return Plant("geographic", "city, state ZIP", f"{place}, {self.pick(STATES)} {zip5}", key="city")
        if r == 3:
            return Plant("geographic", "city, state", f"{place}, {self.pick(STATES)}", key="residence")
        if r == 4:
            return Plant("geographic", "county", f"{place} County", key="county")
        if r == 5:
            return Plant("geographic", "ZIP", zip5, lead=self.pick(["ZIP ", "zip code ", "ZIP: "]),
                         key=self.pick(["zip", "zip_code", "ZIP"]))
        if r == 6:
            return Plant("geographic", "ZIP+4", f"{zip5}-{self.digits(4)}", key="zip")
        return Plant("geographic", "city (context)", place, lead=self.pick(["lives in ", "resides in ",
                                                                            "moved to ", "city: "]),
                     key=self.pick(["city", "town", "hometown"]))

    def p_dates(self) -> Plant:
        y, m = int(self.rng.integers(1925, 2025)), int(self.rng.integers(1, 13))
        d = int(self.rng.integers(1, 29))
        mon = MONTHS[m - 1]
        forms = [f"{y}-{m:02d}-{d:02d}", f"{m}/{d}/{y}", f"{m:02d}/{d:02d}/{y % 100:02d}",
                 f"{d:02d}.{m:02d}.{y}",
                 f"{mon} {d}, {y}", f"{d} {mon} {y}", f"{mon[:3]} {d} {y}", f"{d}-{mon[:3]}-{y}",
                 f"{d:02d}{mon[:3].upper()}{y}", f"{mon} {d}{ordinal(d)}",
                 f"{WEEKDAYS[int(self.rng.integers(7))]}, {mon} {d}, {y}", f"{y}-{m:02d}-{d:02d} "
                 f"{int(self.rng.integers(24)):02d}:{int(self.rng.integers(60)):02d}", f"{y}/{m:02d}/{d:02d}",
                 f"{d} {mon[:3]}", f"{m}-{d}-{y}"]
        r = int(self.rng.integers(len(forms) + 2))
        if r == len(forms):
            return Plant("dates", "corpus m/d/y", self.pick(self.s["full_dates"]), key="date")
        if r == len(forms) + 1:
            return Plant("dates", "corpus m/d after a date word", self.pick(self.s["month_days"]),
                         lead=self.pick(["admitted ", "DOB: ", "discharged on ", "born "]),
                         key=self.pick(["dob", "admission_date", "discharge_date"]))
        return Plant("dates", f"form {r}", forms[r], key=self.pick(["date", "when", "visit", "event"]))

    def p_ages(self) -> Plant:
        age = str(int(self.rng.integers(90, 111))) if self.rng.random() < 0.9 else self.pick(self.s["ages"])
        r = int(self.rng.integers(6))
        if r == 0:
            return Plant("ages over 89", "NN year old", f"{age} year old")
        if r == 1:
            return Plant("ages over 89", "NN-year-old", f"{age}-year-old")
        if r == 2:
            return Plant("ages over 89", "NN yo", f"{age} {self.pick(['yo', 'y/o', 'yrs', 'years old'])}")
        return Plant("ages over 89", "age field", age, lead=self.pick(["age ", "age: ", "aged ",
                                                                       "age at admission: ", "Age = "]),
                     key=self.pick(["age", "age_at_admission", "Age", "age_years"]))

    def phone_number(self) -> str:
        a, b, c = f"{int(self.rng.integers(201, 990))}", f"{int(self.rng.integers(200, 999))}", self.digits(4)
        forms = [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"{b}-{c}",
                 f"1-{a}-{b}-{c}", f"{a}-{b}-{c} x{self.digits(3)}"]
        if self.rng.random() < 0.8 or not self.s["phones"]:
            return self.pick(forms)
        return self.pick(self.s["phones"])

    def p_phone(self) -> Plant:
        v = self.phone_number()
        standard = re.fullmatch(r"(?:\+?1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])?\d{3}-\d{4}(?: x\d+)?", v)
        if self.rng.random() < 0.5 and standard:  # a corpus number of odd shape keeps its word
            return Plant("phone", "phone", v, key="phone")
        return Plant("phone", "phone after a word", v, lead=self.pick(["tel ", "phone: ", "call ", "cell ",
                                                                        "Ph. ", "mobile "]),
                     key=self.pick(["phone", "tel", "home_phone", "mobile"]))

    def p_fax(self) -> Plant:
        return Plant("fax", "fax", self.phone_number(), lead=self.pick(["fax ", "Fax: ", "fax #"]),
                     key=self.pick(["fax", "fax_number"]))

    def p_email(self) -> Plant:
        first, last = self.pick(self.s["pairs"])
        user = self.pick([f"{first}.{last}", f"{first[0]}{last}", f"{last}{self.digits(2)}"]).lower()
        dom = self.pick(["gmail.com", "yahoo.com", "comcast.net", "jhmi.edu", "umm.org", "aol.com"])
        return Plant("email", "email", f"{user}@{dom}".replace("'", ""), key="email")

    def p_ssn(self) -> Plant:
        a, b, c = f"{int(self.rng.integers(1, 900)):03d}", self.digits(2), self.digits(4)
        r = int(self.rng.integers(3))
        if r == 0:
            return Plant("SSN", "999-99-9999", f"{a}-{b}-{c}", key="ssn")
        if r == 1:
            return Plant("SSN", "9 digits after SSN", f"{a}{b}{c}", lead=self.pick(["SSN ", "SSN: ",
                                                                                    "social security no. "]),
                         key="ssn")
        return Plant("SSN", "999 99 9999", f"{a} {b} {c}", lead="SSN ", key="SSN")

    def _coded(self, cat, leads, keys, values) -> Plant:
        return Plant(cat, "after its name", self.pick(values), lead=self.pick(leads), key=self.pick(keys))

    def p_mrn(self) -> Plant:
        n = self.digits(int(self.rng.integers(6, 11)))
        return self._coded("MRN", ["MRN ", "MRN: ", "MRN #", "medical record number ", "patient ID ",
                                   "Unit No. ", "record no. ", "chart number "],
                           ["mrn", "MRN", "patient_id", "medical_record_number", "record_number"],
                           [n, f"MRN-{n}", f"{self.letters(2)}{n}", f"{n[:3]}-{n[3:]}"])

    def p_health(self) -> Plant:
        if self.rng.random() < 0.3:  # a Medicare beneficiary identifier: the shape alone
            al = "ACDEFGHJKMNPQRTUVWXY"
            mbi = (f"{int(self.rng.integers(1, 10))}{self.pick(al)}{self.pick(al + '0123456789')}"
                   f"{self.digits(1)}{self.pick(al)}{self.pick(al + '0123456789')}{self.digits(1)}"
                   f"{self.pick(al)}{self.pick(al)}{self.digits(2)}")
            return Plant("health plan", "MBI", mbi, key="beneficiary")
        return self._coded("health plan", ["member ID ", "Member #", "subscriber ID: ", "Medicaid # ",
                                           "policy number ", "health plan ID ", "beneficiary number ",
                                           "Medicare no. ", "group number "],
                           ["member_id", "subscriber_id", "policy_number", "plan_id", "medicaid_id"],
                           [f"{self.letters(3)}{self.digits(9)}", self.digits(9) + self.letters(1),
                            f"{self.letters(1)}{self.digits(8)}",
                            f"{self.digits(3)}-{self.digits(6)}-{self.digits(2)}"])

    def p_account(self) -> Plant:
        return self._coded("account", ["account ", "account number ", "acct #", "Account No. ",
                                       "billing account ", "acct: "],
                           ["account", "account_no", "acct", "billing_account"],
                           [self.digits(8), self.digits(10), f"{self.digits(4)}-{self.digits(6)}",
                            f"AC{self.digits(7)}"])

    def p_certificate(self) -> Plant:
        return self._coded("certificate/licence", ["driver's license ", "licence no. ", "license # ",
                                                   "DEA ", "NPI ", "certificate number ", "cert # ",
                                                   "passport ", "medical licence "],
                           ["license", "licence_number", "dea", "npi", "certificate", "passport"],
                           [f"{self.letters(1)}{self.digits(3)}-{self.digits(4)}-{self.digits(4)}",
                            f"{self.letters(2)}{self.digits(7)}", self.digits(10),
                            f"{self.digits(4)}-{self.digits(5)}", f"MD{self.digits(6)}"])

    def p_vehicle(self) -> Plant:
        if self.rng.random() < 0.4:
            vin = "".join(self.pick("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(16))
            return Plant("vehicle", "VIN", vin[:8] + self.digits(1) + vin[8:], key="vin")
        plate = self.pick([f"{self.digits(1)}{self.letters(3)}{self.digits(3)}",
                           f"{self.letters(3)}-{self.digits(4)}",
                           f"{self.letters(3)} {self.digits(4)}", f"{self.digits(3)} {self.letters(3)}",
                           f"{self.letters(2)}{self.digits(5)}"])
        return Plant("vehicle", "plate", plate, lead=self.pick(["plate ", "licence plate ", "license plate: ",
                                                                "vehicle tag # ", "plate no. "]),
                     key=self.pick(["plate", "license_plate", "vehicle_plate"]))

    def p_device(self) -> Plant:
        r = int(self.rng.integers(4))
        if r == 0:
            return Plant("device", "UDI", f"(01){self.digits(14)}(17){self.digits(6)}(10){self.letters(2)}"
                         f"{self.digits(3)}", key="udi")
        if r == 1:
            return Plant("device", "MAC", ":".join(f"{int(x):02X}" for x in self.rng.integers(0, 256, 6)),
                         lead="device ", key="mac")
        return self._coded("device", ["serial number ", "S/N ", "SN: ", "pacemaker serial ",
                                      "device ID ", "pump serial # ", "IMEI "],
                           ["serial", "serial_number", "device_id", "sn", "imei"],
                           [f"{self.letters(3)}{self.digits(6)}",
                            f"{self.digits(2)}{self.letters(1)}{self.digits(5)}",
                            f"{self.letters(2)}-{self.digits(6)}", self.digits(15)])

    def p_url(self) -> Plant:
        first, last = self.pick(self.s["pairs"])
        host = self.pick([f"portal.{self.pick(self.s['places']).lower()}health.org",
                          f"www.{last.lower().replace(chr(39), '')}family.com",
                          f"mychart.{self.pick(self.s['places']).lower()}.org",
                          f"{self.rng.integers(1, 255)}.{self.rng.integers(0, 255)}."
                          f"{self.rng.integers(0, 255)}.{self.rng.integers(1, 255)}"])
        path = self.pick([f"/patients/{self.digits(6)}", f"/chart?mrn={self.digits(7)}", "",
                          f"/~{first.lower()}"])
        schemes = ["https://", "http://", ""] if host.startswith("www.") else ["https://", "http://"]
        scheme = self.pick(schemes)
        return Plant("URL", "url", f"{scheme}{host}{path}", key="url")

    def p_ip(self) -> Plant:
        if self.rng.random() < 0.8:
            return Plant("IP", "IPv4", ".".join(str(int(x)) for x in self.rng.integers(1, 255, 4)), key="ip")
        return Plant("IP", "IPv6", ":".join(f"{int(x):x}" for x in self.rng.integers(0, 65536, 8)), key="ip")

    def p_other(self) -> Plant:
        return self._coded("other unique number", ["participant ID ", "subject ID ", "encounter ID ",
                                                   "accession number ", "employee ID ", "badge # ",
                                                   "case number ", "visit ID ", "enrolment no. "],
                           ["participant_id", "subject_id", "encounter_id", "accession_number", "visit_id"],
                           [f"{self.letters(3)}-{self.digits(5)}", self.digits(8),
                            f"{self.digits(2)}-{self.digits(6)}",
                            f"E{self.digits(9)}"])


# --- shapes of output lines ----------------------------------------------------------------------

def _prose(p: Plant) -> str:
    return p.lead + p.value


def _keyed(p: Plant) -> str:
    """The value as a field of a dict, Series or log record: a plant without a field name of its
    own (key "value") keeps its words ("Dr. Powers")."""
    return _prose(p) if p.key == "value" else p.value


class Shaper:
    """Builds one output line around its plants and records where each value landed."""

    def __init__(self, rng):
        self.rng = rng

    def num(self) -> str:
        return f"{self.rng.random():.3f}"

    def build(self, plants: list[Plant]) -> Line:
        shapes = [self.table_row, self.series, self.dict_repr, self.list_repr, self.fstring, self.log,
                  self.error, self.markdown, self.html_cell]
        shape = shapes[int(self.rng.integers(len(shapes)))]
        if shape in (self.series, self.error, self.html_cell) and len(plants) > 1:
            shape = self.dict_repr
        parts = shape(plants)
        text, spans, pos = "", [], 0
        for part in parts:
            if isinstance(part, tuple):
                p, s = part
                spans.append((pos + s.index(p.value), pos + s.index(p.value) + len(p.value), p))
                part = s
            text += part
            pos = len(text)
        return Line(text, shape.__name__, spans)

    def table_row(self, plants):
        idx = str(int(self.rng.integers(0, 500)))
        out = [f"{idx:<5}"]
        for p in plants:
            out += [(p, f"{_prose(p):>24}"), "  "]
        return out + [f"{self.num():>8}  {int(self.rng.integers(1, 900)):>5}"]

    def series(self, plants):
        p = plants[0]
        return [(p, f"{p.key:<24}{_keyed(p)}")]

    def dict_repr(self, plants):
        out = ["{"]
        for p in plants:
            s = repr({p.key: _keyed(p)})[1:-1]
            out += [(p, s), ", "]
        return out + [f"'auc': {self.num()}, 'n': {int(self.rng.integers(1, 400))}}}"]

    def list_repr(self, plants):
        out = ["["]
        for p in plants:
            out += [(p, repr(_prose(p))), ", "]
        return out + [f"{self.num()}, 'fold {int(self.rng.integers(1, 6))}']"]

    def fstring(self, plants):
        out = [f"fold {int(self.rng.integers(1, 6))}: "]
        for p in plants:
            out += [(p, _prose(p)), self.rng.choice([" done; ", ", ", " | ", " and "])]
        return out + [f"AUC {self.num()} ({int(self.rng.integers(10, 900))} notes)"]

    def log(self, plants):
        level = self.rng.choice(["INFO", "WARNING", "ERROR", "DEBUG"])
        out = [f"{level}:precmed.data:"]
        for p in plants:
            out += [(p, f"{p.key}={_keyed(p)}" if self.rng.random() < 0.5 else _prose(p)), " "]
        return out + [f"skipped ({int(self.rng.integers(1, 50))} missing values)"]

    def error(self, plants):
        p = plants[0]
        kind = self.rng.choice(["ValueError", "KeyError", "DataError"])
        return [f"{kind}: row {int(self.rng.integers(2, 999))}: cannot parse ", (p, repr(_prose(p)))]

    def markdown(self, plants):
        if self.rng.random() < 0.5:
            out = ["| "]
            for p in plants:
                out += [(p, _prose(p)), " | "]
            return out + [f"{self.num()} |"]
        out = ["- "]
        for p in plants:
            out += [(p, f"**{p.key}**: {_keyed(p)}"), "; "]
        return out + [f"score {self.num()}"]

    def html_cell(self, plants):
        return [(plants[0], _prose(plants[0]))]


CLEAN_SHAPES = ["fold {k}: AUC {x} ({n} notes)", "{{'auc': {x}, 'n': {n}}}",
                "INFO:precmed.data:loaded {n} rows",
                "| CERP | {x} | {n} |", "patients  {n}", "ValueError: row {n}: cannot parse '{x}'"]


def generate(split: str, n_lines: int) -> list[Line]:
    """``n_lines`` output lines of one split; about one in seven holds no identifier."""
    seed, half = SPLITS[split]
    g = Gen(seed, half)
    shaper = Shaper(g.rng)
    lines = []
    for i in range(n_lines):
        k = int(g.rng.choice([0, 1, 1, 1, 2, 2, 3]))
        if k == 0:
            t = CLEAN_SHAPES[i % len(CLEAN_SHAPES)].format(k=int(g.rng.integers(1, 6)), x=shaper.num(),
                                                           n=int(g.rng.integers(1, 5000)))
            lines.append(Line(t, "clean"))
            continue
        cats = [CATEGORIES[int(c)] for c in g.rng.integers(0, len(CATEGORIES), k)]
        lines.append(shaper.build([g.plant(c) for c in cats]))
    return lines


# --- blind spots: what the gate is not expected to see -----------------------------------------------

def blind_spots(split: str, n: int = 200) -> dict[str, list[Line]]:
    seed, half = SPLITS[split]
    g = Gen(seed + 100, half)
    out: dict[str, list[Line]] = {}

    def add(name, text, value):
        a = text.index(value)
        out.setdefault(name, []).append(Line(text, "blind", [(a, a + len(value), Plant(name, name, value))]))

    common_names = ["Hope", "Faith", "Grace", "Bishop", "Cook", "Young", "Rose", "Brown", "Black", "Hill"]
    for _ in range(n):
        first, last = g.pick(g.s["pairs"])
        row = int(g.rng.integers(500))
        add("surname alone in a table cell", f"{row:<5}{last.capitalize():>20}  {g.rng.random():.3f}",
            last.capitalize())
        both = f"{g.pick(common_names)} {g.pick(common_names)}"
        add("name that is a common word, no context", f"{both}  {g.rng.random():.3f}", both)
        place = g.pick(g.s["places"]).capitalize()
        row = int(g.rng.integers(500))
        add("city alone in a table cell", f"{row:<5}{place:>20}  {g.rng.random():.3f}", place)
        mrn = g.digits(7)
        row = int(g.rng.integers(500))
        add("bare number under an identifier's column header", f"{row:<5}{mrn:>12}  {g.rng.random():.3f}",
            mrn)
        md = g.pick(g.s["month_days"])
        row = int(g.rng.integers(500))
        add("month/day without a year or date word", f"{row:<5}{md:>8}  {g.rng.random():.3f}", md)
        add("lower-case name without a field name", f"{first.lower()} {last.lower()}  {g.rng.random():.3f}",
            f"{first.lower()} {last.lower()}")
    return out


# --- scoring -------------------------------------------------------------------------------------

def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def found(line: Line, safe=()) -> list[tuple[int, int]]:
    return [(a, b) for a, b, _, _ in privacy.find_phi(line.text, safe=safe)]


def recall_table(lines: list[Line]) -> tuple[pd.DataFrame, list[tuple[Line, Plant]]]:
    hits: dict[str, list[int]] = {}
    misses = []
    for line in lines:
        spans = found(line)
        for a, b, p in line.plants:
            ok = any(x < b and a < y for x, y in spans)
            hits.setdefault(p.category, []).append(int(ok))
            if not ok:
                misses.append((line, p))
    rows = []
    for cat in [c for c in CATEGORIES if c in hits] + [c for c in hits if c not in CATEGORIES]:
        k, n = sum(hits[cat]), len(hits[cat])
        lo, hi = wilson(k, n)
        rows.append({"category": cat, "planted": n, "found": k, "recall": k / n,
                     "95% low": lo, "95% high": hi})
    return pd.DataFrame(rows).set_index("category"), misses


def read_clean(path: Path = CLEAN_FIXTURE) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def clean_flags(records: list[dict]) -> list[dict]:
    return [r for r in records if privacy.find_phi(r["line"], safe=r.get("safe", ()))]


def extract_clean(runs_dir: Path) -> list[dict]:
    """Every distinct output line of the executed notebooks under ``runs_dir`` (latest run of each
    study), with the known-safe strings of its run; cells tagged as a made-up example are left out
    (the gate does not judge them)."""
    records, seen = [], set()
    for study_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        nbs = sorted(study_dir.glob("*/notebook.ipynb"), key=lambda p: p.stat().st_mtime)
        if not nbs:
            continue
        nb_path = nbs[-1]
        manifest = privacy._read_json(nb_path.parent / "manifest.json")
        safe = privacy.known_safe(manifest.get("study", study_dir.name), manifest,
                                  privacy._read_json(nb_path.parent / "metrics.json"))
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for ci, cell in enumerate(nb.get("cells", [])):
            if privacy.EXEMPT_TAG in cell.get("metadata", {}).get("tags", []):
                continue
            for out in cell.get("outputs") or []:
                for mime, text in privacy.output_texts(out):
                    text = html.unescape(text) if mime == "text/markdown" else text
                    for line in text.split("\n"):
                        line = line.replace("\r", "").rstrip()
                        if line.strip() and line not in seen:
                            seen.add(line)
                            records.append({"study": study_dir.name, "cell": ci, "mime": mime, "line": line,
                                            "safe": [s for s in safe if s in line]})
    return records


def pooled_seeds(spec: str, n_lines: int) -> int:
    """Recall per category pooled over several seeds of the held-out phrase half (seeds never
    used while the rules were written give a fresh estimate), with each category's worst seed."""
    lo_s, _, hi_s = spec.partition("-")
    seeds = range(int(lo_s), int(hi_s or lo_s) + 1)
    half = SPLITS["held-out"][1]
    rows, flagged, n_clean = [], 0, 0
    for seed in seeds:
        SPLITS[f"seed {seed}"] = (seed, half)
        lines = generate(f"seed {seed}", n_lines)
        t, _ = recall_table([x for x in lines if x.plants])
        rows.append(t.reset_index().assign(seed=seed))
        clean = [x for x in lines if not x.plants]
        n_clean += len(clean)
        flagged += sum(bool(found(x)) for x in clean)
    d = pd.concat(rows)
    g = d.groupby("category", sort=False)[["planted", "found"]].sum()
    g["recall"] = g["found"] / g["planted"]
    g["95% low"] = [wilson(int(k), int(n))[0] for k, n in zip(g["found"], g["planted"], strict=True)]
    g["worst seed"] = (d["found"] / d["planted"]).groupby(d["category"].to_numpy()).min().reindex(g.index)
    print(f"privacy gate, held-out phrases, seeds {seeds.start}-{seeds.stop - 1}: "
          f"{len(seeds) * n_lines} lines")
    with pd.option_context("display.width", 120):
        print(g.to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"generated lines without an identifier flagged: {flagged} of {n_clean}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=list(SPLITS), default="held-out")
    ap.add_argument("--lines", type=int, default=6000, help="lines to generate (default 6000)")
    ap.add_argument("--misses", type=int, default=0, help="print this many missed identifiers")
    ap.add_argument("--seeds", metavar="A-B", help="instead of one split: the held-out half of the phrases "
                    "with each of these seeds (e.g. 31-40), pooled, with each category's worst seed")
    ap.add_argument("--extract-clean", metavar="RUNS_DIR", help="rebuild the clean-line fixture from a "
                    "runs folder of executed smoke notebooks, then exit")
    ap.add_argument("--write-sample", type=int, metavar="N", help="write the first N lines of the split "
                    "as the test's fixed sample (benchmarks/privacy_planted_sample.jsonl), then exit")
    args = ap.parse_args(argv)
    if args.write_sample:
        with SAMPLE_FIXTURE.open("w", encoding="utf-8") as fh:
            for x in generate(args.split, args.write_sample):
                fh.write(json.dumps({"line": x.text, "shape": x.shape, "plants": [
                    [a, b, p.category, p.form] for a, b, p in x.plants]}, ensure_ascii=False) + "\n")
        print(f"{args.write_sample} lines of split {args.split} -> {SAMPLE_FIXTURE}")
        return 0
    if args.extract_clean:
        recs = extract_clean(Path(args.extract_clean))
        CLEAN_FIXTURE.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                                 encoding="utf-8")
        print(f"{len(recs)} clean lines from {len({r['study'] for r in recs})} chapters -> {CLEAN_FIXTURE}")
        return 0
    if args.seeds:
        return pooled_seeds(args.seeds, args.lines)
    lines = generate(args.split, args.lines)
    table, misses = recall_table([x for x in lines if x.plants])
    n_plants = int(table["planted"].sum())
    print(f"privacy gate, split {args.split}: {len(lines)} generated lines, {n_plants} planted identifiers")
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    by_form: dict[tuple[str, str], list[int]] = {}
    missed = {id(p) for _, p in misses}
    for x in lines:
        for _, _, p in x.plants:
            by_form.setdefault((p.category, p.form), []).append(int(id(p) not in missed))
    weak = [(c, f, sum(v), len(v)) for (c, f), v in sorted(by_form.items()) if sum(v) < len(v)]
    if weak:
        print("\nforms below 1 (category, form: found/planted):")
        for c, f, k, n in weak:
            print(f"  {c}, {f}: {k}/{n} = {k / n:.3f}")
    gen_clean = [x for x in lines if not x.plants]
    gen_fp = sum(bool(found(x)) for x in gen_clean)
    print(f"\ngenerated lines without an identifier flagged: {gen_fp} of {len(gen_clean)}")
    clean = read_clean()
    flagged = clean_flags(clean)
    lo, hi = wilson(len(flagged), len(clean))
    print(f"chapters' real output lines flagged (smoke book, {len({r['study'] for r in clean})} chapters): "
          f"{len(flagged)} of {len(clean)} = {len(flagged) / len(clean):.4f} (95% {lo:.4f}-{hi:.4f})")
    for r in flagged[:20]:
        print(f"  {r['study']} cell {r['cell']} ({r['mime']}): {r['line'][:120]}")
    print("\nblind spots (not counted above; see book/rerun.md, Privacy):")
    for name, bl in blind_spots(args.split).items():
        t, _ = recall_table(bl)
        k, n = int(t["found"].iloc[0]), int(t["planted"].iloc[0])
        print(f"  {name}: recall {k / n:.2f} ({k}/{n})")
    worst = table["95% low"].min()
    print(f"\nlowest recall {table['recall'].min():.3f}; lowest 95% lower bound {worst:.3f}")
    for line, p in misses[: args.misses]:
        print(f"  missed {p.category} ({p.form}): {line.text[:140]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
