"""The runner: executes study notebooks with papermill and builds the book from the runs.

- ``run_study`` validates everything first (study, profile, parameter names, types, ranges, the
  user's data file), then executes ``notebooks/<study>.ipynb`` into a scratch folder and moves
  it to ``runs/<study>/<profile>-<hash of parameters>/`` only when it succeeded. Runs with other
  parameters never overwrite each other; a failed run never touches an earlier result (it is
  kept as ``failed-<profile>-<hash>/`` for inspection).
- ``build_book`` runs every study (in parallel processes), stages the book's pages with the
  executed notebooks and a generated scoreboard, and builds the HTML with Jupyter Book. Every
  chapter passes the privacy gate first (``privacy.gate``): one whose outputs show likely PHI
  is not staged, a refusal page stands in for it, and it counts as a failed study.

Used by the ``precmed`` CLI and the tests; shared by all studies.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import hashlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import privacy
from ..errors import BuildError, ParameterError, PrecmedError
from ..evidence import describe as describe_comparison
from ..formats import data as data_registry
from ..params import RESOLVED_MARKER, parse_overrides, resolve, study_spec, supports_gpu
from ..results import describe_basis, difference, fmt
from ..seeding import choose_device, shared_cores
from ..studies import (
    all_studies,
    check_study,
    headline,
    implemented_studies,
    notebook_path,
    paper_values,
    project_root,
    study_info,
)
from . import benchmark, teaching


@dataclass
class RunResult:
    study: str
    profile: str
    ok: bool
    path: str  # the run folder (or the failed-... folder)
    seconds: float
    error: str | None = None


def runs_root(runs_dir: str | Path | None = None) -> Path:
    return Path(runs_dir) if runs_dir else project_root() / "runs"


def parameter_hash(params: dict) -> str:
    """Stable short hash of the effective parameters (output_dir excluded)."""
    body = {k: v for k, v in sorted(params.items()) if k != "output_dir"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]


def prepare(study: str, profile: str = "default", overrides: dict | None = None,
            assignments: list[str] | None = None) -> dict:
    """Everything that can be checked before a run: returns the effective parameters."""
    check_study(study)
    overrides = dict(overrides or {})
    if assignments:
        overrides.update(parse_overrides(study, assignments))
    if "output_dir" in overrides:
        raise ParameterError("output_dir is set by the runner (runs/<study>/<profile>-<hash>/); "
                             "use --runs-dir to choose another root folder")
    params = resolve(study, profile, overrides)
    if params["device"] == "cuda":  # no usable GPU: stop now (auto is resolved in the notebook)
        choose_device("cuda", supports_gpu=supports_gpu(study))
    data = params.get("data")
    spec = study_spec(study).get("data")
    named = spec.constraint.get("choices", []) if spec is not None else []  # the study's own data names
    if isinstance(data, str) and data not in data_registry.DATASETS and data not in named:
        path = Path(data).expanduser().resolve()
        data_registry.check_user_file(study, path)  # raises DataError naming what is wrong
        params["data"] = str(path)  # the notebook runs in another folder
    return params


class _QuietMarker(logging.Filter):
    """papermill warns of every injected name its notebook does not declare; the runner's marker
    (RESOLVED_MARKER) is such a name on purpose, so that warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return RESOLVED_MARKER not in record.getMessage()


logging.getLogger("papermill").addFilter(_QuietMarker())


class Terminated(KeyboardInterrupt):
    """SIGTERM during a run: handled like Ctrl-C (the kernel stopped, the scratch folder removed,
    the interruption recorded); the command line exits with 143."""

    exit_code = 143


