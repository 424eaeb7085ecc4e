"""Clinical text as token sequences: documents with character-offset spans, tokens, tag schemes,
vocabularies and word2vec embeddings.

Used by the sequence-labelling studies (concept_extraction, deidentification; later
temporal_events and relation_extraction). Everything keeps character offsets, so predictions go
back onto the original text (for span scores, for writing a de-identified copy) without
re-tokenising.

Tag schemes: ``IO`` (``I-X`` or ``O``), ``BIO`` (``B-X`` opens a span) and ``BIOES`` (also ``E-X``
closes one, ``S-X`` is a one-token span). Spans are half-open token ranges ``(label, start,
end)`` on the token level and ``Span(start, end, label)`` on the character level.

The subpackage ``precmed_utils.text`` is the shared sequence-labelling toolkit: this module (the
text itself), ``tagger`` (the BiLSTM-CRF), ``span_metrics``, ``text_models`` and ``saved_models``.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

SCHEMES = ("IO", "BIO", "BIOES")
OUTSIDE = "O"


@dataclass(frozen=True, order=True)
class Span:
    """A labelled character range ``text[start:end]``."""

    start: int
    end: int
    label: str

    def __post_init__(self):
        if not (0 <= self.start < self.end):
            raise ValueError(f"a span needs 0 <= start < end, got {self.start}..{self.end} ({self.label})")


@dataclass
class Document:
    """A text with its annotated spans. ``group`` is what a split must keep together (a patient,
    an article); ``meta`` holds anything else a reader knows (note id, split)."""

    id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    group: str | None = None
    meta: dict = field(default_factory=dict)

    def check(self) -> None:
        for s in self.spans:
            if s.end > len(self.text):
                raise ValueError(f"document {self.id!r}: span {s.start}..{s.end} ({s.label}) "
                                 f"runs past the end of its {len(self.text)}-character text")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


# Words (letters/digits with inner apostrophes, hyphens, dots and slashes, e.g. "b.i.d", "7/22",
# "3.5", "O'Brien"), then any other single non-space character.
TOKEN_PATTERN = r"[A-Za-z0-9]+(?:['.\-/:][A-Za-z0-9]+)*|[^\sA-Za-z0-9]"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_SPLIT_WORD_RE = re.compile(r"[A-Za-z]+|[0-9]+|[^A-Za-z0-9]")


def tokenise(text: str, start: int = 0, end: int | None = None, *, pattern: str | None = None) -> list[Token]:
    """Tokens of ``text[start:end]`` with offsets into ``text``."""
    rx = re.compile(pattern) if pattern else _TOKEN_RE
    end = len(text) if end is None else end
    return [Token(m.group(), m.start(), m.end()) for m in rx.finditer(text, start, end)]


def refine_tokens(tokens: list[Token], spans: Iterable[Span]) -> list[Token]:
    """Split tokens that a span boundary cuts through, so every span starts and ends on a token
    boundary ("Dr.Smith" with the name annotated becomes "Dr", ".", "Smith"). Only tokens that
    straddle a boundary are split, and only at letter/digit/punctuation changes or at the
    boundary itself."""
    cuts = set()
    for s in spans:
        cuts.add(s.start)
        cuts.add(s.end)
    out = []
    for t in tokens:
        inner = sorted(c for c in cuts if t.start < c < t.end)
        if not inner:
            out.append(t)
            continue
        bounds = [t.start, *inner, t.end]
        for a, b in zip(bounds, bounds[1:], strict=False):
            out.append(Token(t.text[a - t.start:b - t.start], a, b))
    return out


# Words whose full stop does not end a sentence: titles before a name ("Dr. Smith"), and, with
# ``initials``, a single letter ("J. Smith").
TITLE_ABBREVIATIONS = frozenset({"dr", "drs", "mr", "mrs", "ms", "prof", "st", "mt", "ft"})


def split_sentences(text: str, tokens: list[Token], *, max_len: int = 0,
                    no_break_after: Collection[str] = (), initials: bool = False) -> list[list[Token]]:
    """Group tokens into sentences: a break after ``.``, ``?``, ``!`` or ``;`` followed by
    whitespace, and at every blank line. ``max_len`` > 0 also cuts sentences longer than that
    many tokens (long nursing-note lines), so a recurrent model sees bounded sequences. A full stop
    after a word in ``no_break_after`` (lower-cased; e.g. ``TITLE_ABBREVIATIONS``) or, with
    ``initials``, after a single letter is not a break, so a name stays with its title."""
    out, cur = [], []
    for i, t in enumerate(tokens):
        cur.append(t)
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        gap = text[t.end:nxt.start] if nxt else ""
        prev = tokens[i - 1].text if i else ""
        abbreviation = t.text == "." and i > 0 and tokens[i - 1].end == t.start and (
            prev.lower() in no_break_after or (initials and len(prev) == 1 and prev.isalpha()))
        end = (nxt is None or "\n\n" in gap
               or (t.text in (".", "?", "!", ";") and gap != "" and not abbreviation)
               or (max_len and len(cur) >= max_len))
        if end:
            out.append(cur)
            cur = []
    return out


# --- spans <-> tags ---------------------------------------------------------------------------

def _check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return scheme


def char_to_token_spans(tokens: Sequence[Token],
                        spans: Iterable[Span]) -> tuple[list[tuple[str, int, int]], list[Span]]:
    """Map character spans onto token ranges. A span covers every token it overlaps. Spans that
    overlap an earlier-kept span (nested or crossing annotations, which a flat tag sequence
    cannot hold) are not kept: they come back as the second value so a notebook can count what
    flattening loses. Longer spans are kept first."""
    starts = np.array([t.start for t in tokens])
    ends = np.array([t.end for t in tokens])
    taken = np.zeros(len(tokens), dtype=bool)
    kept, dropped = [], []
    for s in sorted(spans, key=lambda s: (-(s.end - s.start), s.start, s.label)):
        idx = np.flatnonzero((starts < s.end) & (ends > s.start))
        if len(idx) == 0 or taken[idx].any():
            dropped.append(s)
            continue
        taken[idx] = True
        kept.append((s.label, int(idx[0]), int(idx[-1]) + 1))
    return sorted(kept, key=lambda k: k[1]), dropped


def token_to_char_spans(tokens: Sequence[Token], spans: Iterable[tuple[str, int, int]]) -> list[Span]:
    return [Span(tokens[a].start, tokens[b - 1].end, label) for label, a, b in spans]


def spans_to_tags(n: int, spans: Iterable[tuple[str, int, int]], scheme: str = "BIO") -> list[str]:
    """Token tags for ``n`` tokens from non-overlapping token spans ``(label, start, end)``."""
    _check_scheme(scheme)
    tags = [OUTSIDE] * n
    for label, a, b in spans:
        if not (0 <= a < b <= n):
            raise ValueError(f"token span {label} {a}..{b} is outside 0..{n}")
        if any(t != OUTSIDE for t in tags[a:b]):
            raise ValueError(f"token span {label} {a}..{b} overlaps another span")
        for i in range(a, b):
            tags[i] = f"I-{label}"
        if scheme == "BIO":
            tags[a] = f"B-{label}"
        elif scheme == "BIOES":
            if b - a == 1:
                tags[a] = f"S-{label}"
            else:
                tags[a], tags[b - 1] = f"B-{label}", f"E-{label}"
    return tags


def _split_tag(tag: str) -> tuple[str, str | None]:
    if tag == OUTSIDE:
        return OUTSIDE, None
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    raise ValueError(f"malformed tag {tag!r}: expected 'O' or a prefix B-, I-, E-, S- and a label")


def tags_to_spans(tags: Sequence[str], scheme: str = "BIO") -> list[tuple[str, int, int]]:
    """Token spans from tags. Ill-formed sequences (an ``I-X`` after ``O``, a label change without
    ``B-``) are read leniently, the way conlleval does: any change of label, and any ``B-``/``S-``,
    starts a new span; ``E-``/``S-`` close one."""
    _check_scheme(scheme)
    spans, label, start = [], None, 0
    for i, tag in enumerate(tags):
        prefix, lab = _split_tag(tag)
        if label is not None and (lab != label or prefix in "BS"):
            spans.append((label, start, i))
            label = None
        if lab is not None and label is None:
            label, start = lab, i
        if label is not None and prefix in "ES":
            spans.append((label, start, i + 1))
            label = None
    if label is not None:
        spans.append((label, start, len(tags)))
    return spans


def convert_tags(tags: Sequence[str], src: str, dst: str) -> list[str]:
    return spans_to_tags(len(tags), tags_to_spans(tags, src), dst)


def strip_tags(tags: Sequence[str]) -> list[str]:
    """Labels without the scheme's prefix (``B-Drug`` -> ``Drug``); ``O`` and labels that carry no
    prefix (``Drug``) stay as they are."""
    return [t[2:] if len(t) > 2 and t[1] == "-" and t[0] in "BIES" else t for t in tags]


def tag_set(labels: Iterable[str], scheme: str = "BIO") -> list[str]:
    """All tags of a scheme for the given labels, ``O`` first."""
    prefixes = {"IO": "I", "BIO": "BI", "BIOES": "BIES"}[_check_scheme(scheme)]
    return [OUTSIDE] + [f"{p}-{lab}" for lab in sorted(set(labels)) for p in prefixes]


def allowed_transition(prev: str | None, nxt: str | None, scheme: str) -> bool:
    """Whether tag ``nxt`` may follow ``prev`` (``None`` = sequence start or end)."""
    if scheme == "IO":
        return True
    p, pl = _split_tag(prev) if prev else ("O", None)
    n, nl = _split_tag(nxt) if nxt else ("O", None)
    if scheme == "BIO":
        return not (n == "I" and (p == "O" or pl != nl)) and n not in "ES"
    # BIOES: inside a span only I/E of the same label may follow; outside, only O, B, S.
    if p in "BI":
        return n in "IE" and nl == pl
    return n in "OBS"


def document_tags(doc: Document, tokens: Sequence[Token],
                  scheme: str = "BIO") -> tuple[list[str], list[Span]]:
    """Tags of a document's tokens and the spans that flattening dropped."""
    kept, dropped = char_to_token_spans(tokens, doc.spans)
    return spans_to_tags(len(tokens), kept, scheme), dropped


