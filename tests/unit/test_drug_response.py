"""precmed_utils.studies.drug_response: the perturbation simulator (reproducible, planted truth
recoverable), binarisation, the shipped readers and the user format's error messages."""

import numpy as np
import pandas as pd
import pytest

from precmed_utils.errors import DataError
from precmed_utils.formats import data as registry
from precmed_utils.studies.drug_response import (
    POSITIVE_CONTROL,
    bayes_auroc,
    binarise,
    calibrate,
    read_user_screen,
    simulate_screen,
)


@pytest.fixture(scope="module")
def template():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((60, 4))
    return pd.DataFrame(z @ rng.standard_normal((4, 80)) * 2 + rng.standard_normal((60, 80)) + 5,
                        columns=[f"g{j}" for j in range(80)])


def _sim(template, seed=0, **kw):
    args = dict(n_lines=400, n_drugs=3, n_programmes=4, n_genes=60, seed=seed)
    args.update(kw)
    return simulate_screen(template, **args)


def test_simulator_is_reproducible_with_a_seed(template):
    a, b, c = _sim(template, 1), _sim(template, 1), _sim(template, 2)
    pd.testing.assert_frame_equal(a.expression, b.expression)
    pd.testing.assert_frame_equal(a.response, b.response)
    assert np.array_equal(a.x2, b.x2) and a.pairs.equals(b.pairs)
    assert not np.allclose(a.expression.to_numpy(), c.expression.to_numpy())


def test_simulated_expression_matches_the_template(template):
    sim = _sim(template)
    cal = calibrate(template, 4, 60)
    assert list(sim.expression.columns) == cal["genes"]
    ratio = sim.expression.var(ddof=1).to_numpy() / cal["template_gene_var"]
    assert 0.7 < np.median(ratio) < 1.3, "gene variances are calibrated to the real matrix"
    assert np.allclose(sim.expression.mean().to_numpy(), cal["mean"], atol=0.6)


def test_response_depends_on_the_planted_programmes(template):
    sim = _sim(template, n_lines=3000)
    z = sim.truth["z"]
    for d, t in sim.truth["drugs"].items():
        r = sim.response.loc[sim.response.drug == d, "response"].to_numpy()
        coef, *_ = np.linalg.lstsq(np.c_[np.ones(len(z)), z], r, rcond=None)
        planted = -(1.0 * 0.7 * t["w"] + 0.7 * t["b"])  # effect_weight * effect_state * w + state_weight * b
        assert np.allclose(coef[1:], planted, atol=0.1), (d, coef[1:], planted)
        assert abs(t["sensitive"].mean() - 0.3) < 0.01
        # the planted probabilities rank the planted classes; the drug effect adds information
        assert 0.7 < bayes_auroc(sim, d) < bayes_auroc(sim, d, which="p_effect")


def test_pairs_carry_the_drug_effect_on_its_target(template):
    sim = _sim(template, n_lines=1000)
    cal = calibrate(template, 4, 60)
    pinv = np.linalg.pinv(cal["loadings"])
    for d, t in sim.truth["drugs"].items():
        rows = (sim.pairs.drug == d).to_numpy()
        shift = ((sim.x2[rows] - sim.x1[rows]) @ pinv.T).mean(axis=0)  # programme-space change
        expected = -t["effect"].mean() * t["direction"]
        assert np.allclose(shift, expected, atol=0.15), (d, shift, expected)


def test_binarise_takes_the_most_sensitive_fraction():
    r = pd.Series([3.0, -1.0, 2.0, 0.5, 5.0, -2.0, 1.0, 4.0, 0.0, 6.0])
    y = binarise(r, 0.3)
    assert y.sum() == 3 and set(r[y == 1]) == {-2.0, -1.0, 0.0}
    assert binarise(pd.Series([0, 1, 1, 0]), 0.3).tolist() == [0, 1, 1, 0]


def test_shipped_screens_load():
    gdsc, info = registry.load("gdsc")
    assert gdsc.expression.shape == (100, 1350) and len(gdsc.drugs) == 10
    assert gdsc.expression.to_numpy().max() < 15, "log2(FPKM + 1)"
    assert len(gdsc.matrix("Olaparib")) == 90
    nci, _ = registry.load("nci60", drugs=["Doxorubicin"])
    assert nci.expression.shape == (60, 48) and not nci.expression.isna().any().any()
    assert (nci.response.response < 0).all(), "log10 GI50 in M"
    with pytest.raises(DataError, match="unknown compound"):
        registry.load("nci60", drugs=["Doxorubicine"])


