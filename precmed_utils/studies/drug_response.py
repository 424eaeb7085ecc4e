"""Drug-response screens: GDSC and NCI-60 readers, the user format, binarisation, and a simulator
of perturbation pairs (expression before and after a drug) calibrated to a real expression matrix.

A screen is an expression matrix (cell lines x genes, log scale) and a long response table
(cell_line, drug, response; lower response = more sensitive, e.g. ln IC50). The simulator plants
latent pathway programmes, drug effects on them and a response that depends on both, and returns
that truth (the Bayes-optimal probabilities) next to the data.

Used by: drug_response.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr  # the standard normal CDF (what scipy.stats.norm.cdf computes)

from ..errors import DataError, Problems
from ..formats.tables import empty, numbers, read_table, repeats, where

EXPRESSION_FILE, RESPONSE_FILE = "expression.csv", "response.csv"
MIN_LINES_PER_DRUG = 10
USER_SCREEN_FORMAT = (
    f"a folder holding two CSV files (each optionally gzipped as .csv.gz). {EXPRESSION_FILE}: "
    "one row per cell line; the first column holds the cell-line id (any header, e.g. "
    "'cell_line'), every other column is one gene with a numeric expression value (log scale, "
    "e.g. log2(TPM+1); a matrix that looks raw, all values >= 0 and some above 100, is "
    "log2(x+1)-transformed); no missing values, no repeated ids. "
    f"{RESPONSE_FILE}: columns cell_line, drug, response, one row per tested (cell line, drug) "
    "pair; response numeric with LOWER = MORE SENSITIVE (e.g. ln IC50, log GI50, AUC of the "
    "viability curve), or already binary 1 = sensitive / 0 = resistant. Each drug needs at "
    f"least {MIN_LINES_PER_DRUG} cell lines that also appear in {EXPRESSION_FILE}."
)


@dataclass
class DrugScreen:
    """Expression (cell lines x genes, log scale) and responses (cell_line, drug, response)."""

    name: str
    expression: pd.DataFrame
    response: pd.DataFrame
    response_name: str = "response"
    notes: list[str] = field(default_factory=list)

    @property
    def drugs(self) -> list[str]:
        return list(dict.fromkeys(self.response["drug"]))

    def matrix(self, drug: str) -> pd.Series:
        """The responses to ``drug`` of the lines that have expression (index: cell line)."""
        r = self.response[self.response["drug"] == drug].set_index("cell_line")["response"]
        return r[r.index.isin(self.expression.index)]

    def cohort(self) -> pd.DataFrame:
        """Per drug: lines tested, lines with expression too; the response range."""
        rows = []
        for d in self.drugs:
            r = self.matrix(d)
            rows.append({"drug": d, "lines tested": int((self.response["drug"] == d).sum()),
                         "with expression": len(r), "response min": round(float(r.min()), 3),
                         "median": round(float(r.median()), 3), "max": round(float(r.max()), 3)})
        return pd.DataFrame(rows).set_index("drug")


def log_if_raw(expr: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """log2(x+1) when the matrix looks raw (all values >= 0 and some above 100)."""
    v = expr.to_numpy()
    if v.min() >= 0 and v.max() > 100:
        return np.log2(expr + 1.0), True
    return expr, False


def binarise(response: pd.Series, sensitive_fraction: float) -> pd.Series:
    """1 = sensitive: the ``sensitive_fraction`` of lines with the LOWEST response (ties by
    order of appearance, so the count is exact); a response that is already 0/1 is kept.

    Used by drug_response (the same rule for GDSC, NCI-60, user data and the simulator).
    """
    vals = pd.to_numeric(response, errors="raise").astype(float)
    if set(np.unique(vals)) <= {0.0, 1.0}:
        return vals.astype(int)
    k = max(1, int(round(sensitive_fraction * len(vals))))
    order = np.argsort(vals.to_numpy(), kind="stable")
    y = np.zeros(len(vals), dtype=int)
    y[order[:k]] = 1
    return pd.Series(y, index=response.index, name="sensitive")


# ---------------------------------------------------------------------------------------------
# Shipped screens

def read_gdsc(expr_path: Path, response_path: Path) -> DrugScreen:
    """GDSC: log2(FPKM+1) of 100 lines x 1,350 genes; GDSC2 LN_IC50 of 10 drugs (long table)."""
    expr = pd.read_csv(expr_path, index_col=0).astype(float)
    expr.index = expr.index.astype(str)
    expr, _ = log_if_raw(expr)
    r = pd.read_csv(response_path, usecols=["SANGER_MODEL_ID", "DRUG_NAME", "LN_IC50"])
    resp = pd.DataFrame({"cell_line": r["SANGER_MODEL_ID"].astype(str), "drug": r["DRUG_NAME"].astype(str),
                         "response": r["LN_IC50"].astype(float)})
    resp = resp.sort_values(["drug", "cell_line"], kind="stable").reset_index(drop=True)
    return DrugScreen("gdsc", expr, resp, "ln IC50 (uM)",
                      ["expression: log2(FPKM + 1) of the shipped FPKM values"])


def read_nci60(expr_path: Path, activity_path: Path, drugs: list[str] | None = None) -> DrugScreen:
    """NCI-60: 48 ABC transporters (one missing value -> gene median); activity -log10(GI50) ->
    log10(GI50) (lower = more sensitive). ``drugs``: the compounds to keep (default: all with a
    value for every line)."""
    e = pd.read_csv(expr_path)
    expr = e.drop(columns=["class"]).set_index("cell_line").astype(float)
    n_missing = int(expr.isna().sum().sum())
    expr = expr.fillna(expr.median())
    act = pd.read_csv(activity_path, index_col=0)
    if drugs:
        unknown = [d for d in drugs if d not in act.columns]
        if unknown:
            raise DataError(f"nci60: unknown compound(s) {unknown}; names are as in "
                            "data/nci60/nci60_compound_gi50_activity.csv.gz (e.g. 'Doxorubicin')")
        act = act[drugs]
    else:
        act = act.loc[:, act.notna().all()]
    long = act.rename_axis("cell_line").reset_index().melt("cell_line", var_name="drug", value_name="act")
    long = long.dropna()
    resp = pd.DataFrame({"cell_line": long["cell_line"].astype(str), "drug": long["drug"].astype(str),
                         "response": -long["act"].astype(float)}).reset_index(drop=True)
    return DrugScreen("nci60", expr, resp, "log10 GI50 (M)",
                      [f"expression: ABC-transporter RT-qPCR values as shipped; {n_missing} missing "
                       "value(s) filled with the gene median"])


# ---------------------------------------------------------------------------------------------
# The user format: a folder with expression.csv and response.csv

def _find(folder: Path, name: str) -> Path | None:
    return next((c for c in (folder / name, folder / (name + ".gz")) if c.is_file()), None)


def _expression(path: Path, report: Problems) -> tuple[pd.Series | None, pd.DataFrame | None]:
    """The cell-line ids of a user's expression.csv (None if unreadable) and the matrix (None if
    anything is wrong); every problem goes to ``report``."""
    n_errors = report.count()
    expected = f"Expected: {USER_SCREEN_FORMAT}"
    text = read_table(path, report, expected=expected, row_names=True)
    if text is None:
        return None, None
    id_col, genes = text.columns[0], [c for c in text.columns[1:] if c != "_line"]
    if len(genes) < 2:
        report.add(path, "line 1", f"expected an id column and at least two gene columns, found "
                   f"{len(genes) + 1} column(s)")
    if len(text) < 2:
        report.add(path, "", f"{len(text)} cell line(s); at least two are needed")
    ids = text[id_col]
    cells = empty(text, [id_col], "empty cell-line id")
    cells += [(where(text, i, id_col), f"cell-line id repeated (first seen on line {line})")
              for i, _, line in repeats(text, id_col, skip_empty=True)]
    values = {}
    for g in genes:
        values[g], bad = numbers(text, g)
        cells += bad
    report.table(path, cells, expected)
    if report.count() > n_errors:
        return ids, None
    expr = pd.DataFrame(values, columns=genes).astype(float)
    expr.index = ids.to_numpy()
    return ids, expr


def read_user_expression(path: Path, report: Problems | None = None) -> pd.DataFrame | None:
    """Validate and read a user's expression.csv (first column ids, then numeric genes)."""
    return _expression(Path(path), Problems() if report is None else report)[1]


