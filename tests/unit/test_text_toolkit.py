"""The shared sequence-labelling toolkit: tokens with offsets, tag schemes, vocabularies, CRF,
span metrics (hand-worked examples) and the training loop."""

import itertools

import numpy as np
import pytest
import torch

from precmed_utils.text import (
    TITLE_ABBREVIATIONS,
    Document,
    Span,
    Vocab,
    char_to_token_spans,
    convert_tags,
    embedding_matrix,
    refine_tokens,
    spans_to_tags,
    split_sentences,
    tag_set,
    tags_to_spans,
    token_to_char_spans,
    tokenise,
    train_word2vec,
)
from precmed_utils.text import span_metrics as sm
from precmed_utils.text.tagger import (
    CRF,
    Encoders,
    Tagger,
    pad_batch,
    predict,
    train_tagger,
    transition_constraints,
)


def test_tokens_keep_offsets():
    text = "Pt took 5 mg b.i.d. on 7/22; Dr. O'Brien saw him."
    toks = tokenise(text)
    assert all(text[t.start:t.end] == t.text for t in toks)
    assert [t.text for t in toks][:6] == ["Pt", "took", "5", "mg", "b.i.d", "."]
    assert "7/22" in [t.text for t in toks] and "O'Brien" in [t.text for t in toks]


def test_refine_splits_tokens_at_span_boundaries():
    text = "seen by Dr.Smith today"
    toks = refine_tokens(tokenise(text), [Span(11, 16, "NAME")])
    assert [t.text for t in toks] == ["seen", "by", "Dr.", "Smith", "today"]
    assert all(text[t.start:t.end] == t.text for t in toks)


def test_sentences_break_at_stops_and_long_lines():
    text = "One two. Three\n\nfour five six"
    sents = split_sentences(text, tokenise(text))
    assert [[t.text for t in s] for s in sents] == [["One", "two", "."], ["Three"], ["four", "five", "six"]]
    assert [len(s) for s in split_sentences(text, tokenise(text), max_len=2)] == [2, 1, 1, 2, 1]


def test_sentences_keep_a_name_with_its_title_or_initial():
    text = "Seen by Dr. Hart today. Call J. Smith. Done."
    words = [[t.text for t in s] for s in split_sentences(text, tokenise(text))]
    assert words[:2] == [["Seen", "by", "Dr", "."], ["Hart", "today", "."]]  # the default: every stop
    kept = split_sentences(text, tokenise(text), no_break_after=TITLE_ABBREVIATIONS, initials=True)
    assert [[t.text for t in s] for s in kept] == [["Seen", "by", "Dr", ".", "Hart", "today", "."],
                                                   ["Call", "J", ".", "Smith", "."], ["Done", "."]]
    # a title is matched whatever its case, but only when the stop is glued to it
    text2 = "DR. HART. dr . Hart"
    kept2 = split_sentences(text2, tokenise(text2), no_break_after=TITLE_ABBREVIATIONS)
    assert [len(s) for s in kept2] == [4, 2, 1]


@pytest.mark.parametrize("scheme", ["IO", "BIO", "BIOES"])
def test_tag_schemes_round_trip(scheme):
    spans = [("Drug", 0, 2), ("Dose", 2, 3), ("ADE", 5, 8)]
    tags = spans_to_tags(9, spans, scheme)
    # (IO cannot separate adjacent spans of one type; these spans have different types)
    assert tags_to_spans(tags, scheme) == spans
    for other in ("BIO", "BIOES"):
        assert tags_to_spans(convert_tags(tags, scheme, other), other) == spans


def test_scheme_examples():
    assert spans_to_tags(4, [("X", 0, 1), ("X", 1, 3)], "BIO") == ["B-X", "B-X", "I-X", "O"]
    assert spans_to_tags(4, [("X", 0, 1), ("X", 1, 3)], "BIOES") == ["S-X", "B-X", "E-X", "O"]
    # lenient reading of ill-formed BIO, as conlleval does
    assert tags_to_spans(["O", "I-X", "I-Y", "B-Y"], "BIO") == [("X", 1, 2), ("Y", 2, 3), ("Y", 3, 4)]
    with pytest.raises(ValueError, match="malformed tag"):
        tags_to_spans(["Q-X"], "BIO")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        spans_to_tags(2, [], "BILOU")


