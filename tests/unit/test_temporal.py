"""Temporal readers and scores (precmed_utils.studies.temporal): E3C's official split counts, the layer-3
licence filter, Anafora round trips and the errors malformed Anafora files give, and the exact
character-offset span score."""

from pathlib import Path

import pytest

from precmed_utils.errors import DataError
from precmed_utils.formats import data as registry
from precmed_utils.studies import temporal
from precmed_utils.text import Document, Span


@pytest.fixture(scope="module")
def e3c():
    docs, info = registry.load("e3c_english")
    return docs, info


def test_e3c_official_split_counts(e3c):
    docs, info = e3c
    # NOTES.md, counted independently of this reader: train 36 docs, 12,657 tokens, 2,042 EVENT,
    # 177 TIMEX3; test 48 docs, 16,702 tokens, 2,843 EVENT, 203 TIMEX3
    expected = {"train": (36, 12657, 2042, 177), "test": (48, 16702, 2843, 203)}
    for split, (n_docs, n_tok, n_ev, n_tx) in expected.items():
        part = [d for d in docs if d.meta["split"] == split]
        assert len(part) == n_docs
        assert sum(len(d.meta["tokens"]) for d in part) == n_tok
        assert sum(s.label == "EVENT" for d in part for s in d.spans) == n_ev
        assert sum(s.label == "TIMEX3" for d in part for s in d.spans) == n_tx
        assert temporal.E3C_SPLIT_COUNTS[split] == {"documents": n_docs, "tokens": n_tok, "EVENT": n_ev,
                                                    "TIMEX3": n_tx}
    assert info["sha256"] and info["licence"].startswith("CC BY-NC")


def test_e3c_documents_are_consistent(e3c):
    docs, _ = e3c
    assert len({d.id for d in docs}) == 84 and all(d.id.startswith("EN") for d in docs)
    assert "EN100017" in {d.id for d in docs if d.meta["split"] == "train"}
    before = sum(v == "BEFORE" for d in docs for v in d.meta["doctimerel"].values())
    events = sum(len(d.meta["doctimerel"]) for d in docs)
    assert events == 4885 and round(before / events, 2) == 0.78  # NOTES.md: 78% BEFORE
    for d in docs:
        d.check()
        toks = d.meta["tokens"]
        assert all(d.text[t.start:t.end] == t.text for t in toks)
        starts, ends = {t.start for t in toks}, {t.end for t in toks}
        assert all(s.start in starts and s.end in ends for s in d.spans), "spans fall on DKPro tokens"
        # every token belongs to exactly one sentence, in order
        covered = [i for a, b in d.meta["sentences"] for i in range(a, b)]
        assert covered == list(range(len(toks)))


def test_layer3_licence_filter():
    path = registry.data_dir() / "e3c_english/e3c_english_layer3_unannotated.tar.gz"
    permissive = temporal.read_layer3(path)
    assert len(permissive) == 8081  # NOTES.md: CC BY 7,391 + CC BY 4.0 552 + CC BY-SA 138
    assert set(permissive.licences) == {"CC BY", "CC BY-SA"}
    assert permissive.skipped == {"CC BY-NC": 1670, "CC BY-NC-SA": 28}
    few = temporal.read_layer3(path, licences=temporal.PERMISSIVE_LICENCES + temporal.NONCOMMERCIAL_LICENCES,
                               max_docs=10)
    assert len(few) == 10 and few.skipped["(over max_docs)"] == 9779 - 10
    assert temporal.normalise_licence("CC BY 4.0") == "CC BY"


def test_split_file_parsing(tmp_path):
    f = tmp_path / "split.txt"
    f.write_text("intro\n\nBASQUE\n'EU1', 'EU2'\n\nENGLISH\n'EN1', 'EN22'\n\nFRENCH\n'FR1'\n")
    assert temporal.e3c_train_ids(f) == {"EN1", "EN22"}
    with pytest.raises(DataError, match="no section 'GERMAN'"):
        temporal.e3c_train_ids(f, "GERMAN")


def _docs():
    text = "Seen on 2 May 2014.\r\nBiopsy was negative; surgery planned."
    return [
        Document("note1", text, [Span(0, 4, "EVENT"), Span(8, 18, "TIMEX3"), Span(21, 27, "EVENT"),
                                 Span(49, 56, "EVENT")], "note1",
                 {"doctimerel": {(0, 4): "BEFORE", (21, 27): "BEFORE", (49, 56): "AFTER"}}),
        Document("note2", "No pain.", [Span(3, 7, "EVENT")], "note2", {"doctimerel": {}}),
    ]


def test_anafora_round_trip(tmp_path):
    docs = _docs()
    folder = temporal.write_anafora(docs, tmp_path / "corpus")
    assert (folder / "note1" / "note1").exists()
    back = sorted(temporal.read_anafora(folder), key=lambda d: d.id)
    for a, b in zip(docs, back, strict=True):
        assert (a.id, a.text, a.spans, a.meta["doctimerel"]) == (b.id, b.text, b.spans, b.meta["doctimerel"])
        assert b.meta["split"] is None
    # with split folders
    for d in docs:
        d.meta["split"] = "train" if d.id == "note1" else "test"
    back = temporal.read_anafora(temporal.write_anafora(docs, tmp_path / "split"))
    assert {d.id: d.meta["split"] for d in back} == {"note1": "train", "note2": "test"}


