"""Deep Patient's protocol helpers: new-diagnosis labels from codes, disease selection, the patient
split, [0, 1] scaling of sparse counts and the thresholded scores, on tiny hand-made EHRs."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.preprocessing import MinMaxScaler

from precmed_utils.formats.ehr import EHR, _vocab_frame, simulate_cohort
from precmed_utils.studies import deep_patient as dp


def _ehr(rows, codes=("D:25000", "D:25002", "D:4019", "M:aspirin"), n=4):
    """rows: (patient, day, code string)."""
    codes = list(codes)
    ev = pd.DataFrame(rows, columns=["patient_id", "day", "code"])
    ev["code"] = ev["code"].map({c: i for i, c in enumerate(codes)})
    ev["visit"] = pd.factorize(ev.patient_id * 100000 + ev.day)[0]
    ev = ev.sort_values(["patient_id", "day", "code"]).reset_index(drop=True)
    ev = ev[["patient_id", "day", "visit", "code"]]
    pts = pd.DataFrame({"subject": range(n), "sex": ["F", "M", "U", "F"][:n],
                        "age": [50.0, np.nan, 70.0, 60.0][:n]})
    pts.index.name = "patient_id"
    return EHR(patients=pts, events=ev, vocab=_vocab_frame(codes, {}), source="mimic3")


@pytest.fixture
def toy():
    return _ehr([
        (0, 0, "D:4019"), (0, 120, "D:25000"),  # diabetes: new in the window [100, 200)
        (1, 10, "D:25002"), (1, 150, "D:25000"),  # diabetes before the split: not eligible
        (2, 5, "M:aspirin"), (2, 250, "D:25000"),  # diabetes after the window: eligible negative
        (3, 0, "M:aspirin"), (3, 100, "D:4019"),  # hypertension exactly on the split day: new
    ])


def test_candidate_diseases_on_real_data_are_three_digit_categories(toy):
    d = dp.candidate_diseases(toy)
    assert d.names == ["250", "401"]
    assert [len(c) for c in d.code_ids] == [2, 1]  # two diabetes codes merge in category 250
    assert d.source == "three-character diagnosis categories" and d.named == {}


def test_candidate_diseases_name_the_categories_of_table2_diseases():
    """A category that is exactly a Table 2 disease of phenotypes.yml carries its name (ICD-9 and
    ICD-10 alike); diabetes with complications (250.1-250.9) is part of category 250, which stays
    unnamed; the categories, their codes and their order are the rule's either way."""
    codes = ["D:1541", "D:1850", "D:25000", "D:25040", "D:2950", "D10:C20", "D10:C61", "D10:I509", "M:x"]
    e = _ehr([(0, 0, c) for c in codes], codes=codes, n=1)
    d = dp.candidate_diseases(e)
    assert d.names == ["154 (cancer of rectum and anus)", "185 (prostate cancer)", "250",
                       "295 (schizophrenia)", "D10:C20 (cancer of rectum and anus)",
                       "D10:C61 (prostate cancer)", "D10:I50"]
    assert d.named == {"154 (cancer of rectum and anus)": "cancer of rectum and anus",
                       "185 (prostate cancer)": "prostate cancer", "295 (schizophrenia)": "schizophrenia",
                       "D10:C20 (cancer of rectum and anus)": "cancer of rectum and anus",
                       "D10:C61 (prostate cancer)": "prostate cancer"}
    assert [len(c) for c in d.code_ids] == [1, 1, 2, 1, 1, 1, 1]
    # the names keep the categories' order, so selection ties break as before
    assert sorted(d.names) == d.names
    kept, _ = dp.select_diseases(d, np.ones((1, 7), bool), np.ones((1, 7), bool), [0], min_train_positives=1,
                                 max_diseases=2)
    assert kept.names == ["154 (cancer of rectum and anus)", "185 (prostate cancer)"]
    assert kept.named == {n: d.named[n] for n in kept.names}


def test_new_diagnosis_labels_count_only_new_codes_in_the_window(toy):
    d = dp.candidate_diseases(toy)
    eligible, label = dp.new_diagnosis_labels(toy, np.arange(4), d, split_day=100, window_days=100)
    np.testing.assert_array_equal(eligible, [[True, False], [False, True], [True, True], [True, True]])
    np.testing.assert_array_equal(label, [[True, False], [False, False], [False, False], [False, True]])
    # rows follow the order of the ids asked for
    e2, l2 = dp.new_diagnosis_labels(toy, np.array([3, 0]), d, 100, 100)
    np.testing.assert_array_equal(l2, label[[3, 0]])


