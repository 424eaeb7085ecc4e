"""Deep Patient's evaluation protocol on coded EHR data: the observation and prediction windows,
the diseases to predict and their new-diagnosis labels (derived from codes, so the same pipeline
runs on simulated and MIMIC-III data), the patient split, the features (code presence or counts
scaled to [0, 1]), the per-disease scores (AUC-ROC, and accuracy and F-score at a fixed probability
threshold), and, on simulated data, the positive control's factor-driven outcomes and the
factor-recovery probe.

Works on an :class:`precmed_utils.formats.ehr.EHR`. The models (the stacked denoising autoencoder, the
random forests and the baselines) are written out in the chapter.

Used by: deep_patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import f1_score, roc_auc_score

from ..formats import phenotypes
from ..formats.ehr import EHR


@dataclass
class Diseases:
    """The diseases to predict: a name and the vocabulary ids of its codes, in the same order;
    ``named`` maps the names that are a disease of the paper's Table 2 to that disease."""

    names: list[str]
    code_ids: list[np.ndarray]
    source: str  # "simulator groups" or "three-character diagnosis categories"
    named: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)


def candidate_diseases(ehr: EHR) -> Diseases:
    """The simulator's disease groups (``truth.diseases``, their interchangeable codes) or, on real
    data, Deep Patient's rule (phenotypes.yml, ``deep_patient_rule``): every three-character category
    of the diagnoses present (the vocabulary's ``block``: ICD-9-CM ``428``, E codes four characters
    ``E950``; ICD-10-CM ``D10:I50``; an OMOP standard concept is its own category). A category that
    is exactly one of the named Table 2 diseases (``D:154*``, ``D10:C20*``, or one of its OMOP
    concepts or their descendants) is called ``"<category> (<disease>)"``, e.g. ``"154 (cancer of
    rectum and anus)"``; the others keep the category as their name. The categories and their codes
    are the same either way, and names keep the categories' order."""
    if ehr.truth is not None:
        groups = ehr.truth.groups.set_index("group")
        names = list(ehr.truth.diseases)
        ids = [ehr.code_ids(list(groups.at[g, "codes"])) for g in names]
        return Diseases(names, ids, "simulator groups")
    voc = ehr.vocab
    dx = voc[voc["kind"] == "diagnosis"]
    blocks = dx.groupby("block").groups
    cats = sorted(blocks)
    table2 = phenotypes.name_categories(cats, ehr)
    names = [f"{c} ({table2[c]})" if c in table2 else c for c in cats]
    return Diseases(names, [np.sort(np.asarray(blocks[b], np.int64)) for b in cats],
                    "three-character diagnosis categories", {f"{c} ({d})": d for c, d in table2.items()})


def new_diagnosis_labels(ehr: EHR, patient_ids, diseases: Diseases, split_day: float,
                         window_days: float = 365) -> tuple[np.ndarray, np.ndarray]:
    """Per patient and disease: ``eligible`` (no code of the disease before ``split_day``) and
    ``label`` (eligible and a first code of the disease in [split_day, split_day + window_days)).

    Only *new* diagnoses count, as in Miotto et al. 2016. Returns two bool arrays (patients x
    diseases), rows in the order of ``patient_ids``.
    """
    pid = np.asarray(patient_ids)
    n, k = len(pid), len(diseases)
    eligible = np.ones((n, k), bool)
    label = np.zeros((n, k), bool)
    if k == 0 or n == 0:
        return eligible, label
    cols = np.concatenate(diseases.code_ids) if any(len(c) for c in diseases.code_ids) else np.zeros(0, int)
    dis_of_code = np.full(ehr.n_codes, -1, np.int64)
    for d, ids in enumerate(diseases.code_ids):
        dis_of_code[ids] = d
    row_of = np.full(ehr.n_patients, -1, np.int64)
    row_of[pid] = np.arange(n)
    ev = ehr.events
    code = ev["code"].to_numpy()
    rows = row_of[ev["patient_id"].to_numpy()]
    keep = (rows >= 0) & np.isin(code, cols)
    rows, dis, day = rows[keep], dis_of_code[code[keep]], ev["day"].to_numpy()[keep]
    before = day < split_day
    eligible[rows[before], dis[before]] = False
    inside = (day >= split_day) & (day < split_day + window_days)
    label[rows[inside], dis[inside]] = True
    return eligible, label & eligible


def select_diseases(diseases: Diseases, eligible: np.ndarray, label: np.ndarray, train_rows,
                    min_train_positives: int = 10, max_diseases: int = 0) -> tuple[Diseases, pd.DataFrame]:
    """Keep the diseases with at least ``min_train_positives`` new diagnoses among the training
    patients (the paper dropped diseases with fewer than 10 training patients); if
    ``max_diseases`` > 0, keep the ones with most training positives (ties by name).

    Returns the kept diseases and a table of counts (training positives, eligible patients) for
    every candidate, with a column ``kept``.
    """
    tr = np.asarray(train_rows)
    pos = label[tr].sum(0)
    elig = eligible[tr].sum(0)
    table = pd.DataFrame({"disease": diseases.names, "train_eligible": elig.astype(int),
                          "train_positives": pos.astype(int)})
    ok = table["train_positives"] >= min_train_positives
    ranked = table[ok].sort_values(["train_positives", "disease"], ascending=[False, True])
    if max_diseases > 0:
        ranked = ranked.head(max_diseases)
    keep = set(ranked["disease"])
    table["kept"] = table["disease"].isin(keep)
    idx = [i for i, name in enumerate(diseases.names) if name in keep]
    kept = Diseases([diseases.names[i] for i in idx], [diseases.code_ids[i] for i in idx], diseases.source,
                    {n: d for n, d in diseases.named.items() if n in keep})
    return kept, table