@contextlib.contextmanager
def _sigterm_interrupts():
    """Within the block, SIGTERM raises :class:`Terminated` (only the main thread can set it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _stop_children(timeout: float = 5.0) -> None:
    """Terminate what this process started and is still running (a notebook's kernel and its
    workers after an interrupt), then kill what did not stop."""
    import psutil

    kids = psutil.Process().children(recursive=True)
    for k in kids:
        with contextlib.suppress(psutil.NoSuchProcess):
            k.terminate()
    _, alive = psutil.wait_procs(kids, timeout=timeout)
    for k in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            k.kill()


@contextlib.contextmanager
def _children_stderr_to(path: Path):
    """Within the block, processes started from here (the notebook's kernel) write their stderr
    to ``path`` instead of the user's terminal (ipykernel's start-up warnings, a kernel's dying
    words); this process's own messages and progress bar still reach the terminal."""
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ else 2
        saved = os.dup(fd)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded): leave it alone
        yield
        return
    old_stderr = sys.stderr
    with open(path, "w") as log:
        sys.stderr.flush()
        os.dup2(log.fileno(), fd)
        if old_stderr is sys.__stderr__:  # keep Python-level writes on the terminal
            sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
        try:
            yield
        finally:
            sys.stderr.flush()
            if sys.stderr is not old_stderr:
                sys.stderr.close()
                sys.stderr = old_stderr
            os.dup2(saved, fd)
            os.close(saved)


