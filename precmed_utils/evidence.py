"""The noise criterion of the claims' amendment of 2026-12-02, in one tested place.

- :func:`paired_difference`: the paired difference A − B over the same splits or seeds, with its
  95% interval (paired bootstrap over the pairs, or the corrected resampled t interval of
  Nadeau & Bengio for repeated random splits and repeated cross-validation), and whether the
  comparison **holds** (interval above 0), **fails** (below 0) or is **inconclusive**.
- :func:`threshold_check`: a rule with a threshold (accuracy ≥ 0.95): the interval of the mean
  against the threshold.
- :func:`combine`: the verdict of a claim made of one or several comparisons.

Every comparison stores its difference, interval, number of pairs and method, so the claims
table and ``metrics.json`` can show them. Used by every chapter's claims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_PAIRS = 5  # the amendment: at least 5 pairs (splits, folds or seeds) for a comparison


def _outcome(low: float, high: float, reference: float = 0.0) -> str:
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if low > reference:
        return "holds"
    if high < reference:
        return "fails"
    return "inconclusive"


def paired_difference(a: Sequence[float], b: Sequence[float], *, method: str = "bootstrap",
                      test_fraction: float | None = None, level: float = 0.95, n_boot: int = 10000,
                      seed: int = 0, chance: float | None = None, min_pairs: int = MIN_PAIRS) -> dict:
    """A − B, paired over the same splits or seeds (``a[i]`` and ``b[i]`` from the same one).

    ``method``: ``"bootstrap"`` resamples the pairs (percentile interval of the mean
    difference); ``"corrected_t"`` uses the t interval with the variance inflated by
    ``1/J + n_test/n_train`` for J overlapping random splits (``test_fraction`` = n_test/n; for
    k-fold cross-validation repeated r times pass ``1/k``). Fewer than ``min_pairs`` pairs give
    no interval (the comparison is inconclusive, and ``"too few pairs"`` says why). With
    ``chance`` (e.g. 0.5 for an AUC), a comparison in which both sides score at or below chance
    is inconclusive whatever the difference.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("paired values must be two 1-D sequences of equal length, "
                         f"got {a.shape} and {b.shape}")
    if method not in ("bootstrap", "corrected_t"):
        raise ValueError(f"unknown method {method!r}; expected bootstrap or corrected_t")
    ok = ~(np.isnan(a) | np.isnan(b))
    d = a[ok] - b[ok]
    n = int(d.size)
    out = {"diff": float(d.mean()) if n else math.nan, "ci_low": math.nan, "ci_high": math.nan,
           "n": n, "method": method, "level": level, "note": ""}
    if n < min_pairs:
        out.update(outcome="inconclusive", note=f"too few pairs ({n} < {min_pairs})")
        return out
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = d[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    else:
        from scipy.stats import t as student_t

        if test_fraction is None or not 0 < test_fraction < 1:
            raise ValueError("corrected_t needs test_fraction in (0, 1): n_test / n of each split")
        sd = float(d.std(ddof=1))
        half = float(student_t.ppf(0.5 + level / 2, n - 1)) * sd * math.sqrt(
            1.0 / n + test_fraction / (1.0 - test_fraction))
        low, high = out["diff"] - half, out["diff"] + half
    out.update(ci_low=float(low), ci_high=float(high), outcome=_outcome(float(low), float(high)))
    if chance is not None and np.nanmean(a) <= chance and np.nanmean(b) <= chance:
        out.update(outcome="inconclusive", note=f"both sides at or below chance ({chance})")
    return out


def threshold_check(values: Sequence[float], threshold: float, *, level: float = 0.95,
                    test_fraction: float | None = None, n_boot: int = 10000, seed: int = 0,
                    min_pairs: int = MIN_PAIRS) -> dict:
    """Whether the mean of ``values`` (one per split or seed) lies above ``threshold``: holds when
    the interval of the mean lies above it, fails when below, inconclusive when it straddles it
    (the same interval methods as :func:`paired_difference`, against a constant)."""
    v = np.asarray(values, dtype=float)
    res = paired_difference(v, np.full_like(v, threshold),
                            method="bootstrap" if test_fraction is None else "corrected_t",
                            test_fraction=test_fraction, level=level, n_boot=n_boot, seed=seed,
                            min_pairs=min_pairs)
    res["mean"] = float(np.nanmean(v)) if v.size else math.nan
    res["threshold"] = float(threshold)
    return res


def interval_result(estimate: float, low: float, high: float, *, n: int, method: str,
                    reference: float = 0.0, note: str = "") -> dict:
    """A comparison from an interval computed elsewhere (a credibility interval, DeLong's AUC
    interval, an exact binomial interval) against ``reference``, in the form of
    :func:`paired_difference`: ``diff`` and the interval are relative to ``reference``."""
    return {"diff": float(estimate) - reference, "ci_low": float(low) - reference,
            "ci_high": float(high) - reference, "n": int(n), "method": method, "level": 0.95,
            "outcome": _outcome(float(low), float(high), reference), "note": note,
            "threshold": reference}


def combine(outcomes: Sequence[str] | dict[str, str]) -> str:
    """The amended verdict of a claim from its comparisons' outcomes (holds / fails /
    inconclusive): all hold → reproduced; some hold → partly reproduced; none holds and one
    fails → not reproduced; all inconclusive → inconclusive."""
    vals = list(outcomes.values()) if isinstance(outcomes, dict) else list(outcomes)
    bad = [v for v in vals if v not in ("holds", "fails", "inconclusive")]
    if not vals or bad:
        raise ValueError(f"outcomes must be holds, fails or inconclusive; got {vals}")
    if all(v == "holds" for v in vals):
        return "reproduced"
    if any(v == "holds" for v in vals):
        return "partly reproduced"
    if any(v == "fails" for v in vals):
        return "not reproduced"
    return "inconclusive"


def describe(res: dict, digits: int = 3) -> str:
    """"+0.012 [−0.004, +0.029], n=5 (bootstrap): inconclusive" for a claims table."""
    def f(x):
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.{digits}f}"
    text = f"{f(res['diff'])} [{f(res['ci_low'])}, {f(res['ci_high'])}], n={res['n']} ({res['method']})"
    text += f": {res['outcome']}"
    return text + (f" ({res['note']})" if res.get("note") else "")
