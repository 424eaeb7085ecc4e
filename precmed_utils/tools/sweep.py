"""Parameter sweeps: a grid of parameter settings x seeds, run through one executor interface, gathered
into one table and one figure.

``precmed sweep STUDY -p name=v1,v2 -p other=a,b --seeds 0-2`` runs every combination. Each run is
an ordinary run (``runs/<study>/<profile>-<hash>/``), so a run already finished with the same
parameters is reused, not repeated, and an interrupted sweep resumes where it stopped: started
again, it finds the finished runs and executes the rest. A failed run is reported with its error
while the others complete. The sweep's own folder, ``runs/<study>/sweeps/<name>/``, holds
``sweep.json`` (the grid), ``results.csv`` (one row per run: its settings, seed, status and every
metric's mean), ``summary.csv`` (mean, SD and count per setting) and ``<metric>.png``.

Execution goes through :class:`Executor`: :class:`LocalExecutor` (a process pool, the default) or
:class:`DaskExecutor` (``--scheduler ADDRESS``, a running Dask distributed scheduler; every worker
needs this project installed at the same path and the same data).

Used by the ``precmed sweep`` command; shared by all studies.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import itertools
import json
import multiprocessing as mp
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..errors import ParameterError, PrecmedError
from ..params import coerce, study_spec
from ..seeding import shared_cores
from ..studies import check_study, study_info
from .runner import RunResult, parameter_hash, prepare, run_study, runs_root


@dataclass
class Task:
    study: str
    profile: str
    overrides: dict  # the setting's values and the seed, typed
    runs_dir: str

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in self.overrides.items())


def _show(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


# ---------------------------------------------------------------------------------------------
# The grid


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,7"`` or ``"0-2,10"`` -> a sorted list of distinct non-negative seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ParameterError(f"--seeds: {part!r} is not a seed or a range like 0-9")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ParameterError(f"--seeds: the range {part!r} runs backwards")
        seeds.update(range(lo, hi + 1))
    if len(seeds) > 1000:
        raise ParameterError(f"--seeds: {len(seeds)} seeds; at most 1000")
    return sorted(seeds)


def parse_grid(study: str, assignments: list[str]) -> dict[str, list]:
    """``name=v1,v2`` -> {name: [v1, v2]} (typed). For list parameters the settings are separated by
    ``;`` and each is a comma-separated list: ``models=CRF,LSTM;CRF`` is two settings."""
    spec = study_spec(study)
    grid: dict[str, list] = {}
    problems = []
    for item in assignments:
        if "=" not in item:
            problems.append(f"{item!r}: expected name=value[,value...]")
            continue
        name, text = (s.strip() for s in item.split("=", 1))
        if name not in spec:
            problems.append(f"unknown parameter {name!r} for {study}")
            continue
        if name in ("seed", "output_dir"):
            problems.append(f"{name}: set by the sweep (use --seeds for the seeds)")
            continue
        if name in grid:
            problems.append(f"{name}: given twice; list all its values in one -p")
            continue
        typ = spec[name].type
        parts = text.split(";") if typ.startswith("list[") else text.split(",")
        values = []
        for part in parts:
            try:
                values.append(coerce(part.strip(), typ))
            except ValueError as exc:
                problems.append(f"{name}: cannot read {part.strip()!r} as {typ} ({exc})")
        if len({json.dumps(v) for v in values}) != len(values):
            problems.append(f"{name}: a value is repeated")
        grid[name] = values
    if problems:
        raise ParameterError(f"invalid sweep for {study}:\n  - " + "\n  - ".join(problems))
    return grid


def plan(study: str, grid: dict[str, list], seeds: list[int], profile: str = "default",
         runs_dir: str | Path | None = None) -> list[Task]:
    """Every (setting, seed) as a Task, each validated before anything runs."""
    check_study(study)
    names = list(grid)
    tasks, problems = [], []
    for combo in itertools.product(*(grid[n] for n in names)):
        setting = dict(zip(names, combo, strict=True))
        try:
            prepare(study, profile, setting)  # ranges, choices, data files: all checked now
        except PrecmedError as exc:
            problems.append(f"{', '.join(f'{k}={_show(v)}' for k, v in setting.items())}: {exc}")
            continue
        tasks += [Task(study, profile, {**setting, "seed": s}, str(runs_root(runs_dir))) for s in seeds]
    if problems:
        raise ParameterError("invalid sweep settings:\n  - " + "\n  - ".join(problems))
    return tasks


def finished_run(task: Task) -> Path | None:
    """The folder of a successful earlier run with exactly these parameters, if there is one."""
    params = prepare(task.study, task.profile, task.overrides)
    folder = Path(task.runs_dir) / task.study / f"{task.profile}-{parameter_hash(params)}"
    ok = (folder / "metrics.json").exists() and (folder / "run.json").exists()
    return folder if ok and json.loads((folder / "run.json").read_text()).get("error") is None else None


def execute(task: Task) -> dict:
    """Run one task (in a worker). Returns a plain dict, so any executor can ship it back."""
    try:
        r = run_study(task.study, task.profile, task.overrides, runs_dir=task.runs_dir, progress=False)
    except Exception as exc:  # a worker must report, not die
        r = RunResult(task.study, task.profile, False, "", 0.0, f"{type(exc).__name__}: {exc}")
    return asdict(r)


# ---------------------------------------------------------------------------------------------
# Executors


class Executor:
    """Runs tasks and yields (task, result) as they finish."""

    def run(self, fn: Callable[[Task], dict], tasks: Iterable[Task]) -> Iterator[tuple[Task, dict]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalExecutor(Executor):
    def __init__(self, jobs: int = 2):
        self.jobs = max(1, jobs)

    def run(self, fn, tasks):
        ctx = mp.get_context("spawn")
        with shared_cores(self.jobs), cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx) as pool:
            futs = {pool.submit(fn, t): t for t in tasks}
            for fut in cf.as_completed(futs):
                yield futs[fut], fut.result()


class DaskExecutor(Executor):
    """Tasks on a Dask distributed cluster (``address`` of its scheduler, e.g. tcp://host:8786)."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise ParameterError("--scheduler needs dask[distributed] "
                                 "(pip install 'dask[distributed]')") from exc
        try:
            self.client = Client(address, timeout=10)
        except OSError as exc:
            raise ParameterError(f"--scheduler: cannot reach a Dask scheduler at {address!r} "
                                 f"({exc})") from None

    def run(self, fn, tasks):
        from distributed import as_completed

        tasks = list(tasks)
        # pure=False: the same task submitted twice must run again (a deleted run), not be cached
        futs = {self.client.submit(fn, t, pure=False): t for t in tasks}
        for fut in as_completed(list(futs)):
            yield futs[fut], fut.result()

    def close(self):
        self.client.close()


