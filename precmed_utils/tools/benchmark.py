"""Performance figures: wall time and peak memory of each study's runs, per machine.

``precmed benchmark [STUDY ...] --profiles smoke,default`` runs each study once per profile, one
at a time (so the figures are not disturbed by other runs), each in a fresh process whose peak
resident memory (the notebook's kernel included) is read from the operating system. The
figures are merged into ``book/performance.json``, keyed by machine, so measurements from a
laptop, this CI machine and a GPU machine sit side by side; the book's *Performance* page and the
run-time tiers at the top of each chapter are generated from that file. This is a benchmark,
not a test: nothing fails because a machine is slow.

Used by the ``precmed benchmark`` command and by the book's staging (runner.stage_book).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from ..seeding import usable_cores
from ..studies import implemented_studies, project_root, study_info

PERF_FILE = "book/performance.json"

# Runs the CLI in a child process and prints that child's peak RSS (ru_maxrss of waited-for
# descendants: the papermill kernel is a child of the CLI, so it is included).
_WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
sec = time.perf_counter() - t
print(json.dumps({"rc": rc.returncode, "seconds": sec, "stderr": rc.stderr[-2000:],
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


class ResourceMeter:
    """CPU time and peak memory of the work this process starts in child processes (a notebook's
    kernel and the workers it starts), for ``with ResourceMeter() as m: ...``.

    ``cpu_seconds``: user + system time of the children waited for during the block (the kernel
    is waited for when papermill shuts it down, and counts the workers it waited for).
    ``peak_rss_mib``: the largest sum of resident memory over all live descendants, sampled every
    ``interval`` seconds (0 when nothing ran long enough to be sampled)."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.cpu_seconds = 0.0
        self.peak_rss_mib = 0.0

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.interval):
            total = 0
            for p in me.children(recursive=True):
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak_rss_mib = max(self.peak_rss_mib, total / 2**20)

    def __enter__(self) -> ResourceMeter:
        import threading

        self._ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu_seconds = (ru.ru_utime - self._ru.ru_utime) + (ru.ru_stime - self._ru.ru_stime)


def machine() -> dict:
    """A short description of this machine: CPU, cores, memory, GPU (if torch sees one). Looked up
    once per process (finding a GPU imports torch); each call gets its own copy."""
    return dict(_machine())


@functools.lru_cache(maxsize=1)
def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - a broken CUDA set-up just means: no GPU figures
        gpu = None
    cores = usable_cores()
    desc = f"{cores}-core {cpu}, {mem_gib} GiB" + (f", {gpu}" if gpu else ", no GPU")
    return {"id": ("gpu: " if gpu else "cpu: ") + desc, "cpu": cpu, "cores": cores, "memory_gib": mem_gib,
            "gpu": gpu, "python": platform.python_version(), "system": platform.system()}


def measure(study: str, profile: str, runs_dir: Path, params: list[str] = ()) -> dict:
    cmd = [sys.executable, "-m", "precmed_utils.tools.cli", "run", study, "--profile", profile,
           "--runs-dir", str(runs_dir), "--no-progress", *[a for p in params for a in ("-p", p)]]
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    device = None
    runs = sorted((runs_dir / study).glob(f"{profile}-*/metrics.json"), key=lambda p: p.stat().st_mtime)
    if runs:
        device = json.loads(runs[-1].read_text()).get("device")
    return {"study": study, "profile": profile, "ok": r["rc"] == 0, "seconds": round(r["seconds"], 1),
            "peak_rss_mib": round(r["maxrss_kib"] / 1024), "device": device,
            "error": None if r["rc"] == 0 else r["stderr"].strip().splitlines()[-1:] or ["failed"]}


def load(path: Path | None = None) -> dict:
    path = path or project_root() / PERF_FILE
    if not path.exists():
        return {"machines": {}}
    return json.loads(path.read_text())


