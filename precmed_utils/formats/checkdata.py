"""Check a user's data against the format its study documents, without running the study.

``check_data(study, path)`` returns every problem found (file, location, message), not only the
first. Every format is checked by its own reader given a collecting
:class:`~precmed_utils.errors.Problems`, so a reader and its check share one set of rules: the
text formats (brat, CoNLL/BIO, Anafora, i2b2 2014 XML, i2b2 2010), the tables (labelled matrix,
survival table, pharmacovigilance tables, drug screen; their CSV handling is ``tables``) and the
EHR layouts (MIMIC-III, MIMIC-IV, OMOP, MEDS). The table and EHR readers apply every rule while
collecting, whole-table ones (class sizes, follow-up in days, ...) too; after a text reader finds
nothing, the study's reader runs once more and whatever it still rejects is reported, so data
that passes the check is data the study accepts.

Used by ``precmed check-data``, by ``data.check_user_file`` (the runner, before a run) and by
``data.load`` (the notebooks, for a user's path).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..errors import DataError, Problem, Problems, problem_text
from . import data

LIMIT = 200  # problems listed at most; the rest are counted


# --- the registry of checks ---------------------------------------------------------------------

def _by_reader(reader: Callable, *, complete: bool = False,
               kwargs: bool = False) -> Callable[[Path, Problems], None]:
    """A check that runs a reader which takes a ``report``. ``complete``: the reader, collecting,
    applies every rule it applies when raising (the table and EHR readers), so it need not run a
    second time. ``kwargs``: the reader takes the study's reader arguments (e.g. horizon_days)."""
    def check(path: Path, report: Problems, **kw) -> None:
        reader(path, report=report, **(kw if kwargs else {}))
    check.complete = complete
    return check


def _checks() -> dict[str, Callable]:
    from ..studies import deid, drug_response, relations, temporal
    from . import corpora, ehr, ehr_formats

    checks = {
        "cancer_subtyping": _by_reader(data.read_labelled_matrix, complete=True, kwargs=True),
        "adr_bcpnn": _by_reader(data.read_pharmacovigilance, complete=True),
        "breast_cancer_prognosis": _by_reader(data.read_survival_table, complete=True, kwargs=True),
        "concept_extraction": _by_reader(corpora.read_user_corpus),
        "temporal_events": _by_reader(temporal.read_anafora),
        "deidentification": _by_reader(deid.read_user_deid),
        "relation_extraction": _by_reader(relations.read_i2b2_relations),
        "drug_response": _by_reader(drug_response.read_user_screen, complete=True),
    }
    checks.update({s: _by_reader(ehr_formats.read_ehr, complete=True) for s in ehr.EHR_STUDIES})
    return checks


def format_of(study: str) -> str:
    """The documented format of ``study``'s user data (DataError if it takes none)."""
    if study not in data.USER_FORMATS:
        from ..studies import check_study

        check_study(study)  # an unknown study: UnknownStudyError
        raise DataError(f"study {study!r} does not take a data file of yours; it runs on its registered "
                        f"datasets: {', '.join(data.for_study(study)) or '(simulated data)'}")
    return data.USER_FORMATS[study][1]


def check_data(study: str, path: str | Path, *, limit: int = LIMIT, **reader_kwargs) -> list[Problem]:
    """Every problem of the user's data at ``path`` for ``study`` (an empty list: the study
    accepts it). At most ``limit`` problems are listed; a last entry then says how many more
    there are. Warnings (the data is usable, but something looks off) come as problems with
    ``warning=True``. ``reader_kwargs`` go to the study's reader (e.g. ``horizon_days``)."""
    format_of(study)
    path = Path(path).expanduser()
    report = Problems(collect=True, limit=limit)
    if not path.exists():
        report.add(path, "", "no such file or folder")
        return report.items
    check = _checks().get(study)
    if check is not None:
        try:
            check(path, report, **reader_kwargs)
        except DataError as exc:  # a problem the check could not localise further
            report.add(*_split(path, str(exc)))
    if not report.errors and not report.more and not getattr(check, "complete", False):
        reader = data.USER_FORMATS[study][0]
        try:
            reader(path, **reader_kwargs)
        except DataError as exc:
            report.add(*_split(path, str(exc)))
    items = list(report.items)
    if report.more:
        items.append(Problem(path, "", f"... and {report.more} more problem(s) not listed"))
    return items


def _split(path: Path, message: str) -> tuple[str, str, str]:
    """(file, location, message) of a reader's DataError text 'file[, location]: message'."""
    for f in sorted({str(p) for p in (path, *path.rglob("*"))} if path.is_dir() else {str(path)},
                    key=len, reverse=True):
        if message.startswith(f + ": "):
            return f, "", message[len(f) + 2:]
        if message.startswith(f + ", ") and ": " in message[len(f) + 2:]:
            loc, msg = message[len(f) + 2:].split(": ", 1)
            return f, loc, msg
    return str(path), "", message


def errors_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.warning]


_MORE = re.compile(r"^\.\.\. and (\d+) more problem")


def total_errors(problems: list[Problem]) -> int:
    """How many errors ``check_data`` found, those beyond its listing limit included."""
    total = 0
    for p in errors_of(problems):
        m = _MORE.match(p.message)
        total += int(m.group(1)) if m else 1
    return total


def raise_if_problems(study: str, path: str | Path, shown: int = 20, **reader_kwargs) -> None:
    """A DataError listing the first ``shown`` problems of the data (and how many there are in
    all), or nothing when the study accepts it. Used by data.check_user_file and data.load."""
    errors = errors_of(check_data(study, path, **reader_kwargs))
    if not errors:
        return
    files = {p.file for p in errors}
    if len(files) == 1 and all(", column " in p.location for p in errors):
        # cells of one table: the readers' wording, 'FILE: malformed data:' and a list
        lines = [f"{p.location}: {p.message}" for p in errors[:shown]]
        more = f"\n  - ... and {len(errors) - shown} more" if len(errors) > shown else ""
        raise DataError(f"{files.pop()}: malformed data:\n  - " + "\n  - ".join(lines) + more
                        + f"\nExpected: {format_of(study)}")
    if len(errors) == 1:
        p = errors[0]
        raise DataError(problem_text(p.file, p.location, p.message))
    lines = [problem_text(p.file, p.location, p.message) for p in errors[:shown]]
    more = f"\n  ... and {len(errors) - shown} more" if len(errors) > shown else ""
    raise DataError(f"{path}: {total_errors(errors)} problem(s) for {study}:\n  " + "\n  ".join(lines) + more
                    + f"\nExpected: {format_of(study)}\n(`precmed check-data {study} {path}` lists them all)")