def _response(path: Path, report: Problems) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """A user's response.csv as text (None if unreadable) and as the response table (None if
    anything is wrong); every problem goes to ``report``."""
    n_errors = report.count()
    expected = f"Expected: {USER_SCREEN_FORMAT}"
    text = read_table(path, report, ("cell_line", "drug", "response"), expected=expected, row_names=True)
    if text is None:
        return None, None
    if text.empty:
        report.add(path, "", "header only, no responses")
        return None, None
    cells = empty(text, ("cell_line", "drug"))
    response, bad = numbers(text, "response")
    cells += bad
    named = (text["cell_line"] != "") & (text["drug"] != "")
    dup = (text.duplicated(["cell_line", "drug"]) & named).to_numpy()
    cells += [(where(text, i), f"cell line and drug repeated ({int(dup.sum())} repeated pair(s) in all; give "
               "one response per cell line and drug, e.g. the mean of replicates)") for i in dup.nonzero()[0]]
    report.table(path, cells, expected)
    if report.count() > n_errors:
        return text, None
    return text, pd.DataFrame({"cell_line": text["cell_line"], "drug": text["drug"],
                               "response": response.astype(float)})


def read_user_response(path: Path, report: Problems | None = None) -> pd.DataFrame | None:
    """Validate and read a user's response.csv (cell_line, drug, response)."""
    return _response(Path(path), Problems() if report is None else report)[1]


