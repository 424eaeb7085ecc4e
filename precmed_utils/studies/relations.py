"""Relations between concepts: PHEE events as relations, the EU-ADR corpus, i2b2 2010 .con/.rel.

Every reader returns a :class:`RelCorpus`: sentences (tokens, typed concepts with token offsets,
gold relations between concept ids), the legal type combinations of candidate pairs, and the
positive relation labels. A study then classifies every candidate pair (two concepts of one
sentence with a legal type combination) into one of the labels or :data:`NONE`.

- :func:`read_phee_relations`: PHEE (Sun et al. 2022) json events joined with the brat spans
  (entity ids equal brat ids): drug - adverse effect (ADE), drug - indication, drug - dosage /
  route / frequency / duration. Adverse effects, indications and the patient's other disorders are
  one concept type, ``problem``, as in i2b2 2010, so that "causes" versus "is given for" must be
  read from the context.
- :func:`read_euadr`: the EU-ADR drug-disease corpus (van Mulligen et al. 2012).
- :func:`read_i2b2_relations`: the i2b2/VA 2010 concept (.con) and relation (.rel) files with
  their .txt files (the user format of relation_extraction).

Also: candidate pairs and their sparse context features, micro-F1 over the positive classes, and
the KL sparsity penalty of a sparse autoencoder. Used by relation_extraction.
"""

from __future__ import annotations

import csv
import json
import re
import tarfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, Problems
from ..text import Span, normalise_word, refine_tokens, tokenise

NONE = "None"  #: the label of a candidate pair without a gold relation
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Concept:
    """A typed concept of a sentence; ``start``/``end`` are token indices (end exclusive)."""

    id: str
    start: int
    end: int
    type: str


@dataclass
class RelSentence:
    id: str
    tokens: list[str]
    concepts: list[Concept]
    relations: dict[tuple[str, str], str] = field(default_factory=dict)  # (arg1 id, arg2 id) -> label
    group: str = ""  # what a split keeps together (document, abstract)
    split: str | None = None


@dataclass
class RelCorpus:
    name: str
    sentences: list[RelSentence]
    legal: tuple[tuple[str, str], ...]  # (arg1 type, arg2 type) of a candidate pair
    labels: tuple[str, ...]  # positive relation labels
    meta: dict = field(default_factory=dict)

    def subset(self, keep) -> RelCorpus:
        kept = [s for s in self.sentences if keep(s)]
        return RelCorpus(self.name, kept, self.legal, self.labels, self.meta)


@dataclass(frozen=True)
class Candidate:
    sentence: int  # index into the corpus's sentences
    arg1: Concept
    arg2: Concept
    label: str


def candidates(corpus: RelCorpus) -> tuple[list[Candidate], dict]:
    """Every within-sentence pair of concepts with a legal type combination, in sentence order and,
    within a sentence, ordered by position (the sequence a linear-chain CRF reads). Returns the
    candidates and counts: ``gold`` relations, ``missed`` (gold relations that no candidate holds:
    an illegal type pair), ``per_label``."""
    legal = set(corpus.legal)
    out, stats = [], Counter()
    for i, s in enumerate(corpus.sentences):
        cs = sorted(s.concepts, key=lambda c: (c.start, c.end, c.id))
        covered = set()
        for a in range(len(cs)):
            for b in range(a + 1, len(cs)):
                x, y = cs[a], cs[b]
                if (x.type, y.type) in legal:
                    pair = (x, y)
                elif (y.type, x.type) in legal:
                    pair = (y, x)
                else:
                    continue
                label = s.relations.get((pair[0].id, pair[1].id)) or s.relations.get((pair[1].id, pair[0].id))
                if label:
                    covered.add((pair[0].id, pair[1].id))
                    covered.add((pair[1].id, pair[0].id))
                out.append(Candidate(i, pair[0], pair[1], label or NONE))
        stats["gold"] += len(s.relations)
        stats["missed"] += sum(k not in covered for k in s.relations)
    stats["candidates"] = len(out)
    return out, dict(stats)


