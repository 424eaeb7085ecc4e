"""Annotated-text corpora and the formats users bring: BRAT standoff, CoNLL/BIO, PHEE.

Every reader returns a list of :class:`~precmed_utils.text.Document` (text, character spans,
``group`` = what a split keeps together, ``meta`` with the split when the corpus fixes one), so a
study runs the same code on the shipped corpus and on a user's own. Problems in a user's files
are reported as :class:`~precmed_utils.errors.DataError` naming the file, the line and what was
expected, before any work starts.

- :func:`read_brat`: a folder of ``.txt``/``.ann`` pairs (brat standoff, the n2c2 2018 / MADE
  format), optionally in ``train/``, ``dev/``, ``test/`` subfolders. Discontinuous entities keep
  their fragments (one span each, counted in ``meta``); relation, event, attribute and note lines
  are ignored.
- :func:`read_conll`: token/tag lines (``token<TAB or space>tag``), a blank line between
  sentences, ``-DOCSTART-`` lines between documents; one file, or a folder with train/dev/test
  files.
- :func:`read_phee`: PHEE (Sun et al. 2022) mapped to Jagannatha & Yu's tag set.

Used by concept_extraction (the registered user format and the PHEE dataset).
"""

from __future__ import annotations

import json
import re
import tarfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, Problems
from ..text import (
    Document,
    Span,
    Token,
    char_to_token_spans,
    refine_tokens,
    spans_to_tags,
    split_sentences,
    tags_to_spans,
    tokenise,
)

SPLITS = ("train", "dev", "test")

# --- BRAT standoff ------------------------------------------------------------------------------

BRAT_FORMAT = (
    "BRAT standoff: a folder of document pairs NAME.txt (the text, UTF-8) and NAME.ann (one "
    "annotation a line; entity lines 'T<n><TAB>Label start end[;start end...]<TAB>surface', "
    "character offsets into the .txt); relation/event/attribute/note lines (R, E, A, M, N, *, #) "
    "are ignored. Optional subfolders train/, dev/ (or valid/), test/ give the split; otherwise "
    "documents are split at random by the run's seed."
)
CONLL_FORMAT = (
    "CoNLL/BIO: one token a line, 'token<TAB or spaces>tag' (extra middle columns are ignored; the "
    "tag is the last column: O, or B-/I-/E-/S- and a label), a blank line between sentences, "
    "optional '-DOCSTART-' lines between documents. One file (split at random by the run's seed), "
    "or a folder holding files whose names start with train, dev (or valid) and test."
)
USER_CORPUS_FORMAT = f"Either {BRAT_FORMAT} Or {CONLL_FORMAT}"

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "dev",
    "valid": "dev",
    "validation": "dev",
    "devel": "dev",
    "test": "test",
    "testing": "test",
}
_T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t?(.*)$")
_IGNORED = ("R", "E", "A", "M", "N", "*", "#")


def _read_text(path: Path, report: Problems | None = None) -> str | None:
    try:
        # newline="" keeps "\r\n" as two characters: brat offsets count them
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        if report is None:
            raise DataError(f"{path}: not UTF-8 text (byte {exc.start}). Expected: {BRAT_FORMAT}") from exc
        report.add(path, f"byte {exc.start}", f"not UTF-8 text. Expected: {BRAT_FORMAT}")
        return None


