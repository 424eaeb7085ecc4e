"""Teaching material of the book: exercises, the instructor appendix, run-time tiers, launch links.

Every chapter ends with a ``## Exercises`` section: numbered exercises, each followed by a MyST
``{admonition} Solution`` block of class ``dropdown`` (hidden until the reader opens it). This
module reads those sections back out of the notebooks, so that the solutions live in one place
(the chapter) and the instructor appendix is generated from them when the book is staged.

``stage_teaching`` is called once by ``runner.stage_book`` after the chapters are staged. It

- writes ``book/instructor.md``: every chapter's exercises with their solutions shown;
- fills the run-time tiers table of ``book/teaching.md`` from ``book/performance.json``;
- when the project's public repository is known (``PRECMED_REPOSITORY_URL``, or ``git remote
  get-url origin`` when that is an https URL), turns on the repository button and puts a
  *Run this chapter* note with Binder, Colab (GitHub only) and JupyterHub (``PRECMED_JUPYTERHUB_URL``)
  links to ``notebooks/<study>.ipynb`` at the top of each chapter. Jupyter Book's own launch
  buttons cannot be used: they open ``<path_to_book>/<page>.ipynb``, i.e. the staged copy
  ``book/studies/<study>.ipynb``, which is not in the repository. Without a URL nothing is added,
  so the book never shows a dead button.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import yaml

from ..errors import BuildError
from ..params import supports_gpu
from ..studies import implemented_studies, notebook_path, project_root, study_info
from . import benchmark

TIERS_PLACEHOLDER = "<!-- precmed: run-time tiers -->"
INSTRUCTOR_PAGE = "book/instructor.md"
TEACHING_PAGE = "book/teaching.md"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\d+)\.\s+(.*)$")
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")
_OPTION = re.compile(r"^:(\w[\w-]*):\s*(.*)$")


@dataclass
class Exercise:
    number: int
    text: str
    solution: str | None = None
    solution_title: str | None = None
    solution_classes: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        """The solution is folded away on the chapter page (a dropdown admonition)."""
        return self.solution is not None and "dropdown" in self.solution_classes


# ---------------------------------------------------------------------------------------------
# Reading the exercises


def _markdown_cells(nb: dict) -> list[str]:
    out = []
    for c in nb.get("cells", []):
        if c.get("cell_type") == "markdown":
            src = c.get("source", "")
            out.append("".join(src) if isinstance(src, list) else src)
    return out


def exercises_section(nb: dict) -> str | None:
    """The text of the notebook's ``## Exercises`` section (which may span markdown cells).

    It ends at the next heading of level 1 or 2 or at the end of the notebook; code cells in
    between (e.g. the cell that saves the metrics) are skipped. ``None`` when there is none.
    """
    lines: list[str] | None = None
    for text in _markdown_cells(nb):
        fence = None
        for line in text.splitlines():
            m = _FENCE.match(line)
            if m:
                if fence is None:
                    fence = m.group(1)
                elif line.strip() == fence[0] * len(line.strip()) and len(line.strip()) >= len(fence):
                    fence = None
            h = _HEADING.match(line) if fence is None else None
            if lines is None:
                if h and len(h.group(1)) == 2 and h.group(2).lower() == "exercises":
                    lines = []
                continue
            if h and len(h.group(1)) <= 2:
                return "\n".join(lines).strip("\n")
            lines.append(line)
        if lines is not None:
            lines.append("")  # a cell boundary is a paragraph break
    return None if lines is None else "\n".join(lines).strip("\n")


def _dedent(lines: list[str]) -> str:
    body = [ln for ln in lines if ln.strip()]
    pad = min((len(ln) - len(ln.lstrip(" ")) for ln in body), default=0)
    return "\n".join(ln[pad:] if ln.strip() else "" for ln in lines).strip("\n")


def _fence_end(lines: list[str], start: int, mark: str) -> int:
    """Index of the line that closes the fence opened at ``start`` with ``mark`` (a run of at least
    as many of its characters), or ``len(lines)`` when none does."""
    j = start + 1
    while j < len(lines):
        s = lines[j].strip()
        if s and s == mark[0] * len(s) and len(s) >= len(mark):
            return j
        j += 1
    return len(lines)


def parse_exercises(section: str) -> list[Exercise]:
    """Split an exercises section into numbered exercises and the solution after each.

    An exercise starts with ``N. `` at the start of a line (continuation lines are indented); a
    solution is an admonition fence at the start of a line after it, e.g.::

        ```{admonition} Solution
        :class: dropdown
        ...
        ```
    """
    out: list[Exercise] = []
    current: list[str] | None = None  # lines of the exercise being read
    lines = section.splitlines()
    i = 0

    def close():
        nonlocal current
        if current is not None and out:
            out[-1].text = _dedent(current)
        current = None

    while i < len(lines):
        line = lines[i]
        item = _ITEM.match(line)
        fence = _FENCE.match(line)
        if item:
            close()
            out.append(Exercise(int(item.group(1)), ""))
            current = [" " * (len(item.group(1)) + 2) + item.group(2)]
        elif fence and fence.group(2).startswith("{admonition}") and out:
            close()
            mark = fence.group(1)
            title = fence.group(2)[len("{admonition}"):].strip()
            end = _fence_end(lines, i, mark)
            j, options = i + 1, {}
            while j < end and _OPTION.match(lines[j]):
                k, v = _OPTION.match(lines[j]).groups()
                options[k] = v
                j += 1
            body = lines[j:end]
            ex = out[-1]
            if ex.solution is None:
                ex.solution = _dedent(body)
                ex.solution_title = title
                ex.solution_classes = options.get("class", "").split()
            i = end + 1
            continue
        elif fence and current is not None:  # a code block inside the exercise: copy it whole
            end = _fence_end(lines, i, fence.group(1))
            current.extend(lines[i:end + 1])
            i = end
        elif current is not None:
            current.append(line)
        i += 1
    close()
    return out


def exercises_of(nb: dict) -> list[Exercise]:
    section = exercises_section(nb)
    return parse_exercises(section) if section else []


# ---------------------------------------------------------------------------------------------
# The instructor appendix


def _fenced(body: str, head: str, options: str) -> str:
    runs = [len(m) for m in re.findall(r"^\s*(`{3,})", body, re.M)]
    fence = "`" * max([3, *(n + 1 for n in runs)])
    return f"{fence}{head}\n{options}\n{body}\n{fence}"


def instructor_markdown(chapters: list[tuple[str, str, list[Exercise]]]) -> str:
    """The appendix page. ``chapters`` holds (study id, chapter title, exercises) in book order."""
    lines = [
        "# Instructor appendix: exercises and solutions", "",
        "Every chapter ends with exercises that change a parameter or a few lines of the notebook "
        "and ask the student to predict the effect before running it. On the chapter pages the "
        "solutions are folded away; here they are shown, chapter by chapter. This page is "
        "generated by `precmed book` from the chapters' notebooks, so it always matches them: "
        "edit an exercise in `notebooks/<study>.ipynb`, never here. Numbers quoted in a solution "
        "come from a default run; a student's run with other settings can differ. See "
        "{doc}`teaching` for how to run a chapter in class.", "",
    ]
    for sid, title, exercises in chapters:
        lines += [f"## {title}", "",
                  f"Chapter: {{doc}}`studies/{sid}` (its *Exercises* section is at the end; "
                  f"run it with `precmed run {sid}`).", ""]
        if not exercises:
            lines += ["*This chapter has no exercises yet.*", ""]
        for ex in exercises:
            lines += [f"**Exercise {ex.number}.** {ex.text}", ""]
            if ex.solution is None:
                lines += ["*No solution given.*", ""]
            else:
                lines += [_fenced(ex.solution, f"{{admonition}} {ex.solution_title or 'Solution'}",
                                  ":class: tip"), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# Run-time tiers (the teaching page)


def tiers_table(doc: dict, studies: list[str]) -> str:
    """Markdown tables of the measured smoke / default / paper runs of each chapter, per machine."""
    machines = doc.get("machines", {})
    if not machines:
        return "*No measurements yet: run `precmed benchmark` to fill this table.*\n"
    out = []
    for mid in sorted(machines):
        runs = machines[mid]["runs"]
        out += [f"Measured on *{mid}* by `precmed benchmark` (wall time, peak memory):", "",
                "| Chapter | smoke | default (this book) | paper scale |",
                "|---|---|---|---|"]
        for sid in studies:
            cells = [benchmark._fmt_run(runs.get(f"{sid}/{p}")) for p in ("smoke", "default", "paper")]
            if cells[2] == "not measured":
                cells[2] = "not measured; " + ("GPU recommended" if supports_gpu(sid) else "CPU only")
            out.append(f"| {{doc}}`studies/{sid}` | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def fill_teaching_page(text: str, doc: dict, studies: list[str]) -> str:
    """Replace the tiers placeholder of book/teaching.md with the measured table."""
    if TIERS_PLACEHOLDER not in text:
        raise ValueError(f"{TEACHING_PAGE} lacks the placeholder {TIERS_PLACEHOLDER!r}")
    return text.replace(TIERS_PLACEHOLDER, tiers_table(doc, studies).rstrip("\n"))


# ---------------------------------------------------------------------------------------------
# Launch links


def repository_url(env: dict | None = None, root: Path | None = None) -> str | None:
    """The public repository of this book, or None.

    ``PRECMED_REPOSITORY_URL`` wins (it must be an https URL); otherwise the ``origin`` remote of
    the checkout when that is an https URL (an ssh or local remote cannot be opened by Binder).
    """
    env = os.environ if env is None else env
    url = (env.get("PRECMED_REPOSITORY_URL") or "").strip()
    if url:
        if not url.startswith("https://"):
            raise BuildError(f"PRECMED_REPOSITORY_URL must be an https URL (Binder and Colab open it), "
                             f"not {url!r}")
    else:
        try:
            res = subprocess.run(["git", "-C", str(root or project_root()), "remote", "get-url", "origin"],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        url = res.stdout.strip() if res.returncode == 0 else ""
        if not url.startswith("https://"):
            return None
    url = url.rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def launch_links(study: str, url: str, branch: str = "main", hub: str | None = None) -> list[tuple[str, str]]:
    """(label, URL) of the services that open ``notebooks/<study>.ipynb`` of the repository."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    org, _, repo = path.rpartition("/")
    nb = f"notebooks/{study}.ipynb"
    if parts.netloc == "github.com" and org:
        spec = f"gh/{org}/{repo}"
    elif parts.netloc == "gitlab.com" and org:
        spec = f"gl/{quote(path, safe='')}"
    else:
        spec = f"git/{quote(url, safe='')}"
    links = [("Binder", f"https://mybinder.org/v2/{spec}/{branch}?labpath={quote(nb)}")]
    if parts.netloc == "github.com" and org:
        links.append(("Colab", f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{nb}"))
    if hub:
        query = (f"repo={quote(url, safe='')}&branch={quote(branch, safe='')}"
                 f"&urlpath={quote(f'lab/tree/{repo}/{nb}', safe='')}")
        links.append(("JupyterHub", f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"))
    return links


def run_note(study: str, url: str, links: list[tuple[str, str]]) -> str:
    """The *Run this chapter* note put at the top of a chapter when the repository is known."""
    # inline HTML, not [label](href): MyST escapes the "&" of a query twice (MyST-Parser issue #760)
    buttons = " · ".join(f'<a href="{html.escape(href)}">{label}</a>' for label, href in links)
    setup = [label for label, _ in links if label in ("Colab", "JupyterHub")]
    needs = (f"{' and '.join(setup)} need{'s' if len(setup) == 1 else ''} the project installed first; "
             if setup else "")
    return ("```{admonition} Run this chapter\n:class: seealso\n"
            f"Open this chapter's notebook, `notebooks/{study}.ipynb` of [the repository]({url}): "
            f"{buttons}. {needs}see [Teaching with this book](../teaching.md) for the set-up and "
            f"class-sized settings. On your machine: `precmed run {study} --profile smoke`.\n```\n")


def configure_repository(config: dict, url: str, branch: str) -> dict:
    """The book's _config.yml with the repository set and its button on."""
    config = dict(config)
    config["repository"] = {"url": url, "branch": branch, "path_to_book": ""}
    config["html"] = {**(config.get("html") or {}), "use_repository_button": True}
    return config


# ---------------------------------------------------------------------------------------------
# Staging


@dataclass
class Launch:
    """Where the launch links point: the repository, its branch and an optional JupyterHub."""
    url: str
    branch: str = "main"
    hub: str | None = None


def launch_settings(env: dict | None = None) -> Launch | None:
    """The launch links' settings from the environment (see the module's docstring), or None
    when no repository is known (then no links are added)."""
    env = os.environ if env is None else env
    url = repository_url(env)
    if not url:
        return None
    return Launch(url, (env.get("PRECMED_REPOSITORY_BRANCH") or "main").strip(),
                  (env.get("PRECMED_JUPYTERHUB_URL") or "").strip() or None)


def launch_cell(study: str, launch: Launch) -> dict:
    """The *Run this chapter* markdown cell that runner.stage_book puts at the top of a chapter."""
    return {"cell_type": "markdown", "metadata": {"tags": ["precmed-launch"]},
            "source": run_note(study, launch.url, launch_links(study, launch.url, launch.branch, launch.hub))}


CLASS_TIMES_PLACEHOLDER = "<!-- precmed: class run times -->"


def stage_teaching(stage: Path, perf: dict, launch: Launch | None, class_times: str = "") -> None:
    """Write the teaching pages into a staged book: the instructor appendix, the teaching page's
    run-time tiers (from ``perf``, the performance figures) and, with a repository, its button.
    The chapters' launch cells are added by runner.stage_book (``launch_cell``)."""
    studies = implemented_studies()
    chapters = []
    for sid in studies:
        nb = json.loads(notebook_path(sid).read_text())
        chapters.append((sid, study_info(sid)["title"], exercises_of(nb)))
    (stage / INSTRUCTOR_PAGE).write_text(instructor_markdown(chapters))

    page = stage / TEACHING_PAGE
    if page.exists():
        text = fill_teaching_page(page.read_text(), perf, studies)
        page.write_text(text.replace(CLASS_TIMES_PLACEHOLDER, class_times or "*No run in this build.*"))
    if launch is not None:
        cfg_path = stage / "_config.yml"
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg = configure_repository(cfg, launch.url, launch.branch)
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))


# ---------------------------------------------------------------------------------------------
# The first code cell of every chapter: Colab and other places outside the project

BOOTSTRAP_TAG = "precmed-bootstrap"
BOOTSTRAP_SOURCE = """\
# Outside the project (Colab, a bare Jupyter) this cell fetches and installs it; inside, it does nothing.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("precmed_utils") is None:
    REPOSITORY = os.environ.get("PRECMED_REPOSITORY_URL", "")  # the project's public git repository
    if not REPOSITORY:
        raise RuntimeError("This notebook needs the precmed project. Clone its repository, run "
                           "`pip install -e .` in the clone and open notebooks/ there; or run "
                           "`%env PRECMED_REPOSITORY_URL=<the repository's URL>` and then this cell again.")
    subprocess.run(["git", "clone", "--depth", "1", REPOSITORY, "precmed"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", "precmed"], check=True)
    os.chdir("precmed/notebooks")  # data/ came with the clone
    sys.path.insert(0, os.path.abspath(".."))  # this kernel started before the install
    importlib.invalidate_caches()
"""


def bootstrap_cell() -> dict:
    """The cell (hidden in the book) that opens every chapter's notebook; see BOOTSTRAP_SOURCE."""
    return {"cell_type": "code", "execution_count": None, "id": "precmed-bootstrap",
            "metadata": {"tags": [BOOTSTRAP_TAG, "remove-cell"]}, "outputs": [],
            "source": BOOTSTRAP_SOURCE.splitlines(keepends=True)}


# ---------------------------------------------------------------------------------------------
# Worksheets: student copies in nbgrader's format

WORKSHEET_DIR = "worksheets"
ANSWER_STUB = "YOUR ANSWER HERE"  # what nbgrader (ClearSolutions.text_stub) and our student copy leave
_PROFILE_LINE = re.compile(r'^profile: str = "(\w+)"', re.M)


def _markdown(source: str, cell_id: str, metadata: dict | None = None) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": metadata or {}, "source": source}


def _split_solutions(lines: list[str], inside: bool) -> tuple[list[tuple[str, str]], bool]:
    """A markdown cell's lines as ("text", markdown) and ("solution", text) segments: a solution
    is an admonition inside the ``## Exercises`` section (``inside`` says whether the cell starts
    in it; the state after the cell is returned)."""
    segments, text, i = [], [], 0

    def flush():
        body = "\n".join(text).strip("\n")
        if body:
            segments.append(("text", body))
        text.clear()

    while i < len(lines):
        line = lines[i]
        h = _HEADING.match(line)
        if h and len(h.group(1)) <= 2:
            inside = h.group(2).lower() == "exercises"
        fence = _FENCE.match(line)
        if fence:
            j = _fence_end(lines, i, fence.group(1))
            if inside and fence.group(2).startswith("{admonition}"):
                body = lines[i + 1:j]
                while body and _OPTION.match(body[0]):
                    body.pop(0)
                flush()
                segments.append(("solution", _dedent(body)))
            else:  # any other fenced block is copied whole (a heading inside it is not a heading)
                text.extend(lines[i:j + 1])
            i = j + 1
            continue
        text.append(line)
        i += 1
    flush()
    return segments, inside


def worksheet_notebook(nb: dict, study: str, profile: str | None = None) -> tuple[dict, list[str]]:
    """The nbgrader *source* version of a chapter, and the solutions it holds.

    In the ``## Exercises`` section, every solution admonition becomes its own markdown cell
    marked as an nbgrader solution cell (``solution`` and ``grade``, one point, a unique
    ``grade_id``); ``nbgrader generate_assignment`` replaces such a cell by "YOUR ANSWER HERE" in
    the student copy. Everything else (the exercises' text, the other sections, the code) is kept
    as it is. ``profile`` sets the chapter's ``profile`` parameter (e.g. ``smoke`` for a class).
    """
    cells, solutions = [], []
    inside = False
    for c in nb["cells"]:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if c["cell_type"] == "code" and profile and "parameters" in c.get("metadata", {}).get("tags", []):
            src, n = _PROFILE_LINE.subn(f'profile: str = "{profile}"', src, count=1)
            if not n:
                raise BuildError(f"{study}: the parameters cell has no profile parameter")
            c = {**c, "source": src}
        if c["cell_type"] != "markdown":
            cells.append(c)
            continue
        segments, inside = _split_solutions(src.splitlines(), inside)
        texts = 0
        for kind, body in segments:
            if kind == "text":
                cid = c.get("id", "cell") + (f"-part{texts}" if texts else "")
                cells.append(_markdown(body, cid, c.get("metadata", {}) if not texts else {}))
                texts += 1
                continue
            solutions.append(body)
            k = len(solutions)
            meta = {"nbgrader": {"grade": True, "grade_id": f"{study}-exercise-{k}", "locked": False,
                                 "points": 1, "schema_version": 3, "solution": True, "task": False}}
            cells.append(_markdown(f"**Your answer ({k}).**\n\n{body}", f"{study}-answer-{k}", meta))
    out = {**nb, "cells": cells}
    return out, solutions


def student_copy(source: dict) -> dict:
    """What ``nbgrader generate_assignment`` gives students, for teachers without nbgrader: every
    solution cell's text replaced by the answer stub, outputs cleared."""
    cells = []
    for c in source["cells"]:
        c = dict(c)
        if c.get("metadata", {}).get("nbgrader", {}).get("solution"):
            c["source"] = ANSWER_STUB
        if c["cell_type"] == "code":
            c["outputs"], c["execution_count"] = [], None
        cells.append(c)
    return {**source, "cells": cells}


def write_worksheet(study: str, out: Path, profile: str | None = None) -> dict[str, Path]:
    """``out/source/<study>/<study>.ipynb`` (nbgrader's course layout: run ``nbgrader
    generate_assignment <study>`` in ``out``), ``out/student/<study>.ipynb`` (the same student copy
    made without nbgrader) and ``out/nbgrader_config.py``. Refuses a chapter without exercises
    and never overwrites a different existing file."""
    nb = json.loads(notebook_path(study).read_text(encoding="utf-8"))
    source, solutions = worksheet_notebook(nb, study, profile)
    if not solutions:
        raise BuildError(f"{study}: the chapter has no exercise with a solution; nothing to hand out")
    files = {"source": out / "source" / study / f"{study}.ipynb",
             "student": out / "student" / f"{study}.ipynb",
             "config": out / "nbgrader_config.py"}
    texts = {"source": json.dumps(source, indent=1, ensure_ascii=False) + "\n",
             "student": json.dumps(student_copy(source), indent=1, ensure_ascii=False) + "\n",
             "config": "# nbgrader's course folder made by `precmed worksheet`\n"
                       "c = get_config()  # noqa: F821\nc.CourseDirectory.root = '.'\n"}
    clash = [str(p) for k, p in files.items() if p.exists() and p.read_text(encoding="utf-8") != texts[k]]
    if clash:
        raise BuildError(f"will not overwrite {', '.join(clash)}: remove it first or choose another --out")
    for k, p in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(texts[k], encoding="utf-8")
    return files
