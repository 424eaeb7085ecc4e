"""The character+word BiLSTM-CRF de-identifier (Dernoncourt et al. 2017, NeuroNER's architecture):
the model, saving and loading it with its model card, and tagging new text with it.

Split from :mod:`precmed_utils.studies.deid` so that reading the corpora (and ``precmed list``,
``precmed check-data``) never imports torch; ``deid.BiLSTM``, ``deid.load_model`` etc. still work
(``deid`` imports this module the first time one of these names is used).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..text import Span
from ..text.saved_models import MODEL_CARD as MODEL_CARD  # re-exported: deid.MODEL_CARD
from ..text.saved_models import MODEL_FILES as MODEL_FILES  # deid.MODEL_FILES
from ..text.saved_models import load_parts, read_card, save_parts, score_table, weights_licence, write_card
from ..text.tagger import CRF, Encoders, Tagger, predict, transition_constraints
from .deid import SCHEME, note_sentences, phi_category, replace_spans, spans_from_tags

# --- the character + word BiLSTM-CRF (Dernoncourt et al. 2017, NeuroNER) -------------------------

def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each left-aligned sequence of ``x`` (N, T, ...) within its length; padding stays
    at the end. Applying it twice gives ``x`` back."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device).unsqueeze(0)
    n = lengths.to(x.device).unsqueeze(1)
    idx = torch.where(t < n, n - 1 - t, t)  # (N, T)
    idx = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


class BiLSTM(nn.Module):
    """A bidirectional LSTM over left-aligned, padded sequences: a forward LSTM reads each
    sequence, a backward LSTM reads it reversed within its length, so padding never reaches a
    real position. (The same result as packing the sequences, without packed sequences, which
    are many times slower on a CPU.) Returns the outputs (N, T, 2H) and the final states
    (N, 2H): the forward state after the last element and the backward state after the first."""

    def __init__(self, input_size: int, hidden: int):
        super().__init__()
        self.fw = nn.LSTM(input_size, hidden, batch_first=True)
        self.bw = nn.LSTM(input_size, hidden, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = lengths.to(x.device)
        fw, _ = self.fw(x)
        bw_rev, _ = self.bw(reverse_padded(x, lengths))
        last = (lengths - 1).view(-1, 1, 1)
        final = torch.cat([fw.gather(1, last.expand(-1, 1, fw.shape[-1])).squeeze(1),
                           bw_rev.gather(1, last.expand(-1, 1, bw_rev.shape[-1])).squeeze(1)], dim=-1)
        return torch.cat([fw, reverse_padded(bw_rev, lengths)], dim=-1), final


CHAR_LENGTH_GROUPS = ((0, 4), (4, 8), (8, 10**6))  # word lengths (characters) read together


class CharWordBiLSTMCRF(Tagger):
    """NeuroNER's tagger. Each token is represented by its word embedding concatenated with the
    final states of a bidirectional LSTM run over its characters; a token-level bidirectional
    LSTM reads these, a linear layer gives each tag's score and a CRF layer picks the best tag
    sequence. ``use_chars=False`` gives the word-only model (claim C2)."""

    def __init__(self, n_words: int, n_chars: int, tags: Sequence[str], *, word_dim: int = 100,
                 char_dim: int = 25, char_hidden: int = 25, word_hidden: int = 100, dropout: float = 0.5,
                 use_chars: bool = True, use_crf: bool = True, scheme: str = SCHEME,
                 pretrained: np.ndarray | None = None, freeze_words: bool = False):
        crf = CRF(len(tags), transition_constraints(list(tags), scheme)) if use_crf else None
        super().__init__(len(tags), crf)
        self.use_chars = use_chars
        self.words = nn.Embedding(n_words, word_dim, padding_idx=0)
        if pretrained is not None:
            self.words.weight.data.copy_(torch.as_tensor(pretrained))
        self.words.weight.requires_grad = not freeze_words
        in_dim = word_dim
        if use_chars:
            self.chars = nn.Embedding(n_chars, char_dim, padding_idx=0)
            self.char_lstm = BiLSTM(char_dim, char_hidden)
            in_dim += 2 * char_hidden
        self.drop = nn.Dropout(dropout)
        self.lstm = BiLSTM(in_dim, word_hidden)
        self.out = nn.Linear(2 * word_hidden, len(tags))

    def char_features(self, chars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, C) character ids -> (B, T, 2 * char_hidden): the final forward and backward
        states of each real token's character LSTM (padding positions stay zero)."""
        # The character LSTM reads each distinct word of the batch once (a batch of ~300 tokens
        # holds ~200 distinct words), in groups of similar length cut to their longest word (most
        # words are far shorter than the batch's longest): the same final states as running it
        # over every padded token, for a fraction of the work.
        flat = chars[mask]  # (N, C): real tokens only
        uniq, inverse = torch.unique(flat, dim=0, return_inverse=True)
        lengths = (uniq != 0).sum(1).clamp(min=1)
        final = None
        for lo, hi in CHAR_LENGTH_GROUPS:
            sel = ((lengths > lo) & (lengths <= hi)).nonzero().squeeze(1)
            if sel.numel() == 0:
                continue
            n = lengths[sel]
            _, f = self.char_lstm(self.chars(uniq[sel, : int(n.max())]), n)
            if final is None:
                final = f.new_zeros(len(uniq), f.shape[-1])
            final = final.index_copy(0, sel, f)
        out = final.new_zeros(*mask.shape, final.shape[-1])
        return out.masked_scatter(mask.unsqueeze(-1), final[inverse])

    def emissions(self, batch: dict) -> torch.Tensor:
        mask = batch["mask"]
        x = self.words(batch["words"])
        if self.use_chars:
            x = torch.cat([x, self.char_features(batch["chars"], mask)], dim=-1)
        h, _ = self.lstm(self.drop(x), mask.sum(1))
        return self.out(self.drop(h))