def parse_ann(ann: str, text: str, where: str, report: Problems | None = None) -> tuple[list[Span], dict]:
    """Entity spans of one ``.ann`` text; ``where`` names the file in error messages. Returns the
    spans (a discontinuous entity gives one span per fragment) and counts: ``entities``,
    ``discontinuous``, ``fragments`` (of discontinuous entities), ``ignored_lines``,
    ``surface_mismatch`` (entities whose stated surface differs from the text at their offsets),
    and ``entity_labels`` (a Counter of entity labels, one per entity). Problems go to ``report``
    (by default the first raises a DataError); a surface mismatch is a warning."""
    report = Problems() if report is None else report
    spans: list[Span] = []
    stats = Counter()
    labels = Counter()
    ids = set()
    for no, line in enumerate(ann.splitlines(), 1):
        if not line.strip():
            continue
        if line[0] in _IGNORED:
            stats["ignored_lines"] += 1
            continue
        if line[0] != "T":
            report.add(where, f"line {no}",
                       f"unknown annotation line starting {line[:12]!r}; expected an "
                       "entity line 'T<n><TAB>Label start end<TAB>surface' (or R/E/A/M/N/#/* lines, "
                       "which are ignored)")
            continue
        m = _T_LINE.match(line)
        if not m:
            report.add(where, f"line {no}", f"malformed entity line {line[:60]!r}; expected "
                       "'T<n><TAB>Label start end[;start end...]<TAB>surface'")
            continue
        tid, label, offsets, surface = m.groups()
        if tid in ids:
            report.add(where, f"line {no}", f"entity id {tid} appears twice")
            continue
        ids.add(tid)
        frags = [tuple(int(x) for x in part.split()) for part in offsets.split(";")]
        outside = [(a, b) for a, b in frags if not (0 <= a < b <= len(text))]
        for a, b in outside:
            report.add(where, f"line {no}", f"offsets {a} {b} of {tid} are outside the "
                       f"{len(text)}-character text (expected 0 <= start < end <= {len(text)})")
        if outside:
            continue
        stats["entities"] += 1
        labels[label] += 1
        if len(frags) > 1:
            stats["discontinuous"] += 1
            stats["fragments"] += len(frags)
        if surface and " ".join(text[a:b] for a, b in frags).strip() != surface.strip():
            stats["surface_mismatch"] += 1
            report.add(where, f"line {no}", f"the text at the offsets of {tid} does not match the "
                       f"surface stated on the line ({len(surface.strip())} characters)", warning=True)
        spans += [Span(a, b, label) for a, b in frags]
    stats_d = dict(stats)
    stats_d["entity_labels"] = labels
    return spans, stats_d


def _split_of(name: str) -> str | None:
    return _SPLIT_ALIASES.get(name.lower())


def read_brat(path: str | Path, report: Problems | None = None) -> list[Document]:
    """Documents of a brat folder (see :data:`BRAT_FORMAT`); ``meta['split']`` is set when the
    folder has train/dev/test subfolders. Each document's ``meta['brat']`` holds its counts.
    Problems go to ``report`` (by default the first raises a DataError)."""
    report = Problems() if report is None else report
    path = Path(path).expanduser()
    if not path.is_dir():
        report.add(path, "", f"expected a folder of .txt/.ann pairs. {BRAT_FORMAT}")
        return []
    anns = sorted(path.rglob("*.ann"))
    if not anns:
        report.add(path, "", f"no .ann files in this folder or its subfolders. Expected: {BRAT_FORMAT}")
        return []
    docs = []
    for ann in anns:
        txt = ann.with_suffix(".txt")
        if not txt.exists():
            report.add(ann, "", f"no matching text file {txt.name} beside it. Expected: {BRAT_FORMAT}")
            continue
        text, ann_text = _read_text(txt, report), _read_text(ann, report)
        if text is None or ann_text is None:
            continue
        spans, stats = parse_ann(ann_text, text, str(ann), report)
        rel = ann.relative_to(path)
        split = next((_split_of(p) for p in rel.parts[:-1] if _split_of(p)), None)
        doc_id = str(rel.with_suffix(""))
        docs.append(Document(doc_id, text, spans, group=doc_id, meta={"split": split, "brat": stats}))
    given = {d.meta["split"] for d in docs}
    if None in given and len(given) > 1:
        loose = sum(d.meta["split"] is None for d in docs)
        report.add(path, "", f"{loose} document(s) lie outside the train/dev/test subfolders; put every "
                   "document in one of them, or use no subfolders at all")
    elif given and given != {None} and "train" not in given:
        report.add(path, "", f"has split subfolders ({', '.join(sorted(given))}) but no train/ folder")
    return docs


# --- CoNLL / BIO --------------------------------------------------------------------------------

_TAG = re.compile(r"^(O|[BIES]-\S+)$")
_CONLL_SUFFIXES = (".conll", ".bio", ".iob", ".iob2", ".txt", ".tsv", ".tags", ".bioes", "")


