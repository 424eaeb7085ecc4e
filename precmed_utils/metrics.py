"""Metrics shared by several studies, checked against scikit-learn in the unit tests.

Used by: cancer_subtyping (classification summary); later studies add span F1, AUROC with
confidence intervals and per-class F.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix


def classification_summary(y_true, y_pred, *, positive=None, labels=None) -> dict[str, float]:
    """Accuracy, sensitivity, specificity and balanced accuracy.

    Binary problems: sensitivity and specificity of the ``positive`` class (e.g. the rarer
    subtype). Multi-class: the macro averages over classes, one-versus-rest. Balanced accuracy is
    the mean per-class recall in both cases.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    labels = list(labels)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    tp = np.diag(cm).astype(float)
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = cm.sum() - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / (tp + fn)
        spec = tn / (tn + fp)
    present = (tp + fn) > 0
    out = {
        "accuracy": float(tp.sum() / cm.sum()),
        "balanced_accuracy": float(np.mean(recall[present])),
    }
    if len(labels) == 2:
        if positive is None:
            raise ValueError("binary problem: name the positive class")
        k = labels.index(positive)
        out["sensitivity"] = float(recall[k])
        out["specificity"] = float(spec[k])
    else:
        out["sensitivity"] = float(np.nanmean(recall[present]))
        out["specificity"] = float(np.nanmean(spec[present]))
    return out


def mean_sd(values) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value) and count."""
    v = np.asarray(list(values), dtype=float)
    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"mean": float(v.mean()), "sd": sd, "n": int(len(v))}


def summarise(df: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Mean and SD of each metric per group: one row per group, columns ``metric_mean/sd``."""
    agg = df.groupby(by, sort=False)[metrics].agg(["mean", "std"])
    agg.columns = [f"{m}_{s.replace('std', 'sd')}" for m, s in agg.columns]
    return agg.fillna(0.0).reset_index()