def build_model(config: dict, pretrained: np.ndarray | None = None) -> CharWordBiLSTMCRF:
    """The model a ``config`` (as saved in config.json) describes."""
    keys = ("word_dim", "char_dim", "char_hidden", "word_hidden", "dropout", "use_chars", "use_crf")
    return CharWordBiLSTMCRF(config["n_words"], config["n_chars"], config["tags"], pretrained=pretrained,
                             freeze_words=config.get("freeze_words", False),
                             **{k: config[k] for k in keys if k in config})


def save_model(model_dir: str | Path, model: CharWordBiLSTMCRF, encoders: Encoders, config: dict) -> Path:
    """Write ``weights.pt`` (the state dict only), ``encoders.json`` and ``config.json``."""
    return save_parts(model_dir, model, encoders, config)


def load_model(model_dir: str | Path) -> tuple[CharWordBiLSTMCRF, Encoders, dict]:
    """A saved model, read with ``torch.load(weights_only=True)`` (no code is unpickled)."""
    return load_parts(model_dir, study="deidentification", what="de-identification", build=build_model)


def write_model_card(model_dir: str | Path, *, config: dict, data_info: dict, scores: dict,
                     split: dict, params: dict) -> Path:
    """Write ``MODEL_CARD.md`` and ``model_card.json`` beside a saved model: what it was trained
    on (data, licence), how it scored on held-out patients, how to use it, and its limits.

    ``scores`` maps a metric name to ``{"mean", "sd"}`` over the run's repeats; ``split`` gives
    the saved model's own training data (patients, notes, sequences). Used by the
    deidentification notebook; read back by :class:`DeidModel`."""
    card = {"model": "character+word BiLSTM-CRF de-identifier (Dernoncourt et al. 2017 architecture)",
            "task": "tag protected health information (PHI) spans in English clinical notes",
            "data": {k: data_info.get(k) for k in ("name", "kind", "licence", "citation")},
            "training": split, "tags": config["tags"],
            "sizes": {k: config.get(k) for k in ("word_dim", "char_dim", "char_hidden", "word_hidden",
                                                 "max_len")},
            "parameters": params, "scores": scores}
    licence = weights_licence(data_info, memorises="names")
    text = f"""# Model card: {card['model']}

**Task.** {card['task']}. Input: UTF-8 text. Output: character offsets and a PHI type for each span
({', '.join(sorted({t[2:] for t in config['tags'] if t != 'O'}))}).

**Training data.** {data_info.get('name')} ({data_info.get('kind')} data); {split.get('patients')} patients,
{split.get('notes')} notes, {split.get('sequences')} training sequences (the first patient split of the run).
Citation: {data_info.get('citation')}.

**Licence of the weights.** They are derived from the training data: {licence}. The code is the
project's (MIT).

**Scores on held-out patients** (binary token level unless named; mean and SD over the run's
{params.get('n_repeats', '?')} patient splits):

| metric | mean | SD |
|---|---|---|
{score_table(scores)}

**Use.** Python: `DeidModel.load(folder).predict(text)` gives the spans and `.deidentify(text)` a copy
with `[**TYPE**]` tags or surrogates; the command line: `precmed predict deidentification FOLDER notes/`
(spans as JSON, offsets only) and `precmed deid FOLDER notes/ out/`. Loading reads tensors only.

**Limits.** Trained on {split.get('notes')} notes of one kind (ICU nursing notes for the shipped corpus, whose
PHI are surrogates); it misses PHI types and formats it has not seen (recall is the number that matters:
every missed name is a leak), does not know about free-text identifiers outside its tag set, and is
English-only. Scores on another institution's notes will be lower. Use it as one layer of a
de-identification process with human review, never as the only safeguard.
"""
    return write_card(model_dir, card, text)


