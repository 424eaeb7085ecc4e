"""Temporal annotation (THYME guidelines): the E3C corpus (UIMA XMI) and the Anafora XML format.

Every reader returns :class:`~precmed_utils.text.Document` objects whose spans are the EVENT and
TIMEX3 mentions (``Span(start, end, "EVENT"|"TIMEX3")``) and whose ``meta`` holds

- ``split``: ``"train"`` / ``"dev"`` / ``"test"`` when the corpus fixes it, else ``None``;
- ``doctimerel``: ``{(start, end): value}`` for the EVENTs that carry a DocTimeRel;
- ``tokens`` / ``sentences`` (E3C only): the corpus's own DKPro tokens and sentences, the
  sentences as half-open token-index ranges.

- :func:`read_e3c`: E3C English layer 1 (Magnini et al. 2020), the official train/test split.
- :func:`read_layer3`: E3C layer 3, unannotated clinical cases for word2vec, filtered by licence.
- :func:`read_anafora`: a folder of THYME / Clinical TempEval documents (text + Anafora XML).
- :func:`write_anafora`: the inverse (tests, and the chapter's format demonstration).
- :func:`char_span_scores`: Clinical TempEval span precision/recall/F1 (exact character offsets).

Problems in a user's files are reported as :class:`~precmed_utils.errors.DataError` naming the
file, the line and the element; no message quotes the text of a document. Used by
temporal_events.
"""

from __future__ import annotations

import json
import re
import tarfile
import xml.parsers.expat
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from ..errors import DataError, Problems
from ..text import Document, Span, Token

LABELS = ("EVENT", "TIMEX3")
STUDY = "temporal_events"

# --- E3C layer 1 (UIMA XMI as exported by WebAnno) ----------------------------------------------

_NS_SOFA = "{http:///uima/cas.ecore}Sofa"
_NS_TOKEN = "{http:///de/tudarmstadt/ukp/dkpro/core/api/segmentation/type.ecore}Token"
_NS_SENTENCE = "{http:///de/tudarmstadt/ukp/dkpro/core/api/segmentation/type.ecore}Sentence"
_NS_CUSTOM = "{http:///webanno/custom.ecore}"

# The official split's counts for English (NOTES.md; checked by the unit tests).
E3C_SPLIT_COUNTS = {
    "train": {"documents": 36, "tokens": 12657, "EVENT": 2042, "TIMEX3": 177},
    "test": {"documents": 48, "tokens": 16702, "EVENT": 2843, "TIMEX3": 203},
}


def e3c_train_ids(split_file: str | Path, language: str = "ENGLISH") -> set[str]:
    """The training document ids of one language in E3C's ``train_test_split.txt`` (every other
    document of the language is a test document)."""
    text = Path(split_file).read_text(encoding="utf-8")
    m = re.search(rf"^{language}\s*$(.*?)(?=^[A-Z]+\s*$|\Z)", text, flags=re.M | re.S)
    if not m:
        raise DataError(f"{split_file}: no section {language!r}")
    ids = set(re.findall(r"'([A-Z]{2}\d+)'", m.group(1)))
    if not ids:
        raise DataError(f"{split_file}: section {language!r} lists no document ids")
    return ids


