"""Relation corpora (PHEE events, EU-ADR, i2b2 2010), candidates, features, scores, KL penalty."""

import json
import math
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.metrics import precision_recall_fscore_support

from precmed_utils.errors import DataError
from precmed_utils.formats import data as registry
from precmed_utils.studies import relations as rel

PHEE_JSON = [registry.data_dir() / f"phee/json_{s}.json" for s in ("train", "dev", "test")]


# --- PHEE ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phee():
    corpus, info = registry.load("phee_relations")
    return corpus


def _json_triples(split):
    """Distinct (sentence, drug id, argument id, label) triples straight from the json."""
    out = set()
    with open(registry.data_dir() / f"phee/json_{split}.json", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out |= {(r["id"], d, e, lab) for d, e, lab in rel.phee_event_relations(r)[0]}
    return out


def test_phee_event_relations_of_one_row():
    row = {"id": "1_0", "annotations": [{"events": [
        {"event_type": "Adverse_event",
         "Treatment": {"entity_id": ["T1"], "Drug": {"entity_id": ["T2", "T3"]},
                       "Disorder": {"entity_id": ["T4"]}, "Route": {"entity_id": ["T5"]}},
         "Effect": {"entity_id": ["T6"]}},
        {"event_type": "Potential_therapeutic_event",
         "Treatment": {"entity_id": ["T7"], "Drug": {"entity_id": ["T8"]}},
         "Effect": {"entity_id": ["T9"]}},
    ]}]}
    rels, therapeutic = rel.phee_event_relations(row)
    assert sorted(rels) == sorted([("T2", "T6", "ADE"), ("T3", "T6", "ADE"), ("T2", "T4", "Indication"),
                                   ("T3", "T4", "Indication"), ("T2", "T5", "Route"), ("T3", "T5", "Route")])
    assert therapeutic == {"T9"}


def test_phee_relation_counts_match_the_json(phee):
    """Every gold relation of the corpus is a json triple (after merging concepts repeated per
    event), and the json's triples are all accounted for: kept, or counted as merged/conflicting."""
    by_split = Counter((s.split, lab) for s in phee.sentences for lab in s.relations.values())
    json_counts = rel.phee_relation_counts(PHEE_JSON)
    total_json = 0
    for split in ("train", "dev", "test"):
        triples = _json_triples(split)
        distinct = Counter(lab for *_, lab in triples)
        total_json += len(triples)
        for lab in rel.PHEE_LABELS:
            assert by_split[(split, lab)] <= distinct[lab] <= json_counts.loc[split, lab]
    # training split, label ADE: the corpus's count checked against the json by hand-free recount
    assert json_counts.loc["train", "ADE"] == 3237
    ours = sum(len(s.relations) for s in phee.sentences)
    m = phee.meta
    lost = m.get("conflicting_labels", 0) + m.get("relations_without_concept", 0)
    merged = total_json - ours - lost
    assert 0 <= merged <= m.get("merged_duplicates", 0) + m.get("duplicate_relations", 0) + lost
    assert ours == 9176  # 5,391 train + 1,857 dev + 1,928 test; see the chapter's cohort table


def test_phee_candidates_hold_every_relation(phee):
    cands, stats = rel.candidates(phee)
    assert stats["missed"] == 0
    assert stats["gold"] == sum(len(s.relations) for s in phee.sentences)
    assert sum(c.label != rel.NONE for c in cands) == stats["gold"]
    assert {(c.arg1.type, c.arg2.type) for c in cands} <= set(rel.PHEE_LEGAL)
    assert [s.split for s in phee.sentences].count("train") == 2898


# --- EU-ADR -------------------------------------------------------------------------------------


def test_euadr_reader():
    corpus, info = registry.load("euadr")
    assert info["sha256"]
    assert corpus.meta["rows_PA"] == 162 and corpus.meta["rows_FA"] == 68
    assert corpus.meta["rows_SA"] == 12 and corpus.meta["rows_NA"] == 2
    assert corpus.meta["surface_mismatch"] == 0
    assert len({s.group for s in corpus.sentences}) == 62
    rels = sum(len(s.relations) for s in corpus.sentences)
    assert rels == 162 + 12 + 2  # PA + SA + NA; FA rows are no relation
    cands, stats = rel.candidates(corpus)
    assert stats["missed"] == 0 and len(cands) >= 244


def test_euadr_malformed(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("\t".join(f'"{c}"' for c in rel.EUADR_COLUMNS) + "\n"
                 '"XX"\t1\t0\t"a"\t0\t1\t"Diseases & Disorders"\t"b"\t2\t3\t"Chemicals & Drugs"\t"a b"\n')
    with pytest.raises(DataError, match="line 2: association type 'XX'"):
        rel.read_euadr(p)
    p.write_text("a\tb\n")
    with pytest.raises(DataError, match="line 1: expected the EU-ADR header"):
        rel.read_euadr(p)


# --- i2b2 2010 ----------------------------------------------------------------------------------

TXT = "Aspirin was given for chest pain .\nCT scan showed a mass and bleeding ."
CON = ('c="aspirin" 1:0 1:0||t="treatment"\nc="chest pain" 1:4 1:5||t="problem"\n'
       'c="ct scan" 2:0 2:1||t="test"\nc="a mass" 2:3 2:4||t="problem"\nc="bleeding" 2:6 2:6||t="problem"\n')
REL = ('c="aspirin" 1:0 1:0||r="TrAP"||c="chest pain" 1:4 1:5\n'
       'c="ct scan" 2:0 2:1||r="TeRP"||c="a mass" 2:3 2:4\n')


def _note(folder, txt=TXT, con=CON, rel_text=REL, layout="sub"):
    if layout == "sub":
        for d in ("txt", "concept", "rel"):
            (folder / d).mkdir(parents=True, exist_ok=True)
        (folder / "txt" / "n1.txt").write_text(txt)
        (folder / "concept" / "n1.con").write_text(con)
        (folder / "rel" / "n1.rel").write_text(rel_text)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "n1.txt").write_text(txt)
        (folder / "n1.con").write_text(con)
        (folder / "n1.rel").write_text(rel_text)
    return folder


@pytest.mark.parametrize("layout", ["sub", "flat"])
def test_i2b2_reader(tmp_path, layout):
    corpus = rel.read_i2b2_relations(_note(tmp_path / "c", layout=layout))
    assert [len(s.concepts) for s in corpus.sentences] == [2, 3]
    assert corpus.meta["relations"] == 2 and corpus.meta["surface_mismatch"] == 0
    s1, s2 = corpus.sentences
    assert list(s1.relations.values()) == ["TrAP"]
    cands, stats = rel.candidates(corpus)
    # line 1: treatment-problem; line 2: test-mass, test-bleeding, mass-bleeding
    assert len(cands) == 4 and stats["missed"] == 0
    assert Counter(c.label for c in cands) == Counter({"TrAP": 1, "TeRP": 1, rel.NONE: 2})
    tp = next(c for c in cands if c.label == "TrAP")
    assert (tp.arg1.type, tp.arg2.type) == ("treatment", "problem")
    assert s1.tokens[tp.arg2.start:tp.arg2.end] == ["chest", "pain"]


def test_i2b2_round_trip(tmp_path):
    corpus = rel.read_i2b2_relations(_note(tmp_path / "a"))
    rel.write_i2b2_relations(corpus, tmp_path / "b")
    again = rel.read_i2b2_relations(tmp_path / "b")
    assert [(s.tokens, s.concepts, s.relations) for s in again.sentences] == \
        [(s.tokens, s.concepts, s.relations) for s in corpus.sentences]


def test_i2b2_splits(tmp_path):
    _note(tmp_path / "c" / "train")
    _note(tmp_path / "c" / "test")
    corpus = rel.read_i2b2_relations(tmp_path / "c")
    assert {s.split for s in corpus.sentences} == {"train", "test"}


@pytest.mark.parametrize("con,rel_text,expected", [
    ('c="aspirin" 1:0 1:0 t="treatment"\n', "", "n1.con, line 1: malformed concept line"),
    ('c="aspirin" 1:0 1:0||t="drug"\n', "", "n1.con, line 1: concept type 'drug'"),
    ('c="x" 1:0 1:0||t="problem"\nc="x" 9:0 9:0||t="problem"\n', "", "n1.con, line 2: line 9 does not exist"),
    ('c="x" 1:5 1:9||t="problem"\n', "", "n1.con, line 1: tokens 5-9 outside line 1"),
    ('c="x" 1:0 2:1||t="problem"\n', "", "the concept spans lines 1 and 2"),
    (CON, 'c="aspirin" 1:0 1:0||r="TrAP"\n', "n1.rel, line 1: malformed relation line"),
    (CON, 'c="aspirin" 1:0 1:0||r="TrAP"||c="x" 1:2 1:2\n', "n1.rel, line 1: no concept at 1:2 1:2"),
    (CON, 'c="aspirin" 1:0 1:0||r="TrAP"||c="a mass" 2:3 2:4\n', "lie on lines 1 and 2"),
    (CON, "", "not a single relation"),
])
def test_i2b2_malformed(tmp_path, con, rel_text, expected):
    folder = _note(tmp_path / "c", con=con, rel_text=rel_text)
    with pytest.raises(DataError, match=expected.replace("(", r"\(")) as err:
        rel.read_i2b2_relations(folder)
    assert "chest" not in str(err.value)  # the note's text is never echoed


def test_i2b2_missing_pieces(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        rel.read_i2b2_relations(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .con concept files"):
        rel.read_i2b2_relations(tmp_path / "empty")
    folder = _note(tmp_path / "c")
    (folder / "txt" / "n1.txt").unlink()
    with pytest.raises(DataError, match="no text file n1.txt"):
        rel.read_i2b2_relations(folder)


def test_user_format_is_registered(tmp_path):
    reader, description = registry.USER_FORMATS["relation_extraction"]
    assert reader is rel.read_i2b2_relations and "||r=" in description
    registry.check_user_file("relation_extraction", _note(tmp_path / "c"))


# --- features, scores, KL -----------------------------------------------------------------------


def test_pair_features():
    s = rel.RelSentence("s", ["aspirin", "caused", "severe", "rash", "today"],
                        [rel.Concept("a", 0, 1, "treatment"), rel.Concept("b", 3, 4, "problem")])
    f = rel.pair_features(s, s.concepts[0], s.concepts[1], {"caused": 7}, window=1)
    assert f["btw=caused"] == 1.0 and f["btw=severe"] == 1.0 and f["btc=7"] == 1.0 and f["btc=?"] == 1.0
    assert f["bt_firstw=caused"] == 1.0 and f["bt_lastw=severe"] == 1.0
    assert "dist=2" in f and "arg1_first=True" in f and "postw=today" in f
    assert not any(k.startswith("prew") for k in f)


def test_relation_scores_match_sklearn():
    rng = np.random.default_rng(0)
    labs = ["A", "B", rel.NONE]
    gold = rng.choice(labs, 200).tolist()
    pred = rng.choice(labs, 200).tolist()
    micro, table = rel.relation_scores(gold, pred, ["A", "B"])
    p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=["A", "B"], average="micro")
    assert math.isclose(micro["precision"], p) and math.isclose(micro["recall"], r)
    assert math.isclose(micro["f1"], f)
    pc = precision_recall_fscore_support(gold, pred, labels=["A", "B"], average=None)
    assert np.allclose(table["f1"].to_numpy(), pc[2])
    # missed gold relations are false negatives
    m2, _ = rel.relation_scores(["A", rel.NONE], ["A", rel.NONE], ["A"], missed=1)
    assert m2["precision"] == 1.0 and m2["recall"] == 0.5


def test_kl_sparsity_by_hand():
    rho, q = 0.05, [0.1, 0.02, 0.05]
    hand = sum(rho * math.log(rho / x) + (1 - rho) * math.log((1 - rho) / (1 - x)) for x in q)
    # 0.05 ln(0.5) + 0.95 ln(0.95/0.9) = 0.0167 ; 0.05 ln(2.5) + 0.95 ln(0.95/0.98) = 0.0163 ; 0
    assert math.isclose(hand, 0.016705 + 0.016279, abs_tol=2e-5)
    assert math.isclose(rel.kl_sparsity(rho, q), hand, rel_tol=1e-9)
    t = rel.kl_sparsity(rho, torch.tensor(q, dtype=torch.float64))
    assert math.isclose(float(t), hand, rel_tol=1e-9)
    assert rel.kl_sparsity(rho, [rho, rho]) == 0.0
    with pytest.raises(ValueError, match="rho"):
        rel.kl_sparsity(1.0, q)