def patient_split(patient_ids, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random split of patients (every record of a patient on one side), sorted ids."""
    pid = np.asarray(patient_ids)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(pid))
    n_test = int(round(test_fraction * len(pid)))
    n_test = min(max(n_test, 1), len(pid) - 1) if len(pid) > 1 else 0
    return np.sort(pid[perm[n_test:]]), np.sort(pid[perm[:n_test]])


def observation_cohort(ehr: EHR, split_day: float, require_followup: bool = False) -> np.ndarray:
    """Patients with a record before ``split_day`` (and, if ``require_followup``, one on or after
    it: on real data a patient who never comes back is unobserved, not healthy)."""
    ev = ehr.events
    p, day = ev["patient_id"].to_numpy(), ev["day"].to_numpy()
    has_before = np.zeros(ehr.n_patients, bool)
    has_before[p[day < split_day]] = True
    if require_followup:
        after = np.zeros(ehr.n_patients, bool)
        after[p[day >= split_day]] = True
        has_before &= after
    return np.flatnonzero(has_before)


class MaxScaler:
    """Counts scaled to [0, 1] per feature: (x - min) / (max - min) with the training minimum and
    maximum, as scikit-learn's MinMaxScaler, for sparse count matrices (a feature's minimum is 0 as
    soon as one training patient lacks it, which keeps the matrix sparse). Values beyond the
    training range are clipped to [0, 1]; features constant in training are set to 0."""

    def fit(self, x: sparse.spmatrix) -> MaxScaler:
        x = sparse.csc_matrix(x, dtype=np.float64)
        n = x.shape[0]
        self.max_ = np.asarray(x.max(axis=0).todense()).ravel()
        full = np.diff(x.indptr) == n  # no zero in the column: its minimum may be above 0
        self.min_ = np.zeros(x.shape[1])
        if full.any():
            self.min_[full] = np.asarray(x[:, np.flatnonzero(full)].min(axis=0).todense()).ravel()
        span = self.max_ - self.min_
        self.scale_ = np.where(span > 0, 1.0 / np.where(span > 0, span, 1), 0.0)
        return self

    def transform(self, x: sparse.spmatrix) -> sparse.csr_matrix:
        x = sparse.csr_matrix(x, dtype=np.float64)
        if np.any(self.min_ > 0):  # rare: shift (dense in those columns only)
            shift = sparse.csr_matrix(np.outer(np.ones(x.shape[0]), self.min_))
            x = x - shift
        out = sparse.csr_matrix(x.multiply(self.scale_[None, :]))
        out.data = np.clip(out.data, 0.0, 1.0)
        out.eliminate_zeros()
        return out.astype(np.float32)


def feature_matrix(ehr: EHR, patient_ids, split_day: float) -> tuple[sparse.csr_matrix, list[str]]:
    """Per patient: counts of each code before ``split_day``, then sex (1 = female, 0.5 unknown)
    and age at the start of follow-up (missing: the median); columns named by code."""
    pid = np.asarray(patient_ids)
    counts = ehr.code_matrix(pid, None, split_day, binary=False)
    pt = ehr.patients.loc[pid]
    sex = pt["sex"].map({"F": 1.0, "M": 0.0}).fillna(0.5).to_numpy(float)
    age = pt["age"].to_numpy(float)
    med = np.nanmedian(ehr.patients["age"].to_numpy(float)) if ehr.patients["age"].notna().any() else 0.0
    age = np.where(np.isnan(age), med, age)
    demo = sparse.csr_matrix(np.c_[sex, age])
    names = list(ehr.vocab["code"]) + ["demographic:female", "demographic:age"]
    return sparse.hstack([counts, demo], format="csr", dtype=np.float32), names


def threshold_scores(y_true, score, threshold: float = 0.6) -> dict[str, float]:
    """AUC-ROC (NaN when the test set holds one class only), and accuracy and F-score of the
    positive class when ``score >= threshold`` is called positive (F = 0 when nothing is
    predicted positive), as Miotto et al. 2016 report them (threshold 0.6)."""
    y = np.asarray(y_true, bool)
    s = np.asarray(score, float)
    pred = s >= threshold
    auc = float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")
    acc = float((pred == y).mean()) if len(y) else float("nan")
    f = float(f1_score(y, pred, zero_division=0.0)) if len(y) else float("nan")
    return {"auc": auc, "accuracy": acc, "f_score": f, "positives": int(y.sum()), "n": int(len(y))}


def _intercept_for(z: np.ndarray, prevalence: float) -> float:
    """The intercept a with mean(sigmoid(a + z)) == prevalence (bisection)."""
    lo, hi = -50.0, 50.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(mid + z)))) < prevalence:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def factor_outcomes(theta: np.ndarray, strength: float = 10.0, prevalence: float = 0.2,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The positive control's outcomes: one per planted factor (column of ``theta``), drawn with
    probability sigmoid(a_k + strength * theta_k), a_k set so that the mean probability is
    ``prevalence``. Only the factor drives the outcome, so a representation that recovers the
    factors needs few labelled patients to predict it. Returns (labels, probabilities), both
    patients x factors."""
    th = np.asarray(theta, float)
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must be in (0, 1), got {prevalence}")
    rng = np.random.default_rng(seed)
    prob = np.empty_like(th)
    for k in range(th.shape[1]):
        z = strength * th[:, k]
        prob[:, k] = 1.0 / (1.0 + np.exp(-(_intercept_for(z, prevalence) + z)))
    return rng.random(th.shape) < prob, prob