def _anafora(tmp_path, xml, text="The patient had a colonoscopy.", name="doc1", layout="flat"):
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    if layout == "flat":
        (folder / f"{name}.txt").write_text(text)
        (folder / f"{name}.Temporal-Relation.gold.completed.xml").write_text(xml)
    else:
        (folder / name).mkdir()
        (folder / name / name).write_text(text)
        (folder / name / f"{name}.Temporal-Relation.gold.completed.xml").write_text(xml)
    return folder


def _entity(span="18,29", type_="EVENT", eid="1@e@doc1@gold", props="<DocTimeRel>BEFORE</DocTimeRel>"):
    return (f"<entity>\n<id>{eid}</id>\n<span>{span}</span>\n<type>{type_}</type>\n"
            f"<properties>{props}</properties>\n</entity>")


def _xml(*entities):
    body = "\n".join(entities)
    return f"<?xml version='1.0'?>\n<data>\n<annotations>\n{body}\n</annotations>\n</data>\n"


@pytest.mark.parametrize("layout", ["flat", "thyme"])
def test_anafora_reads_both_layouts_and_ignores_other_types(tmp_path, layout):
    xml = _xml(_entity(), _entity("0,3", "DOCTIME", "2@e@doc1@gold", ""),
               _entity("4,11;12,15", "EVENT", "3@e", ""))
    (doc,) = temporal.read_anafora(_anafora(tmp_path, xml, layout=layout))
    assert doc.spans == [Span(4, 11, "EVENT"), Span(12, 15, "EVENT"), Span(18, 29, "EVENT")]
    assert doc.meta["doctimerel"] == {(18, 29): "BEFORE"}
    assert doc.meta["ignored_types"] == {"DOCTIME": 1}


@pytest.mark.parametrize("xml,expected", [
    ("<data><annotations><entity>", "line 1, column 28: not well-formed XML"),
    ("<?xml version='1.0'?>\n<corpus/>", "line 2: root element <corpus>, expected <data>"),
    ("<data>\n<info/>\n</data>", "line 1: no <annotations> element"),
    (_xml(_entity(span="18-29")), "line 6, <span> of 1@e@doc1@gold: '18-29' is not 'start,end'"),
    (_xml(_entity(span="18,999")), "end 999 is past the end of the 30-character text"),
    (_xml(_entity(span="20,18")), "start 20 is not before end 18"),
    (_xml("<entity><id>7@e</id><span>1,2</span></entity>"), "line 4, <entity> 7@e: no <type>"),
    (_xml("<entity><span>1,2</span><type>EVENT</type></entity>"), "line 4, <entity>: no <id>"),
    (_xml("<entity><id>8@e</id><type>TIMEX3</type></entity>"), "<entity> 8@e: no <span>"),
])
def test_malformed_anafora_names_file_line_and_element(tmp_path, xml, expected):
    folder = _anafora(tmp_path, xml)
    with pytest.raises(DataError) as err:
        temporal.read_anafora(folder)
    msg = str(err.value)
    assert expected in msg
    assert "doc1.Temporal-Relation.gold.completed.xml" in msg
    assert "colonoscopy" not in msg, "no message may quote the document's text"


def test_anafora_folder_problems(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        temporal.read_anafora(tmp_path / "missing")
    f = tmp_path / "file.xml"
    f.write_text("<data/>")
    with pytest.raises(DataError, match="is a file, expected a folder"):
        temporal.read_anafora(f)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no documents found"):
        temporal.read_anafora(empty)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "n1.Temporal.xml").write_text(_xml(_entity()))
    with pytest.raises(DataError, match="no text file beside it"):
        temporal.read_anafora(lonely)
    bare = _anafora(tmp_path, _xml(_entity("0,3", "DOCTIME")))
    with pytest.raises(DataError, match="not one EVENT or TIMEX3"):
        temporal.read_anafora(bare)


def test_anafora_is_the_registered_user_format(tmp_path):
    reader, description = registry.USER_FORMATS["temporal_events"]
    assert reader is temporal.read_anafora and "Anafora" in description
    folder = _anafora(tmp_path, _xml(_entity()))
    registry.check_user_file("temporal_events", folder)


def test_char_span_scores_exact_offsets():
    gold = [[Span(0, 4, "EVENT"), Span(8, 18, "TIMEX3"), Span(21, 27, "EVENT")], [Span(3, 7, "EVENT")]]
    pred = [[Span(0, 4, "EVENT"), Span(8, 17, "TIMEX3"), Span(21, 27, "TIMEX3")], [Span(3, 7, "EVENT"),
                                                                                     Span(0, 2, "EVENT")]]
    t = temporal.char_span_scores(gold, pred)
    ev, tm = t.loc["EVENT"], t.loc["TIMEX3"]
    assert (ev["gold"], ev["predicted"], ev["correct"]) == (3, 3, 2)
    assert ev["precision"] == pytest.approx(2 / 3) and ev["recall"] == pytest.approx(2 / 3)
    assert (tm["gold"], tm["predicted"], tm["correct"]) == (1, 2, 0)  # one character short is a miss
    assert tm["f1"] == 0.0
    with pytest.raises(ValueError):
        temporal.char_span_scores(gold, pred[:1])


def test_shipped_files_have_licence_and_source():
    folder = Path(registry.data_dir()) / "e3c_english"
    assert (folder / "LICENSE").exists() and (folder / "SOURCE.md").exists()
    registry.verify(registry.DATASETS["e3c_english"])
    registry.verify(registry.DATASETS["e3c_layer3"])