def _conll_documents(path: Path, split: str | None, report: Problems | None = None) -> list[Document]:
    report = Problems() if report is None else report
    found_before = len(report.items)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        report.add(path, f"byte {exc.start}", f"not UTF-8 text. Expected: {CONLL_FORMAT}")
        return []
    docs: list[list[list[tuple[str, str]]]] = [[]]  # documents -> sentences -> (token, tag)
    sent: list[tuple[str, str]] = []
    has_docstart = False
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if line.startswith("-DOCSTART-"):
            has_docstart = True
            if sent:
                docs[-1].append(sent)
                sent = []
            if docs[-1]:
                docs.append([])
            continue
        if not line:
            if sent:
                docs[-1].append(sent)
                sent = []
            continue
        parts = line.split()
        if len(parts) < 2:
            report.add(path, f"line {no}",
                       f"expected 'token<TAB>tag' (two columns), got one field {parts[0][:30]!r}")
            continue
        tag = parts[-1]
        if not _TAG.match(tag):
            report.add(path, f"line {no}", f"malformed tag {tag[:30]!r}; expected O or a prefix B-, I-, "
                       "E-, S- and a label (e.g. B-Drugname)")
            continue
        sent.append((parts[0], tag))
    if sent:
        docs[-1].append(sent)
    docs = [d for d in docs if d]
    if not docs:
        if len(report.items) == found_before:
            report.add(path, "", f"no token lines found. Expected: {CONLL_FORMAT}")
        return []
    if not has_docstart:  # no document boundaries: every sentence is its own document
        docs = [[s] for d in docs for s in d]
    scheme = "BIOES" if any(t[0] in "ES" for d in docs for s in d for _, t in s) else "BIO"
    out = []
    for k, sentences in enumerate(docs):
        text_parts, spans, sent_offsets, pos = [], [], [], 0
        for s in sentences:
            offs = []
            for tok, _ in s:
                offs.append((pos, pos + len(tok)))
                text_parts.append(tok)
                pos += len(tok) + 1
            sent_offsets.append(offs)
            spans += [
                Span(offs[a][0], offs[b - 1][1], lab)
                for lab, a, b in tags_to_spans([t for _, t in s], scheme)
            ]
        text = " ".join(text_parts)
        doc_id = f"{path.stem}:{k + 1}"
        out.append(
            Document(
                doc_id,
                text,
                spans,
                group=doc_id,
                meta={"split": split, "sentences": sent_offsets, "scheme": scheme},
            )
        )
    return out


def read_conll(path: str | Path, report: Problems | None = None) -> list[Document]:
    """Documents of a CoNLL/BIO file or folder (see :data:`CONLL_FORMAT`). The text is the tokens
    joined by spaces; ``meta['sentences']`` keeps the token offsets so the tokenisation is the
    file's, not re-done. Problems go to ``report`` (by default the first raises a DataError)."""
    report = Problems() if report is None else report
    path = Path(path).expanduser()
    if path.is_file():
        return _conll_documents(path, None, report)
    if not path.is_dir():
        report.add(path, "", f"no such file or folder. Expected: {CONLL_FORMAT}")
        return []
    files = {}
    for f in sorted(path.iterdir()):
        if not f.is_file() or f.suffix.lower() not in _CONLL_SUFFIXES:
            continue
        key = next((v for k, v in _SPLIT_ALIASES.items() if f.stem.lower().startswith(k)), None)
        if key is None:
            continue
        if key in files:
            report.add(path, "", f"two files for the {key} split ({files[key].name}, {f.name})")
            continue
        files[key] = f
    if "train" not in files:
        report.add(path, "", f"no file whose name starts with 'train'. Expected: {CONLL_FORMAT}")
    return [d for split in SPLITS if split in files for d in _conll_documents(files[split], split, report)]


def read_user_corpus(path: str | Path, report: Problems | None = None) -> list[Document]:
    """A user's annotated corpus: a brat folder if it holds ``.ann`` files, else CoNLL/BIO.
    Problems go to ``report`` (by default the first raises a DataError)."""
    report = Problems() if report is None else report
    path = Path(path).expanduser()
    if not path.exists():
        report.add(path, "", f"no such file or folder. Expected: {USER_CORPUS_FORMAT}")
        return []
    brat = path.is_dir() and any(path.rglob("*.ann"))
    docs = read_brat(path, report) if brat else read_conll(path, report)
    if not report.errors and not any(d.spans for d in docs):
        report.add(path, "", f"{len(docs)} document(s) but not a single annotated span; a tagger "
                   "needs labelled examples")
    return docs