# ---------------------------------------------------------------------------------------------
# Gathering


def _metric_means(folder: Path) -> dict[str, float]:
    m = json.loads((folder / "metrics.json").read_text())
    out = {}
    for key, val in m.get("metrics", {}).items():
        if isinstance(val, dict) and isinstance(val.get("mean"), int | float):
            out[key] = float(val["mean"])
        elif isinstance(val, int | float) and not isinstance(val, bool):
            out[key] = float(val)
    return out


def sweep_name(study: str, profile: str, grid: dict, seeds: list[int]) -> str:
    body = json.dumps({"profile": profile, "grid": grid, "seeds": seeds}, sort_keys=True)
    return f"{profile}-{hashlib.sha256(body.encode()).hexdigest()[:10]}"


def gather(rows: list[dict], grid: dict, metric: str | None, headline: str | None = None,
           ) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """results (one row per run) and summary (per setting: mean, SD, n of each metric); the figure's
    metric is ``metric``, else the study's headline metric, else the first one every run has."""
    results = pd.DataFrame(rows)
    names = list(grid)
    for n in names:
        results[n] = results[n].map(_show)
    ok = results[results["status"] == "ok"]
    metric_cols = [c for c in results.columns if c.startswith("metric:")]
    if ok.empty or not metric_cols:
        return results, pd.DataFrame(), None
    if metric is None:
        complete = [c[7:] for c in metric_cols if ok[c].notna().all()]
        metric = headline if headline in complete else (complete or [metric_cols[0][7:]])[0]
    elif f"metric:{metric}" not in results:
        raise ParameterError(f"--metric: no metric {metric!r} in the runs; they have "
                             + ", ".join(c[7:] for c in metric_cols[:30]))
    agg = ok.groupby(names, sort=False)[metric_cols].agg(["mean", "std", "count"]) if names else \
        ok[metric_cols].agg(["mean", "std", "count"]).T.stack().to_frame().T
    return results, agg, metric


