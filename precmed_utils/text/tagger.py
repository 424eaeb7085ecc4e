"""Neural sequence taggers: a linear-chain CRF layer, padded batches, a training loop with early
stopping, and hand-made token features for the feature-based CRF baselines (sklearn-crfsuite).

A study's model is a subclass of :class:`Tagger`, which only has to compute per-token
``emissions``; the classes live in the package so that a saved model can be loaded by another
program (``deid_model.CharWordBiLSTMCRF``, ``text_models.RecurrentTagger``) and each notebook
prints the source of the one it teaches. This module supplies what every such model shares: the
loss (softmax or CRF), decoding, batching, training (with NeuroNER's rare-word replacement) and
prediction. Used by concept_extraction, temporal_events and deidentification.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import Token, Vocab, allowed_transition, normalise_word

NEG = -1e4  # a transition score that makes a path impossible without producing NaNs


class CRF(nn.Module):
    """Linear-chain CRF over ``K`` tags: start, end and transition scores, the forward algorithm
    for the log-partition and Viterbi decoding. Sequences are left-aligned under a boolean mask
    whose first column is all true. ``constraints`` (a ``K x K`` boolean "may follow" matrix and
    two length-``K`` start/end vectors, see :func:`transition_constraints`) forbid ill-formed tag
    sequences such as ``O, I-Drug`` in BIO."""

    def __init__(self, n_tags: int, constraints: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
        super().__init__()
        self.n_tags = n_tags
        self.transitions = nn.Parameter(torch.empty(n_tags, n_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.zeros(n_tags))
        self.end = nn.Parameter(torch.zeros(n_tags))
        trans_mask, start_mask, end_mask = (
            constraints if constraints is not None
            else (np.ones((n_tags, n_tags), bool), np.ones(n_tags, bool), np.ones(n_tags, bool)))
        masks = (("trans_penalty", trans_mask), ("start_penalty", start_mask), ("end_penalty", end_mask))
        for name, m in masks:
            self.register_buffer(name, torch.where(torch.as_tensor(m), 0.0, NEG).float())

    def _scores(self):
        return (self.transitions + self.trans_penalty, self.start + self.start_penalty,
                self.end + self.end_penalty)

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor) -> None:
        if emissions.dim() != 3 or emissions.shape[-1] != self.n_tags:
            raise ValueError(f"emissions must be (batch, time, {self.n_tags}), got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2] or not bool(mask[:, 0].all()):
            raise ValueError("mask must be (batch, time) with every sequence's first position on")

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-sequence log-partition (forward algorithm). Each step's log-sum-exp over the
        previous tag is computed as a matrix product in scaled probability space,
        ``log(exp(alpha - m) @ exp(trans - t_max)) + m + t_max``, instead of a (B, K, K)
        log-sum-exp: the same numbers (to float rounding), several times faster forward and
        backward. Forbidden transitions (score NEG) have probability exactly 0; a sum that
        underflows is clamped at 1e-30 (a path e^-69 times less likely than the best is
        dropped)."""
        self._check(emissions, mask)
        trans, start, end = self._scores()
        t_max = trans.detach().max()
        p_trans = torch.exp(trans - t_max)
        alpha = start + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            m = alpha.detach().max(1, keepdim=True)[0]
            nxt = torch.log((torch.exp(alpha - m) @ p_trans).clamp_min(1e-30)) + (m + t_max) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        trans, start, end = self._scores()
        B, T = tags.shape
        m = mask.float()
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        score = start[tags[:, 0]] + (emit * m).sum(1)
        if T > 1:
            score = score + (trans[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
        last = tags.gather(1, (mask.long().sum(1) - 1).unsqueeze(1)).squeeze(1)
        return score + end[last]

    def log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-sequence log p(tags | emissions)."""
        return self.path_score(emissions, tags, mask) - self.log_partition(emissions, mask)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The highest-scoring tag sequence of each sequence (Viterbi)."""
        self._check(emissions, mask)
        trans, start, end = self._scores()
        score = start + emissions[:, 0]
        back = []
        for t in range(1, emissions.shape[1]):
            best, idx = (score.unsqueeze(2) + trans).max(dim=1)
            nxt = best + emissions[:, t]
            on = mask[:, t].unsqueeze(1)
            score = torch.where(on, nxt, score)
            back.append(torch.where(on, idx, torch.arange(self.n_tags, device=idx.device).expand_as(idx)))
        score = score + end
        lengths = mask.long().sum(1).tolist()
        out = []
        last = score.argmax(1).tolist()
        back = torch.stack(back).cpu().numpy() if back else None  # (T-1, B, K)
        for i, n in enumerate(lengths):
            path = [last[i]]
            for t in range(n - 1, 0, -1):
                path.append(int(back[t - 1, i, path[-1]]))
            out.append(path[::-1])
        return out


def transition_constraints(tags: Sequence[str], scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean (transition, start, end) masks of the sequences a tag scheme allows."""
    K = len(tags)
    trans = np.array([[allowed_transition(a, b, scheme) for b in tags] for a in tags])
    start = np.array([allowed_transition(None, b, scheme) for b in tags])
    end = np.array([allowed_transition(a, None, scheme) for a in tags])
    assert trans.shape == (K, K)
    return trans, start, end


class Tagger(nn.Module):
    """Base of the notebooks' taggers: a subclass defines ``emissions(batch) -> (B, T, K)``.
    With ``crf`` (a :class:`CRF`) the loss is the CRF's negative log-likelihood and decoding is
    Viterbi; without, a per-token softmax and argmax."""

    def __init__(self, n_tags: int, crf: CRF | None = None):
        super().__init__()
        self.n_tags = n_tags
        self.crf = crf

    def emissions(self, batch: dict) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def loss(self, batch: dict) -> torch.Tensor:
        em, mask, tags = self.emissions(batch), batch["mask"], batch["tags"]
        if self.crf is not None:
            return -self.crf.log_likelihood(em, tags, mask).sum() / mask.sum()
        return nn.functional.cross_entropy(em[mask], tags[mask])

    @torch.no_grad()
    def decode(self, batch: dict) -> list[list[int]]:
        em, mask = self.emissions(batch), batch["mask"]
        if self.crf is not None:
            return self.crf.decode(em, mask)
        best = em.argmax(-1).cpu()
        return [best[i, :n].tolist() for i, n in enumerate(mask.sum(1).tolist())]


# --- encoding and batches -----------------------------------------------------------------------

@dataclass
class Encoders:
    """The vocabularies a tagger's input needs; saved with a trained model."""

    words: Vocab
    tags: Vocab
    chars: Vocab | None = None
    lower: bool = True
    max_word_len: int = 20

    def word_ids(self, tokens: Sequence[str]) -> list[int]:
        return self.words.encode(normalise_word(t, lower=self.lower) for t in tokens)

    def char_ids(self, tokens: Sequence[str]) -> list[list[int]]:
        return [self.chars.encode(t[: self.max_word_len]) for t in tokens]

    def encode(self, tokens: Sequence[str], tags: Sequence[str] | None = None) -> dict:
        ex = {"words": self.word_ids(tokens)}
        if self.chars is not None:
            ex["chars"] = self.char_ids(tokens)
        if tags is not None:
            ex["tags"] = self.tags.encode(tags)
        return ex

    def rare_word_ids(self, max_count: int = 1) -> list[int]:
        """Ids of the words seen at most ``max_count`` times in the sentences the vocabulary was
        built from (for ``train_tagger``'s ``unk_replace``); empty for a loaded vocabulary."""
        counts = self.words.counts
        return [i for w, i in self.words.stoi.items() if 0 < counts.get(w, 0) <= max_count]

    def to_dict(self) -> dict:
        return {"words": self.words.to_dict(), "tags": self.tags.to_dict(),
                "chars": self.chars.to_dict() if self.chars else None, "lower": self.lower,
                "max_word_len": self.max_word_len}

    @classmethod
    def from_dict(cls, d: dict) -> Encoders:
        return cls(Vocab.from_dict(d["words"]), Vocab.from_dict(d["tags"]),
                   Vocab.from_dict(d["chars"]) if d.get("chars") else None, d["lower"], d["max_word_len"])

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], tags: Sequence[str], *, chars: bool = False,
              min_count: int = 1, lower: bool = True, extra_words: Sequence[str] = (),
              max_word_len: int = 20) -> Encoders:
        """Vocabularies from training sentences (and words of pretrained vectors, ``extra_words``)."""
        words = [normalise_word(t, lower=lower) for s in sentences for t in s]
        wv = Vocab(words, min_count=min_count)
        for w in extra_words:
            if w not in wv:
                wv.stoi[w] = len(wv.itos)
                wv.itos.append(w)
        tv = Vocab(specials=False)
        tv.itos, tv.stoi = list(tags), {t: i for i, t in enumerate(tags)}
        cv = Vocab(c for s in sentences for t in s for c in t[:max_word_len]) if chars else None
        return cls(wv, tv, cv, lower, max_word_len)


def pad_batch(examples: Sequence[dict], device: str | torch.device = "cpu") -> dict:
    """Stack encoded examples into padded tensors: ``words`` (B, T), ``mask`` (B, T) bool,
    ``tags`` (B, T) when present, ``chars`` (B, T, C) when present."""
    B = len(examples)
    lengths = [len(e["words"]) for e in examples]
    T = max(lengths)
    if T == 0:
        raise ValueError("cannot batch empty sequences")
    # filled in numpy (one small tensor per token would dominate the time of a character model)
    words = np.zeros((B, T), dtype=np.int64)
    mask = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    tags = np.zeros((B, T), dtype=np.int64) if "tags" in examples[0] else None
    has_chars = "chars" in examples[0]
    C = max((len(c) for e in examples for c in e.get("chars", [])), default=0)
    chars = np.zeros((B, T, max(C, 1)), dtype=np.int64) if has_chars else None
    for i, e in enumerate(examples):
        n = lengths[i]
        words[i, :n] = e["words"]
        if tags is not None:
            tags[i, :n] = e["tags"]
        if has_chars:
            row = chars[i]
            for j, cs in enumerate(e["chars"]):
                row[j, : len(cs)] = cs
    words, mask = torch.from_numpy(words), torch.from_numpy(mask)
    tags = torch.from_numpy(tags) if tags is not None else None
    chars = torch.from_numpy(chars) if has_chars else None
    out = {"words": words.to(device), "mask": mask.to(device)}
    if tags is not None:
        out["tags"] = tags.to(device)
    if chars is not None:
        out["chars"] = chars.to(device)
    return out


def batches(examples: Sequence[dict], batch_size: int, *, shuffle: bool = False, seed: int = 0):
    """Index lists of batches. Shuffled batches group sequences of similar length (less padding):
    the examples are shuffled, cut into pools of 50 batches, sorted by length within each pool."""
    idx = np.arange(len(examples))
    if not shuffle:
        return [idx[i:i + batch_size].tolist() for i in range(0, len(idx), batch_size)]
    rng = np.random.default_rng(seed)
    rng.shuffle(idx)
    out = []
    pool = batch_size * 50
    for p in range(0, len(idx), pool):
        chunk = sorted(idx[p:p + pool], key=lambda i: len(examples[i]["words"]))
        out += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    order = rng.permutation(len(out))
    return [[int(i) for i in out[k]] for k in order]


@torch.no_grad()
def predict(model: Tagger, examples: Sequence[dict], *, batch_size: int = 64,
            device: str = "cpu") -> list[list[int]]:
    """Tag ids for each example, in the input order."""
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]["words"]))
    out: list[list[int] | None] = [None] * len(examples)
    for k in range(0, len(order), batch_size):
        ids = order[k:k + batch_size]
        for i, path in zip(ids, model.decode(pad_batch([examples[i] for i in ids], device)), strict=True):
            out[i] = path
    return out