def test_char_spans_map_to_tokens_and_overlaps_are_reported():
    text = "severe rash after penicillin"
    toks = tokenise(text)
    spans = [Span(0, 11, "ADE"), Span(0, 6, "Severity"), Span(18, 28, "Drug")]
    kept, dropped = char_to_token_spans(toks, spans)
    assert kept == [("ADE", 0, 2), ("Drug", 3, 4)]
    assert dropped == [Span(0, 6, "Severity")]
    assert token_to_char_spans(toks, kept) == [Span(0, 11, "ADE"), Span(18, 28, "Drug")]
    with pytest.raises(ValueError, match="start < end"):
        Span(5, 5, "X")
    with pytest.raises(ValueError, match="runs past the end"):
        Document("d", "abc", [Span(1, 9, "X")]).check()


def test_vocab_unknowns_and_serialisation():
    v = Vocab(["a", "b", "a", "c"], min_count=2)
    assert v.itos == ["<pad>", "<unk>", "a"]
    assert v.encode(["a", "zzz"]) == [2, 1]
    assert Vocab.from_dict(v.to_dict()).itos == v.itos


def test_word2vec_is_deterministic_and_fills_embeddings():
    sents = [["aspirin", "causes", "bleeding"], ["warfarin", "causes", "bleeding"]] * 20
    a = train_word2vec(sents, dim=8, min_count=1, epochs=2, seed=3)
    b = train_word2vec(sents, dim=8, min_count=1, epochs=2, seed=3)
    np.testing.assert_array_equal(a["aspirin"], b["aspirin"])
    v = Vocab(["aspirin", "unseen"])
    W, cover = embedding_matrix(v, a, 8)
    np.testing.assert_array_equal(W[v.index("aspirin")], a["aspirin"])
    assert W[0].sum() == 0 and cover == pytest.approx(1 / 4)


# --- CRF against brute force ---------------------------------------------------------------------

def _brute(crf, em, n, allowed=None):
    trans, start, end = (x.detach() for x in crf._scores())
    scores = {}
    for path in itertools.product(range(crf.n_tags), repeat=n):
        s = start[path[0]] + em[0, path[0]] + end[path[-1]]
        s = s + sum(trans[a, b] + em[t + 1, b] for t, (a, b) in enumerate(zip(path, path[1:], strict=False)))
        scores[path] = float(s)
    return scores


@pytest.mark.parametrize("constrained", [False, True])
def test_crf_partition_likelihood_and_viterbi_match_brute_force(constrained):
    torch.manual_seed(0)
    tags = ["O", "B-X", "I-X"]
    crf = CRF(3, transition_constraints(tags, "BIO") if constrained else None)
    with torch.no_grad():
        crf.transitions.normal_()
        crf.start.normal_()
        crf.end.normal_()
    em = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    logz = crf.log_partition(em, mask).detach()
    best = crf.decode(em, mask)
    for i, n in enumerate([4, 2]):
        scores = _brute(crf, em[i], n)
        brute_logz = float(torch.logsumexp(torch.tensor(list(scores.values())), 0))
        assert float(logz[i]) == pytest.approx(brute_logz, abs=1e-4)
        assert tuple(best[i]) == max(scores, key=scores.get)
        path = torch.tensor([list(best[i]) + [0] * (4 - n)])
        ll = crf.log_likelihood(em[i:i + 1], path, mask[i:i + 1]).detach()
        assert float(ll) == pytest.approx(scores[tuple(best[i])] - float(logz[i]), abs=1e-4)
    if constrained:  # the decoded paths are well-formed BIO
        for p in best:
            assert all(not (tags[b] == "I-X" and tags[a] == "O") for a, b in zip(p, p[1:], strict=False))
            assert tags[p[0]] != "I-X"


def _logsumexp_partition(crf, em, mask):
    """The textbook forward algorithm: a (B, K, K) log-sum-exp at each step."""
    trans, start, end = crf._scores()
    alpha = start + em[:, 0]
    for t in range(1, em.shape[1]):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans + em[:, t].unsqueeze(1), dim=1)
        alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
    return torch.logsumexp(alpha + end, dim=1)