def figure(results: pd.DataFrame, grid: dict, metric: str, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = results[results["status"] == "ok"].copy()
    names = list(grid)
    col = f"metric:{metric}"
    x = names[0] if names else None
    hue = names[1] if len(names) > 1 else None
    fig, ax = plt.subplots(figsize=(7, 4))
    if x is None:
        ax.errorbar([0], [ok[col].mean()], yerr=[ok[col].std()], fmt="o", capsize=4)
        ax.set_xticks([0], ["all runs"])
    else:
        groups = [(None, ok)] if hue is None else list(ok.groupby(hue, sort=False))
        xs = list(dict.fromkeys(results[x]))
        for i, (h, g) in enumerate(groups):
            s = g.groupby(x, sort=False)[col].agg(["mean", "std"]).reindex(xs)
            off = (i - (len(groups) - 1) / 2) * 0.08
            ax.errorbar([j + off for j in range(len(xs))], s["mean"], yerr=s["std"].fillna(0), fmt="o-",
                        capsize=4, label=None if h is None else f"{hue}={h}")
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(x)
        if hue:
            ax.legend(fontsize=8)
    ax.set_ylabel(f"{metric} (mean ± SD over seeds)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_sweep(study: str, assignments: list[str], seeds: str = "0", *, profile: str = "default",
              runs_dir: str | Path | None = None, executor: Executor | None = None, jobs: int = 2,
              metric: str | None = None, log=print) -> dict:
    """Plan, run (reusing finished runs), gather. Returns a summary dict (paths, counts, failures)."""
    grid = parse_grid(study, assignments)
    seed_list = parse_seeds(seeds)
    tasks = plan(study, grid, seed_list, profile, runs_dir)
    name = sweep_name(study, profile, grid, seed_list)
    folder = runs_root(runs_dir) / study / "sweeps" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.json").write_text(json.dumps(
        {"study": study, "profile": profile, "grid": grid, "seeds": seed_list, "runs": len(tasks)}, indent=2))
    done = [finished_run(t) for t in tasks]
    todo = [i for i, p in enumerate(done) if p is None]
    log(f"sweep {study} ({profile}): {len(tasks)} runs = {max(1, len(tasks) // len(seed_list))} setting(s) "
        f"x {len(seed_list)} seed(s); {len(tasks) - len(todo)} already finished, {len(todo)} to run")
    results: dict[int, dict] = {i: {"ok": True, "path": str(p), "seconds": 0.0, "error": None, "reused": True}
                                for i, p in enumerate(done) if p is not None}
    if todo:
        ex = executor or LocalExecutor(jobs)
        index = {id(tasks[i]): i for i in todo}
        try:
            for n, (t, r) in enumerate(ex.run(execute, [tasks[i] for i in todo]), start=1):
                results[index[id(t)]] = {**r, "reused": False}
                state = "ok  " if r["ok"] else "FAIL"
                log(f"  [{n}/{len(todo)}] {state} {t.label}  {r['seconds']:.1f}s"
                    + (f"\n        {r['error']}" if r["error"] else ""))
        finally:
            ex.close()
    rows = []
    for i, t in enumerate(tasks):
        r = results[i]
        row = {**t.overrides, "status": "ok" if r["ok"] else "failed", "reused": r["reused"],
               "seconds": r["seconds"], "run": r["path"], "error": r["error"] or ""}
        if r["ok"]:
            row.update({f"metric:{k}": v for k, v in _metric_means(Path(r["path"])).items()})
        rows.append(row)
    table, summary, metric = gather(rows, grid, metric, study_info(study)["headline"].get("key"))
    table.to_csv(folder / "results.csv", index=False)
    out = {"folder": str(folder), "runs": len(tasks), "reused": len(tasks) - len(todo),
           "failed": [f"{t.label}: {results[i]['error']}" for i, t in enumerate(tasks)
                      if not results[i]["ok"]],
           "metric": metric, "results": str(folder / "results.csv")}
    if metric is not None:
        summary.to_csv(folder / "summary.csv")
        out["summary"] = str(folder / "summary.csv")
        fig_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", metric) + ".png"
        out["figure"] = str(figure(table, grid, metric, folder / fig_name, f"{study}: sweep {name}"))
        col = (f"metric:{metric}", "mean")
        if col in summary.columns:
            show = summary[[(f"metric:{metric}", s) for s in ("mean", "std", "count")]].copy()
            show.columns = ["mean", "sd", "n"]
            log(f"\n{metric} per setting:\n{show.round(4).to_string()}")
    return out
