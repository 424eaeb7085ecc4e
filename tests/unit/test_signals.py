import numpy as np
import pandas as pd
import pytest
from scipy import stats

from precmed_utils.studies import signals as sg


def test_bcpnn_matches_the_beta_posterior_by_simulation():
    """IC = log2 p11 - log2 p1. - log2 p.1 with independent Beta posteriors (Bate et al. 1998):
    the closed-form mean and variance must match a Monte Carlo of those Betas."""
    n11, n1, n_1, N = 7.0, 40.0, 55.0, 2000.0
    out = sg.bcpnn_1998(n11, n1, n_1, N)
    p1, p2, q1, q2 = 1 + n1, 1 + N - n1, 1 + n_1, 1 + N - n_1
    r1, r2 = 1 + n11, N - n11 - 1 + (2 + N) ** 2 / (p1 * q1)
    rng = np.random.default_rng(0)
    m = 400_000
    ic = (np.log2(rng.beta(r1, r2, m)) - np.log2(rng.beta(p1, p2, m)) - np.log2(rng.beta(q1, q2, m)))
    assert out["ic"] == pytest.approx(ic.mean(), abs=0.005)
    assert out["ic_var"] == pytest.approx(ic.var(), rel=0.02)
    assert out["ic_lower"] == pytest.approx(out["ic"] - 1.959964 * np.sqrt(out["ic_var"]), abs=1e-6)


def test_bcpnn_tends_to_the_observed_ratio_and_shrinks_small_counts():
    big = sg.bcpnn_1998(4000, 20_000, 50_000, 1_000_000)
    assert big["ic"] == pytest.approx(np.log2(4000 * 1_000_000 / (20_000 * 50_000)), abs=0.01)
    small = sg.bcpnn_1998(1, 2, 2, 1000)  # observed ratio 250: IC shrunk far below log2(250)
    assert small["ic"] < np.log2(250) - 3 and small["ic_lower"] < 0


def test_bcpnn_agrees_with_vigipy():
    vigipy = pytest.importorskip("vigipy")
    rng = np.random.default_rng(1)
    rows = [(f"d{i}", f"e{j}", int(rng.poisson(3 + 10 * (i == j)))) for i in range(6) for j in range(8)]
    df = pd.DataFrame(rows, columns=["name", "AE", "count"])
    df = df[df["count"] > 0]
    res = vigipy.bcpnn(vigipy.convert(df), min_events=1, decision_metric="rank",
                       decision_thres=1e9, ranking_statistic="quantile").all_signals
    table = df.pivot(index="AE", columns="name", values="count").fillna(0)
    ours = sg.all_measures(sg.counts_from_table(table)).set_index(["drug", "event"])
    key = [c for c in res.columns if "quantile" in c.lower() or "lower" in c.lower()][0]
    merged = res.set_index(["Product", "Adverse Event"])[key]
    diff = [abs(ours.loc[(d, e), "ic_lower"] - v) for (d, e), v in merged.items()]
    assert len(diff) == len(df) and max(diff) < 1e-8


def test_shrinkage_ic_by_hand():
    out = sg.ic_shrinkage([3, 0], [1, 0])
    assert out["ic"][0] == pytest.approx(np.log2(3.5 / 1.5))
    assert out["ic"][1] == 0.0
    # a Gamma(k, rate t) quantile equals chi2(2k) quantile / (2t)
    assert out["ic025"][0] == pytest.approx(np.log2(stats.chi2.ppf(0.025, 7) / 3))
    assert out["ic975"][0] == pytest.approx(np.log2(stats.chi2.ppf(0.975, 7) / 3))


def test_prr_and_ror_by_hand():
    # a = 10 (drug & event), b = 90 (drug, other events), c = 40, d = 860: N = 1000
    p = sg.prr(10, 100, 50, 1000)
    assert p["prr"] == pytest.approx((10 / 100) / (40 / 900))
    chi2 = stats.chi2_contingency([[10, 90], [40, 860]], correction=True)[0]
    assert p["chi2"] == pytest.approx(chi2)
    assert bool(p["signal"])  # PRR 2.25, chi2 ~ 6.5, n = 10
    r = sg.ror(10, 100, 50, 1000)
    assert r["ror"] == pytest.approx(10 * 860 / (90 * 40))
    se = np.sqrt(1 / 10 + 1 / 90 + 1 / 40 + 1 / 860)
    assert r["ror_lower"] == pytest.approx(10 * 860 / (90 * 40) * np.exp(-1.959964 * se), rel=1e-6)
    z = sg.ror(0, 10, 10, 100)  # an empty cell: Haldane's 0.5
    assert z["ror"] == pytest.approx(0.5 * 80.5 / (10.5 * 10.5))