def parse_e3c_xmi(raw: bytes, doc_id: str, where: str = "") -> Document:
    """One E3C layer-1 document from its XMI: the text (``Sofa@sofaString``), the DKPro tokens
    and sentences, the EVENT and TIMEX3 spans and the EVENTs' DocTimeRel. The id is the file
    name's, since every file's ``documentId`` is the same placeholder."""
    import xml.etree.ElementTree as ET

    where = where or doc_id
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise DataError(f"{where}: not well-formed XMI ({exc})") from exc
    text, tokens, sents, spans, dtr = None, [], [], [], {}
    for el in root:
        if el.tag == _NS_SOFA:
            text = el.get("sofaString")
            continue
        if el.tag not in (_NS_TOKEN, _NS_SENTENCE, _NS_CUSTOM + "EVENT", _NS_CUSTOM + "TIMEX3"):
            continue
        try:
            a, b = int(el.get("begin")), int(el.get("end"))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: element xmi:id={el.get('{http://www.omg.org/XMI}id')} has no "
                            "integer begin/end offsets") from exc
        if el.tag == _NS_TOKEN:
            tokens.append((a, b))
        elif el.tag == _NS_SENTENCE:
            sents.append((a, b))
        else:
            label = el.tag[len(_NS_CUSTOM):]
            spans.append(Span(a, b, label))
            if label == "EVENT" and el.get("docTimeRel"):
                dtr[(a, b)] = el.get("docTimeRel")
    if text is None:
        raise DataError(f"{where}: no cas:Sofa element with a sofaString (the document text)")
    tokens.sort()
    toks = [Token(text[a:b], a, b) for a, b in tokens]
    starts = [t.start for t in toks]
    sentences = []
    for a, b in sorted(sents):
        i = next((k for k, s in enumerate(starts) if s >= a), len(toks))
        j = i
        while j < len(toks) and toks[j].end <= b:
            j += 1
        if j > i:
            sentences.append((i, j))
    doc = Document(doc_id, text, sorted(spans), group=doc_id,
                   meta={"doctimerel": dtr, "tokens": toks, "sentences": sentences, "split": None})
    doc.check()
    return doc


def read_e3c(layer1_tar: str | Path, split_file: str | Path, *_ignored) -> list[Document]:
    """E3C English layer 1 with its official split (``meta["split"]`` train/test); dev documents
    are carved from the training ones by the study. Extra positional paths (the layer-3 tarball
    of the same registry entry) are ignored."""
    train = e3c_train_ids(split_file)
    docs = []
    with tarfile.open(layer1_tar, "r:gz") as tar:
        for m in sorted(tar.getmembers(), key=lambda m: m.name):
            if not (m.isfile() and "/English/layer1/" in m.name and m.name.endswith(".xml")):
                continue
            doc_id = Path(m.name).stem
            doc = parse_e3c_xmi(tar.extractfile(m).read(), doc_id, f"{layer1_tar}:{m.name}")
            doc.meta["split"] = "train" if doc_id in train else "test"
            docs.append(doc)
    if not docs:
        raise DataError(f"{layer1_tar}: no English layer-1 documents (expected */English/layer1/*.xml)")
    missing = train - {d.id for d in docs}
    if missing:
        raise DataError(f"{split_file}: training documents not in the corpus: {sorted(missing)[:5]}")
    return docs


# --- E3C layer 3 ----------------------------------------------------------------------------------

PERMISSIVE_LICENCES = ("CC BY", "CC BY-SA")
NONCOMMERCIAL_LICENCES = ("CC BY-NC", "CC BY-NC-SA")


def normalise_licence(licence: str) -> str:
    """``"CC BY 4.0"`` and ``"CC BY"`` are the same licence: drop the version."""
    return re.sub(r"\s+\d+(\.\d+)*$", "", (licence or "").strip())


