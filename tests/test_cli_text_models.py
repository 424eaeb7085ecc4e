"""The reusable taggers of concept_extraction and temporal_events (precmed_utils.text.text_models): a
tiny model trained here is saved, loaded back with weights only and tags new text exactly as the
model in memory; `precmed predict` on a file and a folder; bad input gets a clear error (exit
status 2) that names what was wrong and what was expected."""

import json

import pytest
import torch
from helpers import precmed

from precmed_utils.text import char_to_token_spans, spans_to_tags, tag_set, tokenise
from precmed_utils.text import text_models as tm
from precmed_utils.text.tagger import Encoders, predict, train_tagger

DRUGS = ["aspirin", "warfarin", "heparin", "insulin"]
EVENTS = ["fever", "cough", "biopsy", "surgery"]


def _corpus(study):
    """(text, [(start, end, label)]) pairs: a drug or an event word in a fixed frame."""
    out = []
    for i in range(16):
        if study == "concept_extraction":
            word, frame, label = DRUGS[i % 4], "She was given {} for pain and felt better.", "Drugname"
        else:
            word, frame, label = EVENTS[i % 4], "The {} was noted and she went home.", "EVENT"
        text = frame.format(word)
        a = text.index(word)
        out.append((text, [(a, a + len(word), label)]))
    return out


ARCH = {"concept_extraction": {"cell": "lstm", "bidirectional": True, "crf": True},
        "temporal_events": {"cell": "gru", "bidirectional": False}}
LABEL = {"concept_extraction": "Drugname", "temporal_events": "EVENT"}


def _train(study):
    from precmed_utils.text import Span

    tags = tag_set([LABEL[study]], "BIO")
    sents, tag_lists = [], []
    for text, spans in _corpus(study):
        toks = tokenise(text)
        kept, _ = char_to_token_spans(toks, [Span(a, b, lab) for a, b, lab in spans])
        sents.append([t.text for t in toks])
        tag_lists.append(spans_to_tags(len(toks), kept, "BIO"))
    enc = Encoders.build(sents, tags)
    ex = [enc.encode(s, t) for s, t in zip(sents, tag_lists, strict=True)]
    torch.manual_seed(0)
    model = tm.RecurrentTagger(len(enc.words), tags, embedding_dim=8, hidden=8, dropout=0.0, **ARCH[study])

    def score(paths):
        return sum(enc.tags.decode(p) == t for p, t in zip(paths, tag_lists, strict=True)) / len(ex)

    res = train_tagger(model, ex, ex, score, epochs=40, batch_size=4, optimizer="adam", lr=0.05, patience=40,
                       progress=False)
    assert res.best_score > 0.9
    return model.eval(), enc


@pytest.fixture(scope="module", params=["concept_extraction", "temporal_events"])
def saved(request, tmp_path_factory):
    study = request.param
    model, enc = _train(study)
    d = tm.save_tagger(tmp_path_factory.mktemp(study) / "model", model, enc, study=study, max_len=20,
                       model_name="tiny")
    return study, d, model, enc