# --- vocabularies -----------------------------------------------------------------------------

class Vocab:
    """Index of strings with ``<pad>`` = 0 and ``<unk>`` = 1."""

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, items: Iterable[str] = (), *, min_count: int = 1, specials: bool = True):
        counts = Counter(items)
        self.itos = [self.PAD, self.UNK] if specials else []
        self.itos += sorted(w for w, c in counts.items() if c >= min_count and w not in self.itos)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.counts = counts

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, item: str) -> bool:
        return item in self.stoi

    def index(self, item: str) -> int:
        if item in self.stoi:
            return self.stoi[item]
        if self.UNK in self.stoi:
            return self.stoi[self.UNK]
        raise KeyError(f"{item!r} is not in the vocabulary of {len(self)} entries")

    def encode(self, items: Iterable[str]) -> list[int]:
        return [self.index(x) for x in items]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict:
        return {"itos": self.itos}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        v = cls(specials=False)
        v.itos = list(d["itos"])
        v.stoi = {w: i for i, w in enumerate(v.itos)}
        return v


_DIGITS = re.compile(r"[0-9]")


def normalise_word(word: str, *, lower: bool = True, digits: bool = True) -> str:
    """The form a word vocabulary stores: lower-cased, digits mapped to 0 ("7/22" -> "0/00")."""
    if lower:
        word = word.lower()
    return _DIGITS.sub("0", word) if digits else word