def test_select_diseases_applies_the_minimum_and_the_cap():
    d = dp.Diseases(["a", "b", "c"], [np.array([0]), np.array([1]), np.array([2])], "x")
    label = np.zeros((10, 3), bool)
    label[:5, 0] = True
    label[:3, 1] = True
    label[:1, 2] = True
    eligible = np.ones_like(label)
    kept, table = dp.select_diseases(d, eligible, label, np.arange(10), min_train_positives=2)
    assert kept.names == ["a", "b"] and table["kept"].tolist() == [True, True, False]
    kept, _ = dp.select_diseases(d, eligible, label, np.arange(10), min_train_positives=1, max_diseases=1)
    assert kept.names == ["a"]
    kept, _ = dp.select_diseases(d, eligible, label, np.arange(5, 10), min_train_positives=1)
    assert len(kept) == 0  # no positive among these training rows


def test_patient_split_is_disjoint_and_seeded():
    ids = np.arange(100, 200)
    tr, te = dp.patient_split(ids, 0.25, seed=3)
    assert len(te) == 25 and len(tr) == 75 and not set(tr) & set(te)
    assert set(tr) | set(te) == set(ids)
    np.testing.assert_array_equal(te, dp.patient_split(ids, 0.25, seed=3)[1])
    assert not np.array_equal(te, dp.patient_split(ids, 0.25, seed=4)[1])
    with pytest.raises(ValueError):
        dp.patient_split(ids, 1.0, 0)


def test_observation_cohort_and_followup(toy):
    np.testing.assert_array_equal(dp.observation_cohort(toy, 100), [0, 1, 2, 3])
    np.testing.assert_array_equal(dp.observation_cohort(toy, 5), [0, 3])  # 1 and 2 start on days 10 and 5
    np.testing.assert_array_equal(dp.observation_cohort(toy, 200, require_followup=True), [2])


def test_max_scaler_matches_minmaxscaler_on_counts():
    rng = np.random.default_rng(0)
    x = rng.poisson(0.7, (40, 6)).astype(float)
    x[:, 2] += 3  # a column without zeros: its minimum is above 0
    x[:, 4] = 0  # a constant column
    s = dp.MaxScaler().fit(sparse.csr_matrix(x[:30]))
    ours = s.transform(sparse.csr_matrix(x)).toarray()
    ref = np.clip(MinMaxScaler().fit(x[:30]).transform(x), 0, 1)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert sparse.issparse(s.transform(sparse.csr_matrix(x)))