def phenotype_shares(counts: sparse.spmatrix, code_group: np.ndarray, group_phenotype,
                     phenotypes) -> np.ndarray:
    """The positive control's reference representation: for each patient and planted phenotype,
    the share of the patient's code occurrences (``counts``: patients x vocabulary codes, in
    vocabulary order) that belong to the phenotype's code groups. It needs the simulator's own map
    from codes to phenotypes (``code_group``: group index per code, -1 for background codes;
    ``group_phenotype``: phenotype of each group), which no learned representation is given: it is
    the summary of the codes that the planted factors are the expectation of, so it shows how much
    room a representation of these codes has. Patients without codes get 0."""
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    code_group = np.asarray(code_group)
    if counts.shape[1] != len(code_group):
        raise ValueError(f"counts has {counts.shape[1]} code columns, code_group {len(code_group)} codes")
    group_phenotype = np.asarray(group_phenotype)
    total = np.asarray(counts.sum(1)).ravel()
    out = np.zeros((counts.shape[0], len(phenotypes)))
    for k, name in enumerate(phenotypes):
        cols = np.flatnonzero(np.isin(code_group, np.flatnonzero(group_phenotype == name)))
        out[:, k] = np.asarray(counts[:, cols].sum(1)).ravel()
    return out / np.maximum(total, 1.0)[:, None]


def factor_recovery(F_train, theta_train: np.ndarray, F_test, theta_test: np.ndarray,
                    alphas=(0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)) -> dict[str, float]:
    """How well a linear map of a representation recovers the planted factors on held-out
    patients: a ridge regression (penalty chosen by leave-one-out on the training patients, features
    standardised) from ``F_train`` to every factor at once, scored on ``F_test`` by R² per factor
    (1 - residual / total sum of squares) and Pearson correlation, each averaged over factors."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    if sparse.issparse(F_train):  # leave-one-out ridge on a sparse matrix forms the patients' Gram matrix
        F_train, F_test = F_train.toarray(), F_test.toarray()
    sc = StandardScaler(with_mean=not sparse.issparse(F_train)).fit(F_train)
    ridge = RidgeCV(alphas=list(alphas)).fit(sc.transform(F_train), theta_train)
    pred = np.asarray(ridge.predict(sc.transform(F_test)))
    y = np.asarray(theta_test, float)
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    ok = ss_tot > 0
    r2 = 1 - ss_res[ok] / ss_tot[ok]
    corr = [np.corrcoef(y[:, k], pred[:, k])[0, 1] if pred[:, k].std() > 0 else 0.0
            for k in np.flatnonzero(ok)]
    return {"r2": float(np.mean(r2)), "corr": float(np.mean(corr)), "factors": int(ok.sum())}


def scale_features(x: sparse.spmatrix, train_rows, how: str = "presence",
                   n_demographic: int = 2) -> sparse.csr_matrix:
    """The input of every representation, fitted on the training patients.

    ``minmax``: every column scaled to [0, 1] by :class:`MaxScaler` (the official code's
    ``MinMaxScaler`` on counts). ``presence``: a code column is 1 if the code appears before the
    split day, else 0; the last ``n_demographic`` columns (sex, age) are min-max scaled as above.
    Counts scaled by their maximum put most patients' values near 0 (one patient with many
    repeats of a code sets the scale for all), which starves a cross-entropy autoencoder of signal.
    """
    x = sparse.csr_matrix(x, dtype=np.float64)
    tr = np.asarray(train_rows)
    if how == "minmax":
        return MaxScaler().fit(x[tr]).transform(x)
    if how != "presence":
        raise ValueError(f"how must be 'presence' or 'minmax', got {how!r}")
    n_codes = x.shape[1] - n_demographic
    codes = x[:, :n_codes].copy()
    codes.data = (codes.data > 0).astype(np.float64)
    codes.eliminate_zeros()
    demo = x[:, n_codes:]
    demo = MaxScaler().fit(demo[tr]).transform(demo) if n_demographic else demo
    return sparse.hstack([codes, demo], format="csr", dtype=np.float32)