def assign_splits(
    docs: Sequence[Document], seed: int, *, dev_fraction: float = 0.1, test_fraction: float = 0.2
) -> dict[str, list[Document]]:
    """Train/dev/test lists: the corpus's own split where every document has one (a missing dev
    split is carved from train), else a random split of the document groups by ``seed``."""
    groups = sorted({d.group or d.id for d in docs})
    rng = np.random.default_rng(seed)
    given = {d.meta.get("split") for d in docs}
    if None not in given:
        out = {s: [d for d in docs if d.meta["split"] == s] for s in SPLITS}
        if not out["dev"]:
            tr_groups = sorted({d.group or d.id for d in out["train"]})
            dev_g = set(rng.permutation(tr_groups)[: max(1, round(dev_fraction * len(tr_groups)))])
            out["dev"] = [d for d in out["train"] if (d.group or d.id) in dev_g]
            out["train"] = [d for d in out["train"] if (d.group or d.id) not in dev_g]
        if not out["test"]:
            raise DataError("the corpus has a train split but no test split: add test/ (or a test file)")
        return out
    if len(groups) < 3:
        raise DataError(f"only {len(groups)} document(s): a random train/dev/test split needs at least 3")
    order = rng.permutation(groups)
    n_test = max(1, round(test_fraction * len(groups)))
    n_dev = max(1, round(dev_fraction * len(groups)))
    test_g, dev_g = set(order[:n_test]), set(order[n_test : n_test + n_dev])
    key = {g: "test" if g in test_g else "dev" if g in dev_g else "train" for g in groups}
    return {s: [d for d in docs if key[d.group or d.id] == s] for s in SPLITS}


# --- documents -> tagged sentences -----------------------------------------------------------


def document_sentences(doc: Document, *, max_len: int = 0) -> list[list[Token]]:
    """The tokens of each sentence: the file's own tokenisation where the reader kept one
    (``meta['sentences']``), one sentence for corpora of single sentences (``meta['sentence']``),
    else the toolkit's tokeniser (refined at span boundaries) and sentence splitter."""
    if "sentences" in doc.meta:
        return [[Token(doc.text[a:b], a, b) for a, b in s] for s in doc.meta["sentences"] if s]
    tokens = refine_tokens(tokenise(doc.text), doc.spans)
    if not tokens:
        return []
    if doc.meta.get("sentence"):
        if max_len:
            return [tokens[i : i + max_len] for i in range(0, len(tokens), max_len)]
        return [tokens]
    return split_sentences(doc.text, tokens, max_len=max_len)


def tagged_sentences(
    docs: Iterable[Document], *, scheme: str = "BIO", max_len: int = 0
) -> tuple[list[dict], list[tuple[str, Span]]]:
    """Flatten documents into tagged sentences: one dict per sentence with ``doc``, ``group``,
    ``index`` (position in the document), ``tokens`` (Token list) and ``tags``. Spans that a flat
    tag sequence cannot hold (nested or overlapping an already-kept span) come back as
    ``(doc id, Span)`` pairs. A span that a sentence break (or the ``max_len`` cut) splits is
    tagged as two spans, one in each sentence."""
    out, dropped = [], []
    for doc in docs:
        sents = document_sentences(doc, max_len=max_len)
        flat = [t for s in sents for t in s]
        kept, lost = char_to_token_spans(flat, doc.spans) if flat else ([], list(doc.spans))
        dropped += [(doc.id, s) for s in lost]
        tags = spans_to_tags(len(flat), kept, scheme)
        pos = 0
        for i, s in enumerate(sents):
            out.append(
                {
                    "doc": doc.id,
                    "group": doc.group or doc.id,
                    "index": i,
                    "tokens": s,
                    # a span cut by a sentence break becomes two well-formed spans (no sentence
                    # starts with I-X), so a CRF's transition constraints hold for every sentence
                    "tags": spans_to_tags(len(s), tags_to_spans(tags[pos : pos + len(s)], scheme), scheme),
                    "meta_index": doc.meta.get("index", 0),
                }
            )
            pos += len(s)
    return out, dropped


# --- PHEE ---------------------------------------------------------------------------------------

