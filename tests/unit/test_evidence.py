"""The amendment's noise criterion: paired intervals, thresholds and combined verdicts."""

import math

import numpy as np
import pytest

from precmed_utils.evidence import combine, describe, interval_result, paired_difference, threshold_check


def test_clear_gain_holds_clear_loss_fails_noise_is_inconclusive():
    rng = np.random.default_rng(0)
    b = rng.normal(0.7, 0.02, 10)
    assert paired_difference(b + 0.05, b)["outcome"] == "holds"
    assert paired_difference(b - 0.05, b)["outcome"] == "fails"
    noise = paired_difference(b + rng.normal(0, 0.02, 10), b)
    assert noise["outcome"] == "inconclusive" and noise["ci_low"] < 0 < noise["ci_high"]
    assert noise["n"] == 10 and noise["method"] == "bootstrap"


def test_pairing_matters():
    # a large shared split effect: unpaired intervals would overlap, the paired one excludes 0
    split = np.array([0.6, 0.7, 0.8, 0.65, 0.75, 0.72])
    res = paired_difference(split + 0.01, split)
    assert res["outcome"] == "holds" and res["diff"] == pytest.approx(0.01)


def test_too_few_pairs_and_below_chance_are_inconclusive():
    res = paired_difference([0.9, 0.9, 0.9], [0.1, 0.1, 0.1])
    assert res["outcome"] == "inconclusive" and "too few pairs" in res["note"] and math.isnan(res["ci_low"])
    low = paired_difference([0.48, 0.49, 0.47, 0.5, 0.46], [0.40, 0.41, 0.42, 0.40, 0.41], chance=0.5)
    assert low["outcome"] == "inconclusive" and "chance" in low["note"]


def test_corrected_t_is_wider_than_the_naive_t():
    from scipy.stats import t

    rng = np.random.default_rng(1)
    d = rng.normal(0.01, 0.02, 20)
    res = paired_difference(d, np.zeros(20), method="corrected_t", test_fraction=0.25)
    naive = t.ppf(0.975, 19) * d.std(ddof=1) / math.sqrt(20)
    assert (res["ci_high"] - res["ci_low"]) / 2 > naive
    assert (res["ci_high"] - res["ci_low"]) / 2 == pytest.approx(
        t.ppf(0.975, 19) * d.std(ddof=1) * math.sqrt(1 / 20 + 0.25 / 0.75))
    with pytest.raises(ValueError, match="test_fraction"):
        paired_difference(d, d, method="corrected_t")
    with pytest.raises(ValueError, match="unknown method"):
        paired_difference(d, d, method="t")
    with pytest.raises(ValueError, match="equal length"):
        paired_difference(d, d[:-1])


def test_threshold_rule():
    assert threshold_check([0.97, 0.98, 0.96, 0.99, 0.97], 0.95)["outcome"] == "holds"
    assert threshold_check([0.90, 0.91, 0.89, 0.92, 0.90], 0.95)["outcome"] == "fails"
    assert threshold_check([0.93, 0.97, 0.95, 0.99, 0.91], 0.95)["outcome"] == "inconclusive"


def test_combine_follows_the_amendment():
    assert combine(["holds", "holds"]) == "reproduced"
    assert combine(["holds", "fails", "inconclusive"]) == "partly reproduced"
    assert combine({"a": "fails", "b": "inconclusive"}) == "not reproduced"
    assert combine(["inconclusive", "inconclusive"]) == "inconclusive"
    with pytest.raises(ValueError):
        combine([])
    with pytest.raises(ValueError):
        combine(["maybe"])


def test_describe():
    res = paired_difference([0.8] * 5, [0.7] * 5)
    assert describe(res).startswith("+0.100 [+0.100, +0.100], n=5 (bootstrap): holds")


def test_interval_result_against_a_reference():
    r = interval_result(0.75, 0.66, 0.84, n=40, method="DeLong", reference=0.6)
    assert r["outcome"] == "holds" and r["diff"] == pytest.approx(0.15) and r["ci_low"] == pytest.approx(0.06)
    assert interval_result(0.62, 0.5, 0.74, n=40, method="DeLong", reference=0.6)["outcome"] == "inconclusive"
    assert interval_result(-1.0, -1.5, -0.2, n=3, method="credibility")["outcome"] == "fails"