def candidate_table(corpus: RelCorpus, cands: Sequence[Candidate]) -> pd.DataFrame:
    """Candidates per split and label (columns: the positive labels, None, all)."""
    rows = Counter((corpus.sentences[c.sentence].split or "all", c.label) for c in cands)
    df = pd.Series(rows).unstack(fill_value=0) if rows else pd.DataFrame()
    cols = [lab for lab in (*corpus.labels, NONE) if lab in df.columns]
    df = df.reindex(columns=cols, fill_value=0)
    df["all"] = df.sum(axis=1)
    order = [s for s in (*SPLITS, "all") if s in df.index]
    return df.reindex(order).astype(int)


# --- features -----------------------------------------------------------------------------------


def _bucket(n: int) -> str:
    for top, name in ((0, "0"), (1, "1"), (2, "2"), (4, "3-4"), (7, "5-7"), (12, "8-12")):
        if n <= top:
            return name
    return "13+"


def pair_features(sentence: RelSentence, arg1: Concept, arg2: Concept, clusters: dict | None = None,
                  *, window: int = 3) -> dict[str, float]:
    """Sparse context features of a candidate pair (binary, as a name -> 1.0 dict): the two
    concepts' types and words, the words between them (bag, first, last), ``window`` words before
    the first and after the second, the number of tokens and of other concepts between them, and
    which argument comes first. With ``clusters`` (normalised word -> cluster id, e.g. k-means of
    word2vec vectors: the open stand-in for the paper's UMLS concept mapping), each word feature
    also fires for its cluster (``c:<id>``; unknown words ``c:?``)."""
    words = [normalise_word(t) for t in sentence.tokens]
    first, second = (arg1, arg2) if (arg1.start, arg1.end) <= (arg2.start, arg2.end) else (arg2, arg1)
    lo, hi = first.end, second.start
    between = words[lo:hi] if hi > lo else []
    f: dict[str, float] = {
        "t1=" + arg1.type: 1.0,
        "t2=" + arg2.type: 1.0,
        f"types={arg1.type}|{arg2.type}": 1.0,
        "arg1_first=" + str(first is arg1): 1.0,
        "dist=" + _bucket(len(between)): 1.0,
    }
    inside = [c for c in sentence.concepts if c.start >= lo and c.end <= hi and c not in (arg1, arg2)]
    f["n_between=" + _bucket(len(inside))] = 1.0
    for c in inside:
        f["between_type=" + c.type] = 1.0

    def add(prefix: str, ws: Iterable[str]) -> None:
        for w in ws:
            f[f"{prefix}w={w}"] = 1.0
            if clusters is not None:
                f[f"{prefix}c={clusters.get(w, '?')}"] = 1.0

    add("a1", words[arg1.start:arg1.end])
    add("a2", words[arg2.start:arg2.end])
    add("bt", between)
    if between:
        add("bt_first", between[:1])
        add("bt_last", between[-1:])
    else:
        f["bt=empty"] = 1.0
    add("pre", words[max(0, first.start - window):first.start])
    add("post", words[second.end:second.end + window])
    return f


# --- metrics ------------------------------------------------------------------------------------


def relation_scores(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str], *,
                    missed: int = 0) -> tuple[dict, pd.DataFrame]:
    """Micro precision, recall and F1 over the positive ``labels`` (the no-relation label
    excluded, as in the i2b2 2010 relation task), and a per-label table. ``missed`` gold
    relations that no candidate held count as false negatives."""
    gold, pred = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    rows, tp_all, pp_all, gp_all = [], 0, 0, missed
    for lab in labels:
        tp = int(np.sum((gold == lab) & (pred == lab)))
        pp, gp = int(np.sum(pred == lab)), int(np.sum(gold == lab))
        p = tp / pp if pp else 0.0
        r = tp / gp if gp else 0.0
        rows.append({"label": lab, "precision": p, "recall": r,
                     "f1": 2 * p * r / (p + r) if p + r else 0.0, "support": gp})
        tp_all, pp_all, gp_all = tp_all + tp, pp_all + pp, gp_all + gp
    p = tp_all / pp_all if pp_all else 0.0
    r = tp_all / gp_all if gp_all else 0.0
    micro = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
             "tp": tp_all, "predicted": pp_all, "gold": gp_all}
    return micro, pd.DataFrame(rows).set_index("label")


