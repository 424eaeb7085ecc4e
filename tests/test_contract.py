"""The notebook contract: every study notebook is shaped the way the runner and the book need."""

import json
import re

import pytest
import yaml
from helpers import ROOT
from papermill.translators import PythonTranslator

from precmed_utils.params import parameters_cell, parse_parameters_cell, profile_overrides, validate
from precmed_utils.studies import implemented_studies, paper_values
from precmed_utils.tools.teaching import exercises_of

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REQUIRED = {"seed", "device", "data", "output_dir"}


def test_there_are_notebooks():
    assert NOTEBOOKS, "no study notebooks found"
    assert {p.stem for p in NOTEBOOKS} == set(implemented_studies())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_contract(path):
    nb = json.loads(path.read_text())
    study = path.stem
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    ids = [c.get("id") for c in nb["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), "every cell has an id of its own (nbformat 4.5)"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert not c.get("outputs") and c.get("execution_count") is None, "outputs are stripped"
    params = parse_parameters_cell(parameters_cell(nb))
    assert {p.name for p in params} >= REQUIRED
    # papermill reads the same cell (for --help-notebook and its unknown-parameter warning); a comment
    # it cannot parse (e.g. one containing "=") would make it call a real parameter unknown
    seen = [p.name for p in PythonTranslator.inspect({"source": parameters_cell(nb)})]
    assert seen == [p.name for p in params], (
        "papermill cannot parse some parameter lines (an '=' in a comment?)")
    assert all(p.help for p in params), "every parameter has a comment documenting it"
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "{cite}`" in text, "the notebook cites its paper"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("nbval-check-output" in c.get("metadata", {}).get("tags", []) for c in code), \
        "some cells are re-checked by nbval (tag nbval-check-output)"
    assert not any("NBVAL" in "".join(c["source"]) for c in code), \
        "nbval's markers are cell tags, not comments a reader sees"
    saves = [c for c in code if "run.save(" in "".join(c["source"])]
    assert saves and all("remove-cell" in c.get("metadata", {}).get("tags", []) for c in saves), \
        "the bookkeeping cell that saves metrics.json is hidden from the book (tag remove-cell)"
    assert study in paper_values()["studies"], "listed in paper_values.yml"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert f"book/studies/{study}" in files, "listed in _toc.yml"
    for profile in ("smoke", "paper"):
        validate(study, profile_overrides(study, profile), partial=True)


# Code cells a reader can take in at once: the parameters cell (one line per parameter) and a model
# class that is one definition are the only ones allowed past the limit.
MAX_CELL_LINES = 45
LONG_CELLS_ALLOWED = {("drug_response", "class DrVAE"): 70}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    nb = json.loads(path.read_text())
    for k, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code" or "parameters" in c.get("metadata", {}).get("tags", []):
            continue
        src = "".join(c["source"])
        limit = max([MAX_CELL_LINES] + [n for (study, start), n in LONG_CELLS_ALLOWED.items()
                                         if study == path.stem and src.startswith(start)])
        assert len(src.splitlines()) <= limit, (
            f"cell {k} has {len(src.splitlines())} lines (at most {limit}): split it at a top-level "
            "statement")


def test_paper_values_are_complete():
    pv = paper_values()
    for sid, info in pv["studies"].items():
        for key in ("title", "survey_ref", "citations", "data_kind", "headline", "claims"):
            assert key in info, f"{sid}: {key}"
        assert info["data_kind"] in ("same", "open substitute", "simulated")
        assert "verified" in info["headline"] and "source" in info["headline"]
        allowed = {"metric", "key", "value", "verified", "source", "comparable"}
        for entry in [info["headline"], *info.get("values", [])]:
            assert set(entry) <= allowed, f"{sid}: unexpected keys {set(entry) - allowed} (unquoted comma?)"
        for c in info["claims"]:
            assert {"id", "claim", "rule", "set"} <= set(c)
    bib = (ROOT / "book" / "references.bib").read_text()
    for sid, info in pv["studies"].items():
        for key in info["citations"]:
            assert "{" + key + "," in bib, f"{sid}: citation {key} missing from references.bib"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_ends_with_exercises_and_hidden_solutions(path):
    """The exercises the instructor appendix is generated from (precmed_utils.tools.teaching)."""
    nb = json.loads(path.read_text())
    exercises = exercises_of(nb)
    assert len(exercises) >= 3, "at least three exercises under '## Exercises'"
    assert [e.number for e in exercises] == list(range(1, len(exercises) + 1)), "numbered 1, 2, 3..."
    for e in exercises:
        assert e.text, f"exercise {e.number} has a text"
        assert e.solution, f"exercise {e.number} is followed by its own Solution admonition"
        assert e.hidden, f"exercise {e.number}: the solution is hidden (`:class: dropdown`)"
    names = [p.name for p in parse_parameters_cell(parameters_cell(nb))]
    assert any(re.search(rf"\b{n}\s*=", e.text) for e in exercises for n in names), (
        "at least one exercise changes a parameter of the notebook (`name=value`)")
