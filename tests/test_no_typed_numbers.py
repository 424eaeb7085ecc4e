"""No number typed by hand in a chapter's prose.

A decimal number in a notebook's markdown must come from the run (printed, glued or built into
generated Markdown), unless it cites the paper (a number held in the study's entry of
``paper_values.yml``, as a fraction or a percentage) or is not a result at all: a code of a
terminology, a formula's constant, a hyper-parameter of the paper or of a tool. Those are listed
below, each with its reason, so that a new typed result cannot slip in unnoticed.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")

# (study, number): why the number is not a result of ours. Keep each reason specific.
NOT_RESULTS = {
    ("adr_bcpnn", "2.5"): "the 2.5% quantile that names IC025; events per report in the simulator's design",
    ("breast_cancer_prognosis", "5.0"): "the 5-year horizon as the data file writes it (years)",
    ("breast_cancer_prognosis", "0.85"): "the survey's own quotation of the paper's AUC",
    ("breast_cancer_prognosis", "0.1"): "the 0.1% early-stopping tolerance (a rule of the code)",
    ("concept_extraction", "1.0"): "MADE 1.0, the name of a corpus",
    ("concept_extraction", "0.1"): "the NAACL paper's Adagrad learning rate (a hyper-parameter of the paper)",
    ("deep_patient", "250.00"): "an ICD-9 code", ("deep_patient", "250.01"): "an ICD-9 code",
    ("deep_patient", "250.02"): "an ICD-9 code",
    ("deep_patient", "1.0"): "the official code's stop rule (cost change below 1.0)",
    ("deep_patient", "0.1"): "the official code's learning rate, and the 0.1% early-stopping tolerance",
    ("deep_patient", "0.02"): "the default learning rate (a parameter, shown in the parameter table)",
    ("deidentification", "0.005"): "the default learning rate (a parameter)",
    ("deidentification", "0.01"): "NeuroNER's learning rate (a hyper-parameter of the paper's tool)",
    ("deidentification", "0.5"): "NeuroNER's dropout (a hyper-parameter of the paper's tool)",
    ("deidentification", "5.0"): "NeuroNER's gradient clipping (a hyper-parameter of the paper's tool)",
    ("deidentification", "99.23"): "the paper's second reported F1 (MIMIC notes), quoted with its source",
    ("drug_response", "0.5"): "chance level of an AUROC",
    ("drug_response", "0.005"): "the default learning rate (a parameter)",
    ("drug_response", "0.05"): "the paper's learning rate",
    ("drug_response", "0.0005"): "the paper's learning rate",
    ("heart_failure", "782.3"): "an ICD-9 code",
    ("heart_failure", "88.72"): "an ICD-9 procedure code", ("heart_failure", "401.9"): "an ICD-9 code",
    ("heart_failure", "401.1"): "an ICD-9 code", ("heart_failure", "401.0"): "an ICD-9 code",
    ("heart_failure", "7.4"): "the JAMIA cohort's controls per case (a fact of the paper)",
    ("heart_failure", "0.5"): "chance level of an AUC (the amendment's rule 6)",
    ("relation_extraction", "0.02"): "a learning rate (a parameter value tried)",
    ("relation_extraction", "0.1"): "the 0.1% early-stopping tolerance (a rule of the code)",
    ("suicide_risk", "296.20"): "an ICD-9 code", ("suicide_risk", "296.30"): "an ICD-9 code",
    ("temporal_events", "4.0"): "CC BY-NC 4.0, a licence's version",
}


def _paper_numbers(study: str) -> set[str]:
    """Every decimal written in the study's entry of paper_values.yml, as written, and its
    percentage form (0.9785 -> 97.85)."""
    pv = yaml.safe_load((ROOT / "precmed_utils" / "paper_values.yml").read_text())["studies"][study]
    found = set(DECIMAL.findall(yaml.safe_dump(pv, allow_unicode=True, width=10_000)))
    found |= {f"{float(x) * 100:.10g}" for x in list(found) if float(x) < 1}
    return found


def _prose(cell_source: str) -> str:
    """Markdown without code blocks, inline code, math and link targets."""
    s = re.sub(r"```.*?```", " ", cell_source, flags=re.S)
    s = re.sub(r"`[^`]*`", " ", s)
    s = re.sub(r"\$\$.*?\$\$", " ", s, flags=re.S)
    s = re.sub(r"\$[^$]*\$", " ", s)
    return re.sub(r"\]\([^)]*\)", "]", s)


def typed_numbers(path: Path) -> list[tuple[str, str]]:
    study = path.stem
    allowed = _paper_numbers(study) | {n for s, n in NOT_RESULTS if s == study}
    hits = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = _prose("".join(cell["source"]))
        for m in DECIMAL.finditer(text):
            if m.group() not in allowed:
                hits.append((m.group(), text[max(0, m.start() - 60):m.end() + 20].replace("\n", " ")))
    return hits


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_decimal_in_prose_is_typed_by_hand(path):
    hits = typed_numbers(path)
    shown = "\n".join(f"  {n}: ...{c}..." for n, c in hits)
    assert not hits, ("decimal numbers typed in the chapter's prose (compute them in the run, or cite the "
                      f"paper's value from paper_values.yml):\n{shown}")


def test_the_check_catches_a_typed_result(tmp_path):
    text = "Our model reaches 0.812 on the test set; `lr=0.3`, $x^{1.5}$."
    nb = {"cells": [{"cell_type": "markdown", "source": [text]}]}
    p = tmp_path / "deep_patient.ipynb"
    p.write_text(json.dumps(nb))
    assert [n for n, _ in typed_numbers(p)] == ["0.812"]
    nb["cells"][0]["source"] = ["The paper's mean AUC was 0.773 (Table 1)."]
    p.write_text(json.dumps(nb))
    assert typed_numbers(p) == []


def test_no_stale_exception():
    """An exception that no chapter needs any more is removed, so the list stays honest."""
    needed = set()
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                needed |= {(path.stem, n) for n in DECIMAL.findall(_prose("".join(cell["source"])))}
    stale = sorted(set(NOT_RESULTS) - needed)
    assert not stale, f"exceptions no chapter uses: {stale}"
