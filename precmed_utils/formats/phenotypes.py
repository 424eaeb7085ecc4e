"""Outcome phenotypes as data: the code patterns of each vocabulary and the OMOP standard concepts,
read from phenotypes.yml.

``patterns(name, ehr)`` returns the patterns of the vocabularies present in ``ehr`` (an ICD-9 record
gets exactly the chapter's ICD-9 patterns, an ICD-10 record the ICD-10 ones, a record with both
gets both) and, when ``ehr`` holds OMOP standard concepts (codes ``<vocabulary_id>:<concept_id>``,
read from rows without an ICD source concept), the codes of the definition's concepts found in it:
each listed concept id and, where ``include_descendants`` and the extract had a ``concept_ancestor``
table (``EHR.concept_ancestors``), every descendant concept present. ``patterns(name)`` returns the
ICD patterns and the listed concepts (as ``<vocabulary>:<concept_id>``). ``describe(name, ehr)``
says in one line which definition and vocabulary an EHR was matched with.

``deep_patient_rule()`` and ``name_categories(categories, ehr)`` give Deep Patient's disease rule and
the Table 2 diseases that categories are.

Used by: heart_failure, suicide_risk, deep_patient.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import yaml

PHENOTYPES_FILE = Path(__file__).with_name("phenotypes.yml")
# code prefixes that are not OMOP standard concepts
ICD_PREFIXES = ("D:", "D10:", "P:", "P10:", "M:")
_CONCEPT_KEYS = {"concept_id", "name", "vocabulary", "concept_code", "include_descendants", "verified",
                 "source"}


@cache
def _document() -> dict:
    return yaml.safe_load(PHENOTYPES_FILE.read_text(encoding="utf-8"))


@cache
def definitions() -> dict:
    """name -> {description, sources, codes: {vocabulary prefix: [patterns]}, concepts: [...]} for every
    phenotype (the entries with codes; rules such as ``deep_patient_rule`` are not phenotypes)."""
    doc = {name: d for name, d in _document().items() if "codes" in d}
    for name, d in doc.items():
        for prefix, pats in d["codes"].items():
            bad = [p for p in pats if not p.startswith(prefix) or "*" in p[:-1]]
            if bad:
                raise ValueError(f"{PHENOTYPES_FILE.name}: {name}: patterns {bad} do not start with "
                                 f"{prefix!r} or have '*' other than at the end")
        for c in d.get("concepts", []):
            if set(c) != _CONCEPT_KEYS or not isinstance(c["concept_id"], int) or \
                    not isinstance(c["include_descendants"], bool) or not isinstance(c["verified"], bool):
                raise ValueError(f"{PHENOTYPES_FILE.name}: {name}: concept {c} needs exactly "
                                 f"{sorted(_CONCEPT_KEYS)} (concept_id an integer, the flags true/false)")
    return doc


def _definition(name: str) -> dict:
    defs = definitions()
    if name not in defs:
        raise KeyError(f"no phenotype {name!r} in {PHENOTYPES_FILE.name}; defined: {', '.join(defs)}")
    return defs[name]


def vocabularies(ehr) -> set[str]:
    """The code prefixes (``D:``, ``D10:``, ``M:``, ``SNOMED:``, ...) of an EHR's vocabulary."""
    return {c.split(":", 1)[0] + ":" for c in ehr.vocab["code"].unique()}


def concepts(name: str) -> list[dict]:
    """The OMOP standard concepts of phenotype ``name`` (possibly none)."""
    return list(_definition(name).get("concepts", []))


def _standard_codes(ehr) -> dict[int, str]:
    """concept_id -> code string of the EHR's OMOP standard-concept codes."""
    out = {}
    for code in map(str, ehr.vocab["code"]):
        if code.startswith(ICD_PREFIXES) or ":" not in code:
            continue
        tail = code.split(":", 1)[1]
        if tail.isdigit():
            out[int(tail)] = code
    return out