@pytest.mark.parametrize("constrained", [False, True])
def test_crf_matrix_product_partition_matches_logsumexp_with_gradients(constrained):
    """CRF.log_partition (matrix products in scaled probability space) gives the log-sum-exp
    recursion's values and gradients, with forbidden transitions and large scores."""
    torch.manual_seed(1)
    tags = ["O", "B-X", "I-X", "B-Y", "I-Y"]
    crf = CRF(5, transition_constraints(tags, "BIO") if constrained else None)
    with torch.no_grad():
        crf.transitions.normal_(0, 3)
        crf.start.normal_()
        crf.end.normal_()
    em = (torch.randn(3, 7, 5) * 20).requires_grad_()
    mask = torch.tensor([[1] * 7, [1, 1, 1, 0, 0, 0, 0], [1] + [0] * 6], dtype=torch.bool)
    w = torch.randn(3)
    params = [em, crf.transitions, crf.start, crf.end]
    ours, ref = crf.log_partition(em, mask), _logsumexp_partition(crf, em, mask)
    assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-3)
    for a, b in zip(torch.autograd.grad((ours * w).sum(), params),
                    torch.autograd.grad((ref * w).sum(), params), strict=True):
        assert torch.isfinite(a).all() and torch.allclose(a, b, atol=1e-4)


def test_crf_rejects_bad_shapes():
    crf = CRF(3)
    with pytest.raises(ValueError, match="emissions must be"):
        crf.log_partition(torch.zeros(1, 2, 4), torch.ones(1, 2, dtype=torch.bool))


# --- span metrics, hand-worked ------------------------------------------------------------------

def test_exact_phrase_score_hand_worked():
    # gold phrases: Drug(0,2) Dose(3,4) | ADE(0,1) ADE(2,4)      -> Drug 1, Dose 1, ADE 2
    # pred phrases: Drug(0,2) Dose(3,5) | ADE(0,1) Drug(2,4)      -> Drug 2, Dose 1, ADE 1
    gold = [["Drug", "Drug", "O", "Dose", "O"], ["ADE", "O", "ADE", "ADE"]]
    pred = [["B-Drug", "I-Drug", "O", "B-Dose", "I-Dose"], ["B-ADE", "O", "B-Drug", "I-Drug"]]
    overall, table = sm.exact_phrase_scores(gold, pred)
    assert table.loc["Drug", "recall"] == 1 and table.loc["Drug", "precision"] == 0.5
    assert table.loc["Dose", "recall"] == 0 and table.loc["ADE", "recall"] == 0.5
    assert table.loc["ADE", "precision"] == 1
    # weights = gold counts: Drug 1, Dose 1, ADE 2
    assert overall["recall"] == pytest.approx((1 + 0 + 2 * 0.5) / 4)
    assert overall["precision"] == pytest.approx((0.5 + 0 + 2 * 1) / 4)
    r, p = 0.5, 0.625
    assert overall["f1"] == pytest.approx(2 * p * r / (p + r))
    relaxed, rt = sm.exact_phrase_scores(gold, pred, relaxed=True)
    assert rt.loc["Dose", "recall"] == 1 and rt.loc["Dose", "precision"] == 1
    assert relaxed["recall"] == pytest.approx((1 + 1 + 2 * 0.5) / 4)


def test_exact_phrase_merges_adjacent_spans_of_one_label():
    overall, _ = sm.exact_phrase_scores([["B-X", "B-X"]], [["B-X", "I-X"]])
    assert overall["f1"] == 1.0  # a phrase is a run of one label, whatever the prefixes


def test_entity_and_binary_scores_hand_worked():
    gold = [["B-NAME", "I-NAME", "O", "B-DATE"]]
    pred = [["B-NAME", "O", "O", "B-DATE"]]
    overall, table = sm.entity_scores(gold, pred)
    assert overall["precision"] == 0.5 and overall["recall"] == 0.5
    assert table.loc["DATE", "f1"] == 1 and table.loc["NAME", "f1"] == 0
    assert sm.entity_scores(gold, pred, overlap=True)[0]["f1"] == 1.0
    b = sm.binary_token_scores(gold, pred)
    assert (b["tp"], b["fp"], b["fn"]) == (2, 0, 1)
    assert b["recall"] == pytest.approx(2 / 3) and b["precision"] == 1.0
    with pytest.raises(ValueError, match="1 gold tags but 2"):
        sm.binary_token_scores([["O"]], [["O", "O"]])


