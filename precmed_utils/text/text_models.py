"""The recurrent taggers of the concept_extraction and temporal_events chapters, as one configurable
class that another program can rebuild from a saved ``config.json``; saving one with its model
card, loading it back, and tagging new text with it (``precmed predict``).

The chapters print :class:`RecurrentTagger`'s source and name their architectures with
:data:`CONCEPT_ARCHITECTURES` and :data:`TEMPORAL_ARCHITECTURES` (a cell type, one or two
directions, with or without a CRF layer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import Span, split_sentences, tags_to_spans, token_to_char_spans, tokenise
from .saved_models import MODEL_FILES as MODEL_FILES  # the files of a saved model
from .saved_models import load_parts, read_card, save_parts, score_table, weights_licence, write_card
from .tagger import CRF, Encoders, Tagger, predict, transition_constraints


class RecurrentTagger(Tagger):
    """Embedding -> dropout -> recurrent layer -> dropout -> linear tag scores; with ``crf`` a
    linear-chain CRF over the tags (loss: its likelihood; decoding: Viterbi with the scheme's
    impossible transitions forbidden), otherwise a per-token softmax.

    ``cell`` is "lstm", "gru" or "rnn" (Elman's tanh network); ``bidirectional`` adds a second
    network reading right to left. ``pretrained`` (n_words x embedding_dim, float32) initialises
    the embeddings, which are fine-tuned; without it they start from N(0, 1)."""

    CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

    def __init__(self, n_words: int, tags: Sequence[str], *, embedding_dim: int = 100, hidden: int = 50,
                 dropout: float = 0.5, cell: str = "lstm", bidirectional: bool = False, crf: bool = False,
                 scheme: str = "BIO", pretrained: np.ndarray | None = None):
        if cell not in self.CELLS:
            raise ValueError(f"cell {cell!r}: expected one of {', '.join(self.CELLS)}")
        tags = list(tags)
        super().__init__(len(tags), CRF(len(tags), transition_constraints(tags, scheme)) if crf else None)
        self.tags, self.scheme, self.cell, self.bidirectional = tags, scheme, cell, bidirectional
        if pretrained is not None and tuple(pretrained.shape) != (n_words, embedding_dim):
            raise ValueError(f"pretrained embeddings are {tuple(pretrained.shape)}, expected "
                             f"({n_words}, {embedding_dim})")
        W = torch.tensor(pretrained) if pretrained is not None else torch.randn(n_words, embedding_dim)
        self.embed = nn.Embedding.from_pretrained(W, freeze=False, padding_idx=0)
        self.rnn = self.CELLS[cell](embedding_dim, hidden, batch_first=True, bidirectional=bidirectional)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), len(tags))

    def emissions(self, batch: dict) -> torch.Tensor:
        x = self.drop(self.embed(batch["words"]))
        if not self.bidirectional:  # padding comes after the words: a left-to-right pass never sees it
            h, _ = self.rnn(x)
        else:  # the backward pass must start at each sentence's last word, not at the padding
            lengths = batch["mask"].sum(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            h, _ = self.rnn(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        return self.out(self.drop(h))

    def config(self) -> dict:
        """What rebuilds this model (:func:`build_tagger`), as saved in config.json."""
        return {"n_words": self.embed.num_embeddings, "embedding_dim": self.embed.embedding_dim,
                "tags": self.tags, "scheme": self.scheme, "hidden": self.rnn.hidden_size,
                "dropout": self.drop.p, "cell": self.cell, "bidirectional": self.bidirectional,
                "crf": self.crf is not None}


#: concept_extraction's taggers (Jagannatha & Yu, NAACL and EMNLP 2016)
CONCEPT_ARCHITECTURES = {"LSTM": {"cell": "lstm"}, "GRU": {"cell": "gru"},
                         "BiLSTM": {"cell": "lstm", "bidirectional": True},
                         "BiLSTM-CRF": {"cell": "lstm", "bidirectional": True, "crf": True}}
#: temporal_events' taggers (Fries 2016: Elman, GRU and LSTM, one or two directions)
TEMPORAL_ARCHITECTURES = {**{n: {"cell": c} for n, c in (("Elman", "rnn"), ("GRU", "gru"), ("LSTM", "lstm"))},
                          **{f"Bi{n}": {"cell": c, "bidirectional": True}
                             for n, c in (("Elman", "rnn"), ("GRU", "gru"), ("LSTM", "lstm"))}}

_BUILD_KEYS = ("embedding_dim", "hidden", "dropout", "cell", "bidirectional", "crf", "scheme")


def build_tagger(config: dict) -> RecurrentTagger:
    """The model a saved ``config`` describes, its embeddings zero (loading fills every weight).
    Torch's random state is restored afterwards: loading a model changes no later random draw."""
    blank = np.zeros((config["n_words"], config.get("embedding_dim", 100)), dtype=np.float32)
    with torch.random.fork_rng(devices=[]):
        return RecurrentTagger(config["n_words"], config["tags"], pretrained=blank,
                               **{k: config[k] for k in _BUILD_KEYS if k in config})


# --- the studies whose taggers can be saved -----------------------------------------------------

STUDIES = {
    "concept_extraction": {
        "what": "concept-extraction",
        "task": "tag medication and adverse-drug-event concepts (drug name, dosage, route, frequency, "
                "duration, ADE, indication, severity) in English clinical or case-report text",
        "paper": "Jagannatha & Yu 2016 (NAACL, EMNLP) architecture",
        "limits": "Trained on MEDLINE case-report sentences for the shipped corpus (PHEE), not on "
                  "clinical notes: expect lower scores on notes, whose abbreviations, lists and "
                  "misspellings it has not seen. A span nested in another (a severity cue inside an "
                  "ADE) cannot be returned: one label per token. The labels are PHEE's mapped to the "
                  "paper's (no 'Other SSD'). English only; the rare labels (frequency, duration) are "
                  "the least reliable.",
    },
    "temporal_events": {
        "what": "temporal-event",
        "task": "tag EVENT mentions and TIMEX3 time expressions (Clinical TempEval phase 1, THYME "
                "guidelines) in English clinical text",
        "paper": "Fries 2016 (Brundlefly) recurrent tagger",
        "limits": "Trained on a few dozen published clinical case reports for the shipped corpus (E3C "
                  "English layer 1), not on clinical notes: expect lower scores on notes. It finds spans "
                  "only: the chapter's DocTimeRel classifier (phase 2) is not saved with it, so no event "
                  "carries a relation to the document time. E3C's training text came with its own "
                  "tokens and sentences; new text is cut by the toolkit's tokeniser and sentence "
                  "splitter, which can put a boundary elsewhere and cost exact-offset matches. English "
                  "only; TIMEX3 spans are few in training and the least reliable.",
    },
}


def _check_study(study: str) -> dict:
    if study not in STUDIES:
        raise ValueError(f"study {study!r} saves no recurrent tagger; expected one of {', '.join(STUDIES)}")
    return STUDIES[study]


def save_tagger(model_dir: str | Path, model: RecurrentTagger, encoders: Encoders, *, study: str,
                max_len: int, **extra) -> Path:
    """Save a trained tagger of ``study`` for reuse: weights.pt (state dict only), encoders.json
    and config.json (the architecture, the tag scheme, the ``max_len`` cut of sentences and the
    study; ``extra`` adds fields such as the model's name)."""
    _check_study(study)
    config = {"study": study, **model.config(), "max_len": int(max_len), **extra}
    return save_parts(model_dir, model, encoders, config)


def load_tagger(model_dir: str | Path, study: str) -> tuple[RecurrentTagger, Encoders, dict]:
    """A tagger saved by ``study``'s notebook, read with ``torch.load(weights_only=True)``."""
    info = _check_study(study)
    return load_parts(model_dir, study=study, what=info["what"], build=build_tagger)


def text_sentences(text: str, max_len: int):
    """The chapters' tokenisation of new text: the toolkit's tokeniser and sentence splitter, with
    sentences longer than ``max_len`` tokens cut (as the chapters cut their corpora)."""
    return split_sentences(text, tokenise(text), max_len=max_len)


def tag_text(text: str, model: RecurrentTagger, encoders: Encoders, *, max_len: int, scheme: str = "BIO",
             device: str = "cpu", batch_size: int = 64) -> list[Span]:
    """The labelled spans the model finds in ``text`` (character offsets)."""
    sents = text_sentences(text, max_len)
    if not sents:
        return []
    paths = predict(model, [encoders.encode([t.text for t in s]) for s in sents], batch_size=batch_size,
                    device=device)
    spans = []
    for s, p in zip(sents, paths, strict=True):
        spans += token_to_char_spans(s, tags_to_spans(encoders.tags.decode(p), scheme))
    return sorted(spans)


class TextTagger:
    """A saved concept_extraction or temporal_events tagger, loaded with weights only.

    ``TextTagger.load(folder, study).predict(text)`` returns the spans as dicts (start, end,
    label); ``card`` holds model_card.json when the folder has one. Used by ``precmed predict``."""

    def __init__(self, model: RecurrentTagger, encoders: Encoders, config: dict, card: dict | None = None,
                 device: str = "cpu"):
        self.model, self.encoders, self.config, self.card, self.device = model, encoders, config, card, device
        self.max_len = int(config.get("max_len", 50))
        self.scheme = config.get("scheme", "BIO")

    @classmethod
    def load(cls, model_dir: str | Path, study: str, device: str = "cpu") -> TextTagger:
        model, encoders, config = load_tagger(model_dir, study)
        return cls(model.to(device), encoders, config, read_card(model_dir), device)

    def spans(self, text: str) -> list[Span]:
        return tag_text(text, self.model, self.encoders, max_len=self.max_len, scheme=self.scheme,
                        device=self.device)

    def predict(self, text: str) -> list[dict]:
        return [{"start": s.start, "end": s.end, "label": s.label} for s in self.spans(text)]


def write_tagger_card(model_dir: str | Path, *, study: str, name: str, data_info: dict, scores: dict,
                      n_seeds: int, training: dict, params: dict, config: dict | None = None,
                      pretraining: dict | None = None, choice: str = "") -> Path:
    """Write ``MODEL_CARD.md`` and ``model_card.json`` beside a saved tagger: the training data and
    its licence (a non-commercial licence carries over to the weights), the held-out scores (mean
    and SD over the run's ``n_seeds`` seeds: ``scores`` maps a metric to ``{"mean", "sd"}``), how
    to use it and its limits. ``training`` counts the saved model's training data; ``pretraining``
    describes the text its word2vec vectors came from; ``choice`` says why this model was saved;
    ``config`` defaults to the folder's config.json."""
    info = _check_study(study)
    if config is None:
        config = json.loads((Path(model_dir) / "config.json").read_text())
    labels = sorted({t[2:] for t in config["tags"] if t != "O"})
    card = {"model": f"{name} tagger ({info['paper']})", "study": study, "task": info["task"],
            "data": {k: data_info.get(k) for k in ("name", "short", "kind", "licence", "citation")},
            "pretraining": pretraining, "training": training, "tags": config["tags"],
            "scheme": config.get("scheme"),
            "sizes": {k: config.get(k) for k in ("n_words", "embedding_dim", "hidden", "max_len")},
            "architecture": {k: config.get(k) for k in ("cell", "bidirectional", "crf")},
            "parameters": params, "scores": scores, "choice": choice,
            "doctimerel": False if study == "temporal_events" else None}
    card = {k: v for k, v in card.items() if v is not None}
    pre = ""
    if pretraining:
        pre = (f"\n\n**Pretraining text of the word vectors.** {pretraining.get('name')}: "
               f"{pretraining.get('documents')} documents under {pretraining.get('licences')} (their "
               "attribution terms apply to the vectors the model kept).")
    spread = ": one seed, so no spread was measured" if n_seeds == 1 else ""
    data_name = data_info.get("short") or data_info.get("name")
    text = f"""# Model card: {card['model']}

**Task.** {info['task']}. Input: UTF-8 text. Output: character offsets and a label for each span
({', '.join(labels)}).{' Why this model: ' + choice if choice else ''}

**Training data.** {data_name} ({data_info.get('kind')} data); the run's training split:
{training.get('documents')} documents, {training.get('sentences')} sentences, {training.get('tokens')} tokens.
Citation: {data_info.get('citation')}.{pre}

**Licence of the weights.** They are derived from the training data: {weights_licence(data_info)}. The code is
the project's (MIT).

**Scores on the held-out test split** (mean and SD over the run's {n_seeds} seed(s) of this
architecture{spread}; the saved weights are those of the first seed):

| metric | mean | SD |
|---|---|---|
{score_table(scores)}

**Use.** Python: `TextTagger.load(folder, "{study}").predict(text)` (module `precmed_utils.text.text_models`)
gives the spans; the command line: `precmed predict {study} FOLDER notes/` (spans as JSON: offsets and labels,
never the text). Loading reads tensors only (`torch.load(weights_only=True)`).

**Limits.** {info['limits']} Use its output as a suggestion for a human reader, not as a clinical record.
"""
    return write_card(model_dir, card, text)


__all__ = ["CONCEPT_ARCHITECTURES", "MODEL_FILES", "STUDIES", "TEMPORAL_ARCHITECTURES", "RecurrentTagger",
           "TextTagger", "build_tagger", "load_tagger", "save_tagger", "tag_text", "text_sentences",
           "write_tagger_card"]
