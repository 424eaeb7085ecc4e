import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score

from precmed_utils.metrics import classification_summary, mean_sd, summarise


def test_binary_summary_matches_sklearn():
    y = np.array(["a"] * 8 + ["b"] * 4)
    p = np.array(["a"] * 6 + ["b"] * 2 + ["b"] * 3 + ["a"])
    s = classification_summary(y, p, positive="b")
    assert s["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert s["sensitivity"] == pytest.approx(recall_score(y, p, pos_label="b"))  # 3/4
    assert s["specificity"] == pytest.approx(recall_score(y, p, pos_label="a"))  # 6/8
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))


def test_multiclass_summary_is_macro():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = np.array([0, 0, 1, 1, 1, 2, 2, 0, 2])
    s = classification_summary(y, p)
    assert s["sensitivity"] == pytest.approx(recall_score(y, p, average="macro"))
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    # specificity of class k = TN / (TN + FP), one-versus-rest, then averaged by hand
    spec = [(np.sum((y != k) & (p != k))) / np.sum(y != k) for k in (0, 1, 2)]
    assert s["specificity"] == pytest.approx(np.mean(spec))


def test_binary_needs_a_positive_class():
    with pytest.raises(ValueError, match="positive"):
        classification_summary([0, 1], [0, 1])


def test_mean_sd_and_summarise():
    assert mean_sd([1.0, 3.0]) == {"mean": 2.0, "sd": pytest.approx(np.sqrt(2)), "n": 2}
    assert mean_sd([5.0])["sd"] == 0.0
    df = pd.DataFrame({"g": ["x", "x", "y"], "m": [1.0, 3.0, 5.0]})
    out = summarise(df, ["g"], ["m"])
    assert list(out.columns) == ["g", "m_mean", "m_sd"]
    assert out.loc[out.g == "x", "m_sd"].item() == pytest.approx(np.sqrt(2))
    assert out.loc[out.g == "y", "m_sd"].item() == 0.0