class DeidModel:
    """A saved de-identifier, loaded with weights only (no pickled code).

    ``DeidModel.load(folder).predict(text)`` returns the PHI spans as dicts (start, end, label,
    category); ``.deidentify(text, mode=...)`` a copy with the spans replaced. ``card`` holds
    model_card.json when the folder has one. Used by ``precmed predict`` and ``precmed deid``."""

    def __init__(self, model: CharWordBiLSTMCRF, encoders: Encoders, config: dict, card: dict | None = None,
                 device: str = "cpu"):
        self.model, self.encoders, self.config, self.card, self.device = model, encoders, config, card, device
        self.max_len = int(config.get("max_len", 60))

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "cpu") -> DeidModel:
        model, encoders, config = load_model(model_dir)
        return cls(model.to(device), encoders, config, read_card(model_dir), device)

    def spans(self, text: str) -> list[Span]:
        return tag_text(text, self.model, self.encoders, max_len=self.max_len, device=self.device)

    def predict(self, text: str) -> list[dict]:
        return [{"start": s.start, "end": s.end, "label": s.label, "category": phi_category(s.label)}
                for s in self.spans(text)]

    def deidentify(self, text: str, *, mode: str = "tags", seed: int = 0, note_key: str = "") -> str:
        return replace_spans(text, self.spans(text), mode=mode, seed=seed, note_key=note_key)[0]


def tag_text(text: str, model: CharWordBiLSTMCRF, encoders: Encoders, *, max_len: int = 60,
             device: str = "cpu", batch_size: int = 64) -> list[Span]:
    """PHI spans the model finds in ``text`` (character offsets)."""
    sents = note_sentences(text, max_len=max_len)
    if not sents:
        return []
    ex = [encoders.encode([t.text for t in s]) for s in sents]
    paths = predict(model, ex, batch_size=batch_size, device=device)
    spans = []
    for s, p in zip(sents, paths, strict=True):
        spans += spans_from_tags(s, encoders.tags.decode(p))
    return sorted(spans)