def read_user_screen(path: str | Path, report: Problems | None = None) -> DrugScreen | None:
    """A user's screen: a folder with expression.csv and response.csv (see USER_SCREEN_FORMAT).

    Every problem is reported with the file, the line (header = line 1) and the column: by
    default the first raises a DataError (a file's cell problems together); with a collecting
    ``report`` (``precmed check-data``) all are reported, response rows whose cell line has no
    expression as warnings, and None is returned when there are errors. Cell values are never
    echoed beyond 20 characters of a non-numeric token. Used by drug_response.
    """
    report = Problems() if report is None else report
    n_errors = report.count()
    folder = Path(path).expanduser()
    expected = f"Expected: {USER_SCREEN_FORMAT}"
    if not folder.is_dir():
        report.add(folder, "", f"expected a folder holding {EXPRESSION_FILE} and {RESPONSE_FILE}. {expected}")
        return None
    epath, rpath = _find(folder, EXPRESSION_FILE), _find(folder, RESPONSE_FILE)
    for name, hit in ((EXPRESSION_FILE, epath), (RESPONSE_FILE, rpath)):
        if hit is None:
            report.add(folder, "", f"no file {name} (or {name}.gz) in this folder. {expected}")
    ids, expr = _expression(epath, report) if epath else (None, None)
    text, resp = _response(rpath, report) if rpath else (None, None)
    if ids is not None and text is not None:
        lines = text["cell_line"]
        known = lines.isin(set(ids))
        if not known.any():
            report.add(rpath, "column 'cell_line'", f"none of its cell lines appears in {epath.name} "
                       "(ids must match exactly)")
        for i in (~known & (lines != "")).to_numpy().nonzero()[0] if known.any() else ():
            report.add(rpath, where(text, i, "cell_line"), f"cell line {lines.iat[i][:30]!r} is not in "
                       f"{epath.name}; the row is left out", warning=True)
    if report.count() > n_errors or expr is None or resp is None:
        return None
    expr, logged = log_if_raw(expr)
    shared = resp[resp["cell_line"].isin(expr.index)]
    counts = shared.groupby("drug", sort=False).size()
    usable = counts[counts >= MIN_LINES_PER_DRUG]
    if usable.empty:
        report.add(rpath, "", f"no drug has {MIN_LINES_PER_DRUG} or more cell lines with expression "
                   f"(most: {int(counts.max())}); add lines or responses")
        return None
    resp = resp[resp["drug"].isin(usable.index)].reset_index(drop=True)
    notes = [f"{len(counts) - len(usable)} drug(s) with fewer than {MIN_LINES_PER_DRUG} lines left out",
             "expression log2(x+1)-transformed (it looked raw)" if logged else "expression used as given"]
    return DrugScreen("user_data", expr, resp, "user response (lower = more sensitive)", notes)


# ---------------------------------------------------------------------------------------------
# The perturbation simulator

@dataclass
class SimulatedScreen:
    """A simulated screen with perturbation pairs and its planted truth.

    expression: lines x genes (baseline, one measurement per line); response: long table with
    columns cell_line, drug, response, observed (whether the response is given to the models);
    pairs: pair_id, cell_line, drug (one row per perturbation pair), with x1 (before) and x2
    (after) as arrays in the same row order; truth: the planted quantities (see simulate_screen).
    """

    expression: pd.DataFrame
    response: pd.DataFrame
    pairs: pd.DataFrame
    x1: np.ndarray
    x2: np.ndarray
    truth: dict


