"""Disproportionality analysis for spontaneous-report databases (pharmacovigilance).

Counting is done at report level on sparse report x drug and report x event indicator matrices, so
a FAERS-sized database (tens of millions of reports) fits in memory: a report with several drugs
and events counts once toward every drug-event pair on it. Measures, each a plain function of the
counts, unit-tested against hand-computed values and an independent implementation:

- ``bcpnn_1998``: the Bayesian confidence propagation neural network's information component
  (Bate et al. 1998): posterior expectation and variance of IC = log2 p(x,y) / (p(x) p(y)) under
  Beta priors, and its 95% credibility interval (normal approximation); signal: lower bound > 0.
- ``ic_shrinkage``: the later shrinkage observed-to-expected IC (Noren et al. 2006, 2013):
  log2((n11 + 0.5) / (E + 0.5)) with IC025/IC975 from gamma quantiles. A different estimator.
- ``prr`` (with Yates' chi-square; Evans et al. 2001 rule), ``ror`` (95% CI; Haldane correction
  for empty cells), and ``ebgm`` (DuMouchel 1999 gamma-Poisson shrinker: EBGM and EB05).

Used by: adr_bcpnn (notebook and benchmarks/bcpnn_scale.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, sparse, special, stats

LN2 = np.log(2.0)
Z975 = stats.norm.ppf(0.975)


# ---------------------------------------------------------------------------------------------
# Counting


@dataclass
class Reports:
    """Binary report x drug and report x event matrices (CSR), with names and optional strata."""

    drugs: sparse.csr_matrix
    events: sparse.csr_matrix
    drug_names: np.ndarray
    event_names: np.ndarray
    strata: np.ndarray | None = None  # one integer code per report
    stratum_names: np.ndarray | None = None

    @property
    def n_reports(self) -> int:
        return self.drugs.shape[0]

    def subset(self, rows) -> Reports:
        """The reports at ``rows`` (e.g. those received up to a period, for a time scan)."""
        strata = None if self.strata is None else self.strata[rows]
        return Reports(self.drugs[rows], self.events[rows], self.drug_names, self.event_names,
                       strata, self.stratum_names)


def _indicator(rows: np.ndarray, cols: np.ndarray, shape) -> sparse.csr_matrix:
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1  # a report that lists a drug twice counts once
    return m


def reports_from_rows(report_ids, drugs, events, strata=None) -> tuple[Reports, np.ndarray]:
    """Build the indicator matrices from one row per (report, drug, event) (or cross-product rows).

    Returns the matrices and the report identifiers in matrix row order (first appearance).
    """
    rep_codes, rep_ids = pd.factorize(pd.Series(report_ids), sort=False)
    d_codes, d_names = pd.factorize(pd.Series(drugs), sort=True)
    e_codes, e_names = pd.factorize(pd.Series(events), sort=True)
    n = len(rep_ids)
    D = _indicator(rep_codes, d_codes, (n, len(d_names)))
    E = _indicator(rep_codes, e_codes, (n, len(e_names)))
    s_codes = s_names = None
    if strata is not None:
        first = pd.Series(np.asarray(strata)).groupby(rep_codes).first()
        s_codes, s_names = pd.factorize(first.sort_index(), sort=True)
        s_names = np.asarray(s_names)
    return Reports(D, E, np.asarray(d_names), np.asarray(e_names), s_codes, s_names), np.asarray(rep_ids)


@dataclass
class Counts:
    """Counts for every drug-event pair seen at least once (or every cell of a table)."""

    drug: np.ndarray  # drug index of each pair
    event: np.ndarray  # event index of each pair
    n11: np.ndarray  # reports (or table count) with both
    n1_: np.ndarray  # reports with the drug
    n_1: np.ndarray  # reports with the event
    N: float  # reports (or grand total of the table)
    E: np.ndarray  # expected n11 under independence (stratified if strata were given)
    drug_names: np.ndarray
    event_names: np.ndarray

    def select(self, mask) -> Counts:
        """The pairs where ``mask`` is true (margins, N and names unchanged)."""
        return Counts(self.drug[mask], self.event[mask], self.n11[mask], self.n1_[mask], self.n_1[mask],
                      self.N, self.E[mask], self.drug_names, self.event_names)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"drug": self.drug_names[self.drug], "event": self.event_names[self.event],
                             "n11": self.n11, "n1.": self.n1_, "n.1": self.n_1, "N": self.N,
                             "E": self.E})


def count_pairs(reports: Reports, stratified: bool = False) -> Counts:
    """Report-level counts of all pairs with n11 >= 1, by sparse products (vectorised)."""
    D, E = reports.drugs.astype(np.int64), reports.events.astype(np.int64)
    pair = (D.T @ E).tocoo()
    d, e, n11 = pair.row, pair.col, pair.data.astype(float)
    n1_ = np.asarray(D.sum(axis=0)).ravel().astype(float)
    n_1 = np.asarray(E.sum(axis=0)).ravel().astype(float)
    N = float(reports.n_reports)
    if stratified and reports.strata is not None:
        expected = np.zeros(len(n11))
        for s in range(len(reports.stratum_names)):
            rows = np.flatnonzero(reports.strata == s)
            Ns = len(rows)
            if Ns == 0:
                continue
            ds = np.asarray(D[rows].sum(axis=0)).ravel()
            es = np.asarray(E[rows].sum(axis=0)).ravel()
            expected += ds[d] * es[e] / Ns
    else:
        expected = n1_[d] * n_1[e] / N
    return Counts(d, e, n11, n1_[d], n_1[e], N, expected, reports.drug_names, reports.event_names)


def counts_from_table(table: pd.DataFrame, exclude: tuple[str, ...] = ()) -> Counts:
    """Counts from a wide event x drug table of pair counts (rows: events, columns: drugs).

    N is the grand total of the table, as for a database summarised into pair counts (the
    FAERS statin tables); margins include rows and columns named in ``exclude`` (aggregates such
    as 'Other'), whose own pairs are then left out.
    """
    M = table.to_numpy(dtype=float)
    n_1_all = M.sum(axis=1)  # per event
    n1_all = M.sum(axis=0)  # per drug
    N = float(M.sum())
    ev, dr = np.nonzero(np.ones_like(M, dtype=bool))
    keep = ~np.isin(table.index.to_numpy()[ev], exclude) & ~np.isin(table.columns.to_numpy()[dr], exclude)
    ev, dr = ev[keep], dr[keep]
    n11 = M[ev, dr]
    return Counts(dr, ev, n11, n1_all[dr], n_1_all[ev], N, n1_all[dr] * n_1_all[ev] / N,
                  table.columns.to_numpy(), table.index.to_numpy())


# ---------------------------------------------------------------------------------------------
# Measures


def bcpnn_1998(n11, n1_, n_1, N) -> dict[str, np.ndarray]:
    """BCPNN information component as in Bate et al. 1998 (posterior mean, variance, 95% interval).

    Priors: Beta(1, 1) for p(x) and p(y); for p(x,y) a Beta whose mean is p(x)p(y) under the prior
    (the paper's choice), giving p1 = 1 + n1., q1 = 1 + n.1, r1 = 1 + n11 and
    r2 = N - n11 - 1 + (2 + N)^2 / (p1 q1). IC's expectation and variance follow from the log
    moments of Beta variables (digamma and trigamma functions). Signal: lower bound > 0.
    """
    n11, n1_, n_1 = (np.asarray(a, dtype=float) for a in (n11, n1_, n_1))
    p1, p2 = 1 + n1_, 1 + N - n1_
    q1, q2 = 1 + n_1, 1 + N - n_1
    r1 = 1 + n11
    r2 = N - n11 - 1 + (2 + N) ** 2 / (q1 * p1)
    dg, tg = special.digamma, special.polygamma
    mean = (dg(r1) - dg(r1 + r2) - (dg(p1) - dg(p1 + p2)) - (dg(q1) - dg(q1 + q2))) / LN2
    var = (tg(1, r1) - tg(1, r1 + r2) + tg(1, p1) - tg(1, p1 + p2) + tg(1, q1) - tg(1, q1 + q2)) / LN2**2
    sd = np.sqrt(var)
    return {"ic": mean, "ic_var": var, "ic_lower": mean - Z975 * sd, "ic_upper": mean + Z975 * sd}


def ic_shrinkage(n11, E) -> dict[str, np.ndarray]:
    """Shrinkage IC (Noren et al. 2006/2013): log2((n11+0.5)/(E+0.5)), IC025 and IC975."""
    a = np.asarray(n11, dtype=float) + 0.5
    b = np.asarray(E, dtype=float) + 0.5
    return {"ic": np.log2(a / b),
            "ic025": np.log2(stats.gamma.ppf(0.025, a, scale=1 / b)),
            "ic975": np.log2(stats.gamma.ppf(0.975, a, scale=1 / b))}


def _two_by_two(n11, n1_, n_1, N):
    a = np.asarray(n11, dtype=float)
    b = np.asarray(n1_, dtype=float) - a  # the drug with other events
    c = np.asarray(n_1, dtype=float) - a  # the event with other drugs
    d = N - a - b - c
    return a, b, c, d


def prr(n11, n1_, n_1, N) -> dict[str, np.ndarray]:
    """Proportional reporting ratio and Yates-corrected chi-square.

    Signal (Evans et al. 2001): PRR >= 2, chi-square >= 4 and n11 >= 3.
    """
    a, b, c, d = _two_by_two(n11, n1_, n_1, N)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (a / (a + b)) / (c / (c + d))
        n = a + b + c + d
        chi2 = n * np.maximum(np.abs(a * d - b * c) - n / 2, 0) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    return {"prr": value, "chi2": chi2, "signal": (value >= 2) & (chi2 >= 4) & (a >= 3)}


def ror(n11, n1_, n_1, N) -> dict[str, np.ndarray]:
    """Reporting odds ratio with its 95% confidence interval (0.5 added to every cell of a table
    with an empty cell). Signal: lower bound > 1 and n11 >= 3 (the same minimum as PRR's rule;
    without it, almost every pair seen once in a sparse database is flagged)."""
    a, b, c, d = _two_by_two(n11, n1_, n_1, N)
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    a, b, c, d = (x + 0.5 * zero for x in (a, b, c, d))
    log_ror = np.log(a * d / (b * c))
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return {"ror": np.exp(log_ror), "ror_lower": np.exp(log_ror - Z975 * se),
            "ror_upper": np.exp(log_ror + Z975 * se),
            "signal": (np.exp(log_ror - Z975 * se) > 1) & (np.asarray(n11) >= 3)}


# ---------------------------------------------------------------------------------------------
# Gamma-Poisson shrinker (MGPS)


def _nb_logpmf(n, E, alpha, beta):
    """log P(n | E) when n ~ Poisson(lambda E), lambda ~ Gamma(alpha, rate beta)."""
    return (special.gammaln(alpha + n) - special.gammaln(alpha) - special.gammaln(n + 1)
            + alpha * np.log(beta / (beta + E)) + n * np.log(E / (beta + E)))


DEFAULT_PRIOR = (0.2, 0.1, 2.0, 4.0, 1 / 3)  # DuMouchel 1999's starting values


def fit_gps_prior(n11, E, start=DEFAULT_PRIOR) -> tuple[float, ...]:
    """Fit the two-gamma mixture prior (alpha1, beta1, alpha2, beta2, P) by maximum likelihood of
    the zero-truncated marginal over the pairs with n11 >= 1 (DuMouchel 1999)."""
    n = np.asarray(n11, dtype=float)
    e = np.asarray(E, dtype=float)
    keep = n >= 1
    n, e = n[keep], e[keep]

    def nll(theta):
        a1, b1, a2, b2 = np.exp(theta[:4])
        p = special.expit(theta[4])
        l1 = _nb_logpmf(n, e, a1, b1) - np.log1p(-np.exp(_nb_logpmf(0, e, a1, b1)))
        l2 = _nb_logpmf(n, e, a2, b2) - np.log1p(-np.exp(_nb_logpmf(0, e, a2, b2)))
        return -np.sum(np.logaddexp(np.log(p) + l1, np.log1p(-p) + l2))

    a1, b1, a2, b2, p = start
    x0 = np.r_[np.log([a1, b1, a2, b2]), special.logit(p)]
    res = optimize.minimize(nll, x0, method="L-BFGS-B",
                            bounds=[(-7, 7)] * 4 + [(-7, 7)])
    a1, b1, a2, b2 = np.exp(res.x[:4])
    return float(a1), float(b1), float(a2), float(b2), float(special.expit(res.x[4]))


def ebgm(n11, E, prior) -> dict[str, np.ndarray]:
    """Empirical-Bayes geometric mean and its 5% quantile EB05 under a fitted GPS prior.

    Signal (a common convention, e.g. Szarfman et al. 2002): EB05 >= 2.
    """
    n = np.asarray(n11, dtype=float)
    e = np.asarray(E, dtype=float)
    a1, b1, a2, b2, p = prior
    l1 = np.log(p) + _nb_logpmf(n, e, a1, b1)
    l2 = np.log1p(-p) + _nb_logpmf(n, e, a2, b2)
    q = np.exp(l1 - np.logaddexp(l1, l2))  # posterior weight of the first component
    s1, r1, s2, r2 = a1 + n, b1 + e, a2 + n, b2 + e
    elog = q * (special.digamma(s1) - np.log(r1)) + (1 - q) * (special.digamma(s2) - np.log(r2))

    def cdf(x):
        return q * special.gammainc(s1, r1 * x) + (1 - q) * special.gammainc(s2, r2 * x)

    lo, hi = np.full_like(n, -30.0), np.full_like(n, 30.0)  # bisection on log(lambda)
    for _ in range(48):  # 60 / 2**48: far below any reported digit
        mid = (lo + hi) / 2
        below = cdf(np.exp(mid)) < 0.05
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    eb05 = np.exp((lo + hi) / 2)
    return {"ebgm": np.exp(elog), "eb05": eb05, "signal": eb05 >= 2}


def all_measures(c: Counts, prior=None, prior_start=DEFAULT_PRIOR) -> pd.DataFrame:
    """Every measure for every pair of ``c``, with each method's usual signal rule.

    The GPS prior is fitted to ``c`` unless given (``prior_start`` warm-starts the fit)."""
    out = c.frame()
    b = bcpnn_1998(c.n11, c.n1_, c.n_1, c.N)
    s = ic_shrinkage(c.n11, c.E)
    p = prr(c.n11, c.n1_, c.n_1, c.N)
    r = ror(c.n11, c.n1_, c.n_1, c.N)
    prior = prior or fit_gps_prior(c.n11, c.E, start=prior_start)
    g = ebgm(c.n11, c.E, prior)
    out = out.assign(
        ic=b["ic"], ic_lower=b["ic_lower"], ic_upper=b["ic_upper"],
        ic_shrink=s["ic"], ic025=s["ic025"], ic975=s["ic975"],
        prr=p["prr"], prr_chi2=p["chi2"], ror=r["ror"], ror_lower=r["ror_lower"],
        ebgm=g["ebgm"], eb05=g["eb05"],
        signal_bcpnn=b["ic_lower"] > 0, signal_ic025=s["ic025"] > 0, signal_prr=p["signal"],
        signal_ror=r["signal"], signal_ebgm=g["signal"],
    )
    out.attrs["gps_prior"] = prior
    return out


# method id -> (label, signal column, ranking score, the method's usual signal rule)
SIGNAL_RULES = {
    "bcpnn": ("BCPNN (Bate 1998)", "signal_bcpnn", "ic", "IC lower 95% bound > 0"),
    "ic025": ("Shrinkage IC (Noren 2006)", "signal_ic025", "ic_shrink", "IC025 > 0"),
    "prr": ("PRR", "signal_prr", "prr", "PRR >= 2, chi2 >= 4, n11 >= 3"),
    "ror": ("ROR", "signal_ror", "ror", "ROR lower 95% bound > 1, n11 >= 3"),
    "ebgm": ("EBGM (MGPS)", "signal_ebgm", "ebgm", "EB05 >= 2"),
}


# ---------------------------------------------------------------------------------------------
# A report stream with planted signals (time scans, benchmarks)


def _zipf_probs(n: int, exponent: float) -> np.ndarray:
    """Popularity of item k (0 = the most common) proportional to 1 / (k + 1)^exponent."""
    p = 1.0 / np.arange(1, n + 1) ** exponent
    return p / p.sum()


def simulate_reports(n_reports: int, n_drugs: int, n_events: int, *, n_periods: int = 1,
                     drugs_per_report: float = 2.0, events_per_report: float = 2.5,
                     exponent: float = 1.0, signals: list[tuple[int, int, float, int]] | None = None,
                     seed: int = 0) -> tuple[Reports, np.ndarray, pd.DataFrame]:
    """Simulate spontaneous reports with known truth, vectorised (sparse), any size.

    Each report lists 1 + Poisson(drugs_per_report - 1) drugs and 1 + Poisson(events_per_report
    - 1) events, drawn independently from Zipf-like popularity (few common drugs and events, a long
    tail), so every drug-event pair is independent (true relative risk 1) except the planted
    ``signals``: (drug, event, relative risk, onset period) pairs, for which a report with the drug
    received from the onset period on gets the event with the extra probability that multiplies
    its base reporting rate by the relative risk. Reports arrive in order of period.

    Returns the reports, the period of each report (0-based) and the truth: one row per planted
    signal with its intended relative risk, onset, and the relative risk realised in the data.
    """
    rng = np.random.default_rng(seed)
    p_drug = _zipf_probs(n_drugs, exponent)
    p_event = _zipf_probs(n_events, exponent)
    k_d = 1 + rng.poisson(drugs_per_report - 1, n_reports)
    k_e = 1 + rng.poisson(events_per_report - 1, n_reports)
    d_rep = np.repeat(np.arange(n_reports), k_d)
    e_rep = np.repeat(np.arange(n_reports), k_e)
    d_ids = rng.choice(n_drugs, size=len(d_rep), p=p_drug)
    e_ids = rng.choice(n_events, size=len(e_rep), p=p_event)
    period = np.minimum(np.arange(n_reports) * n_periods // n_reports, n_periods - 1)
    D = _indicator(d_rep, d_ids, (n_reports, n_drugs))
    truth = []
    extra_rows, extra_cols = [], []
    base_rate = 1 - np.exp(-events_per_report * p_event)  # P(event on a report), approximately
    for drug, event, rr, onset in signals or []:
        has = np.flatnonzero((D[:, drug].toarray().ravel() > 0) & (period >= onset))
        q = min(1.0, (rr - 1) * base_rate[event] / max(1e-12, 1 - base_rate[event]))
        hit = has[rng.random(len(has)) < q]
        extra_rows.append(hit)
        extra_cols.append(np.full(len(hit), event))
        truth.append({"drug": drug, "event": event, "rr": rr, "onset": onset})
    rows = np.concatenate([e_rep, *extra_rows]) if extra_rows else e_rep
    cols = np.concatenate([e_ids, *extra_cols]) if extra_cols else e_ids
    E = _indicator(rows, cols, (n_reports, n_events))
    reports = Reports(D, E, np.array([f"drug_{i}" for i in range(n_drugs)]),
                      np.array([f"event_{j}" for j in range(n_events)]))
    truth = pd.DataFrame(truth, columns=["drug", "event", "rr", "onset"])
    if len(truth):
        realised = []
        for t in truth.itertuples():
            after = period >= t.onset
            with_d = D[:, t.drug].toarray().ravel().astype(bool)
            ev = E[:, t.event].toarray().ravel().astype(bool)
            a = ev[after & with_d].mean() if (after & with_d).any() else np.nan
            b = ev[after & ~with_d].mean() if (after & ~with_d).any() else np.nan
            realised.append(a / b if b else np.nan)
        truth["realised_rr"] = realised
        truth["drug_name"] = reports.drug_names[truth["drug"]]
        truth["event_name"] = reports.event_names[truth["event"]]
    return reports, period, truth


def time_scan(reports: Reports, period: np.ndarray, *, stratified: bool = False,
              min_count: int = 1, progress=None) -> pd.DataFrame:
    """Every measure on cumulative snapshots: the reports received up to each period.

    ``period`` gives each report's period (0-based, non-decreasing in row order is not required).
    Returns one row per (period, pair) with n11 >= ``min_count`` at that period. The GPS prior
    is refitted at every snapshot, warm-started from the previous one.
    """
    order = np.argsort(period, kind="stable")
    reports, period = reports.subset(order), np.asarray(period)[order]
    out = []
    periods = np.unique(period)
    prior = DEFAULT_PRIOR
    for t in (progress(periods) if progress else periods):
        upto = int(np.searchsorted(period, t, side="right"))
        c = count_pairs(reports.subset(slice(0, upto)), stratified=stratified)
        keep = c.n11 >= min_count
        if not keep.any():
            continue
        c = c.select(keep)
        m = all_measures(c, prior_start=prior)  # the GPS prior is refitted at every snapshot
        prior = m.attrs["gps_prior"]
        out.append(m.assign(period=int(t)))
    return pd.concat(out, ignore_index=True)
