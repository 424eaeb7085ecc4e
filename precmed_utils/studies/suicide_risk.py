"""Suicide-risk stratification on coded EHR data: the mental-health cohort and its three-level
outcome defined from codes, the ICD-hierarchy smoothness graph of the eNRBM, the per-class
threshold rule that turns scores into low / moderate / high, and the matching of hidden units to
planted factors.

Everything here works on an :class:`precmed_utils.formats.ehr.EHR`, simulated or read from MIMIC-III
tables, so the chapter runs unchanged on real data.

Used by: suicide_risk.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import f1_score

from ..formats import phenotypes
from ..formats.ehr import EHR, icd9_block

LEVELS = ("low", "moderate", "high")
# Psychiatric drug classes by active ingredient (the first word of a lower-case drug name, as
# MIMIC's PRESCRIPTIONS.DRUG spells them: "Sertraline", "Quetiapine Fumarate", ...): the
# psychiatric_history definition of phenotypes.yml (WHO ATC N05/N06 and opioid-dependence agents).
PSYCH_DRUG_CLASSES: dict[str, tuple[str, ...]] = {
    c: tuple(ws) for c, ws in phenotypes.definitions()["psychiatric_history"]["drug_classes"].items()}
_INGREDIENT_CLASS = {w: c for c, ws in PSYCH_DRUG_CLASSES.items() for w in ws}
_PSYCH_DX = phenotypes.definitions()["psychiatric_history"]["codes"]  # diagnoses that are items


def active_ingredient(drug: str) -> str:
    """The first word of a medication name: ``M:Quetiapine Fumarate`` -> ``quetiapine``."""
    name = drug.split(":", 1)[-1].lower()
    name = re.sub(r"^\*nf\*\s*", "", name)  # MIMIC marks non-formulary drugs with *NF*
    words = re.split(r"[^a-z]+", name)
    return next((w for w in words if w), "")


def psychiatric_item(code: str) -> str | None:
    """The psychiatric 'item' a code stands for, or None.

    Diagnoses of the ICD-9 mental-disorders chapter (290-319) count by three-digit category
    (``dx:296``), those of the ICD-10-CM chapter F01-F99 by three-character category
    (``D10:F329`` -> ``dx10:F32``); psychiatric drugs by class (``rx:antipsychotic``). A patient's
    number of distinct items approximates the number of distinct psychiatric problems and treatments
    on record.
    """
    prefix = code.split(":", 1)[0] + ":"
    if prefix in ("D:", "D10:"):  # phenotypes.yml: ICD-9 290-319, ICD-10-CM F01-F99
        pats = _PSYCH_DX.get(prefix, [])
        if any(code.startswith(p[:-1]) if p.endswith("*") else code == p for p in pats):
            return ("dx:" if prefix == "D:" else "dx10:") + code[len(prefix):][:3].upper()
        return None
    if code.startswith("M:"):
        cls = _INGREDIENT_CLASS.get(active_ingredient(code))
        return None if cls is None else "rx:" + cls
    return None


def psychiatric_items(ehr: EHR) -> pd.Series:
    """Per vocabulary id, its psychiatric item (NaN for other codes)."""
    return pd.Series([psychiatric_item(c) for c in ehr.vocab["code"]], index=ehr.vocab.index, dtype=object)


def assessment_cohort(ehr: EHR, min_items: int = 3, horizon_days: int = 90) -> pd.DataFrame:
    """The mental-health cohort, each patient's assessment and outcome level, from codes alone.

    A patient enters the cohort at the assessment when at least ``min_items`` distinct
    psychiatric items (see :func:`psychiatric_item`) are on record.

    - Simulated data (``ehr.split_day`` set): one assessment day for everyone, ``split_day``;
      items and features are the codes dated before it (``day < split_day``).
    - Real data (no split day): the assessment is the first day on which the patient's items
      reach ``min_items``; the codes of that day's admission count as history (a diagnosis list
      is known at discharge), so ``obs_end = that day + 1``. An approximation: a clinic's
      assessment dates are not in MIMIC.

    Outcome, within ``[obs_end, obs_end + horizon_days)``: high = any self-harm code (ICD-9
    ``E95*``; ICD-10 X71-X83, T14.91: phenotypes.yml), moderate = a suicidal-ideation code
    (``V6284``; R45.851) without one, low otherwise. Returns one row per cohort patient (index patient_id):
    obs_end, n_items, level (0/1/2), followed (any event after obs_end: patients with none may
    simply have left the data, counted as low).
    """
    if min_items < 1:
        raise ValueError(f"min_items must be at least 1, got {min_items}")
    items = psychiatric_items(ehr)
    ev = ehr.events
    it = items.reindex(ev["code"].to_numpy()).to_numpy()
    has = pd.notna(it)
    df = pd.DataFrame({"patient_id": ev["patient_id"].to_numpy()[has], "day": ev["day"].to_numpy()[has],
                       "item": it[has]})
    cols = ["obs_end", "n_items", "level", "followed"]
    if ehr.split_day is not None:
        df = df[df["day"] < ehr.split_day].drop_duplicates(["patient_id", "item"])
        n = df.groupby("patient_id").size()
        n = n[n >= min_items]
        out = pd.DataFrame({"obs_end": float(ehr.split_day), "n_items": n.astype(int)})
    else:
        first = df.groupby(["patient_id", "item"])["day"].min().reset_index().sort_values(
            ["patient_id", "day"], kind="stable")
        first["rank"] = first.groupby("patient_id").cumcount() + 1
        hit = first[first["rank"] == min_items].set_index("patient_id")
        upto = first.merge(hit["day"].rename("assess"), left_on="patient_id", right_index=True)
        n = upto[upto["day"] <= upto["assess"]].groupby("patient_id").size()
        out = pd.DataFrame({"obs_end": hit["day"].astype(float) + 1,
                            "n_items": n.reindex(hit.index).astype(int)})
    out.index.name = "patient_id"
    if out.empty:
        return pd.DataFrame(columns=cols).rename_axis("patient_id")
    pid = out.index.to_numpy()
    start = out["obs_end"].to_numpy()
    out["level"] = outcome_levels(ehr, pid, start, start + horizon_days)
    last = ev.groupby("patient_id")["day"].max().reindex(pid).to_numpy()
    out["followed"] = last >= start
    return out[cols]


def outcome_levels(ehr: EHR, patient_ids, start, end) -> np.ndarray:
    """0 low / 1 moderate / 2 high from the outcome codes dated in ``[start, end)`` per patient."""
    def count(patterns):
        m = ehr.code_matrix(patient_ids, start, end, code_ids=ehr.code_ids(patterns))
        return np.asarray(m.sum(1)).ravel()

    hi = count(phenotypes.patterns("self_harm", ehr))
    mod = count(phenotypes.patterns("suicidal_ideation", ehr))
    return np.where(hi > 0, 2, np.where(mod > 0, 1, 0)).astype(int)


# ---------------------------------------------------------------------------------------------
# The structural-smoothness graph


def code_group(code: str) -> str:
    """The group whose members the eNRBM's smoothness term pulls together.

    Diagnoses: the ICD-9 three-character category (``D:29620`` and ``D:29630`` -> ``D:296``;
    E codes four characters). Procedures: the two-digit ICD-9-CM procedure category
    (``P:3722`` -> ``P:37``). Medications: the active ingredient (``M:metoprolol tartrate`` and
    ``M:metoprolol`` -> ``M:metoprolol``), the only drug hierarchy a bare drug name gives.
    """
    kind, _, c = code.partition(":")
    if kind == "D":
        return "D:" + icd9_block(c)
    if kind == "P":
        return "P:" + c[:2]
    if kind == "M":
        return "M:" + active_ingredient(c)
    return code


def smoothness_laplacian(codes) -> sparse.csr_matrix:
    """Graph Laplacian L of the codes, with edges between the members of each :func:`code_group`.

    Each group of m codes is a clique whose edges weigh 1/m, so that for any matrix W (codes x
    hidden units), ``trace(W.T @ L @ W) = sum over groups, sum over members i of ||W_i - mean||^2``:
    the spread of each group's weight vectors around their mean. Singletons contribute nothing.
    """
    keys = pd.Series([code_group(c) for c in codes])
    n = len(keys)
    rows, cols, vals = [], [], []
    for _, idx in keys.groupby(keys).indices.items():
        m = len(idx)
        if m < 2:
            continue
        ii, jj = np.meshgrid(idx, idx, indexing="ij")
        block = np.full((m, m), -1.0 / m)
        block[np.diag_indices(m)] = (m - 1) / m
        rows.append(ii.ravel())
        cols.append(jj.ravel())
        vals.append(block.ravel())
    if not rows:
        return sparse.csr_matrix((n, n))
    ij = (np.concatenate(rows), np.concatenate(cols))
    return sparse.csr_matrix((np.concatenate(vals), ij), shape=(n, n))


# ---------------------------------------------------------------------------------------------
# From scores to low / moderate / high


def _best_threshold(y_bin: np.ndarray, score: np.ndarray, max_candidates: int = 200) -> float:
    """The threshold t maximising the F-score of ``score >= t`` (ties: the higher t)."""
    cand = np.unique(score)
    if len(cand) > max_candidates:
        cand = np.unique(np.quantile(score, np.linspace(0, 1, max_candidates)))
    best_t, best_f = np.inf, -1.0
    pos = y_bin.sum()
    for t in cand[::-1]:
        pred = score >= t
        tp = (pred & y_bin).sum()
        f = 2 * tp / (pred.sum() + pos) if pred.sum() + pos else 0.0
        if f > best_f:
            best_t, best_f = float(t), f
    return best_t


def fit_thresholds(y, score_moderate, score_high) -> tuple[float, float]:
    """Per-class thresholds chosen on training data for the F-score of moderate and of high.

    The rule (:func:`apply_thresholds`): high if ``score_high >= t_high``, else moderate if
    ``score_moderate >= t_moderate``, else low. ``t_high`` maximises F(high); then ``t_moderate``
    maximises F(moderate) among the patients not called high. Argmax of three probabilities almost
    never names a rare class; this rule does, and is applied identically to every model and to the
    true probabilities (the oracle). A class absent from ``y`` gets an infinite threshold (never
    predicted).
    """
    y = np.asarray(y)
    sh, sm = np.asarray(score_high, float), np.asarray(score_moderate, float)
    t_high = _best_threshold(y == 2, sh) if (y == 2).any() else np.inf
    rest = sh < t_high
    t_mod = _best_threshold(y[rest] == 1, sm[rest]) if (y[rest] == 1).any() else np.inf
    return t_mod, t_high


def apply_thresholds(score_moderate, score_high, t_moderate: float, t_high: float) -> np.ndarray:
    sh, sm = np.asarray(score_high, float), np.asarray(score_moderate, float)
    return np.where(sh >= t_high, 2, np.where(sm >= t_moderate, 1, 0)).astype(int)


def level_f_scores(y_true, y_pred) -> dict[str, float]:
    """F-score of the moderate and the high class, and the macro F over the three levels.

    A class with no member in ``y_true`` has no F-score (NaN, "not estimable"); the macro F
    averages the estimable ones.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = {}
    for k, name in enumerate(LEVELS):
        out[f"f_{name}"] = (float(f1_score(y_true == k, y_pred == k, zero_division=0.0))
                            if (y_true == k).any() else float("nan"))
    vals = [out[f"f_{n}"] for n in LEVELS if not np.isnan(out[f"f_{n}"])]
    out["f_macro"] = float(np.mean(vals)) if vals else float("nan")
    del out["f_low"]
    return out


# ---------------------------------------------------------------------------------------------
# Hidden units versus planted factors


def factor_correlations(H: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Pearson correlations (factors x units) between each column of ``theta`` and of ``H``;
    constant columns correlate 0."""
    def z(a):
        a = np.asarray(a, float)
        sd = a.std(0)
        return np.where(sd > 0, (a - a.mean(0)) / np.where(sd > 0, sd, 1.0), 0.0)
    return z(theta).T @ z(H) / len(H)


def best_matching_units(H: np.ndarray, theta: np.ndarray, names) -> pd.DataFrame:
    """For each planted factor, the hidden unit (column of H) most correlated with it, and r.

    Used to ask whether a representation recovers the simulator's phenotypes: a unit that tracks
    a phenotype's share has r near 1; r can be negative for signed models (RBM, PCA), so the
    largest absolute correlation is taken and its sign kept.
    """
    C = factor_correlations(H, theta)
    j = np.abs(C).argmax(1)
    return pd.DataFrame({"factor": list(names), "unit": j, "r": C[np.arange(len(C)), j]}).set_index("factor")
