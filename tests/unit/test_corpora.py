"""Readers of annotated corpora (precmed_utils.formats.corpora): PHEE counts, BRAT and CoNLL round trips,
and the errors a malformed file gives."""

from pathlib import Path

import pytest

from precmed_utils.errors import DataError
from precmed_utils.formats import corpora
from precmed_utils.formats import data as registry
from precmed_utils.text import Document, Span, allowed_transition


@pytest.fixture(scope="module")
def phee():
    docs, info = registry.load("phee")
    return docs, info


def test_phee_counts_match_the_documented_ones(phee):
    docs, info = phee
    counts = corpora.phee_entity_counts(docs)
    for split, expected in corpora.PHEE_COUNTS.items():
        assert counts.loc[split].to_dict() == expected, split
    # the numbers in NOTES.md, written independently of the reader
    assert counts.loc["train", "ADE"] == 2725 and counts.loc["test", "Severity"] == 91
    assert counts.loc["dev", "sentences"] == 961


def test_phee_split_by_abstract_and_only_adverse_effects(phee):
    docs, _ = phee
    groups = {s: {d.group for d in docs if d.meta["split"] == s} for s in corpora.SPLITS}
    assert [len(groups[s]) for s in corpora.SPLITS] == [1108, 371, 359]
    assert not (groups["train"] & groups["test"]) and not (groups["train"] & groups["dev"])
    assert sum(d.meta["therapeutic_effects"] for d in docs) > 0, "therapeutic Effects exist and are dropped"
    labels = {s.label for d in docs for s in d.spans}
    assert labels == set(corpora.PHEE_TO_PAPER.values())
    assert "Other SSD" not in labels
    for d in docs[:200]:
        d.check()


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_phee_flattening_reports_what_it_drops_and_tags_are_well_formed(phee, scheme):
    docs, _ = phee
    sents, dropped = corpora.tagged_sentences(docs[:1500], scheme=scheme, max_len=20)
    assert len(sents) > 1500 and dropped, "nested spans exist in PHEE and must be counted"
    assert all(len(x["tokens"]) == len(x["tags"]) for x in sents)
    for x in sents:  # a span cut at max_len is split into two well-formed spans
        tags = [None, *x["tags"], None]
        assert all(allowed_transition(a, b, scheme) for a, b in zip(tags, tags[1:], strict=False)), x["tags"]


def _docs():
    t1 = "Patient took metformin 500 mg orally and developed severe lactic acidosis."
    t2 = "No ADE.\r\nAspirin given for pain."
    return [
        Document("d1", t1, [Span(13, 22, "Drug"), Span(23, 29, "Dosage"), Span(30, 36, "Route"),
                            Span(51, 73, "ADE"), Span(51, 57, "Severity")], group="d1"),
        Document("d2", t2, [Span(9, 16, "Drug"), Span(27, 31, "Indication")], group="d2"),
    ]


def test_brat_round_trip_keeps_text_and_spans_with_crlf(tmp_path):
    docs = _docs()
    corpora.write_brat(docs, tmp_path)
    back = {d.id: d for d in corpora.read_brat(tmp_path)}
    for d in docs:
        assert back[d.id].text == d.text
        assert sorted(back[d.id].spans) == sorted(d.spans)
        assert back[d.id].meta["split"] is None


def test_brat_discontinuous_fragments_and_ignored_lines(tmp_path):
    text = "pain in the left and right legs"
    (tmp_path / "a.txt").write_text(text)
    (tmp_path / "a.ann").write_text(
        "T1\tADE 0 4;27 31\tpain legs\n"
        "T2\tSeverity 12 16\tleft\n"
        "R1\tcauses Arg1:T1 Arg2:T2\n"
        "A1\tNegated T1\n"
        "#1\tAnnotatorNotes T1\tnote\n")
    (d,) = corpora.read_brat(tmp_path)
    assert d.spans == [Span(0, 4, "ADE"), Span(27, 31, "ADE"), Span(12, 16, "Severity")]
    assert d.meta["brat"]["discontinuous"] == 1 and d.meta["brat"]["fragments"] == 2
    assert d.meta["brat"]["ignored_lines"] == 3 and d.meta["brat"]["entities"] == 2


def test_brat_split_subfolders(tmp_path):
    docs = _docs()
    for d, s in zip(docs, ["train", "test"], strict=True):
        d.meta["split"] = s
    corpora.write_brat(docs, tmp_path)
    back = corpora.read_brat(tmp_path)
    assert {d.meta["split"] for d in back} == {"train", "test"}
    out = corpora.assign_splits(back * 1, seed=0)
    assert len(out["test"]) == 1


@pytest.mark.parametrize("ann,expected", [
    ("T1\tDrug 0 4\tpain\nT1\tDrug 5 7\tin\n", "line 2: entity id T1 appears twice"),
    ("T1\tDrug 0\tpain\n", "line 1: malformed entity line"),
    ("T1\tDrug 0 400\tpain\n", "line 1: offsets 0 400 of T1 are outside the 11-character text"),
    ("X1\tsomething\n", "line 1: unknown annotation line"),
    ("T1\tDrug 5 2\tx\n", "line 1: offsets 5 2"),
])
def test_malformed_ann_is_reported_with_its_line(tmp_path, ann, expected):
    (tmp_path / "a.txt").write_text("pain in leg")
    (tmp_path / "a.ann").write_text(ann)
    with pytest.raises(DataError, match=expected.replace("(", r"\(")):
        corpora.read_brat(tmp_path)


