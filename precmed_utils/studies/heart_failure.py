"""Heart-failure prediction on coded EHR data: the matched case-control cohort with an observation
window that ends before the prediction window, the (code, context code) pairs a skip-gram learns
from, patient vectors aggregated from code vectors, and checks of what the code vectors learned.

Everything works on an :class:`precmed_utils.formats.ehr.EHR`, simulated or read from MIMIC-III tables,
so the chapter runs unchanged on real data. The skip-gram itself is written out in the notebook.

Used by: heart_failure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ..formats import phenotypes
from ..formats.ehr import EHR

# ICD-9 428.x: heart failure (phenotypes.yml; an EHR with ICD-10 codes gets the ICD-10 patterns too)
HF_CODES = phenotypes.definitions()["heart_failure"]["codes"]["D:"]


def _visit_days(ehr: EHR) -> tuple[np.ndarray, np.ndarray]:
    """Sorted keys ``patient * stride + day`` of each patient's distinct visit days, and the stride."""
    ev = ehr.events
    p = ev["patient_id"].to_numpy(np.int64)
    d = ev["day"].to_numpy(np.int64)
    stride = int(d.max()) + 2 if len(d) else 2
    return np.unique(p * stride + d), stride


def count_visit_days(keys: np.ndarray, stride: int, patients, start, end) -> np.ndarray:
    """Per patient, the number of distinct visit days with ``start <= day < end`` (arrays or scalars)."""
    p = np.asarray(patients, np.int64)
    lo = np.clip(np.broadcast_to(np.asarray(start, float), p.shape), 0, stride - 1)
    hi = np.clip(np.broadcast_to(np.asarray(end, float), p.shape), 0, stride - 1)
    a = np.searchsorted(keys, p * stride + np.ceil(lo).astype(np.int64), side="left")
    b = np.searchsorted(keys, p * stride + np.ceil(hi).astype(np.int64), side="left")
    return np.maximum(b - a, 0) * (hi > lo)


def age_band(age, years: int) -> np.ndarray:
    """The ``years``-wide age band of each age (-1 where the age is unknown)."""
    a = np.asarray(age, float)
    return np.where(np.isfinite(a), np.floor(np.nan_to_num(a) / years), -1).astype(np.int64)


