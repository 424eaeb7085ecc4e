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


def delong_auc(y_true, score, level: float = 0.95) -> dict[str, float]:
    """AUC of ``score`` for the positive class 1 of ``y_true``, with DeLong's standard error.

    DeLong, DeLong & Clarke-Pearson (Biometrics 1988): the AUC is the mean of the placement
    values of the positives (the share of negatives each one outranks, ties counting a half), and
    its variance is var(placements of positives)/m + var(placements of negatives)/n. The
    placements come from midranks, so ties are exact. The interval is AUC ± z·SE, clipped to
    [0, 1]. Used by breast_cancer_prognosis; any study that reports an AUROC with a CI.
    """
    from scipy.stats import norm, rankdata

    y = np.asarray(y_true).astype(int)
    s = np.asarray(score, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ValueError("the AUC needs at least one positive and one negative")
    ranks = rankdata(np.concatenate([pos, neg]))
    v10 = (ranks[:m] - rankdata(pos)) / n        # share of negatives below each positive
    v01 = 1.0 - (ranks[m:] - rankdata(neg)) / m  # share of positives above each negative
    auc = float(v10.mean())
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    se = float(np.sqrt(var))
    z = float(norm.ppf(0.5 + level / 2))
    return {"auc": auc, "se": se, "ci_low": max(0.0, auc - z * se), "ci_high": min(1.0, auc + z * se)}


def corrected_split_ci(values, test_fraction: float, level: float = 0.95,
                       bounds: tuple[float, float] | None = None) -> dict[str, float]:
    """Mean over repeated random train/test splits with a confidence interval that allows for
    the overlap of the training sets (Nadeau & Bengio, Machine Learning 2003).

    The splits share most of their patients, so their scores are correlated and the naive
    interval of the mean is too narrow; the corrected variance is
    (1/J + n_test/n_train) · s² for J splits with sample variance s², with a t quantile on J − 1
    degrees of freedom; ``bounds`` (e.g. (0, 1) for an AUC) clips the interval to the metric's
    range. One split gives no interval (NaN bounds). Used by breast_cancer_prognosis.
    """
    from scipy.stats import t as student_t

    v = np.asarray(list(values), dtype=float)
    j = len(v)
    mean = float(v.mean())
    if j < 2:
        return {"mean": mean, "sd": 0.0, "ci_low": float("nan"), "ci_high": float("nan"), "n": j}
    sd = float(v.std(ddof=1))
    half = float(student_t.ppf(0.5 + level / 2, j - 1)) * sd * np.sqrt(
        1.0 / j + test_fraction / (1.0 - test_fraction))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return {"mean": mean, "sd": sd, "ci_low": low, "ci_high": high, "n": j}
