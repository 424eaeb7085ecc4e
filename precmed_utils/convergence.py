"""Training curves and convergence: the evidence that a learned model was trained, not cut short.

Every chapter with a neural model (or any model trained for epochs) records each training run
here: the per-epoch training loss and the dev-set metric, the epoch whose weights were kept, and
the epoch cap. From that the log

- decides whether each run **converged**: its dev metric stopped improving at least
  ``patience`` epochs before the run ended (early stopping fired, or the cap was reached on a
  plateau), or the last ``patience`` epochs improved it by less than ``tol`` (relative). A run
  whose dev metric was still improving when it hit its epoch cap did not converge;
- gives the metrics each chapter saves (``<dataset>/<model>/best_epoch``,
  ``<dataset>/<model>/dev_<metric>``, ``<dataset>/<model>/converged``: the share of runs that
  converged);
- draws the curves: training loss and dev metric per epoch, one thin line per seed or repeat,
  a dot at the kept epoch;
- states the convergence status that the chapter's verdicts rest on (``Run.save`` stores it in
  ``metrics.json`` under ``convergence``; the scoreboard marks verdicts that rest on a model that
  did not converge).

Used by concept_extraction, temporal_events, relation_extraction, heart_failure, suicide_risk,
deidentification, drug_response, breast_cancer_prognosis and deep_patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def curve_status(dev: Sequence[float], *, patience: int, max_epochs: int | None = None,
                 higher_is_better: bool = True, tol: float = 1e-3,
                 kept_epoch: int | None = None) -> dict:
    """Where a dev curve peaked and whether it had flattened.

    ``dev`` holds the dev metric after epochs 1..n. The kept epoch is ``kept_epoch`` if given
    (1-based), else the best one. ``converged`` is true when the best epoch lies at least
    ``patience`` epochs before the last one, or when the last ``patience`` epochs improved the
    metric by less than ``tol`` relative to its size; ``hit_cap`` says whether the run used every
    epoch it was allowed.
    """
    vals = np.asarray([float(v) for v in dev], dtype=float)
    if vals.size == 0:
        raise ValueError("an empty dev curve: record at least one epoch")
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}")
    sign = 1.0 if higher_is_better else -1.0
    score = np.where(np.isnan(vals), -np.inf, sign * vals)
    best = int(np.argmax(score)) + 1
    kept = int(kept_epoch) if kept_epoch is not None else best
    if not 1 <= kept <= vals.size:
        raise ValueError(f"kept epoch {kept} outside the {vals.size} recorded epochs")
    n = vals.size
    plateau = (n - best) >= patience
    if not plateau and n > patience:
        before = np.max(score[: n - patience])
        after = np.max(score[n - patience:])
        scale = max(abs(before), 1e-12)
        plateau = (after - before) / scale < tol
    return {"best_epoch": best, "kept_epoch": kept, "epochs_run": n,
            "max_epochs": max_epochs if max_epochs is not None else n,
            "hit_cap": max_epochs is not None and n >= max_epochs,
            "dev_at_kept": float(vals[kept - 1]), "converged": bool(plateau)}


@dataclass
class TrainingLog:
    """The training runs of one notebook, for curves, metrics and the convergence status."""

    runs: list[dict] = field(default_factory=list)

    def add(self, dataset: str, model: str, history: pd.DataFrame | Sequence[dict], *,
            dev_metric: str, patience: int, max_epochs: int | None = None, seed: int | str | None = None,
            kept_epoch: int | None = None, higher_is_better: bool = True, tol: float = 1e-3,
            loss: str = "loss", dev: str = "dev_score") -> dict:
        """Record one training run. ``history`` has one row per epoch with the training loss in
        column ``loss`` and the dev metric in column ``dev`` (as ``tagger.train_tagger`` returns
        them). Returns the run's status (see :func:`curve_status`)."""
        h = pd.DataFrame(history).reset_index(drop=True)
        for col in (loss, dev):
            if col not in h.columns:
                raise ValueError(f"history of {dataset}/{model} has no column {col!r} "
                                 f"(has {list(h.columns)})")
        status = curve_status(h[dev].tolist(), patience=patience, max_epochs=max_epochs,
                              higher_is_better=higher_is_better, tol=tol, kept_epoch=kept_epoch)
        curve = pd.DataFrame({"epoch": np.arange(1, len(h) + 1), "loss": h[loss].astype(float),
                              "dev": h[dev].astype(float)})
        self.runs.append({"dataset": dataset, "model": model, "seed": seed, "dev_metric": dev_metric,
                          "higher_is_better": higher_is_better, "curve": curve, **status})
        return status

    # -- summaries -------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """One row per dataset and model: runs, kept epoch, epochs run, cap, dev metric at the
        kept epoch (mean), and how many runs converged."""
        if not self.runs:
            return pd.DataFrame()
        df = pd.DataFrame([{k: v for k, v in r.items() if k != "curve"} for r in self.runs])
        g = df.groupby(["dataset", "model"], sort=False)
        out = g.agg(runs=("kept_epoch", "size"), dev_metric=("dev_metric", "first"),
                    kept_epoch_mean=("kept_epoch", "mean"), kept_epoch_max=("kept_epoch", "max"),
                    epochs_run_max=("epochs_run", "max"), max_epochs=("max_epochs", "max"),
                    dev_at_kept=("dev_at_kept", "mean"), converged=("converged", "sum"))
        out["status"] = np.where(out["converged"] == out["runs"], "converged (dev curve flat)",
                                 "NOT converged: dev metric still improving at the epoch cap")
        out["converged"] = out["converged"].astype(int).astype(str) + " of " + out["runs"].astype(str)
        return out.reset_index()

    def metrics(self) -> dict[str, dict]:
        """``<dataset>/<model>/best_epoch`` and ``/dev_<metric>`` (mean and SD over runs) and
        ``/converged`` (share of runs), in the form ``Run.save`` takes."""
        out: dict[str, dict] = {}
        if not self.runs:
            return out
        df = pd.DataFrame([{k: v for k, v in r.items() if k != "curve"} for r in self.runs])
        for (ds, model), g in df.groupby(["dataset", "model"], sort=False):
            metric = g["dev_metric"].iloc[0]
            for key, col in (("best_epoch", "kept_epoch"), (f"dev_{metric}", "dev_at_kept")):
                v = g[col].astype(float)
                out[f"{ds}/{model}/{key}"] = {"mean": float(v.mean()),
                                              "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                                              "n": int(len(v))}
            out[f"{ds}/{model}/converged"] = {"mean": float(g["converged"].mean()), "n": int(len(g))}
        return out

    def status(self) -> dict:
        """What the chapter's verdicts rest on: whether every recorded run converged, and which
        models did not."""
        if not self.runs:
            return {"recorded": 0, "all_converged": None, "not_converged": []}
        bad = sorted({f"{r['dataset']}/{r['model']}" for r in self.runs if not r["converged"]})
        return {"recorded": len(self.runs), "all_converged": not bad, "not_converged": bad}

    def summary_text(self) -> str:
        """One sentence for the chapter: which models converged and which did not."""
        st = self.status()
        if not st["recorded"]:
            return "No training run was recorded."
        if st["all_converged"]:
            return (f"All {st['recorded']} training runs converged: each dev curve had stopped "
                    "improving before training ended.")
        return (f"Not converged: {', '.join(st['not_converged'])} (dev metric still improving when "
                "training hit its epoch cap); verdicts that rest on these models are marked.")

    # -- figure ------------------------------------------------------------------------------------
    def plot(self, dataset: str | None = None, models: Sequence[str] | None = None, *, palette=None):
        """Training loss (top row) and dev metric (bottom row) per epoch for each model: one thin
        line per run, a dot at the kept epoch. Returns the figure."""
        import matplotlib.pyplot as plt

        runs = [r for r in self.runs if dataset is None or r["dataset"] == dataset]
        names = list(dict.fromkeys(r["model"] for r in runs))
        if models is not None:
            names = [m for m in models if m in names]
        if not names:
            raise ValueError("no training run recorded for that selection")
        ncol = len(names)
        fig, axes = plt.subplots(2, ncol, figsize=(max(3.0 * ncol, 5.0), 5.2), squeeze=False,
                                 sharex="col")
        colours = palette or {}
        for j, name in enumerate(names):
            colour = colours.get(name, f"C{j % 10}")
            for r in (r for r in runs if r["model"] == name):
                c = r["curve"]
                axes[0, j].plot(c["epoch"], c["loss"], lw=0.9, alpha=0.7, color=colour)
                axes[1, j].plot(c["epoch"], c["dev"], lw=0.9, alpha=0.7, color=colour)
                k = r["kept_epoch"]
                axes[1, j].plot([k], [c["dev"].iloc[k - 1]], "o", ms=4, color=colour)
                if r["max_epochs"] and r["hit_cap"]:
                    axes[1, j].axvline(r["max_epochs"], color="0.6", lw=0.6, ls=":")
            axes[0, j].set_title(name, fontsize=9)
            axes[0, j].set_ylabel("training loss" if j == 0 else "")
            first = next(r for r in runs if r["model"] == name)
            if j == 0 or len({r["dev_metric"] for r in runs}) > 1:
                axes[1, j].set_ylabel(f"dev {first['dev_metric']}")
            axes[1, j].set_xlabel("epoch")
        fig.suptitle("Training curves (thin lines: runs; dots: kept epoch)", fontsize=10, y=1.0)
        fig.tight_layout()
        return fig