def run_study(study: str, profile: str = "default", overrides: dict | None = None, *,
              assignments: list[str] | None = None, runs_dir: str | Path | None = None,
              progress: bool = True) -> RunResult:
    params = prepare(study, profile, overrides, assignments)
    import papermill as pm  # heavy: imported only once the input is known to be good

    root = runs_root(runs_dir) / study
    key = f"{profile}-{parameter_hash(params)}"
    dest, failed = root / key, root / f"failed-{key}"
    scratch = root / f".partial-{key}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    params["output_dir"] = "."
    t0 = time.perf_counter()
    error = None
    with benchmark.ResourceMeter() as meter:
        try:
            with _sigterm_interrupts(), _children_stderr_to(scratch / "kernel.log"):
                pm.execute_notebook(
                    str(notebook_path(study)), str(scratch / "notebook.ipynb"),
                    parameters={**params, RESOLVED_MARKER: True}, kernel_name="python3", cwd=str(scratch),
                    progress_bar=progress, log_output=False, report_mode=False,
                )
        except pm.PapermillExecutionError as exc:
            error = f"{exc.ename}: {exc.evalue}".strip()
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: stop the kernel, leave nothing half-done
            # the stopped kernel's pending execute request then fails inside nbclient ("Kernel died",
            # an asyncio task's traceback at exit): expected after an interrupt, not the user's business
            for name in ("asyncio", "papermill", "nbclient", "traitlets"):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
            main = threading.current_thread() is threading.main_thread()
            old = signal.signal(signal.SIGTERM, signal.SIG_IGN) if main else None  # a 2nd TERM waits
            try:
                _stop_children()
                shutil.rmtree(scratch, ignore_errors=True)
                record = {"study": study, "profile": profile,
                          "signal": "SIGTERM" if isinstance(exc, Terminated) else "SIGINT",
                          "seconds": round(time.perf_counter() - t0, 2),
                          "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                (root / f"interrupted-{key}.json").write_text(json.dumps(record, indent=2))
            finally:
                if main:
                    signal.signal(signal.SIGTERM, old)
            raise
        except Exception as exc:  # kernel died, notebook unreadable...
            error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - t0
    info = {"study": study, "profile": profile, "parameters": params, "seconds": round(seconds, 2),
            "cpu_seconds": round(meter.cpu_seconds, 1), "peak_rss_mib": round(meter.peak_rss_mib),
            "machine": benchmark.machine(),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "error": error}
    (scratch / "run.json").write_text(json.dumps(info, indent=2))
    if error is None and not (scratch / "metrics.json").exists():
        error = "the notebook finished without writing metrics.json"
    target = failed if error else dest
    old = target.with_name(target.name + ".old")
    if target.exists():
        target.rename(old)
    scratch.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    if not error:
        shutil.rmtree(failed, ignore_errors=True)
    return RunResult(study, profile, error is None, str(target), round(seconds, 2), error)


def _run_quietly(study: str, profile: str, runs_dir: str | None) -> RunResult:
    try:
        return run_study(study, profile, runs_dir=runs_dir, progress=False)
    except PrecmedError as exc:
        return RunResult(study, profile, False, "", 0.0, str(exc))


# ---------------------------------------------------------------------------------------------
# The book


def _status_line(r: RunResult) -> str:
    return f"  {'ok  ' if r.ok else 'FAIL'} {r.study:<26} {r.seconds:7.1f}s  {r.path}" + (
        f"\n       {r.error}" if r.error else "")


def run_all(profile: str, jobs: int = 1, runs_dir: str | None = None, log=print) -> dict[str, RunResult]:
    studies = implemented_studies()
    log(f"running {len(studies)} stud{'y' if len(studies) == 1 else 'ies'} "
        f"(profile {profile}, {jobs} parallel)")
    results: dict[str, RunResult] = {}
    ctx = mp.get_context("spawn")
    with shared_cores(jobs), cf.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        futs = {pool.submit(_run_quietly, s, profile, runs_dir): s
                for s in benchmark.longest_first(studies, profile)}
        for fut in cf.as_completed(futs):
            r = fut.result()
            results[r.study] = r
            log(_status_line(r))
    return {s: results[s] for s in studies}


MARKS = {"not_converged": "†", "control_failed": "‡"}


def basis_marker(basis: dict | None) -> str:
    """The scoreboard's marks for a run's verdicts: a model that did not converge, a failed
    positive control (see ``Run.basis``)."""
    if not basis:
        return ""
    mark = ""
    if (basis.get("convergence") or {}).get("all_converged") is False:
        mark += MARKS["not_converged"]
    if (basis.get("positive_control") or {}).get("passed") is False:
        mark += MARKS["control_failed"]
    return mark


VERDICT_ORDER = ("reproduced", "partly reproduced", "inconclusive", "not reproduced", "not comparable")


def claims_of(results: dict[str, RunResult]) -> list[tuple[str, dict]]:
    """(study, claim record of metrics.json) for every successful run, in survey order."""
    out = []
    for sid in all_studies():
        r = results.get(sid)
        if r is not None and r.ok:
            m = json.loads((Path(r.path) / "metrics.json").read_text())
            out += [(sid, c) for c in m.get("claims", [])]
    return out


def verdict_tally(results: dict[str, RunResult]) -> dict[str, int]:
    """How many claims got each verdict in these runs."""
    tally = dict.fromkeys(VERDICT_ORDER, 0)
    for _sid, c in claims_of(results):
        tally[c["verdict"]] = tally.get(c["verdict"], 0) + 1
    return tally


def claims_figure(results: dict[str, RunResult], path: Path) -> Path | None:
    """Every paired comparison of every claim as a point (the difference, or the mean minus the
    threshold) with its 95% interval, against 0, coloured by its outcome. None when no claim has
    a paired comparison."""
    rows = []
    for sid, c in claims_of(results):
        for label, r in (c.get("comparisons") or {}).items():
            d, lo, hi = (float("nan") if r[k] is None else r[k] for k in ("diff", "ci_low", "ci_high"))
            rows.append((f"{sid} {c['id']}: {label}", d, lo, hi, r["outcome"]))  # null: no interval
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colours = {"holds": "#0072B2", "fails": "#D55E00", "inconclusive": "#999999"}
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.4))
    for i, (_label, d, lo, hi, outcome) in enumerate(rows):
        ok = not (np.isnan(lo) or np.isnan(hi))
        if ok:
            ax.plot([lo, hi], [i, i], color=colours[outcome], lw=2)
        ax.plot([d], [i], "o", color=colours[outcome], ms=5, mfc=colours[outcome] if ok else "white")
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("paired difference (or mean minus threshold), 95% interval")
    for name, col in colours.items():
        ax.plot([], [], "o-", color=col, label=name)
    ax.legend(loc="lower right", fontsize=7, frameon=True)
    ax.set_title("Every claim's comparisons against their rule", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def scoreboard_markdown(results: dict[str, RunResult], profile: str, figure: str | None = None) -> str:
    """The scoreboard page: every study of the survey, the paper's headline number and ours."""
    pv = paper_values()["studies"]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Scoreboard", "",
        "Every study of the survey, its paper's headline number and ours. This page is generated "
        f"by `precmed book` from the runs it made ({now}, profile `{profile}`); nothing on it "
        "is typed in by hand. *Paper* values marked [U] could not be verified in a primary "
        "source; a blank means the paper reports no number that could be retrieved.", "",
        "| Study (survey ref.) | Headline metric | Paper | Ours | Diff. | Data | Claims |",
        "|---|---|---|---|---|---|---|",
    ]
    details, anchors = [], []
    for sid in all_studies():
        info = pv[sid]
        h = headline(sid)
        paper = h.get("value")
        tag = {True: "", "secondary": " (secondary)", False: " [U]"}.get(h.get("verified"), "")
        paper_s = (fmt(paper) + tag) if paper is not None else "— [U]"
        r = results.get(sid)
        ours_s, diff_s, claims_s = "—", "—", "—"
        if r is None:
            title, claims_s = info["title"], "*not reproduced yet*"
        elif not r.ok:
            title = f"[{info['title']}](studies/{sid}.md)"
            claims_s = "**refused by the privacy gate**" if privacy.is_refusal(r) else "**run failed**"
        else:
            m = json.loads((Path(r.path) / "metrics.json").read_text())
            ours = (m.get("headline") or {}).get("ours") or {}
            if ours.get("mean") is not None:
                ours_s = fmt(ours["mean"], ours.get("sd"))
                diff_s = difference(ours["mean"], paper, h.get("comparable", True))
            verdicts = m.get("claims", [])
            mark = basis_marker(m.get("basis"))
            claims_s = "<br>".join(f"{c['id']} {c['verdict']}{mark}"
                                   + ("" if c.get("amended") else " (original rule)")
                                   for c in verdicts) or "—"
            anchors += [(info["title"], sid, a, (m.get("metrics") or {}).get(a["key"]))
                        for a in info.get("anchors", [])]
            title = f"[{info['title']}](studies/{sid}.ipynb)"
            details.append((info["title"], sid, verdicts, describe_basis(m.get("basis"))))
        lines.append(f"| {title} {info['survey_ref']} | {h['metric']} | {paper_s} | {ours_s} | "
                     f"{diff_s} | {info['data_kind']} | {claims_s} |")
    lines += ["", "*Data*: **same** = the paper's own (open) data; **open substitute** = an "
              "openly licensed dataset standing in for the paper's restricted one; **simulated** "
              "= a simulator with a planted ground truth.",
              "",
              f"*Claims*: {MARKS['not_converged']} the verdict rests on a model that did not converge "
              "(its dev metric was still improving when training hit its epoch cap); "
              f"{MARKS['control_failed']} the chapter's positive control failed (in a setting "
              "built for the method, it did not beat raw features: suspect our implementation before "
              "the paper). Each chapter's claims table says which profile and runs a verdict rests on.",
              ""]
    tally = verdict_tally(results)
    lines += ["## Verdicts in this build", "",
              "| " + " | ".join(VERDICT_ORDER) + " |", "|" + "---|" * len(VERDICT_ORDER),
              "| " + " | ".join(str(tally[v]) for v in VERDICT_ORDER) + " |", "",
              "Verdicts follow the claims' rules fixed on 2026-11-28 as tightened by the amendment "
              "of 2026-12-02 (a comparison counts only when its paired 95% interval excludes 0); "
              "each claim's table shows the verdict under the original rule beside it. The rules "
              "are listed in {doc}`claims`.", ""]
    if figure:
        lines += [f"![Every claim's comparisons with their intervals]({figure})", ""]
    if anchors:
        lines += ["## Anchors: published systems on the same open data", "",
                  "Where a published system was evaluated on the data a chapter uses, its number "
                  "stands here beside ours, so a weak result of ours can be told apart from a hard task.", "",
                  "| Study | Anchor | Their value | Ours | Source | Verified |", "|---|---|---|---|---|---|"]
        for title, sid, a, ours in anchors:
            ours_s = fmt(ours["mean"], ours.get("sd")) if ours and ours.get("mean") is not None else "—"
            ver = {True: "verified", "secondary": "secondary", False: "[U]"}.get(a.get("verified"), "")
            lines.append(f"| [{title}](studies/{sid}.ipynb) | {a['metric']} | {fmt(a['value'])} | {ours_s} | "
                         f"{a.get('source', '')} | {ver} |")
        lines.append("")
    for title, sid, verdicts, basis in details:
        lines += [f"## Claims: {title}", "", f"Verdicts rest on: {basis}.", "",
                  "| id | claim | rule (fixed in advance) | verdict | under the 2026-11-28 rule | "
                  "paired difference [95% CI], n | evidence |",
                  "|---|---|---|---|---|---|---|"]
        claims = {c["id"]: c for c in pv[sid].get("claims", [])}
        for v in verdicts:
            c = claims.get(v["id"], {})
            comps = "<br>".join(f"{k}: {describe_comparison(r)}"
                                for k, r in (v.get("comparisons") or {}).items())
            comps = comps or ("—" if v.get("amended") else "not yet assessed under the amendment")
            lines.append(f"| {v['id']} | {c.get('claim', '')} | {c.get('rule', '')} | "
                         f"**{v['verdict']}** | {v.get('original_verdict', v['verdict'])} | {comps} | "
                         f"{v['evidence']} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def claims_page() -> str:
    """The book's page of every claim and its rule (from paper_values.yml, with the date each
    rule was set) and the amendment of 2026-12-02 (book/amendment.md in the repository)."""
    pv = paper_values()["studies"]
    lines = ["# Claims and their rules", "",
             "Each chapter tests its paper's claims with rules that were fixed before any result "
             "existed; this page lists them all, as the chapters and the scoreboard read them.", ""]
    for sid in all_studies():
        claims = pv[sid].get("claims", [])
        if not claims:
            continue
        lines += [f"## {pv[sid]['title']}", "", "| id | claim | rule | set |", "|---|---|---|---|"]
        lines += [f"| {c['id']} | {c['claim']} | {c['rule']} | {c['set']} |" for c in claims]
        lines.append("")
    amendment = project_root() / "book" / "amendment.md"
    if amendment.exists():
        lines += [amendment.read_text()]
    return "\n".join(lines) + "\n"


def _cell_text(value) -> str:
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text.replace("|", "\\|")


def show_parameters_once(nb: dict, study: str, run_dir: Path) -> dict:
    """A chapter shows the parameters of its run once, as a table (parameter, value used,
    notebook default, meaning; values that differ from the default in bold), in place of the
    declared ``parameters`` cell and papermill's injected cell, which the book then hides."""
    from ..params import study_spec

    info = run_dir / "run.json"
    used = json.loads(info.read_text())["parameters"] if info.exists() else {}
    rows = ["| parameter | value in this run | notebook default | meaning |", "|---|---|---|---|"]
    for name, p in study_spec(study).items():
        if name == "output_dir":
            continue
        value = used.get(name, p.default)
        shown = _cell_text(value)
        if value != p.default:
            shown = f"**{shown}**"
        rows.append(f"| `{name}` | {shown} | {_cell_text(p.default)} | {_cell_text(p.help)} |")
    profile = json.loads(info.read_text()).get("profile", "?") if info.exists() else "?"
    table = {"cell_type": "markdown", "metadata": {"tags": ["precmed-parameters"]},
             "source": f"**Parameters of this run** (profile `{profile}`; bold: changed from the "
                       "notebook's default)\n\n" + "\n".join(rows) + "\n"}
    where = None
    for i, cell in enumerate(nb["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            cell["metadata"]["tags"] = [*tags, "remove-cell"]
            where = i if where is None else where
    nb["cells"].insert(where if where is not None else 1, table)
    return nb


def run_record(r: RunResult) -> dict:
    """The run.json of a run (wall and CPU time, peak memory, machine), {} when there is none."""
    path = Path(r.path) / "run.json" if r.path else None
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}


def build_times_markdown(results: dict[str, RunResult], build_seconds: float | None = None) -> str:
    """This build's own cost, per study and in all, from each run's run.json: the performance
    page shows it above the benchmark figures, so no time on the page is one this build did not
    measure or does not name the machine of."""
    rows, machines = [], set()
    for sid, r in results.items():
        rec = run_record(r)
        if rec.get("machine"):
            machines.add(rec["machine"].get("id", ""))
        cpu, mem = rec.get("cpu_seconds"), rec.get("peak_rss_mib")
        rows.append(f"| {study_info(sid)['title']} | {r.profile} | {'ok' if r.ok else 'failed'} | "
                    f"{r.seconds / 60:.1f} | {'—' if cpu is None else f'{cpu / 60:.1f}'} | "
                    f"{'—' if mem is None else f'{mem:,}'} |")
    lines = ["## This build", "",
             "Measured while this book was built (each run's `run.json`): wall time, CPU time of the "
             "notebook's kernel and the workers it waited for, and the largest resident memory of the "
             "kernel and its workers together, sampled every half second.", ""]
    if machines:
        lines += ["Machine: " + "; ".join(sorted(machines)) + ".", ""]
    lines += ["| study | profile | run | wall (min) | CPU (min) | peak memory (MiB) |",
              "|---|---|---|---|---|---|", *rows, ""]
    total = sum(r.seconds for r in results.values())
    lines.append(f"Sum of the studies' wall times: {total / 60:.1f} min"
                 + (f"; the runs of the whole build, in parallel: {build_seconds / 60:.1f} min"
                    if build_seconds is not None else "") + ".")
    return "\n".join(lines) + "\n"


def _newest_run(study_runs: Path, profile: str) -> dict:
    """The run.json of the newest successful run of ``profile`` in a study's runs folder, or {}."""
    found = []
    for path in study_runs.glob(f"{profile}-*/run.json"):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not rec.get("error") and rec.get("seconds") is not None:
            found.append(rec)
    return max(found, key=lambda rec: rec.get("finished", ""), default={})


def class_times_markdown(results: dict[str, RunResult]) -> str:
    """The teaching page's table: each chapter's smoke and default wall times, this build's run for
    the profile it built and the newest earlier run on the same runs folder for the other, each with
    its date and machine; a dash where there is none. No time here was measured anywhere else."""
    rows, machines = [], {}
    for sid, r in results.items():
        cells = []
        for prof in ("smoke", "default"):
            this = r.profile == prof and r.ok
            rec = run_record(r) if this else _newest_run(Path(r.path).parent, prof) if r.path else {}
            if not rec.get("seconds"):
                cells.append("—")
                continue
            m = (rec.get("machine") or {}).get("id")
            label = machines.setdefault(m, chr(ord("A") + len(machines))) if m else "?"
            when = "this build" if this else "run of " + rec.get("finished", "")[:10]
            cells.append(f"{rec['seconds'] / 60:.1f} ({when}, machine {label})")
        rows.append(f"| {study_info(sid)['title']} | {cells[0]} | {cells[1]} |")
    lines = ["| chapter | smoke (min) | default (min) |", "|---|---|---|", *rows, ""]
    lines += [f"Machine {label}: {m}." for m, label in machines.items()]
    return "\n".join(lines) + "\n"


FINDINGS_PLACEHOLDER = "<!-- precmed: findings -->"
# claims that pit a learned representation against the raw features it was learned from
REPRESENTATION_CLAIMS = {"relation_extraction": "C1", "heart_failure": "C1", "suicide_risk": "C1",
                         "deep_patient": "C1"}


def findings_markdown(results: dict[str, RunResult]) -> str:
    """The introduction's summary of what this build found, from its runs: the tally of
    verdicts, how learned representations fared against raw features on real and on simulated
    data, the positive controls and the convergence of the trained models."""
    tally = verdict_tally(results)
    n = sum(tally.values())
    if not n:
        return "No study ran successfully in this build: there are no findings to summarise.\n"
    pv = paper_values()["studies"]
    lines = [f"This build tested {n} claims of the {sum(r.ok for r in results.values())} studies that ran: "
             + ", ".join(f"{tally[v]} {v}" for v in VERDICT_ORDER) + " (see the {doc}`scoreboard`).", ""]
    reps, controls, unconverged = [], [], []
    for sid, r in results.items():
        if not r.ok:
            continue
        m = json.loads((Path(r.path) / "metrics.json").read_text())
        title = pv[sid]["title"]
        cid = REPRESENTATION_CLAIMS.get(sid)
        c = next((c for c in m.get("claims", []) if c["id"] == cid), None)
        if c is not None:
            real = pv[sid].get("data_kind") != "simulated"
            reps.append(f"{title} ({'real' if real else 'simulated'} data): **{c['verdict']}**")
        basis = m.get("basis") or {}
        if basis.get("positive_control") is not None:
            controls.append(f"{title}: {'passed' if basis['positive_control'].get('passed') else 'failed'}")
        if (basis.get("convergence") or {}).get("all_converged") is False:
            unconverged.append(title)
    if reps:
        lines += ["**Learned representations against raw features.** Four studies claim that a "
                  "representation learned without labels beats the raw features it was learned from: "
                  + "; ".join(reps) + ".", ""]
    if controls:
        lines += ["**Positive controls** (a setting of the simulator built for the method; a failure "
                  "points at our implementation or at how little room the setting leaves, not at the paper): "
                  + "; ".join(controls) + ".", ""]
    training = ("Every trained model's dev curve had flattened before training stopped." if not unconverged
                else "A model did not converge in: " + ", ".join(unconverged)
                + " (their verdicts are marked on the scoreboard).")
    lines += ["**Training.** " + training, ""]
    return "\n".join(lines)


def failure_page(study: str, r: RunResult) -> str:
    return (f"# {study_info(study)['title']}\n\n```{{warning}}\nThis study failed to run "
            f"(profile `{r.profile}`), so its chapter is missing from this build.\n```\n\n"
            f"Error:\n\n```text\n{r.error}\n```\n\nRe-run it alone with `precmed run {study}` "
            "to see the full traceback in the failed notebook.\n")


def stage_book(results: dict[str, RunResult], profile: str, stage: Path,
               build_seconds: float | None = None) -> Path:
    """Copy the book's sources and the executed notebooks into ``stage``."""
    root = project_root()
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    shutil.copytree(root / "book", stage / "book",
                    ignore=shutil.ignore_patterns("studies", "scoreboard.md", "performance.md", "claims.md",
                                                 "amendment.md"))
    studies_dir = stage / "book" / "studies"
    studies_dir.mkdir()
    perf = benchmark.load()
    launch = teaching.launch_settings()
    for sid, r in results.items():
        # the privacy gate: a chapter with likely PHI in its outputs is refused (counts as failed)
        r = results[sid] = privacy.gate(r)
        if r.ok:
            nb = json.loads((Path(r.path) / "notebook.ipynb").read_text())
            # the run-time tiers, measured by `precmed benchmark`, under the chapter's introduction
            downloads = stage / "book" / "downloads"
            downloads.mkdir(exist_ok=True)
            shutil.copy2(notebook_path(sid), downloads / f"{sid}.ipynb")  # the source, without outputs
            tiers = {"cell_type": "markdown", "metadata": {"tags": ["precmed-tiers"]},
                     "source": benchmark.tiers_markdown(sid, perf) + "\n\n"
                     f"{{download}}`Download this chapter's notebook <../downloads/{sid}.ipynb>` (the source "
                     "notebook, without outputs; run it with `precmed run " + sid + "` or in Jupyter)."}
            nb["cells"].insert(1, tiers)
            show_parameters_once(nb, sid, Path(r.path))
            if launch is not None:  # links that open the chapter's source notebook
                nb["cells"].insert(1, teaching.launch_cell(sid, launch))
            (studies_dir / f"{sid}.ipynb").write_text(json.dumps(nb, indent=1))
        else:
            page = privacy.refusal_page(sid, r) if privacy.is_refusal(r) else failure_page(sid, r)
            (studies_dir / f"{sid}.md").write_text(page)
    intro = stage / "book" / "intro.md"
    if FINDINGS_PLACEHOLDER in intro.read_text():
        intro.write_text(intro.read_text().replace(FINDINGS_PLACEHOLDER, findings_markdown(results)))
    figure = claims_figure(results, stage / "book" / "scoreboard_claims.png")
    (stage / "book" / "scoreboard.md").write_text(
        scoreboard_markdown(results, profile, figure.name if figure else None))
    (stage / "book" / "claims.md").write_text(claims_page())
    page = benchmark.performance_markdown(perf)
    head, _, rest = page.partition("\n\n")  # this build's own figures under the title
    this_build = build_times_markdown(results, build_seconds)
    (stage / "book" / "performance.md").write_text(f"{head}\n\n{this_build}\n## Benchmarks\n\n{rest}")
    # the instructor appendix, the teaching page's run-time tiers and the launch links
    teaching.stage_teaching(stage, perf, launch, class_times_markdown(results))
    return stage


def build_html(stage: Path, html_out: Path, *, strict: bool = True, log=print) -> None:
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(stage), "--all"]
    if strict:
        cmd += ["-W", "--keep-going"]
    log("building the book: " + " ".join(cmd[1:]))
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise BuildError("the book build failed:\n" + (res.stdout[-4000:] + res.stderr[-4000:]))
    shutil.rmtree(html_out, ignore_errors=True)
    shutil.move(str(stage / "_build" / "html"), str(html_out))


def build_book(profile: str = "default", jobs: int = 2, runs_dir: str | None = None,
               out_dir: str | Path | None = None, log=print) -> tuple[dict[str, RunResult], Path]:
    """Run every study, then build the book. Returns the results and the HTML index path."""
    out = Path(out_dir) if out_dir else project_root() / "_build"
    teaching.repository_url()  # a malformed PRECMED_REPOSITORY_URL stops the build before the runs
    t0 = time.perf_counter()
    results = run_all(profile, jobs, runs_dir, log=log)
    run_seconds = time.perf_counter() - t0
    records = {s: run_record(r) for s, r in results.items()}
    for s, r in results.items():
        rec = records[s]
        log(f"  {r.study:<26} wall {r.seconds / 60:5.1f} min  CPU {rec.get('cpu_seconds', 0) / 60:5.1f} min  "
            f"peak {rec.get('peak_rss_mib', 0):,} MiB")
    log(f"the runs took {run_seconds / 60:.1f} min of wall time")
    stage = stage_book(results, profile, out / "src", build_seconds=run_seconds)
    build_html(stage, out / "html", log=log)
    total = time.perf_counter() - t0
    log(f"the book took {total / 60:.1f} min in all (runs {run_seconds / 60:.1f} min, rendering "
        f"{(total - run_seconds) / 60:.1f} min)")
    (out / "book-runs.json").write_text(json.dumps(
        {"studies": {s: {**asdict(r), **{k: records[s].get(k) for k in ("cpu_seconds", "peak_rss_mib")}}
                     for s, r in results.items()},
         "runs_seconds": round(run_seconds, 1), "total_seconds": round(total, 1),
         "machine": benchmark.machine()}, indent=2))
    return results, out / "html" / "index.html"
