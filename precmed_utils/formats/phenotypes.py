"""Outcome phenotypes as data: the code patterns of each vocabulary, read from phenotypes.yml.

``patterns(name, ehr)`` returns the patterns of the vocabularies present in ``ehr`` (an ICD-9 record
gets exactly the chapter's ICD-9 patterns, an ICD-10 record the ICD-10 ones, a record with both
gets both); ``patterns(name)`` returns them all.

Used by: heart_failure, suicide_risk.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

PHENOTYPES_FILE = Path(__file__).with_name("phenotypes.yml")


@cache
def definitions() -> dict:
    """name -> {description, sources, codes: {vocabulary prefix: [patterns]}}."""
    doc = yaml.safe_load(PHENOTYPES_FILE.read_text(encoding="utf-8"))
    for name, d in doc.items():
        for prefix, pats in d["codes"].items():
            bad = [p for p in pats if not p.startswith(prefix) or "*" in p[:-1]]
            if bad:
                raise ValueError(f"{PHENOTYPES_FILE.name}: {name}: patterns {bad} do not start with "
                                 f"{prefix!r} or have '*' other than at the end")
    return doc


def vocabularies(ehr) -> set[str]:
    """The code prefixes (``D:``, ``D10:``, ``M:``, ...) of an EHR's vocabulary."""
    return {c.split(":", 1)[0] + ":" for c in ehr.vocab["code"].unique()}


def patterns(name: str, ehr=None) -> list[str]:
    """The patterns of phenotype ``name`` for the vocabularies present in ``ehr`` (all, if None)."""
    defs = definitions()
    if name not in defs:
        raise KeyError(f"no phenotype {name!r} in {PHENOTYPES_FILE.name}; defined: {', '.join(defs)}")
    present = None if ehr is None else vocabularies(ehr)
    return [p for prefix, pats in defs[name]["codes"].items() if present is None or prefix in present
            for p in pats]