def calibrate(template: pd.DataFrame, n_programmes: int, n_genes: int) -> dict:
    """Programmes from a real log-expression matrix: the ``n_genes`` most variable genes, their
    means, the top ``n_programmes`` principal axes scaled to the variance they carry (loadings),
    and each gene's residual variance. Used by simulate_screen."""
    X = template.to_numpy(float)
    order = np.argsort(-X.var(axis=0, ddof=1), kind="stable")[:n_genes]
    genes = [str(g) for g in template.columns[order]]
    X = X[:, order]
    mu = X.mean(axis=0)
    Xc = X - mu
    k = min(n_programmes, min(Xc.shape) - 1)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    loadings = (Vt[:k].T * (S[:k] / math.sqrt(len(X) - 1)))  # genes x k: z ~ N(0, I) -> cov L L^T
    resid = Xc - (U[:, :k] * S[:k]) @ Vt[:k]
    resid_var = np.maximum(resid.var(axis=0, ddof=1), 1e-3 * Xc.var(axis=0, ddof=1).mean())
    share = float((S[:k] ** 2).sum() / (S ** 2).sum())
    return {"genes": genes, "mean": mu, "loadings": loadings, "resid_var": resid_var,
            "variance_share": share, "template_gene_var": Xc.var(axis=0, ddof=1)}


def simulate_screen(template: pd.DataFrame, *, n_lines: int = 300, n_drugs: int = 4,
                    n_programmes: int = 8, n_genes: int = 300, label_fraction: float = 0.6,
                    pair_fraction: float = 0.4, pairs_per_line: int = 2, effect_mean: float = 1.5,
                    effect_state: float = 0.7, effect_noise: float = 0.8, effect_weight: float = 1.0,
                    state_weight: float = 0.7, response_noise: float = 1.0, expression_noise: float = 1.0,
                    sensitive_fraction: float = 0.3, seed: int = 0) -> SimulatedScreen:
    """Simulate cell lines, drug perturbation pairs and responses, calibrated to ``template``.

    The planted model (programme scores z are in units of their real-data SD):
      z1_i ~ N(0, I_K); baseline x = mean + L z1 + noise (L, mean and the gene noise from the
      template's top-K principal axes, see calibrate).
      Drug d acts on its target programme t_d (and, at half strength, a second programme s_d):
      effect e_di = effect_mean + effect_state * (w_d . z1_i) + effect_noise * eta_di, with w_d
      a unit vector over two programmes and eta_di ~ N(0, 1) a line-specific part not visible
      in the baseline; z2_i = z1_i - e_di * v_d, v_d = (1 at t_d, 0.5 at s_d) / norm.
      Each pair is a fresh measurement of x(z1) and x(z2).
      Response (like ln IC50, lower = more sensitive):
      r_di = -effect_weight * e_di - state_weight * (b_d . z1_i) + response_noise * xi_di,
      b_d a unit vector over two programmes; sensitive = r in its lowest ``sensitive_fraction``.
      ``expression_noise`` scales every gene's noise SD beyond the programmes (1 = as in the
      template; larger: each profile is a noisier emission of its programme state).
    Truth returned: programme scores z, targets, w, b, effects e, the threshold, and for each
    (line, drug) the probability of sensitivity given the baseline state only (p_baseline, the
    best any model of baseline expression can do) and given the state and the drug's actual
    effect (p_effect).
    """
    rng = np.random.default_rng(seed)
    cal = calibrate(template, n_programmes, n_genes)
    L, mu, rv = cal["loadings"], cal["mean"], cal["resid_var"] * expression_noise**2
    K, G = L.shape[1], L.shape[0]
    lines = [f"SIM{i + 1:04d}" for i in range(n_lines)]
    z1 = rng.standard_normal((n_lines, K))

    def measure(z):
        return mu + z @ L.T + rng.standard_normal((len(z), G)) * np.sqrt(rv)

    expression = pd.DataFrame(measure(z1), index=lines, columns=cal["genes"])
    drugs = [f"drug_{chr(65 + d)}" for d in range(n_drugs)]
    targets = [(int(a), int(b)) for a, b in (rng.choice(K, size=2, replace=False) for _ in drugs)]

    def unit_pair(k1, k2, a=1.0, b=1.0):
        v = np.zeros(K)
        v[k1], v[k2] = a, b
        return v / np.linalg.norm(v)

    resp_rows, pair_rows, x1s, x2s = [], [], [], []
    truth = {"programmes": K, "genes": G, "variance_share": cal["variance_share"], "z": z1,
             "drugs": {}, "lines": lines}
    denom_base = math.hypot(effect_weight * effect_noise, response_noise)
    for d, (t, s) in zip(drugs, targets, strict=True):
        v = unit_pair(t, s, 1.0, 0.5)
        w = unit_pair(*[int(k) for k in rng.choice(K, size=2, replace=False)],
                      *rng.choice([-1.0, 1.0], size=2))
        b = unit_pair(*[int(k) for k in rng.choice(K, size=2, replace=False)],
                      *rng.choice([-1.0, 1.0], size=2))
        eta, xi = rng.standard_normal(n_lines), rng.standard_normal(n_lines)
        effect = effect_mean + effect_state * (z1 @ w) + effect_noise * eta
        mean_base = -effect_weight * (effect_mean + effect_state * (z1 @ w)) - state_weight * (z1 @ b)
        mean_eff = -effect_weight * effect - state_weight * (z1 @ b)
        r = mean_eff + response_noise * xi
        thr = float(np.quantile(r, sensitive_fraction))
        p_base = ndtr((thr - mean_base) / denom_base)
        p_eff = ndtr((thr - mean_eff) / response_noise)
        observed = rng.random(n_lines) < label_fraction
        resp_rows.append(pd.DataFrame({"cell_line": lines, "drug": d, "response": r, "observed": observed}))
        z2 = z1 - effect[:, None] * v[None, :]
        paired = np.flatnonzero(rng.random(n_lines) < pair_fraction)
        for rep in range(pairs_per_line):
            x1s.append(measure(z1[paired]))
            x2s.append(measure(z2[paired]))
            pair_rows.append(pd.DataFrame({"cell_line": [lines[i] for i in paired], "drug": d,
                                           "replicate": rep}))
        truth["drugs"][d] = {"target": t, "second": s, "direction": v, "w": w, "b": b, "effect": effect,
                             "threshold": thr, "p_baseline": p_base, "p_effect": p_eff,
                             "sensitive": (r <= thr).astype(int)}
    pairs = pd.concat(pair_rows, ignore_index=True)
    pairs.insert(0, "pair_id", np.arange(len(pairs)))
    return SimulatedScreen(expression, pd.concat(resp_rows, ignore_index=True), pairs,
                           np.vstack(x1s), np.vstack(x2s), truth)


