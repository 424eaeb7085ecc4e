"""Convergence status of training curves, the training log's metrics, and verdict bases."""

import pandas as pd
import pytest

from precmed_utils.convergence import TrainingLog, curve_status
from precmed_utils.params import profile_of
from precmed_utils.results import describe_basis
from precmed_utils.tools.runner import basis_marker


def test_curve_still_rising_at_cap_is_not_converged():
    st = curve_status([0.1, 0.2, 0.3, 0.4, 0.5], patience=2, max_epochs=5)
    assert st["best_epoch"] == 5 and st["hit_cap"] and not st["converged"]


def test_early_stopped_curve_is_converged():
    st = curve_status([0.1, 0.5, 0.49, 0.48], patience=2, max_epochs=10)
    assert st["best_epoch"] == 2 and st["converged"] and not st["hit_cap"]
    assert st["dev_at_kept"] == pytest.approx(0.5)


def test_flat_tail_within_tolerance_is_converged():
    # the last two epochs still improve, but by less than 0.1% of the value: a plateau
    st = curve_status([0.5, 0.8, 0.8001, 0.8002], patience=2, max_epochs=4, tol=1e-3)
    assert st["converged"]
    st = curve_status([0.5, 0.8, 0.81, 0.82], patience=2, max_epochs=4, tol=1e-3)
    assert not st["converged"]


def test_lower_is_better_and_kept_epoch():
    st = curve_status([3.0, 2.0, 1.0, 1.5, 1.6], patience=2, higher_is_better=False, kept_epoch=3)
    assert st["best_epoch"] == 3 and st["kept_epoch"] == 3 and st["converged"]
    with pytest.raises(ValueError):
        curve_status([1.0], patience=1, kept_epoch=2)
    with pytest.raises(ValueError):
        curve_status([], patience=1)


def test_training_log_metrics_table_status_and_plot():
    log = TrainingLog()
    good = pd.DataFrame({"loss": [1.0, 0.5, 0.4, 0.39], "dev_score": [0.5, 0.7, 0.69, 0.68]})
    rising = pd.DataFrame({"loss": [1.0, 0.5, 0.4], "dev_score": [0.5, 0.6, 0.7]})
    log.add("d", "A", good, dev_metric="f1", patience=2, max_epochs=10, seed=0)
    log.add("d", "A", good, dev_metric="f1", patience=2, max_epochs=10, seed=1)
    log.add("d", "B", rising, dev_metric="f1", patience=2, max_epochs=3, seed=0)
    m = log.metrics()
    assert m["d/A/best_epoch"]["mean"] == 2 and m["d/A/dev_f1"]["mean"] == pytest.approx(0.7)
    assert m["d/A/converged"]["mean"] == 1.0 and m["d/B/converged"]["mean"] == 0.0
    st = log.status()
    assert st == {"recorded": 3, "all_converged": False, "not_converged": ["d/B"]}
    t = log.table().set_index("model")
    assert t.loc["A", "converged"] == "2 of 2" and t.loc["B", "status"].startswith("NOT")
    assert "d/B" in log.summary_text()
    fig = log.plot("d")
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="no column"):
        log.add("d", "C", pd.DataFrame({"loss": [1.0]}), dev_metric="f1", patience=1)


def test_basis_marks_and_words():
    ok = {"profile": "default", "convergence": {"recorded": 2, "all_converged": True, "not_converged": []},
          "positive_control": {"passed": True, "evidence": ""}}
    bad = {"profile": "default",
           "convergence": {"recorded": 2, "all_converged": False, "not_converged": ["x/M"]},
           "positive_control": {"passed": False, "evidence": ""}}
    assert basis_marker(ok) == "" and basis_marker(None) == ""
    assert basis_marker(bad) == "†‡"
    assert describe_basis(ok) == "profile default; models converged; positive control passed"
    assert "NOT converged: x/M" in describe_basis(bad) and "FAILED" in describe_basis(bad)


def test_profile_of_names_the_profile():
    from precmed_utils.params import resolve

    assert profile_of("cancer_subtyping", resolve("cancer_subtyping", "default")) == "default"
    assert profile_of("cancer_subtyping", resolve("cancer_subtyping", "smoke")) == "smoke"
    p = resolve("cancer_subtyping", "default", {"n_repeats": 7})
    assert profile_of("cancer_subtyping", p) == "custom"
    assert profile_of("cancer_subtyping", {**resolve("cancer_subtyping", "default"), "seed": 3}) == "default"