@dataclass
class TrainResult:
    best_epoch: int
    best_score: float
    history: pd.DataFrame
    seconds: float
    tokens_per_second: float
    stopped_early: bool = False
    extra: dict = field(default_factory=dict)


def make_optimizer(name: str, params, lr: float, *, momentum: float = 0.9, weight_decay: float = 0.0):
    name = name.lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimiser {name!r}; expected sgd, adagrad or adam")


def train_tagger(model: Tagger, train: Sequence[dict], dev: Sequence[dict],
                 score: Callable[[list[list[int]]], float],
                 *, epochs: int, batch_size: int = 32, optimizer: str = "adam", lr: float = 1e-3,
                 momentum: float = 0.9, clip: float = 5.0, patience: int = 3, seed: int = 0,
                 device: str = "cpu", progress: bool = True, desc: str = "training",
                 rare_words: Sequence[int] = (), unk_replace: float = 0.0, unk_id: int = 1) -> TrainResult:
    """Train ``model`` on encoded examples with early stopping on ``score`` (higher is better) of
    its predictions on ``dev``; the best epoch's weights are restored. The progress bar shows the
    loss and dev score; ``tokens_per_second`` counts training tokens over training time only.

    ``unk_replace``: each time a training batch is drawn, every occurrence of a word id in
    ``rare_words`` (typically the words seen once in the training set) is replaced by ``unk_id``
    with this probability, as NeuroNER and Lample et al. (2016) do. Without it the unknown-word
    vector never occurs in training, and every unseen word at test time (most names in a
    de-identification test set) reaches the network as an input it has never learned to read."""
    from tqdm import tqdm

    if not 0.0 <= unk_replace <= 1.0:
        raise ValueError(f"unk_replace must be a probability in [0, 1], got {unk_replace!r}")
    rare = None
    if unk_replace > 0 and len(rare_words):
        n_words = max(max(max(e["words"], default=0) for e in train), max(rare_words), unk_id) + 1
        rare = torch.zeros(n_words, dtype=torch.bool)
        rare[torch.as_tensor(list(rare_words), dtype=torch.long)] = True
        rare = rare.to(device)
        gen = torch.Generator(device="cpu").manual_seed(seed)
    model.to(device)
    opt = make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr, momentum=momentum)
    best, best_epoch, best_state, bad = -math.inf, 0, None, 0
    rows, train_time, n_tokens = [], 0.0, 0
    bar = tqdm(range(1, epochs + 1), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        t0, total, count = time.perf_counter(), 0.0, 0
        for ids in batches(train, batch_size, shuffle=True, seed=seed * 1000 + epoch):
            batch = pad_batch([train[i] for i in ids], device)
            if rare is not None:
                w = batch["words"]
                drop = rare[w] & (torch.rand(w.shape, generator=gen) < unk_replace).to(device)
                batch["words"] = torch.where(drop, torch.full_like(w, unk_id), w)
            loss = model.loss(batch)
            opt.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            total += loss.detach().item() * len(ids)
            count += len(ids)
            n_tokens += int(batch["mask"].sum())
        train_time += time.perf_counter() - t0
        dev_score = float(score(predict(model, dev, device=device)))
        rows.append({"epoch": epoch, "loss": total / max(count, 1), "dev_score": dev_score})
        bar.set_postfix(loss=f"{rows[-1]['loss']:.3f}", dev=f"{dev_score:.3f}")
        if dev_score > best:
            best, best_epoch, bad = dev_score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return TrainResult(best_epoch, best, pd.DataFrame(rows), train_time, n_tokens / max(train_time, 1e-9),
                       stopped_early=len(rows) < epochs)


# --- hand-made features for the feature-based CRF baselines --------------------------------------

def _shape(word: str) -> str:
    out = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def token_features(tokens: Sequence[str], i: int, *, window: int = 2) -> dict:
    """Lexical features of token ``i`` and its neighbours (sklearn-crfsuite's dict form): the
    lower-cased word, suffixes, prefix, shape, case and digit flags, and the words within
    ``window`` positions."""
    w = tokens[i]
    f = {"bias": 1.0, "w": w.lower(), "suf3": w[-3:].lower(), "suf2": w[-2:].lower(), "pre3": w[:3].lower(),
         "shape": _shape(w), "upper": w.isupper(), "title": w.istitle(), "digit": any(c.isdigit() for c in w),
         "punct": not any(c.isalnum() for c in w), "len": min(len(w), 10)}
    for d in range(1, window + 1):
        for sign, key in ((-1, "-"), (1, "+")):
            j = i + sign * d
            f[f"w{key}{d}"] = tokens[j].lower() if 0 <= j < len(tokens) else ("<s>" if j < 0 else "</s>")
    if i == 0:
        f["first"] = True
    if i == len(tokens) - 1:
        f["last"] = True
    return f


def sentence_features(tokens: Sequence[str], *, window: int = 2, context: Sequence[str] = ()) -> list[dict]:
    """Features of every token; ``context`` words (e.g. the neighbouring sentences' words, the
    "CRF-context" baseline) are added to each token as a bag of words."""
    bag = {f"ctx={w.lower()}": 1.0 for w in context}
    return [{**token_features(tokens, i, window=window), **bag} for i in range(len(tokens))]


def token_texts(tokens: Sequence[Token]) -> list[str]:
    return [t.text for t in tokens]