# The positive control of drug_response: the same simulator in a setting where a representation
# learned from every line's expression (and a transition learned from pairs) must help. Each
# profile is a noisy emission (gene noise SD x3) of a low-dimensional programme state; the
# response is the drug's effect on its target programme almost without noise (no other state
# term), an effect that pairs measure for most lines; few lines have a response (the notebook's
# pc_label_fraction). A model that learns the programmes from every profile, denoised, and the
# drug's action from the pairs has far more to learn from than the few labelled lines that a
# raw-expression baseline gets, in hundreds of noisy genes. The number of drugs is the notebook's
# pc_drugs.
POSITIVE_CONTROL = {"pair_fraction": 0.8, "effect_state": 1.0, "effect_noise": 0.2,
                    "state_weight": 0.0, "response_noise": 0.3, "expression_noise": 3.0}


def bayes_auroc(sim: SimulatedScreen, drug: str, lines=None, which: str = "p_baseline") -> float:
    """AUROC of the planted probability (``p_baseline`` or ``p_effect``) against the planted
    sensitive / resistant class, over ``lines`` (default all): the ceiling for a model."""
    from sklearn.metrics import roc_auc_score

    t = sim.truth["drugs"][drug]
    idx = np.arange(len(sim.truth["lines"])) if lines is None else np.asarray(lines)
    return float(roc_auc_score(t["sensitive"][idx], t[which][idx]))


# ---------------------------------------------------------------------------------------------
# Registry


__all__ = ["DrugScreen", "SimulatedScreen", "binarise", "log_if_raw", "read_gdsc", "read_nci60",
           "read_user_screen", "read_user_expression", "read_user_response", "calibrate",
           "simulate_screen", "bayes_auroc", "POSITIVE_CONTROL", "USER_SCREEN_FORMAT"]