def concept_ids(name: str, ehr) -> tuple[set[int], int]:
    """The concept ids that phenotype ``name`` matches in ``ehr``: its listed ids, and the descendants
    (``EHR.concept_ancestors``) of those with ``include_descendants``. Returns (ids, number of
    descendants added)."""
    listed = concepts(name)
    ids = {c["concept_id"] for c in listed}
    anc = getattr(ehr, "concept_ancestors", None)
    added = 0
    if anc is not None and len(anc):
        roots = {c["concept_id"] for c in listed if c["include_descendants"]}
        a = anc["ancestor"].to_numpy(np.int64)
        d = anc["descendant"].to_numpy(np.int64)
        below = set(d[np.isin(a, list(roots))].tolist()) - ids
        added = len(below)
        ids |= below
    return ids, added


def concept_patterns(name: str, ehr) -> list[str]:
    """The codes of ``ehr`` that are phenotype ``name``'s concepts (see :func:`concept_ids`), sorted."""
    present = _standard_codes(ehr)
    if not present:
        return []
    ids, _ = concept_ids(name, ehr)
    return sorted(present[i] for i in ids if i in present)


def patterns(name: str, ehr=None) -> list[str]:
    """The patterns of phenotype ``name`` for the vocabularies present in ``ehr`` (all, if None),
    then the codes of its OMOP standard concepts found in ``ehr`` (all listed, if None)."""
    d = _definition(name)
    present = None if ehr is None else vocabularies(ehr)
    icd = [p for prefix, pats in d["codes"].items() if present is None or prefix in present for p in pats]
    if ehr is None:
        return icd + [f"{c['vocabulary']}:{c['concept_id']}" for c in d.get("concepts", [])]
    return icd + concept_patterns(name, ehr)


def describe(name: str, ehr) -> str:
    """One line: which of phenotype ``name``'s vocabularies ``ehr`` was matched with, and how."""
    d = _definition(name)
    present = vocabularies(ehr)
    used = [f"{prefix} {len(pats)} pattern(s)" for prefix, pats in d["codes"].items() if prefix in present]
    if _standard_codes(ehr):
        listed = concepts(name)
        if not listed:
            used.append("OMOP standard concepts: none defined")
        else:
            ids, added = concept_ids(name, ehr)
            found = len(concept_patterns(name, ehr))
            how = (f"{added} descendant(s) from concept_ancestor" if getattr(ehr, "concept_ancestors", None)
                   is not None else "the listed ids only (no concept_ancestor table)")
            names = ", ".join(f"{c['concept_id']} {c['name']}" + ("" if c["verified"] else " [U]")
                              for c in listed)
            used.append(f"OMOP concepts {names}; {how}; {found} of these codes in the data")
    return f"{name}: " + ("; ".join(used) if used else "no vocabulary of the definition is in the data")


# ---------------------------------------------------------------------------------------------
# Deep Patient's diseases


def deep_patient_rule() -> dict:
    """The ``deep_patient_rule`` entry: description, rule, sources and the named diseases."""
    return dict(_document()["deep_patient_rule"])


def named_diseases() -> dict[str, dict]:
    """phenotype name -> definition of the Table 2 diseases Deep Patient's rule names."""
    return {n: _definition(n) for n in deep_patient_rule()["named"]}


def name_categories(categories, ehr=None) -> dict[str, str]:
    """category -> Table 2 name, for the diagnosis categories (the EHR vocabulary's ``block``: ``154``,
    ``D10:C20``, or a standard concept code such as ``SNOMED:435783``) that are exactly one of a
    named disease's whole-category patterns (``D:154*``, ``D10:C20*``) or, for a standard concept,
    one of its concepts or their descendants in ``ehr``. Other categories are left out."""
    diseases = named_diseases()
    whole = {p[:-1]: d["table2_name"] for d in diseases.values() for pats in d["codes"].values()
             for p in pats if p.endswith("*")}
    by_concept = {}
    if ehr is not None:
        for name, d in diseases.items():
            for code in concept_patterns(name, ehr):
                by_concept.setdefault(code, d["table2_name"])
    out = {}
    for cat in categories:
        key = cat if cat.startswith(ICD_PREFIXES) or ":" in cat else "D:" + cat  # ICD-9: no prefix
        hit = whole.get(key) if key.startswith(ICD_PREFIXES) else by_concept.get(cat)
        if hit is not None:
            out[cat] = hit
    return out