# --- word2vec -----------------------------------------------------------------------------------

def _stable_hash(s: str) -> int:
    # gensim seeds each word's initial vector with hash(word + seed); Python's str hash changes
    # with PYTHONHASHSEED, so the default makes word2vec irreproducible across processes.
    return zlib.crc32(s.encode("utf-8"))


def train_word2vec(sentences: Sequence[Sequence[str]], *, dim: int = 200, window: int = 5, min_count: int = 2,
                   epochs: int = 5, sg: bool = True, seed: int = 0, workers: int = 1):
    """Skip-gram word2vec (gensim) on tokenised sentences; deterministic for a seed with one
    worker. Returns gensim KeyedVectors."""
    from gensim.models import Word2Vec

    sentences = [list(s) for s in sentences if len(s)]
    if not sentences:
        raise ValueError("word2vec needs at least one non-empty sentence")
    model = Word2Vec(sentences, vector_size=dim, window=window, min_count=min_count, sg=int(sg),
                     epochs=epochs, seed=seed, workers=workers, hashfxn=_stable_hash)
    return model.wv


def embedding_matrix(vocab: Vocab, vectors, dim: int, *, seed: int = 0,
                     scale: float = 0.1) -> tuple[np.ndarray, float]:
    """Initial embedding weights for ``vocab``: the pretrained vector where there is one, small
    random values elsewhere, zeros for padding. Also returns the share of the vocabulary covered."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(-scale, scale, size=(len(vocab), dim)).astype(np.float32)
    hit = 0
    for i, w in enumerate(vocab.itos):
        if vectors is not None and w in vectors:
            W[i] = vectors[w]
            hit += 1
    if Vocab.PAD in vocab:
        W[vocab.index(Vocab.PAD)] = 0.0
    return W, hit / max(len(vocab), 1)