def matched_case_control(ehr: EHR, *, outcome_codes=None, controls_per_case: int = 4,
                         age_band_years: int = 5, prediction_window_days: int = 180,
                         observation_window_days: int = 0, min_obs_visits: int = 1,
                         seed: int = 0) -> pd.DataFrame:
    """A matched case-control cohort with the paper's protocol.

    - **Case**: a patient's first ``outcome_codes`` code; the index day is that day (incident
      cases: the first diagnosis, whatever came before it). ``outcome_codes=None``: the
      heart_failure patterns of phenotypes.yml for the vocabularies in ``ehr`` (ICD-9 428.x on
      ICD-9 data, as before; ICD-10 I50.x and the others on ICD-10 data).
    - **Observation window**: ``[index - prediction_window_days - observation_window_days,
      index - prediction_window_days)``; ``observation_window_days = 0`` means all history before
      the window's end. Cases (and controls) need at least ``min_obs_visits`` visit days in it.
    - **Controls** of a case: same sex, same ``age_band_years`` age band, free of the outcome up to
      and including the case's index day (later cases may serve: risk-set sampling), still in the
      record (a visit on or after the index day), enough visits in the same window, each patient
      a control at most once. Up to ``controls_per_case`` are drawn at random; fewer if the
      stratum runs out (the achieved ratio is counted by the caller).

    Cases are matched in the order of their index day (ties at random), so the earliest cases,
    whose risk sets are largest, choose first. Returns one row per cohort member: ``patient_id,
    case, set_id, index_day, obs_start, obs_end, sex, age_band, later_case`` (a control who becomes
    a case after this index).
    """
    if controls_per_case < 0 or prediction_window_days < 0 or observation_window_days < 0:
        raise ValueError("controls_per_case, prediction_window_days and observation_window_days must be >= 0")
    rng = np.random.default_rng(seed)
    n = ehr.n_patients
    if outcome_codes is None:
        outcome_codes = phenotypes.patterns("heart_failure", ehr)
    first = ehr.first_day(ehr.code_ids(outcome_codes)).to_numpy()
    keys, stride = _visit_days(ehr)
    ev = ehr.events
    last = ev.groupby("patient_id")["day"].max().reindex(ehr.patients.index).to_numpy(float)
    sex = ehr.patients["sex"].fillna("U").astype(str).to_numpy()
    band = age_band(ehr.patients["age"].to_numpy(float), age_band_years)
    stratum = pd.factorize(pd.Series(sex) + "|" + pd.Series(band).astype(str))[0]

    def window(index):
        end = index - prediction_window_days
        start = end - observation_window_days if observation_window_days > 0 else np.zeros_like(end)
        return start, end

    cases = np.flatnonzero(np.isfinite(first))
    cs, ce = window(first[cases])
    cases = cases[count_visit_days(keys, stride, cases, cs, ce) >= min_obs_visits]
    order = np.lexsort((rng.random(len(cases)), first[cases]))
    cases = cases[order]
    used = np.zeros(n, bool)
    members = {s: np.flatnonzero(stratum == s) for s in np.unique(stratum)}
    rows = []
    for set_id, c in enumerate(cases):
        idx = float(first[c])
        start, end = window(np.array([idx]))
        rows.append((c, True, set_id, idx, start[0], end[0], False))
        if controls_per_case == 0:
            continue
        pool = members[stratum[c]]
        f = first[pool]
        ok = (pool != c) & ~used[pool] & ~(f <= idx) & (last[pool] >= idx)
        pool = pool[ok]
        if len(pool):
            pool = pool[count_visit_days(keys, stride, pool, start[0], end[0]) >= min_obs_visits]
        take = pool if len(pool) <= controls_per_case else rng.choice(pool, controls_per_case, replace=False)
        used[take] = True
        for t in np.sort(take):
            rows.append((t, False, set_id, idx, start[0], end[0], bool(np.isfinite(first[t]))))
    out = pd.DataFrame(rows, columns=["patient_id", "case", "set_id", "index_day", "obs_start", "obs_end",
                                      "later_case"])
    out = out.astype({"patient_id": np.int64, "case": bool, "set_id": np.int64, "index_day": float,
                      "obs_start": float, "obs_end": float, "later_case": bool})
    out["sex"] = sex[out["patient_id"].to_numpy()]
    out["age_band"] = band[out["patient_id"].to_numpy()]
    return out


