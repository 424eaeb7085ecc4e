"""precmed_utils.studies.deid: readers (PhysioNet deid, i2b2 2014 XML), the rule baseline, span
replacement, and saving/loading the BiLSTM-CRF with weights_only."""

import json

import pytest
import torch

from precmed_utils.errors import DataError
from precmed_utils.formats import data as registry
from precmed_utils.studies import deid
from precmed_utils.text import Document, Span, tag_set
from precmed_utils.text.tagger import Encoders, pad_batch

TEXT = ("START_OF_RECORD=7||||1||||\nPt seen by Dr. Hartley on 3/14. Call 617-555-0199.\n\n"
        "||||END_OF_RECORD\nSTART_OF_RECORD=7||||2||||\nDaughter Ann Lee visited.\n||||END_OF_RECORD\n")
PHRASES = ("7 1 15 22 HCPName Hartley\n7 1 26 30 Date 3/14\n7 1 37 49 Phone 617-555-0199\n"
           "7 2 9 16 RelativeProxyName Ann Lee\n")


def _write(tmp_path, text=TEXT, phrases=PHRASES):
    t, p = tmp_path / "id.text", tmp_path / "id-phi.phrase"
    t.write_text(text)
    p.write_text(phrases)
    return t, p


def test_physionet_reader_reproduces_every_surface(tmp_path):
    docs = deid.read_physionet_deid(*_write(tmp_path))
    assert [d.id for d in docs] == ["7-1", "7-2"] and {d.group for d in docs} == {"7"}
    assert [(d.text[s.start:s.end], s.label) for d in docs for s in d.spans] == [
        ("Hartley", "HCPName"), ("3/14", "Date"), ("617-555-0199", "Phone"), ("Ann Lee", "RelativeProxyName")]


@pytest.mark.parametrize("phrases,expected", [
    ("7 1 16 23 HCPName Hartley\n", "does not reproduce the span's surface"),
    ("7 9 0 2 Date 3/14\n", "note 7/9 is not in the text file"),
    ("7 1 x 2 Date 3/14\n", "integer offsets"),
    ("7 1 15 9999 HCPName Hartley\n", "outside note 7/1"),
])
def test_physionet_reader_errors(tmp_path, phrases, expected):
    with pytest.raises(DataError, match=expected):
        deid.read_physionet_deid(*_write(tmp_path, phrases=phrases))


def test_physionet_reader_missing_end(tmp_path):
    with pytest.raises(DataError, match="has no '\\|\\|\\|\\|END_OF_RECORD' line"):
        deid.read_physionet_deid(*_write(tmp_path, text="START_OF_RECORD=1||||1||||\nabc\n"))


def test_shipped_corpus_surfaces():
    """All 1,779 spans of the shipped corpus reproduce their surface (the reader asserts it)."""
    docs, info = registry.load("physionet_deid")
    assert len(docs) == 2434 and len({d.group for d in docs}) == 163
    assert sum(len(d.spans) for d in docs) == 1779
    phrase_lines = (registry.data_dir() / "physionet_deid/id-phi.phrase").read_text().splitlines()
    by_id = {d.id: d for d in docs}
    for line in phrase_lines:
        pat, note, a, b, _, surface = line.split(" ", 5)
        assert by_id[f"{pat}-{note}"].text[int(a):int(b)] == surface


XML = """<?xml version="1.0" encoding="UTF-8" ?>
<deIdi2b2>
<TEXT><![CDATA[Record date: 2067-05-03
Mr. Kane, 64, seen at Mercy.]]></TEXT>
<TAGS>
<DATE id="P0" start="13" end="23" text="2067-05-03" TYPE="DATE" comment="" />
<NAME id="P1" start="28" end="32" text="Kane" TYPE="PATIENT" comment="" />
<LOCATION id="P2" start="46" end="51" text="Mercy" TYPE="HOSPITAL" comment="" />
</TAGS>
</deIdi2b2>
"""


def test_i2b2_xml_file_and_folder(tmp_path):
    f = tmp_path / "110-01.xml"
    f.write_text(XML)
    (tmp_path / "110-02.xml").write_text(XML)
    docs = deid.read_i2b2_xml(f)
    assert len(docs) == 1 and docs[0].group == "110"
    assert [(docs[0].text[s.start:s.end], s.label) for s in docs[0].spans] == [
        ("2067-05-03", "DATE"), ("Kane", "PATIENT"), ("Mercy", "HOSPITAL")]
    with pytest.raises(DataError, match="needs notes of at least 3 patients"):
        deid.read_user_deid(tmp_path)  # one patient cannot be split into train, dev and test
    (tmp_path / "111-01.xml").write_text(XML)
    (tmp_path / "112-01.xml").write_text(XML)
    docs = deid.read_user_deid(tmp_path)
    assert len(docs) == 4 and {d.group for d in docs} == {"110", "111", "112"}


