"""Saving a text chapter's trained tagger, loading it back in another program, and its model card:
the code the deidentification, concept_extraction and temporal_events chapters share.

A saved model is a folder (the run's ``<output_dir>/model/``) holding ``weights.pt`` (the state
dict only: tensors, read back with ``torch.load(weights_only=True)``, so loading runs no pickled
code), ``encoders.json`` (vocabularies and tag set), ``config.json`` (what builds the model, and
the study that saved it), and ``MODEL_CARD.md`` with ``model_card.json``.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..errors import DataError
from .tagger import Encoders

MODEL_FILES = ("weights.pt", "encoders.json", "config.json")
MODEL_CARD = "MODEL_CARD.md"
CARD_JSON = "model_card.json"


def saved_study(config: dict) -> str | None:
    """The study a saved ``config`` belongs to (``config["study"]``; a de-identification model
    saved before the key existed is recognised by its character vocabulary)."""
    return config.get("study") or ("deidentification" if "n_chars" in config else None)


def save_parts(model_dir: str | Path, model: nn.Module, encoders: Encoders, config: dict) -> Path:
    """Write ``weights.pt`` (the state dict only, on the CPU), ``encoders.json`` and ``config.json``."""
    d = Path(model_dir)
    d.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, d / "weights.pt")
    (d / "encoders.json").write_text(json.dumps(encoders.to_dict()))
    (d / "config.json").write_text(json.dumps(config, indent=2))
    return d


def load_parts(model_dir: str | Path, *, study: str, what: str,
               build: Callable[[dict], nn.Module]) -> tuple[nn.Module, Encoders, dict]:
    """A model folder written by :func:`save_parts` for ``study`` (``what`` names the model in
    messages, e.g. "de-identification"): ``build(config)`` makes the empty model, the weights are
    read with ``torch.load(weights_only=True)``. Every failure is a :class:`DataError` that says
    what was wrong and what was expected."""
    d = Path(model_dir).expanduser()
    expected = (f"expected the folder <output_dir>/model/ written by the {study} notebook, holding "
                f"{', '.join(MODEL_FILES)}")
    missing = [f for f in MODEL_FILES if not (d / f).is_file()]
    if not d.is_dir() or missing:
        what_missing = ", ".join(missing) if d.is_dir() else "the folder itself"
        raise DataError(f"{d}: not a saved {what} model (missing {what_missing}); {expected}")
    try:
        config = json.loads((d / "config.json").read_text())
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise DataError(f"{d / 'config.json'}: cannot be read ({type(exc).__name__}: {exc}); "
                        f"{expected}") from exc
    found = saved_study(config)
    if found != study:
        other = (f"a model saved by the {found} study (`precmed predict {found}` reads it)" if found
                 else "a config.json that names no study")
        raise DataError(f"{d}: not a saved {what} model: it holds {other}; {expected}")
    try:
        encoders = Encoders.from_dict(json.loads((d / "encoders.json").read_text()))
        state = torch.load(d / "weights.pt", map_location="cpu", weights_only=True)
        model = build(config)
        model.load_state_dict(state)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError, pickle.UnpicklingError,
            EOFError) as exc:
        unpickling = isinstance(exc, (pickle.UnpicklingError, EOFError))
        reason = ("weights.pt is damaged or not a file of tensors" if unpickling
                  else (str(exc).strip().splitlines() or [""])[0][:200])  # torch's own messages run to pages
        raise DataError(f"{d}: the saved model cannot be loaded ({type(exc).__name__}: {reason}); expected "
                        f"weights.pt (a state dict written by torch.save), encoders.json and config.json as "
                        f"the {study} notebook writes them") from exc
    model.eval()
    return model, encoders, config


def read_card(model_dir: str | Path) -> dict | None:
    """model_card.json of a model folder, or None when it has none (or it cannot be read)."""
    f = Path(model_dir).expanduser() / CARD_JSON
    try:
        return json.loads(f.read_text()) if f.is_file() else None
    except (OSError, ValueError):
        return None


def weights_licence(data_info: dict, *, memorises: str = "words of the text") -> str:
    """What the weights' licence is, given the training data's registry entry: the user's own
    (restricted) corpus keeps its agreement; a non-commercial licence carries over to the weights."""
    if data_info.get("kind") == "restricted":
        return ("the licence of the user's own corpus (restricted: do not share this model outside the "
                f"data agreement; a model can memorise {memorises} it was trained on)")
    licence = str(data_info.get("licence"))
    if "NC" in licence.replace("-", " ").split() or "non-commercial" in licence.lower():
        licence += ("; the weights inherit its non-commercial term: they may not be used or shared for "
                    "commercial purposes")
    return licence


def score_table(scores: dict) -> str:
    """Markdown rows ``| metric | mean | SD |`` of ``{name: {"mean", "sd"}}``."""
    return "\n".join(f"| {k} | {v['mean']:.3f} | {v['sd']:.3f} |" if v.get("sd") is not None
                     else f"| {k} | {v['mean']:.3f} | |" for k, v in scores.items())


def write_card(model_dir: str | Path, card: dict, markdown: str) -> Path:
    """Write ``model_card.json`` (``card``, plus the files and how they load) and ``MODEL_CARD.md``."""
    d = Path(model_dir)
    card = {**card, "files": list(MODEL_FILES),
            "loading": "torch.load(weights_only=True): tensors only, no pickled code"}
    (d / CARD_JSON).write_text(json.dumps(card, indent=2, default=str))
    (d / MODEL_CARD).write_text(markdown)
    return d / MODEL_CARD