def _notes(folder):
    folder.mkdir()
    (folder / "a.txt").write_text("She was given heparin for pain and felt better.\r\nThe fever was noted.\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("Café. The biopsy was noted and she was given insulin for pain.")
    return folder


def test_save_load_predict_identical(saved):
    study, d, model, enc = saved
    state = torch.load(d / "weights.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    config = json.loads((d / "config.json").read_text())
    assert config["study"] == study and config["max_len"] == 20 and config["model_name"] == "tiny"
    rng_before = torch.get_rng_state()
    loaded = tm.TextTagger.load(d, study)
    assert torch.equal(torch.get_rng_state(), rng_before), "loading must not draw random numbers"
    examples = [enc.encode(s.split()) for s in ("She was given aspirin for pain .", "The cough was noted .")]
    assert predict(model, examples) == predict(loaded.model, examples)
    text = "She was given warfarin for pain. The surgery was noted and she went home."
    assert loaded.spans(text) == tm.tag_text(text, model, enc, max_len=20)
    found = {(text[s["start"]:s["end"]], s["label"]) for s in loaded.predict(text)}
    word = "warfarin" if study == "concept_extraction" else "surgery"
    assert (word, LABEL[study]) in found
    assert all(set(s) == {"start", "end", "label"} for s in loaded.predict(text))


def test_model_card(saved, tmp_path):
    study, d, _, _ = saved
    licence = "MIT" if study == "concept_extraction" else "CC BY-NC 4.0 (non-commercial)"
    card = tm.write_tagger_card(
        d, study=study, name="tiny",
        data_info={"name": "toy", "kind": "open", "licence": licence, "citation": "test"},
        scores={"f1 (test)": {"mean": 0.8, "sd": 0.05}}, n_seeds=3,
        training={"documents": 16, "sentences": 16, "tokens": 160}, params={"seed": 0},
        pretraining={"name": "toy text", "documents": 5, "licences": "CC BY"})
    text = card.read_text()
    for part in ("Training data", "Licence of the weights", "Scores on the held-out test split", "Limits",
                 "| f1 (test) | 0.800 | 0.050 |", licence, f"precmed predict {study}", "3 seed(s)"):
        assert part in text, part
    assert ("non-commercial term" in text) == (study == "temporal_events")
    if study == "temporal_events":
        assert "DocTimeRel" in text and json.loads((d / "model_card.json").read_text())["doctimerel"] is False
    assert tm.TextTagger.load(d, study).card["data"]["licence"] == licence
    restricted = tm.write_tagger_card(
        tmp_path, study=study, name="tiny", config=json.loads((d / "config.json").read_text()),
        data_info={"name": "mine", "kind": "restricted"}, scores={}, n_seeds=1, training={}, params={})
    assert "do not share this model outside the data agreement" in restricted.read_text()


def test_predict_command_file_and_folder(saved, tmp_path):
    study, d, _, _ = saved
    src = _notes(tmp_path / "notes")
    r = precmed("predict", study, str(d), str(src))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["study"] == study
    files = {f["file"]: f for f in doc["files"]}
    assert set(files) == {"a.txt", "sub/b.txt"}
    b = (src / "sub" / "b.txt").read_text()
    word = "insulin" if study == "concept_extraction" else "biopsy"
    spans = files["sub/b.txt"]["spans"]
    assert any(b[s["start"]:s["end"]] == word and s["label"] == LABEL[study] for s in spans)
    assert word not in r.stdout  # offsets and labels only, never the text
    one = precmed("predict", study, str(d), str(src / "sub" / "b.txt"))
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["files"] == [{**files["sub/b.txt"], "file": "b.txt"}]
    out = tmp_path / "spans.json"
    w = precmed("predict", study, str(d), str(src), "--out", str(out))
    assert w.returncode == 0 and str(out) in w.stdout
    assert json.loads(out.read_text()) == doc


@pytest.mark.parametrize("case,expected", [
    ("wrong_study", "not a saved {other_what} model: it holds a model saved by the {study} study "
                    "(`precmed predict {study}` reads it)"),
    ("deid_reads_it", "not a saved de-identification model: it holds a model saved by the {study} study"),
    ("no_model", "not a saved {what} model (missing weights.pt, encoders.json, config.json)"),
    ("no_weights", "not a saved {what} model (missing weights.pt)"),
    ("corrupt_weights", "the saved model cannot be loaded"),
    ("corrupt_config", "config.json: cannot be read"),
    ("no_input", "no such file or folder; expected a UTF-8 text file or a folder of .txt files"),
    ("empty", "holds no .txt file"),
    ("exists", "already exists; refusing to overwrite it"),
    ("unknown_study", "unknown study"),
    ("no_predictor", "saves no reusable model"),
])
def test_predict_bad_input(saved, tmp_path, case, expected):
    study, d, _, _ = saved
    other = "temporal_events" if study == "concept_extraction" else "concept_extraction"
    what = tm.STUDIES[study]["what"]
    src = _notes(tmp_path / "notes")
    model = tmp_path / "model"
    model.mkdir()
    for f in ("weights.pt", "encoders.json", "config.json"):
        (model / f).write_bytes((d / f).read_bytes())
    args = ["predict", study, str(model), str(src)]
    if case == "wrong_study":
        args[1] = other
    elif case == "deid_reads_it":
        args[1] = "deidentification"
    elif case == "no_model":
        args[2] = str(tmp_path / "notes")
    elif case == "no_weights":
        (model / "weights.pt").unlink()
    elif case == "corrupt_weights":
        (model / "weights.pt").write_bytes(b"not a torch file")
    elif case == "corrupt_config":
        (model / "config.json").write_text("{")
    elif case == "no_input":
        args[3] = str(tmp_path / "missing")
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        args[3] = str(tmp_path / "empty")
    elif case == "exists":
        (tmp_path / "spans.json").write_text("mine")
        args += ["--out", str(tmp_path / "spans.json")]
    elif case == "unknown_study":
        args[1] = "no_such_study"
    elif case == "no_predictor":
        args[1] = "cancer_subtyping"
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    r = precmed(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert expected.format(study=study, what=what, other_what=tm.STUDIES[other]["what"]) in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot  # nothing written


def test_architectures_and_bad_config():
    assert set(tm.CONCEPT_ARCHITECTURES) == {"LSTM", "GRU", "BiLSTM", "BiLSTM-CRF"}
    assert set(tm.TEMPORAL_ARCHITECTURES) == {"Elman", "GRU", "LSTM", "BiElman", "BiGRU", "BiLSTM"}
    tags = tag_set(["X"], "BIO")
    for arch in [*tm.CONCEPT_ARCHITECTURES.values(), *tm.TEMPORAL_ARCHITECTURES.values()]:
        m = tm.RecurrentTagger(10, tags, embedding_dim=4, hidden=3, **arch)
        rebuilt = tm.build_tagger(m.config())
        assert set(rebuilt.state_dict()) == set(m.state_dict())
    with pytest.raises(ValueError, match="cell 'lstn'"):
        tm.RecurrentTagger(10, tags, cell="lstn")
    with pytest.raises(ValueError, match="study 'cancer_subtyping' saves no recurrent tagger"):
        tm.load_tagger("x", "cancer_subtyping")