def _screen(folder, expr=None, resp=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if expr is None:
        expr = "cell_line,g1,g2,g3\n" + "".join(f"L{i},{rng.normal():.3f},{rng.normal():.3f},1.0\n"
                                              for i in range(12))
    if resp is None:
        resp = "cell_line,drug,response\n" + "".join(f"L{i},dA,{rng.normal():.3f}\n" for i in range(12))
    (folder / "expression.csv").write_text(expr)
    (folder / "response.csv").write_text(resp)
    return folder


def test_user_screen_reads(tmp_path):
    s = read_user_screen(_screen(tmp_path / "s"))
    assert s.expression.shape == (12, 3) and s.drugs == ["dA"]


@pytest.mark.parametrize("expr,resp,expected", [
    ("cell_line,g1,g2\nL1,1,2\nL2,x,2\n", None,
     "expression.csv: malformed data:\n  - line 3, column 'g1': 'x' is not a number"),
    ("cell_line,g1,g2\nL1,1,2\nL1,1,2\n", None,
     "line 3, column 'cell_line': cell-line id repeated (first seen on line 2)"),
    ("cell_line,g1,g2\nL1,1,\nL2,1,2\n", None, "line 2, column 'g2': missing value"),
    ("cell_line,g1,g1\nL1,1,2\nL2,1,2\n", None, "expression.csv, line 1: duplicate column names ['g1']"),
    (None, "cell_line,drug,ic50\nL1,dA,1\n", "response.csv, line 1: missing column(s) ['response']"),
    (None, "cell_line,drug,response\nL1,dA,1\nL2,dA,high\n",
     "response.csv: malformed data:\n  - line 3, column 'response': 'high' is not a number"),
    (None, "cell_line,drug,response\nL1,dA,1\nL1,dA,2\n", "line 3: cell line and drug repeated"),
    (None, "cell_line,drug,response\nL1,,1\n", "line 2, column 'drug': empty value"),
    (None, "cell_line,drug,response\nL1,dA,1\nL2,dA,2\n", "no drug has 10 or more cell lines"),
    (None, "cell_line,drug,response\nZ1,dA,1\n", "none of its cell lines appears in expression.csv"),
])
def test_malformed_user_files_name_file_and_line(tmp_path, expr, resp, expected):
    with pytest.raises(DataError) as err:
        read_user_screen(_screen(tmp_path / "s", expr, resp))
    assert expected in str(err.value)


def test_user_screen_needs_a_folder_with_both_files(tmp_path):
    with pytest.raises(DataError, match="expected a folder"):
        read_user_screen(tmp_path / "nothing.csv")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "expression.csv").write_text("cell_line,g1,g2\nL1,1,2\n")
    with pytest.raises(DataError, match="no file response.csv"):
        read_user_screen(tmp_path / "f")


def test_positive_control_setting_raises_the_ceiling(template):
    """The positive control's setting makes the response follow the drug's visible effect: its
    Bayes-optimal AUROC from baseline expression is well above the main simulation's."""
    base, pc = _sim(template, n_lines=3000), _sim(template, n_lines=3000, **POSITIVE_CONTROL)
    for d in base.truth["drugs"]:
        assert bayes_auroc(pc, d) > bayes_auroc(base, d) + 0.08
        assert bayes_auroc(pc, d) > 0.9


def test_expression_noise_scales_the_genes_noise_beyond_the_programmes(template):
    """expression_noise multiplies each gene's residual SD: the variance the programmes do not
    explain grows by its square, the programmes' part is unchanged."""
    a, b = _sim(template, n_lines=4000), _sim(template, n_lines=4000, expression_noise=3.0)
    cal = calibrate(template, 4, 60)
    L = cal["loadings"]
    for sim, k in ((a, 1.0), (b, 9.0)):
        resid = sim.expression.to_numpy() - cal["mean"] - sim.truth["z"] @ L.T
        ratio = resid.var(axis=0) / cal["resid_var"]
        assert abs(np.median(ratio) - k) < 0.1 * k, (k, np.median(ratio))