def kl_sparsity(rho: float, rho_hat):
    """The sparse autoencoder's sparsity penalty: sum over hidden units j of
    KL(rho || rho_hat_j) = rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)),
    with ``rho_hat`` the units' mean activations (a torch tensor or array; clamped away from 0
    and 1)."""
    if not 0.0 < rho < 1.0:
        raise ValueError(f"the sparsity target rho must lie in (0, 1), got {rho}")
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(rho_hat, torch.Tensor):
        q = rho_hat.clamp(1e-6, 1 - 1e-6)
        return (rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))).sum()
    q = np.clip(np.asarray(rho_hat, dtype=float), 1e-6, 1 - 1e-6)
    return float(np.sum(rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))))


# --- token offsets ------------------------------------------------------------------------------


def _tokens_and_concepts(text: str, spans: list[tuple[str, int, int, str]], where: str):
    """Tokenise ``text`` (cut at concept boundaries) and map char spans (id, start, end, type)
    to token ranges."""
    toks = refine_tokens(tokenise(text), [Span(a, b, t) for _, a, b, t in spans])
    concepts = []
    for cid, a, b, typ in spans:
        idx = [k for k, t in enumerate(toks) if t.start < b and t.end > a]
        if not idx:
            raise DataError(f"{where}: concept {cid} at characters {a}-{b} covers no token")
        concepts.append(Concept(cid, idx[0], idx[-1] + 1, typ))
    return [t.text for t in toks], concepts


# --- PHEE ---------------------------------------------------------------------------------------

#: brat type -> concept type. Effects count only when they belong to an adverse event.
PHEE_CONCEPT_TYPES = {
    "Drug": "treatment", "Effect": "problem", "Treat-Disorder": "problem", "Sub-Disorder": "problem",
    "Dosage": "dosage", "Route": "route", "Freq": "frequency", "Duration": "duration",
}
#: json argument of a drug's event -> relation label (Effect only in Adverse_event)
PHEE_RELATIONS = {"Effect": "ADE", "Disorder": "Indication", "Dosage": "Dosage", "Route": "Route",
                  "Freq": "Frequency", "Duration": "Duration"}
PHEE_LABELS = ("ADE", "Indication", "Dosage", "Route", "Frequency", "Duration")
PHEE_LEGAL = (("treatment", "problem"), ("treatment", "dosage"), ("treatment", "route"),
              ("treatment", "frequency"), ("treatment", "duration"))
_T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t?(.*)$")


def phee_event_relations(row: dict) -> tuple[list[tuple[str, str, str]], set[str]]:
    """The (drug id, argument id, label) relations of one PHEE json row, and the ids of the
    Effects of therapeutic events (which are not adverse effects)."""
    rels, therapeutic = [], set()
    for ann in row["annotations"]:
        for ev in ann["events"]:
            treat = ev.get("Treatment") or {}
            drugs = (treat.get("Drug") or {}).get("entity_id", [])
            targets = []
            if "Effect" in ev:
                if ev["event_type"] == "Adverse_event":
                    targets += [(e, "ADE") for e in ev["Effect"]["entity_id"]]
                else:
                    therapeutic.update(ev["Effect"]["entity_id"])
            for arg, lab in PHEE_RELATIONS.items():
                if arg != "Effect" and isinstance(treat.get(arg), dict):
                    targets += [(e, lab) for e in treat[arg]["entity_id"]]
            rels += [(d, e, lab) for d in drugs for e, lab in targets]
    return rels, therapeutic


