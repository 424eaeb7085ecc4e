"""Scores for sequence labelling, in the forms the clinical-NLP papers report.

- :func:`exact_phrase_scores`: Jagannatha & Yu's strict exact-phrase score (and a relaxed
  variant). A phrase is a maximal run of tokens with the same label (the scheme's B-/I- prefixes
  are ignored, so two adjacent spans of one type count as one phrase). A phrase is found only if
  the other side has the same label on exactly the same tokens. Per-label recall and precision
  are averaged with weights equal to each label's gold phrase count, and F is computed from those
  two averages. This is not the usual micro-F1.
- :func:`entity_scores`: the usual entity-level micro scores (conlleval, seqeval's default),
  per type and overall, with exact or overlap matching.
- :func:`binary_token_scores`: token-level "entity or not" precision/recall/F1, the headline
  of the de-identification papers (NeuroNER's ``binary`` evaluation).

Used by concept_extraction and deidentification (later temporal_events, relation_extraction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd

from . import OUTSIDE, strip_tags, tags_to_spans


def _prf(tp: float, n_pred: float, n_gold: float) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def phrases(labels: Sequence[str]) -> list[tuple[str, int, int]]:
    """Maximal runs of one label, ``(label, start, end)``, ``O`` excluded. Prefixes are ignored."""
    labels = strip_tags(labels)
    out, i = [], 0
    while i < len(labels):
        j = i
        while j < len(labels) and labels[j] == labels[i]:
            j += 1
        if labels[i] != OUTSIDE:
            out.append((labels[i], i, j))
        i = j
    return out


def _check_pairs(gold, pred):
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sequences but {len(pred)} predicted ones")
    for k, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sequence {k}: {len(g)} gold tags but {len(p)} predicted tags")


def _overlap_hits(items, others) -> int:
    """How many of ``items`` (label, a, b) overlap some item of ``others`` with the same label."""
    by_label = {}
    for lab, a, b in others:
        by_label.setdefault(lab, []).append((a, b))
    return sum(any(a < d and c < b for c, d in by_label.get(lab, ())) for lab, a, b in items)


def exact_phrase_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *,
                        relaxed: bool = False) -> tuple[dict, pd.DataFrame]:
    """Jagannatha & Yu's phrase score over sentences of tags (any scheme, or plain labels).

    ``relaxed=True`` counts a phrase as found when the other side has the same label on at least
    one of its tokens (our reading of the paper's "relaxed" score; its code does not define it).
    Returns the overall ``{"precision", "recall", "f1", "n_gold"}`` and a per-label table with
    gold and predicted phrase counts.
    """
    _check_pairs(gold, pred)
    n_gold, n_pred, hit_gold, hit_pred = Counter(), Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        gp, pp = phrases(g), phrases(p)
        n_gold.update(x[0] for x in gp)
        n_pred.update(x[0] for x in pp)
        if relaxed:
            for lab, a, b in gp:
                hit_gold[lab] += _overlap_hits([(lab, a, b)], pp)
            for lab, a, b in pp:
                hit_pred[lab] += _overlap_hits([(lab, a, b)], gp)
        else:
            both = set(gp) & set(pp)
            hit_gold.update(x[0] for x in both)
            hit_pred.update(x[0] for x in both)
    rows = []
    for lab in sorted(set(n_gold) | set(n_pred)):
        r = hit_gold[lab] / n_gold[lab] if n_gold[lab] else 0.0
        p = hit_pred[lab] / n_pred[lab] if n_pred[lab] else 0.0
        rows.append({"label": lab, "n_gold": n_gold[lab], "n_pred": n_pred[lab], "recall": r, "precision": p,
                     "f1": 2 * p * r / (p + r) if p + r else 0.0})
    cols = ["label", "n_gold", "n_pred", "recall", "precision", "f1"]
    table = pd.DataFrame(rows, columns=cols).set_index("label")
    total = int(table["n_gold"].sum())
    if total:
        r = float((table["recall"] * table["n_gold"]).sum() / total)
        p = float((table["precision"] * table["n_gold"]).sum() / total)
    else:
        r = p = 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "n_gold": total}, table


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, scheme: str = "BIO",
                  overlap: bool = False) -> tuple[dict, pd.DataFrame]:
    """Entity-level micro precision/recall/F1 (exact boundaries and type; ``overlap=True``:
    same type and at least one shared token), and a per-type table."""
    _check_pairs(gold, pred)
    n_gold, n_pred, tp_gold, tp_pred = Counter(), Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        gs, ps = tags_to_spans(g, scheme), tags_to_spans(p, scheme)
        n_gold.update(x[0] for x in gs)
        n_pred.update(x[0] for x in ps)
        if overlap:
            for x in gs:
                tp_gold[x[0]] += _overlap_hits([x], ps)
            for x in ps:
                tp_pred[x[0]] += _overlap_hits([x], gs)
        else:
            both = Counter(gs) & Counter(ps)
            for x, c in both.items():
                tp_gold[x[0]] += c
                tp_pred[x[0]] += c
    rows = []
    for lab in sorted(set(n_gold) | set(n_pred)):
        p = tp_pred[lab] / n_pred[lab] if n_pred[lab] else 0.0
        r = tp_gold[lab] / n_gold[lab] if n_gold[lab] else 0.0
        rows.append({"label": lab, "n_gold": n_gold[lab], "n_pred": n_pred[lab], "precision": p, "recall": r,
                     "f1": 2 * p * r / (p + r) if p + r else 0.0})
    cols = ["label", "n_gold", "n_pred", "precision", "recall", "f1"]
    table = pd.DataFrame(rows, columns=cols).set_index("label")
    p = sum(tp_pred.values()) / sum(n_pred.values()) if sum(n_pred.values()) else 0.0
    r = sum(tp_gold.values()) / sum(n_gold.values()) if sum(n_gold.values()) else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "n_gold": sum(n_gold.values())}, table


def binary_token_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Token-level precision/recall/F1 of "inside some entity" vs ``O``, whatever the type."""
    _check_pairs(gold, pred)
    tp = fp = fn = 0
    for g, p in zip(gold, pred, strict=True):
        for a, b in zip(g, p, strict=True):
            ga, pb = a != OUTSIDE, b != OUTSIDE
            tp += ga and pb
            fp += pb and not ga
            fn += ga and not pb
    p, r, f = _prf(tp, tp + fp, tp + fn)
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}