def window_events(ehr: EHR, patient_ids, start, end) -> pd.DataFrame:
    """The events of each listed patient (one row of ``patient_ids`` per window; a patient may be
    listed twice) with ``start <= day < end``, tagged with the row number (``row``), sorted by row
    and day."""
    pid = np.asarray(patient_ids, np.int64)
    ev = ehr.events
    p = ev["patient_id"].to_numpy(np.int64)
    order = np.argsort(pid, kind="stable")
    sp = pid[order]
    lo = np.searchsorted(p, sp, side="left")  # events are sorted by patient
    hi = np.searchsorted(p, sp, side="right")
    lens = hi - lo
    take = np.repeat(lo - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
    rows = np.repeat(order, lens)
    day = ev["day"].to_numpy()[take]
    s = np.broadcast_to(np.asarray(start, float), pid.shape)[rows]
    e = np.broadcast_to(np.asarray(end, float), pid.shape)[rows]
    keep = (day >= s) & (day < e)
    out = pd.DataFrame({"row": rows[keep], "day": day[keep], "code": ev["code"].to_numpy()[take][keep]})
    return out.sort_values(["row", "day", "code"], kind="stable").reset_index(drop=True)


def skipgram_pairs(rows, days, codes, window_days: int, *, max_pairs: int | None = None,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) code pairs of events of the same row (patient window) at most
    ``window_days`` apart, both directions, a code never paired with itself. Input sorted by row
    and day. Above ``max_pairs`` pairs, a uniform random subset of about ``max_pairs`` is kept."""
    r = np.asarray(rows, np.int64)
    d = np.asarray(days, np.int64)
    c = np.asarray(codes, np.int64)
    n = len(r)

    def masks():
        k = 1
        while k < n:
            m = (r[k:] == r[:-k]) & (d[k:] - d[:-k] <= window_days)
            if not m.any():
                break
            yield k, m & (c[k:] != c[:-k])
            k += 1

    total = 2 * sum(int(m.sum()) for _, m in masks())
    keep_p = 1.0 if not max_pairs or total <= max_pairs else max_pairs / total
    rng = np.random.default_rng(seed)
    centre, context = [], []
    for k, m in masks():
        i = np.flatnonzero(m)
        for a, b in ((i, i + k), (i + k, i)):
            if keep_p < 1:
                s = rng.random(len(a)) < keep_p
                a, b = a[s], b[s]
            centre.append(c[a])
            context.append(c[b])
    if not centre:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centre), np.concatenate(context)


def patient_vectors(X: sparse.spmatrix, code_vectors: np.ndarray, how: str = "sum") -> np.ndarray:
    """Patient vectors from a patients x codes matrix and codes x dim vectors: the sum over the
    patient's codes (weighted by X), or their mean (``how="mean"``; zero for an empty window)."""
    if how not in ("sum", "mean"):
        raise ValueError(f"how must be 'sum' or 'mean', got {how!r}")
    X = sparse.csr_matrix(X)
    V = np.asarray(X @ code_vectors, np.float64)
    if how == "mean":
        w = np.asarray(X.sum(1), float).ravel()
        V = V / np.maximum(w, 1e-12)[:, None]
    return V


def _unit(V: np.ndarray) -> np.ndarray:
    return V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)


def group_similarity(code_vectors: np.ndarray, group: np.ndarray, family=None) -> pd.DataFrame:
    """Mean cosine similarity of pairs of codes: in the same group, in different groups of the same
    family (e.g. phenotype; optional), and in different families (or groups). Codes with group -1
    are left out. One row per relation: pairs and mean cosine."""
    g = np.asarray(group)
    sel = np.flatnonzero(g >= 0)
    U = _unit(np.asarray(code_vectors, float)[sel])
    S = U @ U.T
    iu = np.triu_indices(len(sel), 1)
    gi, gj = g[sel][iu[0]], g[sel][iu[1]]
    same = gi == gj
    rel = np.where(same, "same group", "different group")
    if family is not None:
        fam = np.asarray(family)[sel]
        same_f = fam[iu[0]] == fam[iu[1]]
        rel = np.where(same, "same group (synonyms)",
                       np.where(same_f, "same family, other group", "different family"))
    s = S[iu]
    out = pd.DataFrame({"relation": rel, "cosine": s}).groupby("relation")["cosine"]
    out = out.agg(["size", "mean", "std"])
    return out.rename(columns={"size": "pairs", "mean": "mean cosine", "std": "SD"})


def nearest_neighbours(code_vectors: np.ndarray, names, query, k: int = 5) -> pd.DataFrame:
    """The ``k`` codes with the highest cosine similarity to each query code (a name in ``names``)."""
    names = np.asarray(names)
    U = _unit(np.asarray(code_vectors, float))
    rows = []
    for q in query:
        hit = np.flatnonzero(names == q)
        if not len(hit):
            continue
        s = U @ U[hit[0]]
        s[hit[0]] = -np.inf
        top = np.argsort(-s, kind="stable")[:k]
        rows += [{"code": q, "rank": r + 1, "neighbour": names[j], "cosine": float(s[j])}
                 for r, j in enumerate(top)]
    return pd.DataFrame(rows, columns=["code", "rank", "neighbour", "cosine"])
