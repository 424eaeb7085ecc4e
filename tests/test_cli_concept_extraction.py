"""`precmed run concept_extraction` with bad input: refused before anything runs (exit status 2), with
a message naming the file and line (bad parameters: test_cli_bad_parameters.py); a user's CoNLL
corpus runs end to end."""

import json

import pytest
from helpers import precmed


def _brat(folder, ann, text="pain in leg"):
    folder.mkdir()
    (folder / "a.txt").write_text(text)
    (folder / "a.ann").write_text(ann)
    return folder


@pytest.mark.parametrize("kind,content,expected", [
    ("brat", "T1\tADE 0\tpain\n", "a.ann, line 1: malformed entity line"),
    ("brat", "T1\tADE 0 99\tpain\n", "line 1: offsets 0 99 of T1 are outside the 11-character text"),
    ("brat", "Q1\tnote\n", "line 1: unknown annotation line"),
    ("conll", "metformin B-Drug\nbid Frequency\n", "line 2: malformed tag 'Frequency'"),
    ("conll", "metformin\n", "line 1: expected 'token<TAB>tag'"),
    ("conll", "a O\nb O\n", "not a single annotated span"),
])
def test_malformed_corpus_is_reported_with_file_and_line(tmp_path, kind, content, expected):
    if kind == "brat":
        path = _brat(tmp_path / "corpus", content)
    else:
        path = tmp_path / "corpus.conll"
        path.write_text(content)
    r = precmed("run", "concept_extraction", "-p", f"data={path}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert not (tmp_path / "runs").exists()


def test_brat_folder_without_text_files(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "note1.ann").write_text("T1\tDrug 0 4\tx\n")
    r = precmed("run", "concept_extraction", "-p", f"data={folder}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2 and "no matching text file note1.txt" in r.stderr


@pytest.mark.slow
def test_user_conll_corpus_runs_end_to_end(tmp_path):
    """A CoNLL file with labels the project has never seen (split by the seed) runs unchanged;
    only aggregates of it are written."""
    sents = []
    drugs = ["aspirin", "warfarin", "heparin", "insulin", "metformin", "lisinopril"]
    for i in range(120):
        d = drugs[i % len(drugs)]
        sents.append(f"patient O\nzorbelised O\n{d} B-Medication\n{10 * (i % 7 + 1)} B-Strength\n"
                     "mg I-Strength\ndaily B-Schedule\n. O\n")
    path = tmp_path / "notes.conll"
    path.write_text("\n".join(sents))
    runs = tmp_path / "runs"
    r = precmed("run", "concept_extraction", "--profile", "smoke", "-p", f"data={path}",
                "-p", "models=CRF,BiLSTM-CRF", "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "concept_extraction").glob("smoke-*")
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert metrics["user_data/CRF/strict_f1"]["mean"] > 0.8, "a regular corpus: the CRF must learn it"
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "zorbelised" not in nb, "no text of a user's corpus may appear in the executed notebook"