#: PHEE brat entity type -> Jagannatha & Yu's tag. Effects are ADE only when they belong to an
#: adverse event (the json files); therapeutic Effects are dropped.
PHEE_TO_PAPER = {
    "Drug": "Drugname",
    "Dosage": "Dosage",
    "Route": "Route",
    "Freq": "Frequency",
    "Duration": "Duration",
    "Effect": "ADE",
    "Treat-Disorder": "Indication",
    "Severity_cue": "Severity",
}
PAPER_TAGS = (
    "Drugname",
    "Dosage",
    "Route",
    "Frequency",
    "Duration",
    "ADE",
    "Indication",
    "Other SSD",
    "Severity",
)
#: The counts of the eight mapped types per split (checked on these files; see tests).
PHEE_COUNTS = {
    "train": {
        "sentences": 2898,
        "Drugname": 3596,
        "Dosage": 260,
        "Route": 331,
        "Frequency": 60,
        "Duration": 90,
        "ADE": 2725,
        "Indication": 1007,
        "Severity": 263,
    },
    "dev": {
        "sentences": 961,
        "Drugname": 1211,
        "Dosage": 93,
        "Route": 123,
        "Frequency": 24,
        "Duration": 33,
        "ADE": 892,
        "Indication": 331,
        "Severity": 64,
    },
    "test": {
        "sentences": 968,
        "Drugname": 1221,
        "Dosage": 107,
        "Route": 155,
        "Frequency": 30,
        "Duration": 30,
        "ADE": 890,
        "Indication": 350,
        "Severity": 91,
    },
}


def mapping_table() -> pd.DataFrame:
    """Paper tag -> PHEE source type, with the tags PHEE lacks."""
    inv = {v: k for k, v in PHEE_TO_PAPER.items()}
    notes = {
        "ADE": "Effect of an adverse event only (json event_type Adverse_event); therapeutic Effects dropped",
        "Indication": "the disorder the drug treats (in adverse and therapeutic events)",
        "Severity": "severity cue words (e.g. 'severe', 'fatal')",
        "Other SSD": "no counterpart: PHEE does not annotate other signs, symptoms and diseases",
    }
    return pd.DataFrame(
        [{"paper tag": t, "PHEE type": inv.get(t, "—"), "note": notes.get(t, "")} for t in PAPER_TAGS]
    ).set_index("paper tag")


def _adverse_effect_ids(rows: Iterable[dict]) -> tuple[set, set]:
    adverse, therapeutic = set(), set()

    def walk(node, kind, sid):
        for key, val in node.items():
            if isinstance(val, dict):
                if key == "Effect":
                    (adverse if kind == "Adverse_event" else therapeutic).update(
                        (sid, e) for e in val["entity_id"]
                    )
                walk(val, kind, sid)

    for r in rows:
        for ann in r["annotations"]:
            for ev in ann["events"]:
                walk(ev, ev["event_type"], r["id"])
    return adverse, therapeutic