# --- training loop ----------------------------------------------------------------------------

class _Tiny(Tagger):
    def __init__(self, n_words, n_tags, crf=None):
        super().__init__(n_tags, crf)
        self.emb = torch.nn.Embedding(n_words, 8)
        self.out = torch.nn.Linear(8, n_tags)

    def emissions(self, batch):
        return self.out(self.emb(batch["words"]))


@pytest.mark.parametrize("use_crf", [False, True])
def test_training_learns_a_lexical_rule_and_is_reproducible(use_crf):
    rng = np.random.default_rng(0)
    words = ["aspirin", "warfarin", "the", "patient", "took", "daily"]
    sents = [[words[i] for i in rng.integers(0, 6, size=rng.integers(2, 8))] for _ in range(200)]
    tags = [["B-Drug" if w in ("aspirin", "warfarin") else "O" for w in s] for s in sents]
    names = tag_set(["Drug"], "BIO")
    enc = Encoders.build(sents, names, chars=True)
    data = [enc.encode(s, t) for s, t in zip(sents, tags, strict=True)]

    def run():
        torch.manual_seed(0)
        crf = CRF(len(names), transition_constraints(names, "BIO")) if use_crf else None
        model = _Tiny(len(enc.words), len(names), crf)
        gold = [t for t in tags[150:]]

        def score(paths):
            return sm.entity_scores(gold, [enc.tags.decode(p) for p in paths])[0]["f1"]
        res = train_tagger(model, data[:150], data[150:], score, epochs=8, lr=0.05, patience=3,
                           progress=False)
        return res, predict(model, data[150:])

    a, pa = run()
    b, pb = run()
    assert a.best_score > 0.95 and a.tokens_per_second > 0
    assert pa == pb and a.history.equals(b.history)
    batch = pad_batch(data[:3])
    assert batch["chars"].shape[:2] == batch["words"].shape and batch["mask"].dtype == torch.bool


class _Spy(_Tiny):
    """Records the word ids of every training batch it sees."""

    def __init__(self, *a):
        super().__init__(*a)
        self.seen = []

    def emissions(self, batch):
        if self.training:
            self.seen.append(batch["words"][batch["mask"]].clone())
        return super().emissions(batch)


def test_rare_words_are_read_as_unknown_during_training_only():
    sents = [["the", "patient", "saw", "smith"], ["the", "patient", "saw", "jones"],
             ["the", "patient", "left"]]
    names = tag_set(["Name"], "BIO")
    tags = [["O", "O", "O", "B-Name"], ["O", "O", "O", "B-Name"], ["O", "O", "O"]]
    enc = Encoders.build(sents, names)
    rare = enc.rare_word_ids()
    assert sorted(enc.words.decode(rare)) == ["jones", "left", "smith"]  # the words seen once
    data = [enc.encode(s, t) for s, t in zip(sents, tags, strict=True)]
    unk = enc.words.index("<unk>")

    def seen(p, seed=0):
        torch.manual_seed(0)
        model = _Spy(len(enc.words), len(names), None)
        train_tagger(model, data * 20, data, lambda paths: 0.0, epochs=2, batch_size=6, patience=5,
                     progress=False, rare_words=rare, unk_replace=p, unk_id=unk, seed=seed)
        return torch.cat(model.seen)

    never, always, half = seen(0.0), seen(1.0), seen(0.5)
    assert not (never == unk).any()
    assert not np.isin(always.numpy(), rare).any()
    assert (always == unk).sum() == 2 * 20 * 3  # epochs x copies x rare words
    share = float((half == unk).sum()) / float((never[..., None] == torch.tensor(rare)).any(-1).sum())
    assert 0.35 < share < 0.65  # about half of the rare occurrences
    assert torch.equal(half, seen(0.5))  # reproducible for a seed
    assert not torch.equal(half, seen(0.5, seed=1))
    with pytest.raises(ValueError, match="unk_replace must be a probability"):
        seen(1.5)
