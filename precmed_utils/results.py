"""Run records: the run manifest, metrics JSON, paper-versus-ours tables and claim verdicts.

Every notebook's setup cell calls ``start_run``; its last cells call ``Run.paper_table``,
``Run.verdicts`` and ``Run.save``. The scoreboard reads the ``metrics.json`` this writes.
Used by all studies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import platform
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .convergence import TrainingLog
from .params import check_notebook_parameters, profile_of, supports_gpu
from .seeding import choose_device, seed_everything
from .studies import headline, project_root, study_info

CORE_PACKAGES = ("precmed", "numpy", "pandas", "scipy", "scikit-learn", "matplotlib",
                 "seaborn", "papermill", "torch")
VERDICTS = {True: "reproduced", False: "not reproduced", "partly": "partly reproduced",
            None: "not comparable"}


def package_versions(names=CORE_PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return out


LOCK_FILE = "locks/linux-x86_64-cpu-py311.txt"


def lock_record() -> dict | None:
    """The environment lock that `make` installs from (its path and sha256), or None when the
    project has none (an installed copy without the repository)."""
    path = project_root() / LOCK_FILE
    if not path.is_file():
        return None
    return {"file": LOCK_FILE, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def git_commit() -> str | None:
    try:
        res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=project_root(),
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=project_root(), capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        return None
    return res.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def fmt(value: float | None, sd: float | None = None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if not sd and float(value).is_integer() and abs(value) >= 10:
        return str(int(value))  # a count, e.g. a number of signals
    s = f"{value:.{digits}f}"
    return f"{s} ± {sd:.{digits}f}" if sd else s  # no spread to show for a single value


def difference(ours: float | None, paper: float | None, comparable: bool = True) -> str:
    """Ours minus the paper's value, or why there is none. Used by chapters and the scoreboard."""
    if comparable is False:
        return "not comparable"
    if ours is None or paper is None:
        return "—"
    return fmt(ours - paper)


def describe_basis(b: dict | None) -> str:
    """A verdict's basis (``Run.basis``) in words: profile, convergence, positive control."""
    if not b:
        return "—"
    conv = b.get("convergence") or {}
    parts = [f"profile {b.get('profile', '?')}"]
    if conv.get("recorded"):
        parts.append("models converged" if conv.get("all_converged")
                     else "NOT converged: " + ", ".join(conv.get("not_converged", [])))
    if b.get("positive_control") is not None:
        parts.append("positive control " + ("passed" if b["positive_control"]["passed"] else "FAILED"))
    return "; ".join(parts)