def test_report_level_counting_and_stratified_expectation():
    # report 1: drugs A, B (A listed twice); events x, y.  report 2: A; x.  report 3: B; y.
    rows = [(1, "A", "x"), (1, "A", "y"), (1, "B", "x"), (1, "B", "y"), (1, "A", "x"),
            (2, "A", "x"), (3, "B", "y")]
    r, ids = sg.reports_from_rows(*zip(*rows, strict=True), strata=["F", "F", "F", "F", "F", "M", "M"])
    assert list(ids) == [1, 2, 3] and r.n_reports == 3
    c = sg.count_pairs(r)
    f = c.frame().set_index(["drug", "event"])
    assert f.loc[("A", "x"), "n11"] == 2 and f.loc[("A", "y"), "n11"] == 1
    assert f.loc[("B", "y"), "n11"] == 2 and f.loc[("A", "x"), "n1."] == 2 and c.N == 3
    assert f.loc[("A", "x"), "E"] == pytest.approx(2 * 2 / 3)
    s = sg.count_pairs(r, stratified=True).frame().set_index(["drug", "event"])
    # stratum F: report 1 only (A, B, x, y): 1*1/1; stratum M: reports 2, 3: A 1, x 1 -> 1*1/2
    assert s.loc[("A", "x"), "E"] == pytest.approx(1.0 + 0.5)
    sub = sg.count_pairs(r.subset(slice(0, 1))).frame()
    assert len(sub) == 4 and sub["n11"].eq(1).all()


def test_counts_from_table_excludes_aggregates_but_keeps_their_margins():
    t = pd.DataFrame({"A": [5, 1], "Other": [10, 100]}, index=["ev", "Other AEs"])
    c = sg.counts_from_table(t, exclude=("Other", "Other AEs"))
    assert list(c.frame()["drug"]) == ["A"] and c.N == 116
    assert c.n1_[0] == 6 and c.n_1[0] == 15 and c.E[0] == pytest.approx(6 * 15 / 116)


def test_ebgm_quantile_and_limits():
    prior = (0.2, 0.1, 2.0, 4.0, 1 / 3)
    g = sg.ebgm([3, 500], [1.0, 100.0], prior)
    assert g["ebgm"][1] == pytest.approx(5.0, rel=0.02)  # data dominate: n / E
    assert (g["eb05"] < g["ebgm"]).all()
    # the mixture posterior's CDF at EB05 is 0.05 (checked with scipy's gamma distribution)
    n, e = 3, 1.0
    a1, b1, a2, b2, p = prior
    w1 = p * stats.nbinom.pmf(n, a1, b1 / (b1 + e))
    w2 = (1 - p) * stats.nbinom.pmf(n, a2, b2 / (b2 + e))
    q = w1 / (w1 + w2)
    x = g["eb05"][0]
    cdf = (q * stats.gamma.cdf(x, a1 + n, scale=1 / (b1 + e))
           + (1 - q) * stats.gamma.cdf(x, a2 + n, scale=1 / (b2 + e)))
    assert cdf == pytest.approx(0.05, abs=1e-6)


def test_gps_prior_fit_improves_the_likelihood():
    rng = np.random.default_rng(3)
    E = rng.gamma(2.0, 1.0, 3000)
    lam = np.where(rng.random(3000) < 0.9, rng.gamma(20, 1 / 20, 3000), rng.gamma(3, 1 / 1, 3000))
    n = rng.poisson(lam * E)
    fitted = sg.fit_gps_prior(n, E)
    assert 0 < fitted[4] < 1
    g = sg.ebgm(n, E, fitted)
    truth_high = lam > 2.5
    # EBGM ranks the truly elevated pairs above the others far better than chance
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(truth_high, g["ebgm"]) > 0.8


def test_simulated_stream_plants_its_signals_and_is_reproducible():
    sig = [(2, 4, 3.0, 3), (5, 1, 2.0, 6)]
    r, period, truth = sg.simulate_reports(20_000, 30, 40, n_periods=10, signals=sig, seed=5)
    r2, _, truth2 = sg.simulate_reports(20_000, 30, 40, n_periods=10, signals=sig, seed=5)
    assert (r.drugs != r2.drugs).nnz == 0 and truth.equals(truth2)
    assert list(np.bincount(period)) == [2000] * 10
    assert truth["realised_rr"].iloc[0] == pytest.approx(3.0, rel=0.35)
    assert truth["realised_rr"].iloc[1] == pytest.approx(2.0, rel=0.35)
    assert (r.drugs.sum(axis=1) >= 1).all() and (r.events.sum(axis=1) >= 1).all()
    # independent pairs: BCPNN flags few of them on the full data
    m = sg.all_measures(sg.count_pairs(r))
    planted = set(zip(truth.drug_name, truth.event_name, strict=True))
    null = ~pd.Series(list(zip(m.drug, m.event, strict=True))).isin(planted).to_numpy()
    assert m.loc[null, "signal_bcpnn"].mean() < 0.05


def test_time_scan_is_cumulative():
    r, period, _ = sg.simulate_reports(3000, 10, 12, n_periods=3, seed=2)
    ts = sg.time_scan(r, period)
    assert sorted(ts.period.unique()) == [0, 1, 2]
    assert (ts.groupby("period")["N"].first().to_numpy() == [1000, 2000, 3000]).all()
    pair = ts.groupby(["drug", "event"])["n11"].apply(lambda s: s.is_monotonic_increasing)
    assert pair.all()