def read_phee_relations(brat_tar: str | Path, *json_files: str | Path) -> RelCorpus:
    """PHEE as relations (see the module docstring). One RelSentence per PHEE sentence ``PMID_k``
    (``group`` = PMID, the official split). Concepts with the same type and offsets (one per event
    in brat) are merged; ``meta`` counts what was dropped or merged."""
    rows, split_of = {}, {}
    for jf in json_files:
        split = next(s for s in SPLITS if s in Path(jf).name)
        with open(jf, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    r = json.loads(line)
                    rows[r["id"]] = r
                    split_of[r["id"]] = split
    texts, anns = {}, {}
    with tarfile.open(brat_tar, "r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile():
                name = Path(m.name)
                raw = tar.extractfile(m).read().decode("utf-8")
                (texts if name.suffix == ".txt" else anns)[name.stem] = raw
    stats = Counter()
    sentences = []
    for sid in sorted(texts):
        if sid not in rows:
            raise DataError(f"PHEE: brat sentence {sid} has no json row")
        text = texts[sid]
        rels, therapeutic = phee_event_relations(rows[sid])
        spans, canon, seen = [], {}, {}
        for line in anns.get(sid, "").splitlines():
            m = _T_LINE.match(line)
            if not m or m.group(2) not in PHEE_CONCEPT_TYPES:
                continue
            tid, label, offsets, _ = m.groups()
            if label == "Effect" and tid in therapeutic and not any(e == tid for _, e, _ in rels):
                stats["therapeutic_effects_dropped"] += 1
                continue
            frags = [tuple(int(x) for x in p.split()) for p in offsets.split(";")]
            a, b = min(f[0] for f in frags), max(f[1] for f in frags)
            stats["discontinuous"] += len(frags) > 1
            key = (a, b, PHEE_CONCEPT_TYPES[label])
            if key in seen:
                canon[tid] = seen[key]
                stats["merged_duplicates"] += 1
                continue
            seen[key] = canon[tid] = tid
            spans.append((tid, a, b, key[2]))
        tokens, concepts = _tokens_and_concepts(text, spans, f"PHEE {sid}")
        relations = {}
        for d, e, lab in rels:
            if d not in canon or e not in canon:
                stats["relations_without_concept"] += 1
                continue
            key = (canon[d], canon[e])
            if key in relations and relations[key] != lab:
                stats["conflicting_labels"] += 1
                continue
            stats["duplicate_relations"] += key in relations
            relations[key] = lab
        sentences.append(RelSentence(sid, tokens, concepts, relations, group=sid.rsplit("_", 1)[0],
                                     split=split_of[sid]))
    return RelCorpus("phee_relations", sentences, PHEE_LEGAL, PHEE_LABELS, dict(stats))


def phee_relation_counts(json_files: Iterable[str | Path]) -> pd.DataFrame:
    """Relations per split and label counted straight from the json events (no brat join): the
    number of (event, drug id, argument id) triples. Used by the tests and the chapter's cohort."""
    out = {}
    for jf in json_files:
        split = next(s for s in SPLITS if s in Path(jf).name)
        c = Counter()
        with open(jf, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    c.update(lab for _, _, lab in phee_event_relations(json.loads(line))[0])
        out[split] = c
    return pd.DataFrame(out).T.reindex(columns=list(PHEE_LABELS)).fillna(0).astype(int)


# --- EU-ADR -------------------------------------------------------------------------------------

EUADR_COLUMNS = ("ASSOCIATION_TYPE", "PMID", "NUM_SENTENCE", "ENTITY1_TEXT", "ENTITY1_INI", "ENTITY1_END",
                 "ENTITY1_TYPE", "ENTITY2_TEXT", "ENTITY2_INI", "ENTITY2_END", "ENTITY2_TYPE", "SENTENCE")
#: EU-ADR association types: positive (PA), speculative (SA), negative (NA: the text says there is
#: no association) and false (FA: the annotated pair is not related). PA/SA/NA state an
#: association between the two (of some polarity): the label "association"; FA is no relation.
EUADR_LABELS = {"PA": "association", "SA": "association", "NA": "association", "FA": None}
EUADR_TYPES = {"Chemicals & Drugs": "drug", "Diseases & Disorders": "disease"}


def read_euadr(path: str | Path) -> RelCorpus:
    """The EU-ADR drug-disease file (tab-separated, quoted, header row). One RelSentence per
    (PMID, sentence number); its concepts are the entities of its annotated pairs (merged by
    offsets), so every co-occurring drug-disease pair of those entities is a candidate; the
    pairs with a PA/SA/NA row are "association"; FA rows and unannotated pairs are None.
    ``group`` = PMID (abstract)."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != EUADR_COLUMNS:
            raise DataError(f"{path}, line 1: expected the EU-ADR header {', '.join(EUADR_COLUMNS)}")
        by_sentence: dict[tuple[str, int], dict] = {}
        stats = Counter()
        for no, row in enumerate(reader, 2):
            if len(row) != len(EUADR_COLUMNS):
                raise DataError(f"{path}, line {no}: {len(row)} fields, expected {len(EUADR_COLUMNS)}")
            kind, pmid, k = row[0], row[1], int(row[2])
            if kind not in EUADR_LABELS:
                raise DataError(f"{path}, line {no}: association type {kind!r}, expected PA, SA, NA or FA")
            stats["rows_" + kind] += 1
            s = by_sentence.setdefault((pmid, k), {"text": row[11], "ents": {}, "pairs": []})
            ids = []
            for text_i, ini, end, typ in ((3, 4, 5, 6), (7, 8, 9, 10)):
                a, b, t = int(row[ini]), int(row[end]), EUADR_TYPES.get(row[typ])
                if t is None:
                    raise DataError(f"{path}, line {no}: entity type {row[typ]!r} is not a drug or disease")
                if not (0 <= a < b <= len(s["text"])):
                    raise DataError(f"{path}, line {no}: offsets {a}-{b} outside the sentence")
                stats["surface_mismatch"] += s["text"][a:b] != row[text_i]
                key = (a, b, t)
                s["ents"].setdefault(key, f"E{len(s['ents']) + 1}")
                ids.append((s["ents"][key], t))
            (x, tx), (y, ty) = ids
            pair = (x, y) if tx == "drug" else (y, x)
            s["pairs"].append((pair, EUADR_LABELS[kind]))
    sentences = []
    for (pmid, k), s in sorted(by_sentence.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        spans = [(cid, a, b, t) for (a, b, t), cid in s["ents"].items()]
        tokens, concepts = _tokens_and_concepts(s["text"], spans, f"{path} PMID {pmid} sentence {k}")
        rels = {}
        for pair, lab in s["pairs"]:
            if lab:
                rels[pair] = lab
        sentences.append(RelSentence(f"{pmid}_{k}", tokens, concepts, rels, group=pmid))
    return RelCorpus("euadr_drug_disease", sentences, (("drug", "disease"),), ("association",), dict(stats))


# --- i2b2 2010 ----------------------------------------------------------------------------------

I2B2_LABELS = ("TrIP", "TrWP", "TrCP", "TrAP", "TrNAP", "TeRP", "TeCP", "PIP")
I2B2_TYPES = ("problem", "treatment", "test")
I2B2_LEGAL = (("treatment", "problem"), ("test", "problem"), ("problem", "problem"))
I2B2_FORMAT = (
    "i2b2/VA 2010: for each note NAME, NAME.txt (one sentence a line, tokens separated by "
    "whitespace), NAME.con (one concept a line: c=\"text\" LINE:TOKEN LINE:TOKEN||t=\"problem\" | "
    "\"treatment\" | \"test\"; lines count from 1, tokens from 0, both ends inclusive) and "
    "NAME.rel (one relation a line: c=\"...\" L:T L:T||r=\"TrAP\"||c=\"...\" L:T L:T, the first "
    "concept a treatment or test, the second a problem; labels TrIP, TrWP, TrCP, TrAP, TrNAP, "
    "TeRP, TeCP, PIP). The files lie side by side, or in subfolders txt/, concept/ (or con/) and "
    "rel/; optional train/, dev/, test/ folders above them give the split (otherwise the notes "
    "are cross-validated)."
)
_CON = re.compile(r'^c="(.*)" (\d+):(\d+) (\d+):(\d+)\|\|t="([^"]+)"\s*$')
_REL = re.compile(r'^c="(.*)" (\d+):(\d+) (\d+):(\d+)\|\|r="([^"]+)"\|\|c="(.*)" (\d+):(\d+) (\d+):(\d+)\s*$')
_SPLIT_NAMES = {"train": "train", "training": "train", "dev": "dev", "valid": "dev", "test": "test",
                "testing": "test"}


def _read_lines(path: Path, report: Problems | None = None) -> list[str] | None:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        if report is None:
            raise DataError(f"{path}: not UTF-8 text (byte {exc.start}). Expected: {I2B2_FORMAT}") from exc
        report.add(path, f"byte {exc.start}", f"not UTF-8 text. Expected: {I2B2_FORMAT}")
        return None


def _check_span(path: Path, no: int, lines: list[list[str]], l1: int, t1: int, l2: int, t2: int,
                report: Problems | None = None) -> bool:
    """Whether a concept's LINE:TOKEN LINE:TOKEN lies in the text (else a problem is reported)."""
    report = Problems() if report is None else report
    if l1 != l2:
        report.add(path, f"line {no}", f"the concept spans lines {l1} and {l2}; a concept must lie "
                   "within one line (sentence)")
        return False
    if not 1 <= l1 <= len(lines):
        report.add(path, f"line {no}", f"line {l1} does not exist (the text has {len(lines)} lines)")
        return False
    n = len(lines[l1 - 1])
    if not 0 <= t1 <= t2 < n:
        report.add(path, f"line {no}", f"tokens {t1}-{t2} outside line {l1} of the text, which has "
                   f"{n} tokens (tokens count from 0, both ends inclusive)")
        return False
    return True


def _i2b2_note(txt: Path, con: Path, rel: Path | None, split: str | None,
               report: Problems | None = None) -> tuple[list[RelSentence], Counter]:
    report = Problems() if report is None else report
    stats = Counter()
    txt_lines, con_lines = _read_lines(txt, report), _read_lines(con, report)
    rel_lines = (_read_lines(rel, report) if rel else []) or []
    if txt_lines is None or con_lines is None:
        return [], stats
    lines = [ln.split() for ln in txt_lines]
    concepts: dict[int, dict[tuple[int, int], Concept]] = {}
    for no, raw in enumerate(con_lines, 1):
        if not raw.strip():
            continue
        m = _CON.match(raw.strip())
        if not m:
            report.add(con, f"line {no}", "malformed concept line; expected "
                       "c=\"text\" LINE:TOKEN LINE:TOKEN||t=\"problem\"")
            continue
        text, l1, t1, l2, t2, typ = m.group(1), *map(int, m.groups()[1:5]), m.group(6)
        if typ not in I2B2_TYPES:
            report.add(con, f"line {no}", f"concept type {typ[:20]!r}; expected one of "
                       f"{', '.join(I2B2_TYPES)}")
            continue
        if not _check_span(con, no, lines, l1, t1, l2, t2, report):
            continue
        surface = " ".join(lines[l1 - 1][t1:t2 + 1]).lower()
        stats["surface_mismatch"] += surface != " ".join(text.split()).lower()
        if surface != " ".join(text.split()).lower():
            report.add(con, f"line {no}", f"the tokens at {l1}:{t1}-{t2} do not match the concept's "
                       "text c=\"...\"", warning=True)
        per = concepts.setdefault(l1, {})
        if (t1, t2) in per and per[(t1, t2)].type != typ:
            report.add(con, f"line {no}", f"tokens {l1}:{t1}-{t2} already have the type "
                       f"{per[(t1, t2)].type}")
            continue
        per.setdefault((t1, t2), Concept(f"C{l1}_{t1}_{t2}", t1, t2 + 1, typ))
        stats["concepts"] += 1
    relations: dict[int, dict] = {}
    for no, raw in enumerate(rel_lines, 1):
        if not raw.strip():
            continue
        m = _REL.match(raw.strip())
        if not m:
            report.add(rel, f"line {no}", "malformed relation line; expected "
                       "c=\"...\" L:T L:T||r=\"TrAP\"||c=\"...\" L:T L:T")
            continue
        g = m.groups()
        a, lab, b = tuple(map(int, g[1:5])), g[5], tuple(map(int, g[7:11]))
        if not re.fullmatch(r"\w+", lab):
            report.add(rel, f"line {no}", f"relation label {lab[:20]!r} is not a single word")
            continue
        ids = []
        for l1, t1, l2, t2 in (a, b):
            if not _check_span(rel, no, lines, l1, t1, l2, t2, report):
                break
            c = concepts.get(l1, {}).get((t1, t2))
            if c is None:
                report.add(rel, f"line {no}", f"no concept at {l1}:{t1} {l2}:{t2} in {con.name}; every "
                           "relation argument must be a concept of the .con file")
                break
            ids.append(c.id)
        if len(ids) < 2:
            continue
        if a[0] != b[0]:
            report.add(rel, f"line {no}", f"the two concepts lie on lines {a[0]} and {b[0]}; relations "
                       "hold within a sentence (line)")
            continue
        relations.setdefault(a[0], {})[tuple(ids)] = lab
        stats["relations"] += 1
        stats["label_" + lab] += 1
    note = txt.stem
    out = []
    for ln, per in sorted(concepts.items()):
        cs = sorted(per.values(), key=lambda c: (c.start, c.end))
        out.append(RelSentence(f"{note}:{ln}", lines[ln - 1], cs, relations.get(ln, {}),
                               group=note, split=split))
    stats["notes"] += 1
    return out, stats


def _find_partner(con: Path, folders: tuple[str, ...], suffix: str) -> Path | None:
    for folder in (con.parent, *(con.parent.parent / f for f in folders)):
        p = folder / (con.stem + suffix)
        if p.exists():
            return p
    return None


def read_i2b2_relations(path: str | Path, report: Problems | None = None) -> RelCorpus | None:
    """A folder of i2b2/VA 2010 notes (see :data:`I2B2_FORMAT`), every problem reported with the
    file and line. Returns a RelCorpus with the i2b2 types, legal pairs and labels (labels not in
    the i2b2 set are kept and added). Problems go to ``report`` (by default the first raises a
    DataError; a collecting report gets them all and None back when there were any)."""
    report = Problems() if report is None else report
    path = Path(path).expanduser()
    if not path.exists():
        report.add(path, "", f"no such folder. Expected: {I2B2_FORMAT}")
        return None
    if not path.is_dir():
        report.add(path, "", f"expected a folder of .txt/.con/.rel files. Expected: {I2B2_FORMAT}")
        return None
    cons = sorted(path.rglob("*.con"))
    if not cons:
        report.add(path, "", f"no .con concept files in this folder or its subfolders. "
                   f"Expected: {I2B2_FORMAT}")
        return None
    sentences, stats = [], Counter()
    for con in cons:
        txt = _find_partner(con, ("txt", "text", "docs"), ".txt")
        if txt is None:
            report.add(con, "", f"no text file {con.stem}.txt beside it or in a txt/ folder. "
                       f"Expected: {I2B2_FORMAT}")
            continue
        rel = _find_partner(con, ("rel", "rels", "relation", "relations"), ".rel")
        stats["notes_without_rel"] += rel is None
        split = next((_SPLIT_NAMES[p.lower()] for p in con.relative_to(path).parts[:-1]
                      if p.lower() in _SPLIT_NAMES), None)
        s, st = _i2b2_note(txt, con, rel, split, report)
        sentences += s
        stats.update(st)
    if report.errors:
        return None
    splits = {s.split for s in sentences}
    if None in splits and len(splits) > 1:
        report.add(path, "", "some notes lie in train/ or test/ folders and some outside them; put every "
                   "note in one of them, or use no split folders at all")
    elif splits != {None} and not {"train", "test"} <= splits:
        report.add(path, "", f"split folders {sorted(splits)} found; both train/ and test/ are needed")
    if not stats["relations"]:
        report.add(path, "", f"{stats['notes']} note(s) but not a single relation in their .rel files; a "
                   "relation classifier needs labelled examples")
    if report.errors:
        return None
    extra = sorted(k[6:] for k in stats if k.startswith("label_") and k[6:] not in I2B2_LABELS)
    return RelCorpus("i2b2_2010", sentences, I2B2_LEGAL, I2B2_LABELS + tuple(extra), dict(stats))


def write_i2b2_relations(corpus: RelCorpus, folder: str | Path) -> Path:
    """Write each note of ``corpus`` as txt/NAME.txt, concept/NAME.con and rel/NAME.rel (one
    sentence a line): the inverse of :func:`read_i2b2_relations` for sentences that come from it
    or share its shape. Used by the tests."""
    folder = Path(folder)
    notes: dict[str, list[RelSentence]] = {}
    for s in corpus.sentences:
        notes.setdefault(s.group or s.id, []).append(s)
    for name, sents in notes.items():
        sub = folder / (sents[0].split or "")
        for d in ("txt", "concept", "rel"):
            (sub / d).mkdir(parents=True, exist_ok=True)
        con, rel = [], []

        def ref(c: Concept, ln: int, toks: list[str]) -> str:
            return f'c="{" ".join(toks[c.start:c.end]).lower()}" {ln}:{c.start} {ln}:{c.end - 1}'

        for ln, s in enumerate(sents, 1):
            con += [f'{ref(c, ln, s.tokens)}||t="{c.type}"' for c in s.concepts]
            byid = {c.id: c for c in s.concepts}
            rel += [f'{ref(byid[a], ln, s.tokens)}||r="{lab}"||{ref(byid[b], ln, s.tokens)}'
                    for (a, b), lab in s.relations.items()]
        text = "\n".join(" ".join(s.tokens) for s in sents) + "\n"
        (sub / "txt" / f"{name}.txt").write_text(text, encoding="utf-8")
        (sub / "concept" / f"{name}.con").write_text("".join(x + "\n" for x in con), encoding="utf-8")
        (sub / "rel" / f"{name}.rel").write_text("".join(x + "\n" for x in rel), encoding="utf-8")
    return folder


def corpus_summary(corpus: RelCorpus) -> pd.DataFrame:
    """Sentences, groups, concepts by type and gold relations by label, per split."""
    rows = {}
    for s in corpus.sentences:
        r = rows.setdefault(s.split or "all", Counter())
        r["sentences"] += 1
        r["concepts"] += len(s.concepts)
        r.update("concept: " + c.type for c in s.concepts)
        r.update("relation: " + lab for lab in s.relations.values())
    for split in rows:
        rows[split]["documents"] = len({s.group for s in corpus.sentences if (s.split or "all") == split})
    df = pd.DataFrame(rows).T.fillna(0).astype(int)
    first = ["documents", "sentences", "concepts"]
    df = df[first + sorted(c for c in df.columns if c not in first)]
    return df.reindex([s for s in (*SPLITS, "all") if s in df.index])


# --- registry -----------------------------------------------------------------------------------

EUADR_FILES = {
    "euadr_corpus/EUADR_drug_disease.csv": "2c19ce2fa9c8c28fe05f86e116c6c15ee557577a4a12ed442e5e6447b3cf8caa",
}

__all__ = [
    "NONE", "Concept", "RelSentence", "RelCorpus", "Candidate", "candidates", "candidate_table",
    "pair_features", "relation_scores", "kl_sparsity", "read_phee_relations", "phee_relation_counts",
    "phee_event_relations", "read_euadr", "read_i2b2_relations", "write_i2b2_relations", "corpus_summary",
    "I2B2_FORMAT", "I2B2_LABELS", "PHEE_LABELS",
]
