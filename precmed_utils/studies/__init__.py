"""The study registry: ids, titles, papers' reported values and claims.

Everything comes from one machine-readable file, ``precmed_utils/paper_values.yml``, so the
notebooks, the paper-versus-ours tables and the scoreboard all read the same numbers. Used by all
studies.

The subpackage ``precmed_utils.studies`` holds the code of one study each (heart_failure, deid,
drug_response, ...); this catalogue is its ``__init__``.
"""

from __future__ import annotations

import difflib
import os
from functools import cache
from pathlib import Path

import yaml

from ..errors import UnknownStudyError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # precmed_utils/ (this module is precmed_utils/studies/)
PAPER_VALUES = PACKAGE_DIR / "paper_values.yml"


def project_root() -> Path:
    """The project checkout (notebooks/, data/, book/). ``PRECMED_ROOT`` overrides it."""
    env = os.environ.get("PRECMED_ROOT")
    return Path(env).resolve() if env else PACKAGE_DIR.parent


@cache
def paper_values() -> dict:
    with open(PAPER_VALUES, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def all_studies() -> list[str]:
    """All eleven studies of the survey, in the survey's order."""
    return list(paper_values()["studies"])


def notebook_path(study: str) -> Path:
    return project_root() / "notebooks" / f"{study}.ipynb"


def implemented_studies() -> list[str]:
    """Studies that have a notebook."""
    return [s for s in all_studies() if notebook_path(s).exists()]


def check_study(study: str, *, implemented: bool = True) -> str:
    """Return ``study`` or raise a clear error naming the known ones."""
    known = implemented_studies() if implemented else all_studies()
    if study in known:
        return study
    hint = difflib.get_close_matches(study, all_studies(), n=1)
    msg = f"unknown study {study!r}."
    if study in all_studies():
        msg = f"study {study!r} is listed in the survey but has no notebook yet."
    elif hint:
        msg += f" Did you mean {hint[0]!r}?"
    raise UnknownStudyError(f"{msg} Studies you can run: {', '.join(known) or '(none)'}.")


def study_info(study: str) -> dict:
    """The entry of ``study`` in paper_values.yml (title, paper, data, headline, values, claims)."""
    check_study(study, implemented=False)
    return paper_values()["studies"][study]


def headline(study: str) -> dict:
    """The study's headline comparison for the scoreboard. Where the chapter's paper-versus-ours
    table has a row with the same key, that row's paper value, verification status and
    comparability win, so that the scoreboard and the chapter cannot disagree."""
    info = study_info(study)
    h = dict(info["headline"])
    row = next((v for v in info.get("values", []) if v.get("key") == h.get("key")), None)
    if row is not None:  # as the chapter's table reads it (comparable unless it says otherwise)
        h.update(value=row.get("value"), verified=row.get("verified"), comparable=row.get("comparable", True))
    return h