@dataclass
class Unlabelled:
    """Unannotated documents for pretraining: texts, their ids and (normalised) licences."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # licence -> documents left out

    def __len__(self) -> int:
        return len(self.texts)


def read_layer3(layer3_tar: str | Path, *, licences: Sequence[str] = PERMISSIVE_LICENCES,
                max_docs: int = 0, exclude_ids: Iterable[str] = ()) -> Unlabelled:
    """E3C layer-3 clinical cases (JSON with ``text`` and ``licence``) whose licence is one of
    ``licences`` (versions ignored), in file-name order; ``max_docs`` > 0 keeps the first ones."""
    keep = {normalise_licence(x) for x in licences}
    exclude = set(exclude_ids)
    out = Unlabelled()
    with tarfile.open(layer3_tar, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".json")),
                         key=lambda m: m.name)
        for m in members:
            try:
                d = json.loads(tar.extractfile(m).read())
            except json.JSONDecodeError as exc:
                raise DataError(f"{layer3_tar}:{m.name}: not valid JSON ({exc})") from exc
            lic = normalise_licence(d.get("licence", ""))
            doc_id = d.get("id") or Path(m.name).stem
            if lic not in keep or doc_id in exclude or not d.get("text"):
                out.skipped[lic or "(none)"] += 1
                continue
            if max_docs and len(out) >= max_docs:
                out.skipped["(over max_docs)"] += 1
                continue
            out.ids.append(doc_id)
            out.texts.append(d["text"])
            out.licences.append(lic)
    return out


# --- Anafora XML (THYME / Clinical TempEval) ------------------------------------------------------

ANAFORA_FORMAT = (
    "Anafora (THYME / Clinical TempEval): a folder of documents, each a UTF-8 text file and its "
    "Anafora XML annotation, either side by side as NAME.txt (or NAME) and NAME*.xml, or in one "
    "subfolder per document (THYME's layout: ID/ID and ID/ID.Temporal-*.xml). The XML holds "
    "<data><annotations><entity> elements with <id>, <span>start,end</span> (character offsets "
    "into the text; a discontinuous span 'a,b;c,d' keeps each piece), <type>EVENT or TIMEX3 "
    "(other types, e.g. DOCTIME, SECTIONTIME, are ignored), and optionally "
    "<properties><DocTimeRel>BEFORE|OVERLAP|BEFORE/OVERLAP|AFTER|...</DocTimeRel></properties>; "
    "<relation> elements are ignored. Optional top-level subfolders train/, dev/, test/ give the "
    "split; otherwise the study splits the documents by its seed."
)


@dataclass
class _Node:
    tag: str
    line: int
    children: list = field(default_factory=list)
    text: str = ""

    def find(self, tag: str):
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str):
        return [c for c in self.children if c.tag == tag]


def _parse_xml_lines(raw: bytes, where: str) -> _Node:
    """A minimal element tree that remembers each element's line (expat), for error messages."""
    parser = xml.parsers.expat.ParserCreate()
    root = _Node("#document", 0)
    stack = [root]

    def start(tag, _attrs):
        node = _Node(tag, parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    def end(_tag):
        stack.pop()

    def chars(data):
        stack[-1].text += data

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(raw, True)
    except xml.parsers.expat.ExpatError as exc:
        loc = f"line {exc.lineno}, column {exc.offset + 1}"
        msg = f"not well-formed XML ({xml.parsers.expat.ErrorString(exc.code)}). Expected: {ANAFORA_FORMAT}"
        raise DataError(f"{where}, {loc}: {msg}", loc, msg) from exc
    if not root.children:
        msg = f"empty XML document. Expected: {ANAFORA_FORMAT}"
        raise DataError(f"{where}: {msg}", "", msg)
    return root.children[0]


def parse_anafora(raw: bytes, text: str, where: str,
                  report: Problems | None = None) -> tuple[list[Span], dict, Counter]:
    """EVENT/TIMEX3 spans, DocTimeRel by span, and counts of the entity types left out.
    Problems go to ``report`` (by default the first raises a DataError)."""
    report = Problems() if report is None else report
    empty: tuple[list[Span], dict, Counter] = ([], {}, Counter())
    try:
        root = _parse_xml_lines(raw, where)
    except DataError as exc:
        if not report.collect:
            raise
        loc, msg = exc.args[1:3]
        report.add(where, loc, msg)
        return empty
    if root.tag != "data":
        report.add(where, f"line {root.line}", f"root element <{root.tag}>, expected <data>. "
                   f"Expected: {ANAFORA_FORMAT}")
        return empty
    ann = root.find("annotations")
    if ann is None:
        report.add(where, f"line {root.line}", "no <annotations> element in <data>")
        return empty
    spans, dtr, ignored = [], {}, Counter()
    for ent in ann.findall("entity"):
        id_el = ent.find("id")
        eid = id_el.text.strip() if id_el is not None and id_el.text.strip() else None
        what = f"line {ent.line}, <entity>" + (f" {eid}" if eid else "")
        if eid is None:
            report.add(where, what, "no <id>")
            continue
        type_el = ent.find("type")
        if type_el is None or not type_el.text.strip():
            report.add(where, what, "no <type> (expected EVENT or TIMEX3, or another type to ignore)")
            continue
        etype = type_el.text.strip()
        if etype not in LABELS:
            ignored[etype] += 1
            continue
        span_el = ent.find("span")
        if span_el is None or not span_el.text.strip():
            report.add(where, what, "no <span> (expected <span>start,end</span>)")
            continue
        pieces = []
        for piece in span_el.text.strip().split(";"):
            at = f"line {span_el.line}, <span> of {eid}"
            m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", piece)
            if not m:
                report.add(where, at,
                           f"{piece.strip()[:30]!r} is not 'start,end' (two non-negative integers)")
                continue
            a, b = int(m.group(1)), int(m.group(2))
            if not a < b:
                report.add(where, at, f"start {a} is not before end {b}")
                continue
            if b > len(text):
                report.add(where, at, f"end {b} is past the end of the {len(text)}-character text (is the "
                           "XML paired with the right text file?)")
                continue
            pieces.append((a, b))
        props = ent.find("properties")
        rel_el = props.find("DocTimeRel") if props is not None else None
        rel = rel_el.text.strip() if rel_el is not None and rel_el.text.strip() else None
        for a, b in pieces:
            spans.append(Span(a, b, etype))
            if etype == "EVENT" and rel:
                dtr[(a, b)] = rel
    return sorted(set(spans)), dtr, ignored


_SPLIT_NAMES = {"train": "train", "training": "train", "dev": "dev", "development": "dev",
                "valid": "dev", "validation": "dev", "test": "test", "testing": "test"}


def _pairs(folder: Path, report: Problems) -> list[tuple[str, Path, Path]]:
    """(document id, text file, xml file) for the documents in ``folder`` (flat or one subfolder
    per document)."""
    out = []
    for xml_file in sorted(folder.glob("*.xml")):
        stem = xml_file.name.split(".")[0]
        cands = [folder / f"{stem}.txt", folder / stem]
        txt = next((c for c in cands if c.is_file()), None)
        if txt is None:
            report.add(xml_file, "", f"no text file beside it (expected {stem}.txt or {stem}). "
                       f"Expected: {ANAFORA_FORMAT}")
            continue
        out.append((stem, txt, xml_file))
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name.lower() in _SPLIT_NAMES:
            continue
        xmls = sorted(sub.glob("*.xml"))
        if not xmls:
            continue
        if len(xmls) > 1:
            report.add(sub, "", f"{len(xmls)} XML files; expected one Anafora annotation per "
                       "document folder")
            continue
        txt = next((c for c in (sub / sub.name, sub / f"{sub.name}.txt") if c.is_file()), None)
        if txt is None:
            report.add(sub, "", f"no text file {sub.name} or {sub.name}.txt beside {xmls[0].name}")
            continue
        out.append((sub.name, txt, xmls[0]))
    return out


def read_anafora(path: str | Path, report: Problems | None = None) -> list[Document]:
    """Read a folder of Anafora-annotated documents (see ``ANAFORA_FORMAT``). Problems go to
    ``report`` (by default the first raises a DataError)."""
    report = Problems() if report is None else report
    path = Path(path).expanduser()
    if not path.exists():
        report.add(path, "", f"no such folder. Expected: {ANAFORA_FORMAT}")
        return []
    if not path.is_dir():
        report.add(path, "", f"is a file, expected a folder of documents. Expected: {ANAFORA_FORMAT}")
        return []
    groups = [(None, path)]
    splits = {_SPLIT_NAMES[p.name.lower()]: p for p in path.iterdir()
              if p.is_dir() and p.name.lower() in _SPLIT_NAMES}
    groups += [(s, p) for s, p in sorted(splits.items())]
    docs, seen = [], set()
    for split, folder in groups:
        for doc_id, txt, xml_file in _pairs(folder, report):
            try:
                with open(txt, encoding="utf-8", newline="") as fh:  # offsets count "\r\n" as two characters
                    text = fh.read()
            except UnicodeDecodeError as exc:
                report.add(txt, f"byte {exc.start}", f"not UTF-8 text ({exc.reason})")
                continue
            spans, dtr, ignored = parse_anafora(xml_file.read_bytes(), text, str(xml_file), report)
            if doc_id in seen:
                report.add(xml_file, "", f"document id {doc_id!r} appears twice in {path}")
                continue
            seen.add(doc_id)
            docs.append(Document(doc_id, text, spans, group=doc_id,
                                 meta={"split": split, "doctimerel": dtr, "ignored_types": dict(ignored)}))
    if report.errors:
        return docs
    if not docs:
        report.add(path, "", f"no documents found (no *.xml annotation files). Expected: {ANAFORA_FORMAT}")
    elif not any(d.spans for d in docs):
        report.add(path, "", f"{len(docs)} documents but not one EVENT or TIMEX3 entity")
    return docs


def write_anafora(docs: Iterable[Document], folder: str | Path) -> Path:
    """Write documents in THYME's layout (``ID/ID`` text + ``ID/ID.Temporal.gold.completed.xml``);
    a document whose ``meta["split"]`` is set goes under that split's subfolder."""
    folder = Path(folder)
    for doc in docs:
        base = folder / doc.meta["split"] if doc.meta.get("split") else folder
        d = base / doc.id
        d.mkdir(parents=True, exist_ok=True)
        with open(d / doc.id, "w", encoding="utf-8", newline="") as fh:
            fh.write(doc.text)
        rel = doc.meta.get("doctimerel", {})
        ents = []
        for k, s in enumerate(sorted(doc.spans), 1):
            props = (f"<properties><DocTimeRel>{escape(rel[(s.start, s.end)])}</DocTimeRel></properties>"
                     if s.label == "EVENT" and (s.start, s.end) in rel else "<properties/>")
            ents.append(f"<entity>\n<id>{k}@e@{escape(doc.id)}@gold</id>\n<span>{s.start},{s.end}</span>\n"
                        f"<type>{s.label}</type>\n<parentsType>TemporalEntities</parentsType>\n{props}\n</entity>")
        xml_text = ('<?xml version="1.0" encoding="UTF-8"?>\n<data>\n'
                    "<info><progress>completed</progress></info>\n<annotations>\n"
                    + "\n".join(ents) + "\n</annotations>\n</data>\n")
        (d / f"{doc.id}.Temporal.gold.completed.xml").write_text(xml_text, encoding="utf-8")
    return folder


# --- scores -------------------------------------------------------------------------------------

def char_span_scores(gold: Sequence[Iterable[Span]], pred: Sequence[Iterable[Span]],
                     labels: Sequence[str] = LABELS) -> pd.DataFrame:
    """Clinical TempEval span scores: a predicted span counts only if a gold span of the same
    document has the same label and exactly the same start and end character. One row per label:
    gold, predicted and correct counts, precision, recall, F1 (micro over documents)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold documents but {len(pred)} predicted ones")
    rows = []
    for lab in labels:
        n_gold = n_pred = tp = 0
        for g, p in zip(gold, pred, strict=True):
            gs = {(s.start, s.end) for s in g if s.label == lab}
            ps = {(s.start, s.end) for s in p if s.label == lab}
            n_gold, n_pred, tp = n_gold + len(gs), n_pred + len(ps), tp + len(gs & ps)
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_gold if n_gold else 0.0
        rows.append({"label": lab, "gold": n_gold, "predicted": n_pred, "correct": tp, "precision": prec,
                     "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0})
    return pd.DataFrame(rows).set_index("label")


# --- registry -------------------------------------------------------------------------------------

_E3C_FILES = {
    "e3c_english/e3c_english_layer1_annotated.tar.gz":
        "2a3af3d8f21eee85e47e6aedf362a339fa6493a7721042b736ef97b54a62df6b",
    "e3c_english/train_test_split.txt":
        "eddbed674514c9ab20db0a8977ee53b81e2f469c3f9e81963c7ab08b178632a7",
}
_E3C_LAYER3 = {
    "e3c_english/e3c_english_layer3_unannotated.tar.gz":
        "2920169e1adcf28326167b46124d4a09fbb98549f87d096131f66f0d4729c8ad",
}
