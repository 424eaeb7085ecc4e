"""The anchors of paper_values.yml: published systems evaluated on the same open data as a chapter.

Each anchor must be complete (key, metric, value, source, verified), carry its value on our
metric's scale, say "[U]" when unverified, and name a metric key that its chapter's notebook really
computes: the key must match one of the notebook's metric-key templates (its f-strings and string
constants with a "/"), and every part of the key a template leaves open must be a word of the
notebook's code (a model name, a metric name, a dataset parameter).
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from precmed_utils.studies import notebook_path, paper_values

REQUIRED = {"key", "metric", "value", "source", "verified"}
ALLOWED = REQUIRED | {"comparable"}
SCORE_SUFFIXES = ("f1", "auc", "precision", "recall", "accuracy")


def anchors():
    return [(sid, i, a) for sid, info in paper_values()["studies"].items()
            for i, a in enumerate(info.get("anchors") or [])]


ANCHOR_IDS = [f"{sid}-{i}" for sid, i, _ in anchors()]


def notebook_code(study: str) -> str:
    nb = json.loads(notebook_path(study).read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def key_templates(code: str) -> list[re.Pattern]:
    """A regular expression per string in the code that looks like a metric key: constants are
    matched literally, each f-string placeholder matches one path segment."""
    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.JoinedStr):
            parts = [re.escape(v.value) if isinstance(v, ast.Constant) else f"(?P<s{k}>[^/]+)"
                     for k, v in enumerate(node.values)]
            pattern = "".join(parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            pattern = re.escape(node.value)
        else:
            continue
        if "/" in pattern:
            out.append(re.compile(pattern))
    return out


def computed_by(key: str, code: str) -> bool:
    words = set(re.findall(r"[A-Za-z0-9_\-]+", code))
    for t in key_templates(code):
        m = t.fullmatch(key)
        if m and all(seg in words for seg in m.groupdict().values()):
            return True
    return False


def test_there_are_anchors():
    assert anchors(), "paper_values.yml lists no anchors"


@pytest.mark.parametrize("sid,i,a", anchors(), ids=ANCHOR_IDS)
def test_anchor_is_complete(sid, i, a):
    assert set(a) >= REQUIRED, f"{sid} anchor {i}: missing {REQUIRED - set(a)}"
    assert set(a) <= ALLOWED, f"{sid} anchor {i}: unexpected keys {set(a) - ALLOWED} (unquoted comma?)"
    assert a["verified"] in (True, False, "secondary"), f"{sid} anchor {i}: verified is {a['verified']!r}"
    assert a.get("comparable", True) in (True, False)
    assert isinstance(a["source"], str) and a["source"].strip()
    if a["verified"] is False:
        assert "[U]" in a["source"], f"{sid} anchor {i}: an unverified value says [U] in its source"
    assert isinstance(a["value"], (int, float)) and not isinstance(a["value"], bool), (
        f"{sid} anchor {i}: an anchor is a published number")
    if a["key"].rsplit("/", 1)[-1].endswith(SCORE_SUFFIXES):
        assert isinstance(a["value"], float) and 0.0 <= a["value"] <= 1.0, (
            f"{sid} anchor {i}: {a['key']} is a fraction in [0, 1] (not a percentage), got {a['value']}")


@pytest.mark.parametrize("sid,i,a", anchors(), ids=ANCHOR_IDS)
def test_anchor_key_is_computed_by_the_notebook(sid, i, a):
    assert notebook_path(sid).exists(), f"{sid}: no notebook"
    assert computed_by(a["key"], notebook_code(sid)), (
        f"{sid} anchor {i}: no metric key template of notebooks/{sid}.ipynb produces {a['key']!r}")


def test_key_check_can_fail():
    code = 'name = "char_word"\nk = "binary_f1"\nours[f"physionet_deid/{name}/{k}"] = 1\n'
    assert computed_by("physionet_deid/char_word/binary_f1", code)
    assert not computed_by("physionet_deid/char_word/token_f1", code)  # a metric the code never names
    assert not computed_by("physionet/char_word/binary_f1", code)  # another dataset prefix
    assert not computed_by("physionet_deid/char_word/binary/f1", code)  # a placeholder is one segment


def test_relative_gains_are_percentages():
    """A relative gain is shown in percent on every page (the paper's "up to 23%" beside ours, not a
    fraction 0.230 beside percents): its key ends in _pct, its metric says %, a published value is on
    the percent scale, and its chapter computes that key."""
    seen = 0
    for sid, info in paper_values()["studies"].items():
        for v in [info["headline"], *info.get("values", [])]:
            if not (v["key"].endswith("_pct") or ("relative" in v["metric"] and "gain" in v["metric"])):
                continue
            seen += 1
            assert v["key"].endswith("_pct"), f"{sid}: the relative gain {v['key']} is keyed as a percentage"
            assert "%" in v["metric"], f"{sid}: the metric of {v['key']} says it is in %"
            assert v["value"] is None or not 0 < abs(v["value"]) < 1, (
                f"{sid}: {v['key']} = {v['value']} looks like a fraction, not a percentage")
            if notebook_path(sid).exists():
                assert computed_by(v["key"], notebook_code(sid)), (
                    f"{sid}: the notebook does not compute {v['key']}")
    assert seen, "no relative gain in paper_values.yml"
