"""The EHR layer: ICD-9 helpers, the MIMIC-III reader (demo tables, quirks, malformed files) and the
cohort simulator (reproducible, planted effects recoverable)."""

import gzip

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from precmed_utils.errors import DataError
from precmed_utils.formats import data as registry
from precmed_utils.formats import ehr


@pytest.mark.parametrize("code,chapter", [
    ("D:4280", "circulatory"), ("0389", "infectious"), ("D:V6284", "supplementary (V)"),
    ("D:E9500", "external causes (E)"), ("D:29620", "mental"), ("D:7823", "symptoms/ill-defined"),
    ("D:1749", "neoplasms"), ("D:", "unknown"), ("D:X12", "unknown"),
])
def test_icd9_chapter(code, chapter):
    assert ehr.icd9_chapter(code) == chapter


def test_icd9_block():
    assert ehr.icd9_block("D:42832") == "428"
    assert ehr.icd9_block("D:E9503") == "E950"
    assert ehr.icd9_block("V1582") == "V15"


@pytest.fixture(scope="module")
def demo():
    return registry.load("mimic3_demo")[0]


def test_reads_the_demo_tables(demo):
    assert demo.n_patients == 100
    assert demo.events["visit"].nunique() >= 129  # admissions (+ prescriptions outside one)
    kinds = demo.vocab["kind"].to_numpy()[demo.events["code"].to_numpy()]
    assert (kinds == "diagnosis").sum() == 1761
    assert (kinds == "procedure").sum() == 506
    assert (kinds == "medication").sum() == 10398
    codes = set(demo.vocab["code"])
    assert "D:0389" in codes and "D:389" not in codes  # leading zeros kept
    assert len(demo.code_ids("D:428*")) > 0
    assert demo.first_day(demo.code_ids("D:428*")).notna().sum() == 35  # PAPERS/data README: 35 patients
    assert demo.patients["age"].max() <= 90 and demo.patients["sex"].isin(["F", "M"]).all()
    # the 8 demo patients over 89 (births shifted 300 years back) are 90, not a negative overflow
    assert demo.patients["age"].min() >= 0 and (demo.patients["age"] == 90).sum() == 8
    assert (demo.events["day"] >= 0).all()
    assert demo.vocab.set_index("code").at["D:4280", "title"].startswith("CHF")