def read_phee(brat_tar: str | Path, *json_files: str | Path) -> list[Document]:
    """PHEE sentences with the eight mapped types (:data:`PHEE_TO_PAPER`). ``json_files`` are
    json_train/dev/test (the split is read from each name). Each Document is one sentence
    ``PMID_k``: ``group`` = PMID, ``meta`` = split, ``index`` k, the brat counts, and
    ``therapeutic_effects`` dropped."""
    adverse, therapeutic, split_of = set(), set(), {}
    for jf in json_files:
        split = next(s for s in SPLITS if s in Path(jf).name)
        with open(jf, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        a, t = _adverse_effect_ids(rows)
        adverse |= a
        therapeutic |= t
        split_of.update({r["id"]: split for r in rows})
    texts, anns = {}, {}
    with tarfile.open(brat_tar, "r:gz") as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            name = Path(m.name)
            raw = tar.extractfile(m).read().decode("utf-8")
            (texts if name.suffix == ".txt" else anns)[(name.parent.name, name.stem)] = raw
    docs = []
    for (folder, sid), text in sorted(texts.items()):
        split = split_of.get(sid)
        if split is None or folder != split:
            raise DataError(
                f"PHEE: sentence {sid} is in brat folder {folder!r} but the json files say {split!r}"
            )
        spans, stats = parse_ann(anns.get((folder, sid), ""), text, f"{brat_tar}:{folder}/{sid}.ann")
        # parse again by id to join Effects with the json events
        keep, n_ther, n_disc = [], 0, 0
        for line in anns.get((folder, sid), "").splitlines():
            m = _T_LINE.match(line)
            if not m:
                continue
            tid, label, offsets, _ = m.groups()
            if label not in PHEE_TO_PAPER:
                continue
            if label == "Effect" and (sid, tid) not in adverse:
                n_ther += (sid, tid) in therapeutic
                continue
            n_disc += ";" in offsets
            keep += [
                Span(int(a), int(b), PHEE_TO_PAPER[label]) for a, b in (p.split() for p in offsets.split(";"))
            ]
        pmid, k = sid.rsplit("_", 1)
        docs.append(
            Document(
                sid,
                text,
                sorted(keep),
                group=pmid,
                meta={
                    "split": split,
                    "index": int(k),
                    "sentence": True,
                    "brat": stats,
                    "therapeutic_effects": n_ther,
                    "discontinuous_mapped": n_disc,
                },
            )
        )
    return docs


def entity_counts(docs: Iterable[Document], split_key: str = "split") -> pd.DataFrame:
    """Documents and entities per label and split (a discontinuous entity's fragments count as
    one entity only for PHEE, whose reader records them; otherwise every span counts)."""
    rows = {}
    for d in docs:
        r = rows.setdefault(d.meta.get(split_key) or "all", Counter())
        r["documents"] += 1
        r.update(s.label for s in d.spans)
    return pd.DataFrame(rows).T.fillna(0).astype(int)


def phee_entity_counts(docs: Iterable[Document]) -> pd.DataFrame:
    """The per-split counts in the form of :data:`PHEE_COUNTS`: entities, not fragments."""
    rows = {}
    for d in docs:
        r = rows.setdefault(d.meta["split"], Counter())
        r["sentences"] += 1
        labels = Counter()
        ann_counts = d.meta["brat"]["entity_labels"]
        labels.update(
            {PHEE_TO_PAPER[k]: v for k, v in ann_counts.items() if k in PHEE_TO_PAPER and k != "Effect"}
        )
        labels["ADE"] += ann_counts.get("Effect", 0) - d.meta["therapeutic_effects"]
        r.update(labels)
    cols = [
        "sentences",
        "Drugname",
        "Dosage",
        "Route",
        "Frequency",
        "Duration",
        "ADE",
        "Indication",
        "Severity",
    ]
    return pd.DataFrame(rows).T.reindex(index=list(SPLITS), columns=cols).fillna(0).astype(int)


__all__ = [
    "BRAT_FORMAT",
    "CONLL_FORMAT",
    "PHEE_COUNTS",
    "PHEE_TO_PAPER",
    "PAPER_TAGS",
    "assign_splits",
    "document_sentences",
    "entity_counts",
    "mapping_table",
    "parse_ann",
    "phee_entity_counts",
    "read_brat",
    "read_conll",
    "read_phee",
    "read_user_corpus",
    "tagged_sentences",
]


# --- writers (round trips in the tests; a chapter can hand a corpus to other tools) ---------------


def write_brat(docs: Iterable[Document], folder: str | Path) -> Path:
    """Write each document as ``<id>.txt`` / ``<id>.ann`` (one ``T`` line per span) under
    ``folder``, in a ``<split>/`` subfolder when the document has a split."""
    folder = Path(folder)
    for d in docs:
        base = folder / (d.meta.get("split") or "") / d.id.replace("/", "_")
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(".txt").write_text(d.text, encoding="utf-8", newline="")
        lines = [
            f"T{i}\t{s.label} {s.start} {s.end}\t{d.text[s.start : s.end]}" for i, s in enumerate(d.spans, 1)
        ]
        base.with_suffix(".ann").write_text(
            "\n".join(lines) + ("\n" if lines else ""), encoding="utf-8", newline=""
        )
    return folder


def write_conll(docs: Iterable[Document], path: str | Path, *, scheme: str = "BIO") -> Path:
    """Write documents as CoNLL lines (``token<TAB>tag``), ``-DOCSTART-`` before each document."""
    out = []
    for d in docs:
        out.append("-DOCSTART-\tO\n")
        sents, _ = tagged_sentences([d], scheme=scheme)
        for s in sents:
            out += [f"{t.text}\t{tag}\n" for t, tag in zip(s["tokens"], s["tags"], strict=True)]
            out.append("\n")
    Path(path).write_text("".join(out), encoding="utf-8")
    return Path(path)
