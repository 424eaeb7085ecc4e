"""DeLong AUC and the corrected repeated-split interval (precmed_utils.metrics)."""

import numpy as np
import pytest
from scipy.stats import norm
from scipy.stats import t as student_t
from sklearn.metrics import roc_auc_score

from precmed_utils.metrics import corrected_split_ci, delong_auc


def _delong_by_hand(y, s):
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(1), psi.mean(0)
    return psi.mean(), v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


@pytest.mark.parametrize("ties", [False, True])
def test_delong_matches_sklearn_and_the_definition(ties):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 40)
    s = y * 0.8 + rng.normal(size=40)
    if ties:
        s = np.round(s)  # many ties between and within the classes
    out = delong_auc(y, s)
    auc, var = _delong_by_hand(y, s)
    assert out["auc"] == pytest.approx(roc_auc_score(y, s))
    assert out["auc"] == pytest.approx(auc)
    assert out["se"] == pytest.approx(np.sqrt(var))
    z = norm.ppf(0.975)
    assert out["ci_low"] == pytest.approx(max(0, auc - z * np.sqrt(var)))
    assert out["ci_high"] == pytest.approx(min(1, auc + z * np.sqrt(var)))


def test_delong_hand_computed_and_edge_cases():
    # positives 3, 2; negatives 1, 2: placements 1, 0.75 -> AUC 0.875
    out = delong_auc([1, 1, 0, 0], [3, 2, 1, 2])
    assert out["auc"] == pytest.approx(0.875)
    # v10 = [1, 0.75] (var 0.03125), v01 = [1, 0.75] (var 0.03125): var = 0.03125
    assert out["se"] == pytest.approx(np.sqrt(0.03125))
    perfect = delong_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect["auc"] == 1.0 and perfect["se"] == 0.0 and perfect["ci_high"] == 1.0
    with pytest.raises(ValueError, match="positive and one negative"):
        delong_auc([1, 1], [0.2, 0.3])


def test_corrected_split_ci_by_hand():
    vals = [0.7, 0.8, 0.9]
    out = corrected_split_ci(vals, test_fraction=0.2)
    half = student_t.ppf(0.975, 2) * 0.1 * np.sqrt(1 / 3 + 0.2 / 0.8)
    assert out["mean"] == pytest.approx(0.8) and out["sd"] == pytest.approx(0.1)
    assert out["ci_low"] == pytest.approx(0.8 - half) and out["ci_high"] == pytest.approx(0.8 + half)
    assert out["n"] == 3
    # wider than the naive interval of the mean, which ignores the overlap of the splits
    assert half > student_t.ppf(0.975, 2) * 0.1 / np.sqrt(3)
    clipped = corrected_split_ci([0.9, 1.0, 1.0], test_fraction=0.2, bounds=(0, 1))
    assert clipped["ci_high"] == 1.0 and clipped["ci_low"] < clipped["mean"]
    one = corrected_split_ci([0.75], test_fraction=0.2)
    assert one["mean"] == 0.75 and np.isnan(one["ci_low"])
