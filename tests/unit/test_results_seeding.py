import hashlib
import json
import random

import numpy as np
import pytest
from helpers import ROOT

from precmed_utils.errors import DeviceError, ParameterError
from precmed_utils.params import resolve
from precmed_utils.results import Run, fmt, start_run
from precmed_utils.seeding import choose_device, cuda_available, seed_everything


def test_seed_everything_is_reproducible():
    assert seed_everything(7).random() == seed_everything(7).random()
    seed_everything(7)
    first = (random.random(), np.random.rand())
    seed_everything(7)
    assert (random.random(), np.random.rand()) == first


def test_choose_device():
    assert choose_device("cpu") == "cpu"
    assert choose_device("auto", supports_gpu=False) == "cpu"
    with pytest.raises(DeviceError):
        choose_device("tpu")
    with pytest.raises(DeviceError, match="no GPU code path"):
        choose_device("cuda", supports_gpu=False)
    if not cuda_available():
        assert choose_device("auto") == "cpu"
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            choose_device("cuda")


def _run(tmp_path, **over):
    params = resolve("cancer_subtyping", "smoke", over)
    params["output_dir"] = str(tmp_path)
    return start_run("cancer_subtyping", params)


def test_start_run_validates_and_writes_a_manifest(tmp_path):
    run = _run(tmp_path)
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["study"] == "cancer_subtyping" and m["device"] == "cpu"
    assert m["parameters"]["n_repeats"] == 1 and "numpy" in m["packages"]
    lock = (ROOT / m["lock"]["file"]).read_bytes()
    assert m["lock"]["sha256"] == hashlib.sha256(lock).hexdigest()  # the lock make installs from
    assert run.manifest_frame().loc["environment lock", "value"].startswith(m["lock"]["file"])
    run.add_data({"name": "x", "kind": "open", "sha256": {"f": "0" * 64}})
    assert json.loads((tmp_path / "manifest.json").read_text())["data"][0]["name"] == "x"
    with pytest.raises(ParameterError):
        start_run("cancer_subtyping", {**run.params, "n_folds": 0})


def test_paper_table_verdicts_and_save(tmp_path):
    run = Run("cancer_subtyping", {"seed": 0}, "cpu", tmp_path)
    table = run.paper_table({"gordon_lung/CERP/accuracy": {"mean": 0.97, "sd": 0.01}},
                            [{"key": "k", "metric": "extra", "value": 0.5, "verified": True}])
    assert table.iloc[0]["paper"] == "not reported [U]" and table.iloc[0]["difference"] == "—"
    assert table.iloc[-1]["ours (mean ± SD)"] == "not run"
    with pytest.raises(ValueError, match="claims not checked"):
        run.verdicts({"C1": (True, "")})
    v = run.verdicts({"C1": (True, "a"), "C2": ("partly", "b"), "C3": (None, "c")})
    assert list(v["verdict"]) == ["reproduced", "partly reproduced", "not comparable"]
    path = run.save({"gordon_lung/CERP/balanced_accuracy": {"mean": 0.97, "sd": 0.01, "n": 2}})
    doc = json.loads(path.read_text())
    assert doc["headline"]["ours"]["mean"] == 0.97 and len(doc["claims"]) == 3


def test_fmt():
    assert fmt(None) == "n/a" and fmt(0.12345) == "0.123" and fmt(0.5, 0.25) == "0.500 ± 0.250"
    assert fmt(149.0, 0.0) == "149" and fmt(0.5, 0.0) == "0.500"


def test_shared_cores_caps_threads_of_parallel_runs_and_restores(monkeypatch):
    import os

    from precmed_utils.seeding import THREAD_VARIABLES, shared_cores

    for k in THREAD_VARIABLES:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # the user's choice is kept
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)
    with shared_cores(4) as n:
        assert n == "2"
        assert os.environ["OMP_NUM_THREADS"] == "2" and os.environ["OPENBLAS_NUM_THREADS"] == "2"
        assert os.environ["MKL_NUM_THREADS"] == "3"
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "3"
    with shared_cores(1):
        assert "OMP_NUM_THREADS" not in os.environ  # one run alone keeps every core
    with shared_cores(16) as n:
        assert n == "1"


def test_amended_verdicts_keep_the_original_rule_beside_them(tmp_path):
    from precmed_utils.evidence import paired_difference

    run = Run("cancer_subtyping", {"seed": 0}, "cpu", tmp_path)
    gain = paired_difference([0.9, 0.92, 0.91, 0.93, 0.9], [0.8, 0.81, 0.8, 0.82, 0.8])
    noise = paired_difference([0.9, 0.8, 0.91, 0.79, 0.9], [0.85, 0.85, 0.86, 0.84, 0.85])
    v = run.verdicts({
        "C1": {"original": True, "evidence": "a", "comparisons": {"Gordon": gain}},
        "C2": {"original": True, "evidence": "b", "comparisons": {"Gordon": gain, "Shipp": noise}},
        "C3": {"original": True, "evidence": "c", "comparisons": {"Gordon": noise}},
    })
    assert list(v["verdict"]) == ["reproduced", "partly reproduced", "inconclusive"]
    assert list(v["under the 2026-11-28 rule"]) == ["reproduced"] * 3
    assert "n=5 (bootstrap): holds" in v.loc["C1", "paired difference [95% CI], n"]
    doc = json.loads(run.save({}).read_text())
    c3 = doc["claims"][2]
    assert c3["verdict"] == "inconclusive" and c3["original_verdict"] == "reproduced" and c3["amended"]
    assert c3["comparisons"]["Gordon"]["n"] == 5


def test_data_frame_lists_files_and_checksums():
    df = Run.data_frame({"name": "deid", "kind": "open", "licence": "ODbL", "sha256": {"b.txt": "2" * 64,
                                                                                     "a.txt": "1" * 64}})
    assert list(df.index.get_level_values("file")) == ["a.txt", "b.txt"] and df.iloc[0]["sha256"] == "1" * 64
    sim = Run.data_frame({"name": "ehr_simulated", "kind": "simulated", "licence": "-"})
    assert "generated by the code" in sim.index[0][1]


def test_metrics_json_is_strict_json(tmp_path):
    import math

    run = Run("cancer_subtyping", {"seed": 0}, "cpu", tmp_path)
    comp = {"diff": 0.1, "ci_low": math.nan, "ci_high": math.nan, "n": 2, "method": "bootstrap",
            "level": 0.95, "outcome": "inconclusive", "note": "too few pairs (2 < 5)"}
    run.verdicts({"C1": {"original": True, "evidence": "a", "comparisons": {"x": comp}},
                  "C2": (None, "b"), "C3": (None, "c")})
    path = run.save({"gordon_lung/CERP/balanced_accuracy": {"mean": math.nan, "sd": None, "n": 1}})
    text = path.read_text()
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["claims"][0]["comparisons"]["x"]["ci_low"] is None
