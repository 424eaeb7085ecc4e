"""`precmed deid` and `precmed run deidentification` on bad and good input: clear errors (exit
status 2), no overwriting, no partial output; a de-identified copy keeps all non-PHI text."""

import json

import pytest
import torch
from helpers import precmed

from precmed_utils.studies import deid
from precmed_utils.text import Document, Span, tag_set
from precmed_utils.text.span_metrics import binary_token_scores
from precmed_utils.text.tagger import Encoders, train_tagger

NAMES = ["Hartley", "Moreno", "Kowalski", "Ferris"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny char+word BiLSTM-CRF trained in the test to tag 'Dr. <Name>' and phone numbers."""
    docs = []
    for i, n in enumerate(NAMES * 3):
        text = f"Seen by Dr. {n} today. Call 617-555-01{i:02d} later. Pt stable."
        a = text.index(n)
        p = text.index("617")
        docs.append(Document(f"d{i}", text, [Span(a, a + len(n), "HCPName"), Span(p, p + 12, "Phone")]))
    seqs = [s for d in docs for s in deid.document_sequences(d, max_len=20)[0]]
    tags = tag_set(["HCPName", "Phone"], "BIOES")
    words = [[t.text for t in s["tokens"]] for s in seqs]
    enc = Encoders.build(words, tags, chars=True)
    ex = [enc.encode(w, s["tags"]) for w, s in zip(words, seqs, strict=True)]
    config = {"n_words": len(enc.words), "n_chars": len(enc.chars), "tags": tags, "word_dim": 16,
              "char_dim": 8, "char_hidden": 8, "word_hidden": 16, "dropout": 0.0,
              "use_chars": True, "max_len": 20}
    torch.manual_seed(0)
    model = deid.build_model(config)

    def score(paths):
        return binary_token_scores([s["tags"] for s in seqs], [enc.tags.decode(p) for p in paths])["f1"]

    res = train_tagger(model, ex, ex, score, epochs=60, batch_size=4, optimizer="adam", lr=0.02, patience=60,
                       progress=False)
    assert res.best_score > 0.9
    return deid.save_model(tmp_path_factory.mktemp("m") / "model", model, enc, config)


def _notes(folder):
    folder.mkdir()
    (folder / "a.txt").write_text("Seen by Dr. Moreno today.\r\nCall 617-555-0101 later. Pt stable.\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("Café: seen by Dr. Ferris today. Dr. Ferris again.")
    return folder


def _check_copy(src: str, out: str, spans: list[dict]):
    """Everything outside the output spans equals the input, in order."""
    pos, rest = 0, src
    pieces_out = []
    for s in spans:
        pieces_out.append(out[pos:s["start"]])
        pos = s["end"]
    pieces_out.append(out[pos:])
    for piece in pieces_out:
        i = rest.find(piece)
        assert i >= 0, piece
        rest = rest[i + len(piece):]


@pytest.mark.parametrize("mode", ["tags", "surrogates"])
def test_deid_folder(tmp_path, model_dir, mode):
    src = _notes(tmp_path / "notes")
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    r = precmed("deid", str(model_dir), str(src), str(out), "--mode", mode, "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert {p: p.read_bytes() for p in src.rglob("*") if p.is_file()} == before  # input untouched
    for rel in ("a.txt", "sub/b.txt"):
        new = (out / rel).read_bytes().decode()
        side = json.loads((out / (rel + ".phi.json")).read_text())
        old = (src / rel).read_bytes().decode()
        assert side["spans"], "the model should find the names"
        assert "Moreno" not in new and "Ferris" not in new
        _check_copy(old, new, side["spans"])
        if mode == "tags":
            assert all(new[s["start"]:s["end"]] == f"[**{s['label']}**]" for s in side["spans"])
    assert "\r\n" in (out / "a.txt").read_bytes().decode()
    b = json.loads((out / "sub/b.txt.phi.json").read_text())["spans"]
    newb = (out / "sub/b.txt").read_text()
    names = [newb[s["start"]:s["end"]] for s in b if s["label"] == "HCPName"]
    assert len(names) == 2 and names[0] == names[1]  # consistent within the note
    assert not list(tmp_path.glob(".out*"))  # no temporary folder left


def test_deid_single_file(tmp_path, model_dir):
    src = tmp_path / "note.txt"
    src.write_text("Seen by Dr. Kowalski today.")
    r = precmed("deid", str(model_dir), str(src), str(tmp_path / "note_deid.txt"))
    assert r.returncode == 0, r.stderr
    assert "Kowalski" not in (tmp_path / "note_deid.txt").read_text()
    assert json.loads((tmp_path / "note_deid.txt.phi.json").read_text())["mode"] == "tags"


@pytest.mark.parametrize("case,expected", [
    ("exists", "already exists; refusing to overwrite"),
    ("same", "may not be the input"),
    ("inside", "may not be the input or lie inside it"),
    ("no_model", "not a saved de-identification model"),
    ("no_input", "no such file or folder"),
    ("empty", "holds no .txt file"),
    ("latin1", "not UTF-8 text"),
    ("bad_mode", "invalid choice: 'redact'"),
])
def test_deid_bad_input(tmp_path, model_dir, case, expected):
    src = _notes(tmp_path / "notes")
    out = tmp_path / "out"
    model = str(model_dir)
    args = []
    if case == "exists":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "same":
        out = src
    elif case == "inside":
        out = src / "deid"
    elif case == "no_model":
        model = str(tmp_path)
    elif case == "no_input":
        src = tmp_path / "missing"
    elif case == "empty":
        src = tmp_path / "empty"
        src.mkdir()
    elif case == "latin1":
        (src / "c.txt").write_bytes("caf\xe9".encode("latin-1"))
    elif case == "bad_mode":
        args = ["--mode", "redact"]
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    r = precmed("deid", model, str(src), str(out), *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert expected in r.stderr and "Traceback" not in r.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot  # nothing written


@pytest.mark.parametrize("content,expected", [
    ("<deIdi2b2><TEXT>abc</TEXT><TAGS><NAME start='0' end='9' text='abc' TYPE='DOCTOR'/></TAGS></deIdi2b2>",
     "offsets 0..9 are outside"),
    ("<deIdi2b2><TEXT>abc", "not well-formed XML"),
    ("<deIdi2b2><TEXT>abc</TEXT><TAGS/></deIdi2b2>", "no PHI annotation found"),
    ("<deIdi2b2><TEXT>Dr Kane</TEXT><TAGS><NAME start='3' end='7' text='Kane' TYPE='DOCTOR'/>"
     "</TAGS></deIdi2b2>", "needs notes of at least 3 patients"),
])
def test_run_malformed_user_xml(tmp_path, content, expected):
    f = tmp_path / "note.xml"
    f.write_text(content)
    r = precmed("run", "deidentification", "-p", f"data={f}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert not (tmp_path / "runs").exists()


def test_model_card_and_python_predict(tmp_path, model_dir):
    card = deid.write_model_card(
        model_dir, config=json.loads((model_dir / "config.json").read_text()),
        data_info={"name": "toy notes", "kind": "open", "licence": "CC0", "citation": "made up in the test"},
        scores={"binary_f1": {"mean": 0.9, "sd": 0.01}, "binary_recall": {"mean": 0.95, "sd": None}},
        split={"patients": 4, "notes": 12, "sequences": 36}, params={"n_repeats": 1})
    text = card.read_text()
    for part in ("Training data", "Licence", "Scores on held-out patients", "Limits",
                 "| binary_f1 | 0.900 | 0.010 |", "CC0", "HCPName", "Phone"):
        assert part in text, part
    m = deid.DeidModel.load(model_dir)
    assert m.card["data"]["licence"] == "CC0"
    note = "Seen by Dr. Moreno today. Call 617-555-0101 later."
    spans = m.predict(note)
    assert {(note[s["start"]:s["end"]], s["category"]) for s in spans} >= {("Moreno", "name")}
    assert "Moreno" not in m.deidentify(note) and m.deidentify(note).startswith("Seen by Dr. [**")


def test_predict_command(tmp_path, model_dir):
    src = _notes(tmp_path / "notes")
    r = precmed("predict", "deidentification", str(model_dir), str(src))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    files = {f["file"]: f for f in doc["files"]}
    assert set(files) == {"a.txt", "sub/b.txt"}
    a = (src / "a.txt").read_text()
    assert any(a[s["start"]:s["end"]] == "Moreno" for s in files["a.txt"]["spans"])
    assert "Moreno" not in r.stdout  # offsets and labels only, never the text
    out = tmp_path / "spans.json"
    assert precmed("predict", "deidentification", str(model_dir), str(src), "--out", str(out)).returncode == 0
    assert json.loads(out.read_text()) == doc


@pytest.mark.parametrize("args,expected", [
    (["predict", "cancer_subtyping", "M", "N"], "saves no reusable model"),
    (["predict", "no_such_study", "M", "N"], "unknown study"),
    (["predict", "deidentification", "MODEL", "missing_notes"], "no such file or folder"),
    (["predict", "deidentification", "NOMODEL", "NOTES"], "not a saved de-identification model"),
    (["predict", "deidentification", "MODEL", "NOTES", "--out", "EXISTS"], "already exists"),
])
def test_predict_bad_input(tmp_path, model_dir, args, expected):
    src = _notes(tmp_path / "notes")
    (tmp_path / "exists.json").write_text("mine")
    subs = {"MODEL": str(model_dir), "NOMODEL": str(tmp_path), "NOTES": str(src),
            "missing_notes": str(tmp_path / "missing"), "EXISTS": str(tmp_path / "exists.json")}
    r = precmed(*[subs.get(a, a) for a in args])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert expected in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "exists.json").read_text() == "mine"