def _write(folder, name, header, rows, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    text = header + "\n" + "".join(r + "\n" for r in rows)
    if gz:
        with gzip.open(folder / f"{name}.csv.gz", "wt") as fh:
            fh.write(text)
    else:
        (folder / f"{name}.csv").write_text(text)


def _mini(folder, *, lower=False, adm_rows=None, dx_rows=None):
    adm = "ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME"
    dx = "ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE"
    rx = "ROW_ID,SUBJECT_ID,HADM_ID,STARTDATE,DRUG"
    if lower:
        adm, dx, rx = adm.lower(), dx.lower(), rx.lower()
    name = str.lower if lower else str.upper
    _write(folder, name("ADMISSIONS"), adm, adm_rows or [
        "1,7,100,2150-01-01 10:00:00", "2,7,101,2151-01-01 08:00:00", "3,8,102,2120-05-05 00:00:00"])
    _write(folder, name("DIAGNOSES_ICD"), dx, dx_rows or [
        "1,7,100,1,4019", "2,7,101,1,4280", "3,8,102,1,0389", "4,8,102,2,", "5,8,999,1,5990"], gz=lower)
    _write(folder, name("PRESCRIPTIONS"), rx, ["1,7,100,2150-01-02 00:00:00,Furosemide",
                                               "2,8,102,,Heparin  Sodium"])
    return folder


@pytest.mark.parametrize("lower", [False, True])
def test_reader_handles_case_gzip_and_quirks(tmp_path, lower):
    e = ehr.read_mimic3(_mini(tmp_path / "m", lower=lower))
    assert e.n_patients == 2 and e.source == "mimic3" and e.truth is None
    codes = set(e.vocab["code"])
    assert {"D:4019", "D:4280", "D:0389", "M:furosemide", "M:heparin sodium"} <= codes
    assert any("without a code" in n for n in e.notes)
    assert any("no admission" in n for n in e.notes)
    assert any("without STARTDATE" in n for n in e.notes)
    hf = e.first_day(e.code_ids(["D:4280"]))
    assert hf.iloc[0] == 365 and np.isnan(hf.iloc[1])  # a year after the first admission
    m = e.code_matrix([0, 1], 0, 365)
    assert m.shape == (2, e.n_codes)
    assert m[0, e.code_ids(["D:4019"])[0]] == 1 and m[0, e.code_ids(["D:4280"])[0]] == 0
    assert e.code_matrix([], np.array([]), np.array([])).shape == (0, e.n_codes)
    assert e.code_matrix([], code_ids=[0, 1]).shape == (0, 2)


@pytest.mark.parametrize("adm_rows,dx_rows,expected", [
    (["1,7,100,2150-13-01 10:00:00"], None,
     "ADMISSIONS.csv, line 2: ADMITTIME '2150-13-01 10:00:00' is not a date"),
    (["1,7,100,2150-01-01", "2,x7,101,2150-01-02"], None, "ADMISSIONS.csv, line 3: SUBJECT_ID 'x7'"),
    (["1,7,100,2150-01-01", "2,7,100,2150-01-02"], None, "ADMISSIONS.csv, line 3: HADM_ID 100 appears twice"),
    (["1,7,100,2150-01-01,extra"], None, "ADMISSIONS.csv, line 2: 5 fields where the header has 4"),
    (["1,7,100,2150-01-01"], ["1,8,100,1,4019"], "DIAGNOSES_ICD.csv, line 2: HADM_ID 100 belongs to another"),
])
def test_malformed_tables_name_file_and_line(tmp_path, adm_rows, dx_rows, expected):
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        ehr.read_mimic3(_mini(tmp_path / "m", adm_rows=adm_rows, dx_rows=dx_rows))


def test_missing_tables_and_columns(tmp_path):
    with pytest.raises(DataError, match="expected a folder"):
        ehr.read_mimic3(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no ADMISSIONS or DIAGNOSES_ICD table"):
        ehr.read_mimic3(tmp_path / "empty")
    folder = _mini(tmp_path / "m")
    (folder / "DIAGNOSES_ICD.csv").write_text("ROW_ID,SUBJECT_ID,HADM_ID,CODE\n1,7,100,4019\n")
    with pytest.raises(DataError, match=r"DIAGNOSES_ICD.csv, line 1: missing column\(s\) ICD9_CODE"):
        ehr.read_mimic3(folder)


@pytest.fixture(scope="module")
def cohort():
    return registry.load("ehr_simulated", n_patients=40000, seed=3)[0]


def test_simulator_is_reproducible():
    a = ehr.simulate_cohort(500, seed=7)
    b = ehr.simulate_cohort(500, seed=7)
    c = ehr.simulate_cohort(500, seed=8)
    pd.testing.assert_frame_equal(a.events, b.events)
    np.testing.assert_array_equal(a.truth.hf["probability"], b.truth.hf["probability"])
    assert not a.events.equals(c.events)


def test_simulator_refuses_bad_sizes():
    with pytest.raises(ValueError, match="n_patients"):
        ehr.simulate_cohort(5)
    with pytest.raises(ValueError, match="split_year"):
        ehr.simulate_cohort(100, split_year=4.5, years=5)


def test_outcomes_are_defined_by_codes(cohort):
    t = cohort.truth
    first_hf = cohort.first_day(cohort.code_ids("D:428*")).to_numpy()
    np.testing.assert_array_equal(np.isnan(first_hf), ~t.hf["case"].to_numpy())
    np.testing.assert_array_equal(first_hf[t.hf["case"]], t.hf["onset_day"][t.hf["case"]])
    assert 0.04 < t.hf["case"].mean() < 0.06  # hf_incidence 0.05
    s = t.suicide[t.suicide["cohort"]]
    assert 0.02 < (s["level"] == 2).mean() < 0.045 and 0.06 < (s["level"] == 1).mean() < 0.10
    after = cohort.code_matrix(np.arange(cohort.n_patients), cohort.split_day,
                               cohort.split_day + cohort.horizon_days)
    high = np.asarray(after[:, cohort.code_ids("D:E95*")].sum(1)).ravel() > 0
    np.testing.assert_array_equal(high, (t.suicide["level"] == 2).to_numpy())
    # new diagnoses: only patients without the disease before split_day, and only the planted ones
    el = ~np.isnan(t.new_dx_probability)
    assert not t.new_dx[~el].any()
    assert 0.02 < t.new_dx[el].mean() < 0.04


def test_planted_heart_failure_effects_are_recoverable(cohort):
    t = cohort.truth
    groups = list(t.hf_effects.index)
    gi = {g: i for i, g in enumerate(t.groups["group"])}
    pres = np.zeros((cohort.n_patients, len(groups)))
    X = cohort.code_matrix(np.arange(cohort.n_patients), 0, cohort.split_day)
    member = t.code_group
    for j, g in enumerate(groups):
        pres[:, j] = np.asarray(X[:, np.flatnonzero(member == gi[g])].sum(1)).ravel() > 0
    age = (cohort.patients["age"].to_numpy() - 65) / 10
    inter = pres[:, groups.index("hypertension")] * pres[:, groups.index("diabetes")]
    lr = LogisticRegression(C=100.0, max_iter=2000).fit(np.c_[pres, inter, age], t.hf["case"])
    coef = pd.Series(lr.coef_[0][:len(groups)], index=groups)
    assert np.sign(coef).equals(np.sign(t.hf_effects)), coef.round(2).to_dict()
    assert np.abs(coef - t.hf_effects).max() < 0.35, (coef - t.hf_effects).round(2).to_dict()
    assert abs(lr.coef_[0][-1] - ehr.HF_AGE_PER_DECADE) < 0.15
    # and the true probability is the best score: a model fitted on the same data does not beat it
    assert roc_auc_score(t.hf["case"], t.hf["probability"]) >= \
        roc_auc_score(t.hf["case"], lr.decision_function(np.c_[pres, inter, age])) - 0.01


def test_interchangeable_codes_depend_on_the_clinic(cohort):
    """Which synonym of a group a record shows depends on the site: the same concept, other codes."""
    t = cohort.truth
    ids = cohort.code_ids(["M:atorvastatin", "M:simvastatin", "M:pravastatin", "M:rosuvastatin"])
    ev = cohort.events[np.isin(cohort.events["code"], ids)]
    share = pd.crosstab(t.site[ev["patient_id"]], ev["code"], normalize="index")
    assert share.shape[0] == 4
    assert (share.max() - share.min()).max() > 0.2  # clinics differ strongly in their preferred statin
    assert (t.code_group[ids] == t.code_group[ids[0]]).all()


def test_psychiatric_factors_drive_self_harm(cohort):
    t = cohort.truth
    s = t.suicide[t.suicide["cohort"]]
    names = t.phenotypes
    dep = t.theta[t.suicide["cohort"].to_numpy(), names.index("depression")]
    assert roc_auc_score(s["level"] == 2, dep) > 0.6
    assert roc_auc_score(s["level"] == 2, s["p_high"]) > 0.75
    probs = s[["p_low", "p_moderate", "p_high"]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0)


def test_new_diagnoses_follow_the_phenotypes(cohort):
    t = cohort.truth
    aucs = []
    for d in range(len(t.diseases)):
        el = ~np.isnan(t.new_dx_probability[:, d])
        aucs.append(roc_auc_score(t.new_dx[el, d], t.new_dx_probability[el, d]))
    assert np.mean(aucs) > 0.65
    home = t.disease_drivers["home"].iloc[0]
    el = ~np.isnan(t.new_dx_probability[:, 0])
    assert roc_auc_score(t.new_dx[el, 0], t.theta[el, t.phenotypes.index(home)]) > 0.6


def test_probe_r2_recovers_a_linear_factor_and_not_noise():
    """A factor that is a linear function of the representation is recovered (R^2 near 1 on the
    test rows); one independent of it is not (R^2 near 0 or below)."""
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(600, 20))
    linear = Z @ rng.normal(size=20) + 0.05 * rng.normal(size=600)
    noise = rng.normal(size=600)
    r2 = ehr.probe_r2(Z[:400], np.c_[linear, noise][:400], Z[400:], np.c_[linear, noise][400:])
    assert r2.shape == (2,)
    assert r2[0] > 0.95
    assert r2[1] < 0.1