@dataclass
class Run:
    """One execution of a study notebook: parameters, device, data, outputs."""

    study: str
    params: dict
    device: str
    output_dir: Path
    data: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)
    profile: str = "custom"
    training: TrainingLog = field(default_factory=TrainingLog)
    control: dict | None = None
    started: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def figures_dir(self) -> Path:
        d = self.output_dir / "figures"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def manifest(self) -> dict:
        return {
            "study": self.study,
            "parameters": self.params,
            "device": self.device,
            "data": self.data,
            "packages": package_versions(),
            "lock": lock_record(),
            "platform": platform.platform(),
            "git_commit": git_commit(),
            "started": self.started,
        }

    def write_manifest(self) -> None:
        (self.output_dir / "manifest.json").write_text(json.dumps(self.manifest(), indent=2))

    def add_data(self, info: dict) -> None:
        """Record a dataset used by the run (name, kind, licence, sha256 of its files) and, in a
        notebook, show its files and checksums: the run manifest the book's introduction promises."""
        self.data.append(info)
        self.write_manifest()
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # pragma: no cover - IPython ships with the notebooks' kernel
            return
        if get_ipython() is not None:
            display(self.data_frame(info))

    @staticmethod
    def data_frame(info: dict) -> pd.DataFrame:
        """One row per file of a dataset: its name, kind, licence and sha256 (a simulated dataset
        has no file: it is generated by the code from the run's seed)."""
        sums = info.get("sha256") or {}
        base = {"dataset": info.get("name"), "kind": info.get("kind"), "terms of use": info.get("licence")}
        rows = [{**base, "file": f, "sha256": h} for f, h in sorted(sums.items())] or \
            [{**base, "file": "— (generated by the code from the seed)", "sha256": "—"}]
        return pd.DataFrame(rows).set_index(["dataset", "file"])

    def manifest_frame(self) -> pd.DataFrame:
        m = self.manifest()
        rows = [("study", m["study"]), ("device", m["device"]), ("git commit", m["git_commit"]),
                ("started (UTC)", m["started"])]
        rows += [(f"version: {k}", v) for k, v in m["packages"].items()]
        if m.get("lock"):
            rows.append(("environment lock", f"{m['lock']['file']} (sha256 {m['lock']['sha256'][:12]})"))
        return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")

    # -- comparison with the paper ------------------------------------------------------------
    def paper_table(self, ours: dict[str, dict], extra_rows: list[dict] | None = None) -> pd.DataFrame:
        """Paper versus ours for every value in paper_values.yml (plus ``extra_rows``), then the
        study's anchors: published systems evaluated on the same open data as ours (kind
        "anchor").

        ``ours`` maps a metric key to ``{"mean": .., "sd": ..}``.
        """
        info = study_info(self.study)
        tag = {True: "verified", "secondary": "secondary source", False: "unverified [U]"}
        rows = []
        entries = [("paper", v) for v in list(info.get("values", [])) + list(extra_rows or [])]
        entries += [("anchor (same data)", a) for a in info.get("anchors", [])]
        for kind, v in entries:
            o = ours.get(v["key"], {})
            paper = v.get("value")
            mean = o.get("mean")
            rows.append({
                "kind": kind,
                "metric": v["metric"],
                "paper": fmt(paper) if paper is not None else "not reported [U]",
                "ours (mean ± SD)": fmt(mean, o.get("sd")) if mean is not None else "not run",
                "difference": difference(mean, paper, v.get("comparable", True)),
                "paper value": tag.get(v.get("verified"), str(v.get("verified"))),
                "source / note": v.get("source", ""),
            })
        return pd.DataFrame(rows)

    # -- what the verdicts rest on -------------------------------------------------------------
    def positive_control(self, passed: bool, evidence: str) -> dict:
        """Record the chapter's positive control: a setting of the same simulator in which the
        method's own mechanism must help. A failure is a defect of our implementation, not a
        verdict on the paper; the scoreboard marks the chapter's verdicts."""
        self.control = {"passed": bool(passed), "evidence": evidence}
        return self.control

    def basis(self) -> dict:
        """The profile, the convergence status of the trained models and the positive control's
        outcome: what every verdict of this run rests on."""
        return {"profile": self.profile, "convergence": self.training.status(),
                "positive_control": self.control}

    def basis_text(self) -> str:
        return describe_basis(self.basis())

    def verdicts(self, checks: dict[str, tuple | dict]) -> pd.DataFrame:
        """Turn each claim's check into a verdict. Every claim in paper_values.yml must be
        checked: a forgotten claim is an error, not a silent gap.

        ``checks`` maps a claim id to either ``(outcome, evidence)`` under the original rule
        (outcome True / False / "partly" / None for not comparable), or a dict with ``original``
        (that outcome), ``evidence`` and ``comparisons``: label -> the result of
        :func:`evidence.paired_difference` or :func:`evidence.threshold_check`. With
        comparisons, the verdict follows the amendment of 2026-12-02 (:func:`evidence.combine`)
        and the original rule's verdict is kept beside it; ``amended`` overrides it (for a
        comparison that the amendment's rule 4 leaves out, say).
        """
        from .evidence import combine, describe

        claims = study_info(self.study).get("claims", [])
        missing = [c["id"] for c in claims if c["id"] not in checks]
        if missing:
            raise ValueError(f"claims not checked: {missing}")
        rows = []
        for c in claims:
            chk = checks[c["id"]]
            if isinstance(chk, tuple):
                chk = {"original": chk[0], "evidence": chk[1]}
            original = VERDICTS[chk["original"]]
            comps = chk.get("comparisons") or {}
            amended = chk.get("amended")
            if amended is None:
                if chk["original"] is None:
                    amended = VERDICTS[None]
                elif comps:
                    amended = combine({k: v["outcome"] for k, v in comps.items()})
            rows.append({"id": c["id"], "claim": c["claim"], "rule (set " + str(c["set"]) + ")": c["rule"],
                         "verdict": amended or original,
                         "under the 2026-11-28 rule": original,
                         "paired difference [95% CI], n": "<br>".join(
                             f"{k}: {describe(v)}" for k, v in comps.items())
                         or ("—" if amended else "not yet assessed under the amendment"),
                         "evidence": chk["evidence"], "rests on": self.basis_text(),
                         "_comparisons": comps, "_amended": amended is not None})
        self.claims = rows
        shown = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
        return pd.DataFrame(shown).set_index("id")

    def save(self, metrics: dict[str, dict], extra: dict | None = None) -> Path:
        """Write metrics.json (metrics, claims, headline) and the final manifest."""
        h = headline(self.study)
        key = h.get("key")
        metrics = {**self.training.metrics(), **metrics}  # best epochs and dev scores of every trained model
        doc = {
            "study": self.study,
            "parameters": self.params,
            "device": self.device,
            "data": [{k: d[k] for k in ("name", "kind")} for d in self.data],
            "metrics": metrics,
            "headline": {"metric": h["metric"], "key": key,
                         "ours": metrics.get(key), "paper": h.get("value")},
            "claims": [{"id": r["id"], "verdict": r["verdict"], "evidence": r["evidence"],
                        "original_verdict": r["under the 2026-11-28 rule"],
                        "amended": r["_amended"], "comparisons": r["_comparisons"]}
                       for r in self.claims],
            "basis": self.basis(),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        path = self.output_dir / "metrics.json"
        path.write_text(json.dumps(_json_safe(doc), indent=2, allow_nan=False))
        self.write_manifest()
        return path


def _json_safe(obj):
    """``obj`` with every NaN or infinite float replaced by None (strict JSON: no NaN literal, which
    browsers' and most languages' JSON parsers refuse); numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def start_run(study: str, namespace: dict) -> Run:
    """Validate the notebook's parameters, seed everything, choose the device, write the manifest.

    Call from the setup cell as ``run = start_run("<study>", globals())``. Raises a clear
    ParameterError / DeviceError before any work starts.
    """
    params = check_notebook_parameters(study, namespace)
    seed_everything(params["seed"])
    device = choose_device(params["device"], supports_gpu=supports_gpu(study))
    out = Path(params["output_dir"]).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    run = Run(study=study, params=params, device=device, output_dir=out,
              profile=profile_of(study, params))
    run.write_manifest()
    return run