def test_feature_matrix_adds_sex_and_age(toy):
    X, names = dp.feature_matrix(toy, np.array([0, 1, 2]), split_day=100)
    assert X.shape == (3, 4 + 2) and names[-2:] == ["demographic:female", "demographic:age"]
    x = X.toarray()
    # counts before day 100
    np.testing.assert_array_equal(x[:, :4], [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(x[:, 4], [1.0, 0.0, 0.5])  # F, M, unknown
    assert x[1, 5] == 60.0  # missing age: the median of the known ages


def test_threshold_scores_against_hand_computed_values():
    y = np.array([0, 0, 1, 1, 0])
    s = np.array([0.1, 0.7, 0.8, 0.3, 0.2])
    m = dp.threshold_scores(y, s, 0.6)
    assert m["auc"] == pytest.approx(5 / 6)
    assert m["accuracy"] == pytest.approx(3 / 5)  # predicted 1 for 0.7 and 0.8
    assert m["f_score"] == pytest.approx(0.5)  # precision 1/2, recall 1/2
    none = dp.threshold_scores(y, np.zeros(5), 0.6)
    assert none["f_score"] == 0.0 and none["accuracy"] == pytest.approx(0.6)
    assert np.isnan(dp.threshold_scores(np.zeros(3), np.ones(3))["auc"])  # one class: no AUC


def test_labels_from_codes_equal_the_simulators_planted_new_diagnoses():
    ehr = simulate_cohort(600, seed=1)
    d = dp.candidate_diseases(ehr)
    assert d.names == ehr.truth.diseases
    ids = np.arange(ehr.n_patients)
    eligible, label = dp.new_diagnosis_labels(ehr, ids, d, ehr.split_day, 365)
    np.testing.assert_array_equal(eligible, ~np.isnan(ehr.truth.new_dx_probability))
    np.testing.assert_array_equal(label, ehr.truth.new_dx)


def test_factor_outcomes_hit_the_prevalence_and_follow_their_factor():
    rng = np.random.default_rng(0)
    theta = rng.dirichlet(np.full(4, 0.3), 20000)
    y, p = dp.factor_outcomes(theta, strength=10.0, prevalence=0.2, seed=1)
    assert y.shape == p.shape == theta.shape
    np.testing.assert_allclose(p.mean(0), 0.2, atol=1e-6)
    assert abs(y.mean() - 0.2) < 0.01
    for k in range(4):  # the outcome rises with its own factor, not with another one
        assert np.corrcoef(theta[:, k], p[:, k])[0, 1] > 0.9
        assert y[theta[:, k] > 0.5, k].mean() > 0.5 > y[theta[:, k] < 0.01, k].mean()
    with pytest.raises(ValueError):
        dp.factor_outcomes(theta, prevalence=1.0)


def test_factor_recovery_scores_a_noisy_copy_high_and_noise_low():
    rng = np.random.default_rng(0)
    theta = rng.dirichlet(np.full(3, 0.5), 2000)
    mix = rng.normal(size=(3, 10))
    good = theta @ mix + 0.01 * rng.normal(size=(2000, 10))
    noise = rng.normal(size=(2000, 10))
    tr, te = slice(0, 1500), slice(1500, None)
    hi = dp.factor_recovery(good[tr], theta[tr], good[te], theta[te])
    lo = dp.factor_recovery(noise[tr], theta[tr], noise[te], theta[te])
    assert hi["r2"] > 0.95 and hi["corr"] > 0.95 and hi["factors"] == 3
    assert lo["r2"] < 0.05
    sp = dp.factor_recovery(sparse.csr_matrix(good[tr]), theta[tr], sparse.csr_matrix(good[te]), theta[te])
    assert sp["r2"] > 0.9


def test_scale_features_presence_and_minmax():
    x = sparse.csr_matrix(np.array([[0, 3, 1, 40], [2, 0, 0, 80], [1, 1, 0, 60]], float))
    pres = dp.scale_features(x, [0, 1], "presence", n_demographic=2).toarray()
    np.testing.assert_array_equal(pres[:, :2], [[0, 1], [1, 0], [1, 1]])
    np.testing.assert_allclose(pres[:, 2:], [[1, 0], [0, 1], [0, 0.5]])  # demographics: min-max on rows 0, 1
    mm = dp.scale_features(x, [0, 1], "minmax", n_demographic=2).toarray()
    np.testing.assert_allclose(mm[:, :2], [[0, 1], [1, 0], [0.5, 1 / 3]])
    with pytest.raises(ValueError):
        dp.scale_features(x, [0, 1], "log")


def test_phenotype_shares_by_hand_and_on_the_simulator():
    # codes 0, 1 -> group 0 (phenotype "a"); code 2 -> group 1 ("b"); code 3 background
    counts = sparse.csr_matrix(np.array([[2, 1, 1, 0], [0, 0, 0, 0], [0, 0, 3, 1]]))
    s = dp.phenotype_shares(counts, np.array([0, 0, 1, -1]), ["a", "b"], ["a", "b"])
    np.testing.assert_allclose(s, [[0.75, 0.25], [0, 0], [0, 0.75]])
    with pytest.raises(ValueError, match="code columns"):
        dp.phenotype_shares(counts[:, :3], np.array([0, 0, 1, -1]), ["a", "b"], ["a", "b"])
    ehr = simulate_cohort(n_patients=1500, seed=3)
    t = ehr.truth
    ids = np.arange(len(ehr.patients))
    x, _ = dp.feature_matrix(ehr, ids, ehr.split_day)
    shares = dp.phenotype_shares(x[:, :-2], t.code_group, t.groups["phenotype"], t.phenotypes[:-1])
    corr = [np.corrcoef(shares[:, k], t.theta[:, k])[0, 1] for k in range(shares.shape[1])]
    assert min(corr) > 0.6  # the observed share tracks the planted factor
