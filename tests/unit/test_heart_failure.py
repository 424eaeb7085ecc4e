"""precmed_utils.studies.heart_failure: the matched case-control cohort, windows, skip-gram pairs, patient
vectors and the code-vector checks, on tiny hand-made records."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from precmed_utils.formats.ehr import EHR, _vocab_frame
from precmed_utils.studies import heart_failure as hfm


def _ehr(records, sex=None, age=None):
    """records: per patient a list of (day, code) events; one visit per (patient, day)."""
    codes = sorted({c for r in records for _, c in r} | {"D:4280"})
    cid = {c: i for i, c in enumerate(codes)}
    rows = [(p, d, cid[c]) for p, r in enumerate(records) for d, c in r]
    ev = pd.DataFrame(rows, columns=["patient_id", "day", "code"]).sort_values(["patient_id", "day", "code"])
    ev["visit"] = pd.factorize(ev["patient_id"] * 100000 + ev["day"])[0]
    n = len(records)
    patients = pd.DataFrame({"subject": np.arange(n), "sex": sex or ["F"] * n,
                             "age": age or [60.0] * n}, index=np.arange(n))
    return EHR(patients=patients, events=ev[["patient_id", "day", "visit", "code"]].reset_index(drop=True),
               vocab=_vocab_frame(codes, {}), source="simulated")


def test_count_visit_days():
    ehr = _ehr([[(0, "D:4019"), (0, "M:aspirin"), (10, "D:4019"), (50, "D:4019")], [(5, "D:4019")]])
    keys, stride = hfm._visit_days(ehr)
    got = hfm.count_visit_days(keys, stride, [0, 0, 0, 1], [0, 1, 0, 0], [11, 60, 0, 5])
    assert got.tolist() == [2, 2, 0, 0]  # end is exclusive; an empty window counts nothing


def test_age_band():
    assert hfm.age_band([64.9, 65.0, np.nan], 5).tolist() == [12, 13, -1]


def test_matched_case_control_protocol():
    # patient 0: case at day 400; 1: HF at day 100 (not a control for 0); 2: HF at day 600 (later case:
    # may be a control of 0); 3: no HF, last visit day 300 (not followed to 400); 4, 5: eligible
    # controls, 5 of another sex; 6: eligible but no visit in the window
    recs = [
        [(10, "D:4019"), (150, "D:25000"), (400, "D:4280")],
        [(20, "D:4019"), (100, "D:4280"), (500, "D:4019")],
        [(30, "D:4019"), (600, "D:4280")],
        [(40, "D:4019"), (300, "D:4019")],
        [(50, "D:2724"), (450, "D:4019")],
        [(50, "D:2724"), (450, "D:4019")],
        [(300, "D:2724"), (450, "D:4019")],
    ]
    ehr = _ehr(recs, sex=["F", "F", "F", "F", "F", "M", "F"])
    coh = hfm.matched_case_control(ehr, controls_per_case=5, prediction_window_days=180, seed=0)
    case0 = coh[coh["set_id"] == coh.loc[(coh["patient_id"] == 0) & coh["case"], "set_id"].iloc[0]]
    assert sorted(case0.loc[~case0["case"], "patient_id"]) == [2, 4]
    assert case0["later_case"].tolist() == [False, True, False]
    assert (case0["obs_end"] == 220).all() and (case0["obs_start"] == 0).all()
    assert (case0["index_day"] == 400).all()
    # patient 1's first HF is on day 100: its window [0, -80) is empty, so it is not a case
    assert set(coh.loc[coh["case"], "patient_id"]) == {0, 2}
    # each patient is a control at most once
    assert not coh.loc[~coh["case"], "patient_id"].duplicated().any()


def test_matched_case_control_observation_window_and_ratio():
    recs = [[(10, "D:4019"), (300, "D:25000"), (700, "D:4280")]] + \
        [[(10, "D:4019"), (300, "D:2724"), (800, "D:4019")] for _ in range(6)]
    ehr = _ehr(recs)
    coh = hfm.matched_case_control(ehr, controls_per_case=3, prediction_window_days=100,
                                   observation_window_days=400, seed=1)
    assert coh["case"].sum() == 1 and (~coh["case"]).sum() == 3
    assert (coh["obs_start"] == 200).all() and (coh["obs_end"] == 600).all()
    # with min_obs_visits=2 nobody has two visit days in [200, 600)
    assert hfm.matched_case_control(ehr, prediction_window_days=100, observation_window_days=400,
                                    min_obs_visits=2).empty
    # deterministic given the seed
    again = hfm.matched_case_control(ehr, controls_per_case=3, prediction_window_days=100,
                                     observation_window_days=400, seed=1)
    pd.testing.assert_frame_equal(coh, again)


def test_window_events_repeats_patients():
    ehr = _ehr([[(0, "D:4019"), (5, "M:aspirin"), (9, "D:2724")], [(1, "D:4019")]])
    ev = hfm.window_events(ehr, [0, 1, 0], [0, 0, 5], [6, 10, 100])
    assert ev["row"].tolist() == [0, 0, 1, 2, 2]
    assert ev["day"].tolist() == [0, 5, 1, 5, 9]


def test_skipgram_pairs_window_and_rows():
    rows = [0, 0, 0, 1, 1]
    days = [0, 3, 40, 0, 0]
    codes = [1, 2, 3, 1, 1]
    c, o = hfm.skipgram_pairs(rows, days, codes, window_days=30)
    # row 0: (1,2) within 30 days, (2,3) and (1,3) too far; row 1: the same code twice: no pair
    assert sorted(zip(c.tolist(), o.tolist(), strict=True)) == [(1, 2), (2, 1)]
    c, o = hfm.skipgram_pairs(rows, days, codes, window_days=40)
    expected = [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]
    assert sorted(zip(c.tolist(), o.tolist(), strict=True)) == expected
    c, o = hfm.skipgram_pairs([], [], [], 30)
    assert len(c) == 0 and len(o) == 0


def test_skipgram_pairs_subsample():
    rng = np.random.default_rng(0)
    n = 2000
    rows = np.repeat(np.arange(n // 10), 10)
    days = np.zeros(n, int)
    codes = rng.integers(0, 50, n)
    full, _ = hfm.skipgram_pairs(rows, days, codes, 0)
    some, ctx = hfm.skipgram_pairs(rows, days, codes, 0, max_pairs=len(full) // 4, seed=3)
    assert 0.15 * len(full) < len(some) < 0.35 * len(full) and len(some) == len(ctx)
    assert (some != ctx).all()


def test_patient_vectors():
    X = sparse.csr_matrix(np.array([[1, 0, 1], [0, 0, 0], [2, 1, 0]], float))
    V = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert np.allclose(hfm.patient_vectors(X, V, "sum"), [[2, 1], [0, 0], [2, 1]])
    assert np.allclose(hfm.patient_vectors(X, V, "mean"), [[1, 0.5], [0, 0], [2 / 3, 1 / 3]])
    with pytest.raises(ValueError, match="sum' or 'mean"):
        hfm.patient_vectors(X, V, "max")


def test_group_similarity_and_neighbours():
    V = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [1.0, 1.0]])
    group = np.array([0, 0, 1, 1, -1])
    fam = np.array(["a", "a", "b", "b", "x"])
    t = hfm.group_similarity(V, group, fam)
    assert t.loc["same group (synonyms)", "pairs"] == 2 and t.loc["different family", "pairs"] == 4
    assert t.loc["same group (synonyms)", "mean cosine"] > 0.95 > t.loc["different family", "mean cosine"]
    t2 = hfm.group_similarity(V, group)
    assert set(t2.index) == {"same group", "different group"}
    nn = hfm.nearest_neighbours(V, ["a1", "a2", "b1", "b2", "ab"], ["a1", "zz"], k=2)
    assert nn["neighbour"].tolist() == ["a2", "ab"] and nn["code"].unique().tolist() == ["a1"]
