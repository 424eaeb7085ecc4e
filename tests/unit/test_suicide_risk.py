"""suicide_risk helpers: psychiatric items, the code-defined cohort and outcome (simulated and
MIMIC-style timelines), the ICD-block Laplacian, the per-class threshold rule, the F-scores and the
factor matching."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from precmed_utils.formats import data as registry
from precmed_utils.formats import ehr as E
from precmed_utils.studies import suicide_risk as sr


@pytest.mark.parametrize("code,item", [
    ("D:29620", "dx:296"), ("D:311", "dx:311"), ("D:3051", "dx:305"), ("D:2900", "dx:290"),
    ("D:3199", "dx:319"), ("D:320", None), ("D:V6284", None), ("D:E9500", None), ("D:78052", None),
    ("M:sertraline", "rx:ssri_snri"), ("M:Quetiapine Fumarate", "rx:antipsychotic"),
    ("M:*NF* Lithium Carbonate", "rx:mood_stabiliser"), ("M:methadone hcl", "rx:opioid_dependence"),
    ("M:thiamine", None), ("M:metoprolol", None), ("P:9425", None),
])
def test_psychiatric_item(code, item):
    assert sr.psychiatric_item(code) == item


@pytest.mark.parametrize("code,group", [
    ("D:29620", "D:296"), ("D:29630", "D:296"), ("D:E9503", "D:E950"), ("P:3722", "P:37"),
    ("M:metoprolol tartrate", "M:metoprolol"), ("M:albuterol 0.083% neb soln", "M:albuterol"),
    ("M:hydromorphone (dilaudid)", "M:hydromorphone"),
])
def test_code_group(code, group):
    assert sr.code_group(code) == group


def test_laplacian_equals_spread_around_group_means():
    codes = ["D:4019", "D:4011", "D:4010", "D:25000", "M:metoprolol", "M:metoprolol tartrate", "P:3722"]
    L = sr.smoothness_laplacian(codes).toarray()
    assert np.allclose(L, L.T) and np.allclose(L.sum(1), 0)
    assert np.linalg.eigvalsh(L).min() > -1e-12  # positive semi-definite
    rng = np.random.default_rng(0)
    W = rng.normal(size=(len(codes), 4))
    groups = [[0, 1, 2], [4, 5]]
    spread = sum(((W[g] - W[g].mean(0)) ** 2).sum() for g in groups)
    assert np.trace(W.T @ L @ W) == pytest.approx(spread)
    # the same as the pairwise form with weight 1/m per pair
    pairs = sum(((W[i] - W[j]) ** 2).sum() / len(g) for g in groups for i in g for j in g if i < j)
    assert spread == pytest.approx(pairs)
    # singletons (D:25000, P:3722) are free
    assert np.allclose(L[3], 0) and np.allclose(L[6], 0)


def test_laplacian_without_groups():
    assert sr.smoothness_laplacian(["D:4019", "P:3722"]).nnz == 0


def test_thresholds_and_rule():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    s_mod = np.array([0.1, 0.2, 0.1, 0.3, 0.6, 0.7, 0.2, 0.3])
    s_high = np.array([0.0, 0.1, 0.0, 0.1, 0.2, 0.1, 0.8, 0.9])
    t_mod, t_high = sr.fit_thresholds(y, s_mod, s_high)
    pred = sr.apply_thresholds(s_mod, s_high, t_mod, t_high)
    assert (pred == y).all()
    assert t_high == pytest.approx(0.8) and t_mod == pytest.approx(0.6)
    # an absent class is never predicted
    t_mod, t_high = sr.fit_thresholds(np.array([0, 0, 1, 1]), [0.1, 0.2, 0.8, 0.9], [0.1, 0.1, 0.2, 0.3])
    assert np.isinf(t_high)
    assert (sr.apply_thresholds([0.1, 0.9], [0.9, 0.9], t_mod, t_high) == [0, 1]).all()


def test_best_threshold_maximises_f():
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.1
    s = y * 0.5 + rng.random(300)
    t = sr._best_threshold(y, s)
    best = max(f1_score(y, s >= c) for c in np.unique(s))
    assert f1_score(y, s >= t) == pytest.approx(best)


def test_level_f_scores():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 0, 2, 0])
    f = sr.level_f_scores(y, p)
    assert f["f_moderate"] == pytest.approx(f1_score(y == 1, p == 1))
    assert f["f_high"] == pytest.approx(f1_score(y == 2, p == 2))
    assert f["f_macro"] == pytest.approx(f1_score(y, p, average="macro"))
    g = sr.level_f_scores(np.array([0, 0, 1]), np.array([0, 2, 1]))
    assert np.isnan(g["f_high"]) and g["f_macro"] == pytest.approx(1.0 * 0.5 + 0.5 * 2 / 3)


def test_best_matching_units():
    rng = np.random.default_rng(0)
    theta = rng.dirichlet([0.5] * 3, 500)
    H = np.c_[rng.random(500), -theta[:, 1], theta[:, 0] + 0.01 * rng.random(500), np.ones(500)]
    bm = sr.best_matching_units(H, theta, ["a", "b", "c"])
    assert bm.loc["a", "unit"] == 2 and bm.loc["a", "r"] > 0.99
    assert bm.loc["b", "unit"] == 1 and bm.loc["b", "r"] < -0.99
    assert np.isfinite(sr.factor_correlations(H, theta)).all()  # a constant unit correlates 0


def _ehr(rows, split_day=None):
    """A tiny EHR from (patient, day, code) rows."""
    codes = sorted({c for *_, c in rows})
    vocab = E._vocab_frame(codes, {})
    cid = {c: i for i, c in enumerate(codes)}
    ev = pd.DataFrame({"patient_id": [p for p, *_ in rows], "day": [d for _, d, _ in rows],
                       "code": [cid[c] for *_, c in rows]})
    ev = ev.sort_values(["patient_id", "day"]).reset_index(drop=True)
    ev["visit"] = pd.factorize(ev["patient_id"] * 100000 + ev["day"])[0]
    n = ev["patient_id"].max() + 1
    pats = pd.DataFrame({"subject": range(n), "sex": "U", "age": np.nan})
    return E.EHR(patients=pats, events=ev[["patient_id", "day", "visit", "code"]], vocab=vocab,
                 source="mimic3" if split_day is None else "simulated", split_day=split_day)


ROWS = [
    # patient 0: three items by day 10 (296, 300, an SSRI), self-harm on day 40
    (0, 0, "D:29620"), (0, 0, "D:4019"), (0, 10, "D:30000"), (0, 10, "M:sertraline"), (0, 40, "D:E9500"),
    # patient 1: three items by day 5 (the two 296 codes are one item), ideation on day 20
    (1, 0, "D:29620"), (1, 0, "D:29630"), (1, 5, "M:lorazepam"), (1, 5, "M:quetiapine"), (1, 20, "D:V6284"),
    # patient 2: two items only
    (2, 0, "D:311"), (2, 3, "M:sertraline"), (2, 50, "D:E9500"),
    # patient 3: three items, self-harm after the horizon; ideation and self-harm -> high for 4
    (3, 0, "D:311"), (3, 0, "D:3039"), (3, 0, "M:lithium"), (3, 200, "D:E9503"),
    (4, 0, "D:311"), (4, 0, "D:3039"), (4, 0, "M:lithium"), (4, 30, "D:V6284"), (4, 31, "D:E956"),
]


def test_cohort_on_a_mimic_style_timeline():
    coh = sr.assessment_cohort(_ehr(ROWS), min_items=3, horizon_days=90)
    assert list(coh.index) == [0, 1, 3, 4]
    assert coh.loc[0, "obs_end"] == 11 and coh.loc[1, "obs_end"] == 6 and coh.loc[3, "obs_end"] == 1
    assert coh["level"].to_dict() == {0: 2, 1: 1, 3: 0, 4: 2}
    assert coh.loc[3, "followed"] and coh["n_items"].to_dict() == {0: 3, 1: 3, 3: 3, 4: 3}


def test_cohort_with_a_split_day():
    coh = sr.assessment_cohort(_ehr(ROWS, split_day=8), min_items=3, horizon_days=90)
    # by day 8 only patients 1, 3 and 4 have three items; patient 1's ideation (day 20) counts
    assert list(coh.index) == [1, 3, 4]
    assert (coh["obs_end"] == 8).all()
    assert coh["level"].to_dict() == {1: 1, 3: 0, 4: 2}
    assert sr.assessment_cohort(_ehr(ROWS, split_day=8), min_items=9).empty


def test_simulated_cohort_agrees_with_the_truth():
    ehr, _ = registry.load("ehr_simulated", n_patients=3000, seed=3)
    coh = sr.assessment_cohort(ehr, min_items=3, horizon_days=ehr.horizon_days)
    truth = ehr.truth.suicide
    ours = np.isin(np.arange(ehr.n_patients), coh.index)
    assert (ours == truth["cohort"].to_numpy()).mean() > 0.9
    both = coh.index[truth["cohort"].to_numpy()[coh.index]]
    # within the planted cohort, the code-defined outcome is the planted level
    assert (coh.loc[both, "level"].to_numpy() == truth.loc[both, "level"].to_numpy()).all()
