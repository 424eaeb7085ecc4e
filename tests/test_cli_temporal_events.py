"""`precmed run temporal_events` with bad input: refused before anything runs (exit status 2), with a
message naming the file, line and element (bad parameters: test_cli_bad_parameters.py); a user's
Anafora corpus runs end to end without its text appearing in the executed notebook."""

import json

import pytest
from helpers import precmed

TEXT = "The patient had a colonoscopy on 3 May 2014."


def _corpus(folder, xml, text=TEXT):
    folder.mkdir()
    (folder / "note1.txt").write_text(text)
    (folder / "note1.Temporal-Relation.gold.completed.xml").write_text(xml)
    return folder


def _entity(span="18,29", type_="EVENT"):
    return (f"<entity>\n<id>1@e@note1@gold</id>\n<span>{span}</span>\n<type>{type_}</type>\n"
            "<properties><DocTimeRel>BEFORE</DocTimeRel></properties>\n</entity>")


@pytest.mark.parametrize("xml,expected", [
    ("<data>\n<annotations>\n<entity>\n", "line 4, column 1: not well-formed XML"),
    ("<data>\n<annotations>\n" + _entity(span="18 29") + "\n</annotations>\n</data>",
     "line 5, <span> of 1@e@note1@gold: '18 29' is not 'start,end'"),
    ("<data>\n<annotations>\n" + _entity(span="18,290") + "\n</annotations>\n</data>",
     "end 290 is past the end of the 44-character text"),
    ("<data>\n<annotations>\n" + _entity(type_="") + "\n</annotations>\n</data>",
     "line 3, <entity> 1@e@note1@gold: no <type>"),
])
def test_malformed_anafora_is_reported_with_file_line_and_element(tmp_path, xml, expected):
    path = _corpus(tmp_path / "corpus", xml)
    r = precmed("run", "temporal_events", "-p", f"data={path}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2, r.stderr
    assert "note1.Temporal-Relation.gold.completed.xml" in r.stderr
    assert expected in r.stderr
    assert "colonoscopy" not in r.stderr
    assert not (tmp_path / "runs").exists()


def test_folder_without_annotations_is_refused(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "note1.txt").write_text(TEXT)
    r = precmed("run", "temporal_events", "-p", f"data={folder}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2 and "no documents found (no *.xml annotation files)" in r.stderr


def _write_user_corpus(root):
    """20 tiny notes in THYME's layout with train/ and test/ folders; a secret word in every text."""
    drugs = ["aspirin", "warfarin", "heparin", "insulin", "metformin"]
    for i in range(20):
        split = "test" if i % 4 == 0 else "train"
        doc = f"ID{i:03d}"
        d = root / split / doc
        d.mkdir(parents=True)
        text = (f"Zanzibarian patient received {drugs[i % 5]} on {i + 1} May 2014. "
                f"Pain improved and biopsy was negative. Surgery is planned.")
        (d / doc).write_text(text)
        ents = []
        mentions = [(drugs[i % 5], "EVENT", "BEFORE"), (f"{i + 1} May 2014", "TIMEX3", ""),
                    ("Pain", "EVENT", "BEFORE"), ("biopsy", "EVENT", "BEFORE"), ("Surgery", "EVENT", "AFTER")]
        for k, (word, typ, rel) in enumerate(mentions):
            a = text.index(word)
            props = f"<DocTimeRel>{rel}</DocTimeRel>" if rel else ""
            ents.append(f"<entity><id>{k}@e@{doc}@gold</id><span>{a},{a + len(word)}</span><type>{typ}</type>"
                        f"<properties>{props}</properties></entity>")
        (d / f"{doc}.Temporal-Relation.gold.completed.xml").write_text(
            "<data><annotations>" + "".join(ents) + "</annotations></data>")
    return root


@pytest.mark.slow
def test_user_anafora_corpus_runs_end_to_end(tmp_path):
    path = _write_user_corpus(tmp_path / "thyme_like")
    runs = tmp_path / "runs"
    r = precmed("run", "temporal_events", "--profile", "smoke", "-p", f"data={path}",
                "-p", "models=CRF,Elman", "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "temporal_events").glob("smoke-*")
    doc = json.loads((run_dir / "metrics.json").read_text())
    metrics = doc["metrics"]
    assert metrics["user_data/CRF/features/EVENT_f1"]["mean"] > 0.5, "a regular corpus: the CRF must learn it"
    assert "user_data/Elman/word2vec/EVENT_f1" in metrics
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "Zanzibarian" not in nb, "no text of a user's corpus may appear in the executed notebook"