@pytest.mark.parametrize("content,expected", [
    (XML.replace('start="28"', 'start="29"'), "does not reproduce the tag's text"),
    (XML.replace('end="51"', 'end="x"'), "start and end must be integer offsets"),
    (XML.replace("</TAGS>", ""), "not well-formed XML"),
    ("<deIdi2b2><TAGS/></deIdi2b2>", "no <TEXT> element"),
    (XML.replace('end="51"', 'end="999"'), "outside the"),
])
def test_i2b2_xml_errors(tmp_path, content, expected):
    f = tmp_path / "bad.xml"
    f.write_text(content)
    with pytest.raises(DataError, match=expected):
        deid.read_user_deid(f)


def test_user_format_errors(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        deid.read_user_deid(tmp_path / "nothing")
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="expected an .xml file"):
        deid.read_user_deid(tmp_path / "notes.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .xml file"):
        deid.read_user_deid(tmp_path / "empty")
    assert registry.USER_FORMATS["deidentification"][0] is deid.read_user_deid


def test_split_by_patient_keeps_patients_together():
    docs = [Document(f"{p}-{n}", "x", group=str(p)) for p in range(20) for n in range(p % 4 + 1)]
    tr, dv, te = deid.split_by_patient(docs, test_size=0.2, dev_size=0.1, seed=3)
    assert sorted(tr + dv + te) == list(range(len(docs)))
    groups = [{docs[i].group for i in part} for part in (tr, dv, te)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert all(groups)


def test_document_sequences_clip_spans_at_cuts():
    d = Document("a", "one two Ann Marie Lee three four", [Span(8, 21, "PTName")])
    seqs, dropped = deid.document_sequences(d, max_len=3)
    assert not dropped
    tags = [t for s in seqs for t in s["tags"]]
    assert tags == ["O", "O", "S-PTName", "B-PTName", "E-PTName", "O", "O"]


def test_a_name_stays_in_the_sequence_of_its_title():
    # "Dr." used to end a sequence, so the name began the next one without its strongest cue
    text = "Seen by Dr. Hart. Wife J. Lee called."
    d = Document("a", text, [Span(12, 16, "HCPName"), Span(23, 28, "RelativeProxyName")])
    seqs, _ = deid.document_sequences(d, max_len=60)
    assert [[t.text for t in s["tokens"]] for s in seqs] == [["Seen", "by", "Dr", ".", "Hart", "."],
                                                            ["Wife", "J", ".", "Lee", "called", "."]]
    assert seqs[0]["tags"][4] == "S-HCPName" and seqs[1]["tags"][1:4] == ["B-RelativeProxyName",
                                                                          "I-RelativeProxyName",
                                                                          "E-RelativeProxyName"]
    assert [[t.text for t in s] for s in deid.note_sentences(text)] == [[t.text for t in s["tokens"]]
                                                                        for s in seqs]


def test_rule_baseline_finds_regex_and_dictionary_phi():
    train = [Document("t", "Seen by Dr. Hartley. Wife Ann at bedside. Pt to Mercy.",
                      [Span(12, 19, "HCPName"), Span(26, 29, "RelativeProxyName"), Span(48, 53, "Location")])]
    rules = deid.RuleDeidentifier().fit(train)
    text = "hartley called 617-555-0199 on 3/14/2001; son Bob Smith came. 1/2 tab. bp 120-130. Mercy ok."
    found = {(text[s.start:s.end], s.label) for s in rules.find(text)}
    assert ("hartley", "HCPName") in found and ("Mercy", "Location") in found
    assert ("617-555-0199", "Phone") in found and ("3/14/2001", "Date") in found
    assert ("Bob", "RelativeProxyName") in found and ("Smith", "RelativeProxyName") in found
    assert not any(s in ("1/2", "120-130") for s, _ in found)


@pytest.mark.parametrize("mode", ["tags", "surrogates"])
def test_replacement_keeps_everything_outside_phi(mode):
    text = "DR. SMITH saw pt 3/14/2101.\r\nSmith called 617-555-0199; smith again 3/14/2101. Café ok."
    spans = [Span(4, 9, "HCPName"), Span(17, 26, "Date"), Span(29, 34, "HCPName"), Span(42, 54, "Phone"),
             Span(56, 61, "HCPName"), Span(68, 77, "Date")]
    out, recs = deid.replace_spans(text, spans, mode=mode, seed=1, note_key="n1")
    # the pieces between spans are identical, in order
    pos, prev = 0, 0
    for s, r in zip(spans, recs, strict=True):
        assert out[pos:r["start"]] == text[prev:s.start]
        pos, prev = r["end"], s.end
    assert out[pos:] == text[prev:]
    news = [out[r["start"]:r["end"]] for r in recs]
    if mode == "tags":
        assert news[0] == "[**HCPName**]" and news[3] == "[**Phone**]"
    else:
        assert news[2].lower() == news[4].lower() != "smith"  # the same surface, the same surrogate
        assert news[0].isupper()  # case kept
        assert news[1] == news[5] != "3/14/2101"  # consistent date shift
        assert news[3] != "617-555-0199" and len(news[3]) == 12
    again, _ = deid.replace_spans(text, spans, mode=mode, seed=1, note_key="n1")
    assert again == out


def _tiny_model(tmp_path):
    sents = [["Dr", ".", "Hartley", "saw", "pt"], ["call", "617-555-0199"]]
    tags = tag_set(["HCPName", "Phone"], "BIOES")
    enc = Encoders.build(sents, tags, chars=True)
    config = {"n_words": len(enc.words), "n_chars": len(enc.chars), "tags": tags, "word_dim": 8,
              "char_dim": 4, "char_hidden": 4, "word_hidden": 6, "dropout": 0.5,
              "use_chars": True, "max_len": 20}
    torch.manual_seed(0)
    model = deid.build_model(config)
    return model, enc, config, sents


def test_model_save_load_round_trip_weights_only(tmp_path):
    model, enc, config, sents = _tiny_model(tmp_path)
    d = deid.save_model(tmp_path / "model", model, enc, config)
    state = torch.load(d / "weights.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    loaded, enc2, cfg2 = deid.load_model(d)
    assert cfg2 == json.loads(json.dumps(config)) and enc2.to_dict() == enc.to_dict()
    batch = pad_batch([enc.encode(s) for s in sents])
    model.eval()
    assert torch.equal(model.emissions(batch), loaded.emissions(batch))
    assert model.decode(batch) == loaded.decode(batch)
    text = "Dr. Hartley saw pt, call 617-555-0199."
    assert deid.tag_text(text, model, enc) == deid.tag_text(text, loaded, enc2)


def test_load_model_errors(tmp_path):
    with pytest.raises(DataError, match="not a saved de-identification model"):
        deid.load_model(tmp_path)
    model, enc, config, _ = _tiny_model(tmp_path)
    d = deid.save_model(tmp_path / "m", model, enc, config)
    (d / "weights.pt").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot be loaded"):
        deid.load_model(d)


def test_word_only_model_has_no_char_layers():
    tags = tag_set(["X"], "BIOES")
    m = deid.build_model({"n_words": 10, "n_chars": 5, "tags": tags, "use_chars": False, "word_dim": 4,
                          "word_hidden": 3})
    assert not any(k.startswith("char") for k in m.state_dict())


def test_phi_categories():
    assert [deid.phi_category(x) for x in ("HCPName", "PATIENT", "DATE", "DateYear", "PHONE", "HOSPITAL",
                                           "MEDICALRECORD", "AGE")] == [
        "name", "name", "date", "year", "phone", "location", "id", "age"]


def test_bilstm_matches_packed_bidirectional_lstm():
    """deid.BiLSTM (reversal within each length) equals torch's packed bidirectional LSTM."""
    torch.manual_seed(0)
    ref = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    ours = deid.BiLSTM(5, 4)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(ours.fw, name).data.copy_(getattr(ref, name))
        getattr(ours.bw, name).data.copy_(getattr(ref, name + "_reverse"))
    lengths = torch.tensor([6, 2, 4, 1])
    x = torch.randn(4, 6, 5)
    for i, n in enumerate(lengths):
        x[i, n:] = 99.0  # padding must not leak into real positions
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_ref, (h, _) = ref(packed)
    out_ref, _ = torch.nn.utils.rnn.pad_packed_sequence(out_ref, batch_first=True, total_length=6)
    out, final = ours(x, lengths)
    mask = torch.arange(6)[None, :] < lengths[:, None]
    assert torch.allclose(out[mask], out_ref[mask], atol=1e-6)
    assert torch.allclose(final, torch.cat([h[0], h[1]], dim=-1), atol=1e-6)
    assert torch.equal(deid.reverse_padded(deid.reverse_padded(x, lengths), lengths), x)


def test_char_features_read_each_distinct_word_once_with_the_same_result():
    """char_features (distinct words, length groups) equals the character LSTM run over every
    real token padded to the batch's longest word: the same states and the same gradients."""
    torch.manual_seed(0)
    model = deid.CharWordBiLSTMCRF(30, 12, ["O", "S-X"], word_dim=6, char_dim=4, char_hidden=3, word_hidden=5)
    words = [[2, 3], [2, 3], [4], [5, 6, 7, 8, 9, 10, 11, 2, 3, 4], [2, 3], [7] * 14, [4]]
    ex = [{"words": [1, 2, 1, 3], "chars": words[:4]}, {"words": [4, 5, 6], "chars": words[4:]}]
    batch = pad_batch(ex)
    chars, mask = batch["chars"], batch["mask"]

    def every_token():
        flat = chars[mask]
        _, final = model.char_lstm(model.chars(flat), (flat != 0).sum(1))
        return final.new_zeros(*mask.shape, final.shape[-1]).masked_scatter(mask.unsqueeze(-1), final)

    ref, ours = every_token(), model.char_features(chars, mask)
    assert torch.allclose(ours, ref, atol=1e-6) and bool((ours[~mask] == 0).all())
    w = torch.randn_like(ref)
    params = [model.chars.weight, model.char_lstm.fw.weight_hh_l0, model.char_lstm.bw.weight_ih_l0]
    g_ref = torch.autograd.grad((ref * w).sum(), params)
    g_ours = torch.autograd.grad((ours * w).sum(), params)
    for a, b in zip(g_ours, g_ref, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