def run_benchmark(studies: list[str] | None = None, profiles: tuple[str, ...] = ("smoke", "default"),
                  out: Path | None = None, log=print) -> dict:
    """Measure and merge into ``out`` (default book/performance.json); returns the machine's entry."""
    out = out or project_root() / PERF_FILE
    studies = studies or implemented_studies()
    m = machine()
    doc = load(out)
    entry = doc["machines"].setdefault(m["id"], {"machine": m, "runs": {}})
    entry["machine"] = m
    log(f"benchmark on {m['id']}: {len(studies)} studies x {', '.join(profiles)}, one at a time")
    with tempfile.TemporaryDirectory(prefix="precmed-bench-") as tmp:
        for study in studies:
            for profile in profiles:
                r = measure(study, profile, Path(tmp))
                r["measured"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
                entry["runs"][f"{study}/{profile}"] = r
                log(f"  {study:<26} {profile:<8} {'ok  ' if r['ok'] else 'FAIL'} {r['seconds']:8.1f} s "
                    f"{r['peak_rss_mib']:7d} MiB  {r['device'] or ''}")
                out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")  # keep what is measured
    return entry


def expected_seconds(study: str, profile: str, doc: dict | None = None) -> float | None:
    """The longest measured wall time of ``study``'s ``profile`` run on any machine in the
    figures file (None if never measured). The book uses it to start the longest runs first."""
    doc = doc if doc is not None else load()
    times = [e["runs"][f"{study}/{profile}"]["seconds"] for e in doc.get("machines", {}).values()
             if e["runs"].get(f"{study}/{profile}", {}).get("ok")]
    return max(times) if times else None


def longest_first(studies: list[str], profile: str, doc: dict | None = None) -> list[str]:
    """``studies`` ordered by expected run time, longest first (never-measured ones first of all):
    with N parallel workers the book then ends soon after its longest run, instead of waiting
    for a long run that started last."""
    doc = doc if doc is not None else load()
    inf = float("inf")
    return sorted(studies, key=lambda s: -(expected_seconds(s, profile, doc) or inf))


# ---------------------------------------------------------------------------------------------
# What the book shows


def _fmt_run(r: dict | None) -> str:
    if not r:
        return "not measured"
    if not r["ok"]:
        return "failed"
    s = r["seconds"]
    t = f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"
    return f"{t}, {r['peak_rss_mib']:,} MiB"


def performance_markdown(doc: dict | None = None) -> str:
    doc = doc if doc is not None else load()
    lines = ["# Performance", "",
             "Wall time and peak memory (resident set of the run and its notebook kernel) of every "
             "study, measured by `precmed benchmark`, one run at a time, on the machines listed. "
             "Regenerate on your machine with `.venv/bin/precmed benchmark` (it adds a column for "
             "your machine to `book/performance.json`). Tiers: **smoke** (seconds; the tests), "
             "**default** (the book's size, CPU), **paper** (the paper's scale; a GPU is "
             "recommended where the study has a GPU code path).", ""]
    machines = doc.get("machines", {})
    if not machines:
        return "\n".join(lines + ["No measurements yet: run `precmed benchmark`.", ""])
    ids = sorted(machines)
    for i, mid in enumerate(ids, start=1):
        m = machines[mid]["machine"]
        dates = sorted({r.get("measured", "") for r in machines[mid]["runs"].values()} - {""})
        lines.append(f"- **[{i}]** {mid} (Python {m.get('python')}; measured "
                     f"{dates[0] if dates else '?'}{' to ' + dates[-1] if len(dates) > 1 else ''})")
    lines += ["", "| study | profile | " + " | ".join(f"[{i}]" for i in range(1, len(ids) + 1)) + " |",
              "|---|---|" + "---|" * len(ids)]
    for study in implemented_studies():
        for profile in ("smoke", "default", "paper"):
            cells = [_fmt_run(machines[mid]["runs"].get(f"{study}/{profile}")) for mid in ids]
            if profile == "paper" and all(c == "not measured" for c in cells):
                continue
            lines.append(f"| {study_info(study)['title']} | {profile} | " + " | ".join(cells) + " |")
    total = {mid: sum(r["seconds"] for k, r in machines[mid]["runs"].items()
                      if k.endswith("/default") and r["ok"]) for mid in ids}
    lines += ["", "Sum of the default runs (the book runs two at a time with `--jobs 2`): "
              + "; ".join(f"[{i}] {total[mid] / 60:.1f} min" for i, mid in enumerate(ids, start=1)) + ".", ""]
    return "\n".join(lines)


def tiers_markdown(study: str, doc: dict | None = None) -> str:
    """The run-time tiers note put at the top of a chapter when the book is staged."""
    doc = doc if doc is not None else load()
    parts = []
    for mid, entry in sorted(doc.get("machines", {}).items()):
        runs = entry["runs"]
        got = {p: runs.get(f"{study}/{p}") for p in ("smoke", "default", "paper")}
        if any(got.values()):
            parts.append(f"*{mid}*: " + "; ".join(f"{p} {_fmt_run(r)}" for p, r in got.items() if r))
    from ..params import supports_gpu

    gpu = "a GPU is recommended (`-p device=auto` uses one)" if supports_gpu(study) else \
        "CPU only (no GPU code path)"
    body = ("\n".join(f"- {p}" for p in parts) if parts else
            "- not measured yet: run `precmed benchmark " + study + "`")
    return (f"```{{admonition}} Run-time tiers\n:class: tip\n**smoke** (`--profile smoke`, the tests), "
            f"**default** (this page, CPU), **paper** (`--profile paper`: {gpu}). Measured wall time "
            f"and peak memory ([Performance](../performance.md)):\n\n{body}\n```\n")