def test_brat_folder_problems(tmp_path):
    with pytest.raises(DataError, match="no .ann files"):
        corpora.read_brat(tmp_path)
    (tmp_path / "a.ann").write_text("")
    with pytest.raises(DataError, match="no matching text file a.txt"):
        corpora.read_brat(tmp_path)
    (tmp_path / "a.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(DataError, match="not UTF-8"):
        corpora.read_brat(tmp_path)


CONLL = """-DOCSTART- O

Patient O
took O
metformin B-Drug
500\tB-Dosage
mg\tI-Dosage
. O

He O
developed O
lactic B-ADE
acidosis I-ADE

-DOCSTART- O

Aspirin B-Drug
"""


def test_conll_reader_builds_text_and_spans(tmp_path):
    f = tmp_path / "corpus.conll"
    f.write_text(CONLL)
    d1, d2 = corpora.read_conll(f)
    assert d1.text.startswith("Patient took metformin 500 mg .")
    assert [(d1.text[s.start:s.end], s.label) for s in d1.spans] == [
        ("metformin", "Drug"), ("500 mg", "Dosage"), ("lactic acidosis", "ADE")]
    sents, dropped = corpora.tagged_sentences([d1])
    assert [len(s["tokens"]) for s in sents] == [6, 4] and not dropped
    assert sents[0]["tags"] == ["O", "O", "B-Drug", "B-Dosage", "I-Dosage", "O"]
    assert d2.spans == [Span(0, 7, "Drug")]


def test_conll_round_trip_through_the_writer(tmp_path):
    docs = _docs()
    path = corpora.write_conll(docs, tmp_path / "x.conll")
    back = corpora.read_conll(path)
    orig, _ = corpora.tagged_sentences(docs)
    again, _ = corpora.tagged_sentences(back)
    assert [s["tags"] for s in orig] == [s["tags"] for s in again]
    assert [[t.text for t in s["tokens"]] for s in orig] == [[t.text for t in s["tokens"]] for s in again]


def test_conll_folder_with_splits_and_without_docstart(tmp_path):
    (tmp_path / "train.bio").write_text("a B-X\nb O\n\nc O\nd B-X\n")
    (tmp_path / "dev.bio").write_text("a B-X\n")
    (tmp_path / "test.bio").write_text("d B-X\n")
    docs = corpora.read_conll(tmp_path)
    assert [d.meta["split"] for d in docs] == ["train", "train", "dev", "test"]  # one doc per sentence
    out = corpora.assign_splits(docs, seed=3)
    assert [len(out[s]) for s in corpora.SPLITS] == [2, 1, 1]


@pytest.mark.parametrize("content,expected", [
    ("word\n", "line 1: expected 'token<TAB>tag'"),
    ("a O\nb X-Drug\n", "line 2: malformed tag 'X-Drug'"),
    ("a O\nb Drug\n", "line 2: malformed tag 'Drug'"),
    ("\n\n", "no token lines"),
])
def test_malformed_conll(tmp_path, content, expected):
    f = tmp_path / "bad.conll"
    f.write_text(content)
    with pytest.raises(DataError, match=expected):
        corpora.read_conll(f)


def test_user_corpus_dispatch_and_checks(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        corpora.read_user_corpus(tmp_path / "missing")
    (tmp_path / "plain.conll").write_text("a O\nb O\n")
    with pytest.raises(DataError, match="not a single annotated span"):
        corpora.read_user_corpus(tmp_path / "plain.conll")
    folder = tmp_path / "brat"
    corpora.write_brat(_docs(), folder)
    assert len(corpora.read_user_corpus(folder)) == 2
    reader, description = registry.USER_FORMATS["concept_extraction"]
    assert reader is corpora.read_user_corpus and "BRAT" in description and "CoNLL" in description
    with pytest.raises(DataError, match="no file whose name starts with 'train'"):
        corpora.read_conll(tmp_path)


def test_random_split_keeps_documents_whole():
    docs = [Document(f"s{i}", "x y", [Span(0, 1, "A")], group=f"doc{i // 3}") for i in range(30)]
    out = corpora.assign_splits(docs, seed=1)
    seen = [{d.group for d in out[s]} for s in corpora.SPLITS]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(len(v) for v in out.values()) == 30
    assert out == corpora.assign_splits(docs, seed=1)
    with pytest.raises(DataError, match="at least 3"):
        corpora.assign_splits(docs[:3], seed=0)


def test_mapping_table_names_the_missing_tag():
    t = corpora.mapping_table()
    assert t.loc["Other SSD", "PHEE type"] == "—"
    assert t.loc["ADE", "PHEE type"] == "Effect"
    assert Path(registry.data_dir() / "phee" / "LICENSE").exists()
