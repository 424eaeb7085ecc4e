"""`precmed sweep`: grid parsing and validation, failure reporting, reuse and resume, and the same
results from the local process pool and from a Dask LocalCluster."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers import precmed

from precmed_utils.errors import ParameterError
from precmed_utils.tools import sweep


def test_parse_seeds():
    assert sweep.parse_seeds("0-2,7,1") == [0, 1, 2, 7]
    assert sweep.parse_seeds("5") == [5]
    for bad, msg in [("3-1", "runs backwards"), ("a", "not a seed"), ("-1", "not a seed"),
                     ("0-5000", "at most 1000")]:
        with pytest.raises(ParameterError, match=msg):
            sweep.parse_seeds(bad)


def test_parse_grid_types_and_list_parameters():
    grid = sweep.parse_grid("cancer_subtyping", ["n_genes=100,500", "methods=CERP,CART;RandomForest"])
    assert grid == {"n_genes": [100, 500], "methods": [["CERP", "CART"], ["RandomForest"]]}


@pytest.mark.parametrize("args,expected", [
    (["-p", "n_genez=1,2"], "unknown parameter 'n_genez'"),
    (["-p", "n_genes=10,many"], "n_genes: cannot read 'many' as int"),
    (["-p", "seed=1,2"], "seed: set by the sweep"),
    (["-p", "n_genes=10,10"], "n_genes: a value is repeated"),
    (["-p", "n_folds=5,1"], "n_folds=1: invalid parameters"),
    (["-p", "n_genes=10", "--seeds", "2-1"], "runs backwards"),
    (["-p", "n_genes=10", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach a Dask scheduler"),
])
def test_bad_sweeps_are_refused_before_anything_runs(tmp_path, args, expected):
    runs = tmp_path / "runs"
    r = precmed("sweep", "cancer_subtyping", *args, "--runs-dir", str(runs))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert not runs.exists()


class FakeExecutor(sweep.Executor):
    """Runs nothing: writes a finished run folder for even seeds and fails odd ones."""

    def __init__(self):
        self.ran = []

    def run(self, fn, tasks):
        for t in tasks:
            self.ran.append(t.label)
            if t.overrides["seed"] % 2:
                yield t, {"study": t.study, "profile": t.profile, "ok": False, "path": "", "seconds": 0.1,
                          "error": "RuntimeError: planted failure"}
                continue
            params = sweep.prepare(t.study, t.profile, t.overrides)
            folder = Path(t.runs_dir) / t.study / f"{t.profile}-{sweep.parameter_hash(params)}"
            folder.mkdir(parents=True)
            (folder / "run.json").write_text(json.dumps({"error": None}))
            value = t.overrides["n_genes"] / 1000 + t.overrides["seed"]
            (folder / "metrics.json").write_text(json.dumps({"metrics": {"acc": {"mean": value}}}))
            yield t, {"study": t.study, "profile": t.profile, "ok": True, "path": str(folder), "seconds": 0.1,
                      "error": None}


def test_failed_runs_are_reported_and_finished_ones_reused(tmp_path):
    runs = tmp_path / "runs"
    ex = FakeExecutor()
    out = sweep.run_sweep("cancer_subtyping", ["n_genes=100,500"], "0-3", profile="smoke", runs_dir=runs,
                          executor=ex, log=lambda *_: None)
    assert out["runs"] == 8 and out["reused"] == 0 and len(ex.ran) == 8
    assert len(out["failed"]) == 4 and all("planted failure" in f for f in out["failed"])
    table = pd.read_csv(out["results"])
    assert (table["status"] == "failed").sum() == 4
    summary = pd.read_csv(out["summary"], header=[0, 1], index_col=0)
    assert summary[("metric:acc", "count")].tolist() == [2, 2]
    assert summary[("metric:acc", "mean")].tolist() == pytest.approx([1.1, 1.5])
    assert Path(out["figure"]).exists()
    # started again (an interrupted or partly failed sweep), only what has not finished runs
    ex2 = FakeExecutor()
    out2 = sweep.run_sweep("cancer_subtyping", ["n_genes=100,500"], "0-3", profile="smoke", runs_dir=runs,
                           executor=ex2, log=lambda *_: None)
    assert out2["reused"] == 4 and sorted(ex2.ran) == sorted(r for r in ex.ran if r.endswith(("1", "3")))


@pytest.mark.slow
def test_local_and_dask_sweeps_agree_and_an_interrupted_sweep_resumes(tmp_path):
    from distributed import LocalCluster

    grid = ["-p", "min_count=1,3", "-p", "n_periods=3"]
    local = precmed("sweep", "adr_bcpnn", "--profile", "smoke", *grid, "--seeds", "0-1",
                    "--runs-dir", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = precmed("sweep", "adr_bcpnn", "--profile", "smoke", *grid, "--seeds", "0-1",
                       "--scheduler", cluster.scheduler_address, "--runs-dir", str(tmp_path / "dask"))
    assert dask.returncode == 0, dask.stderr
    (a,) = (tmp_path / "local" / "adr_bcpnn" / "sweeps").glob("*/results.csv")
    (b,) = (tmp_path / "dask" / "adr_bcpnn" / "sweeps").glob("*/results.csv")
    ta, tb = pd.read_csv(a), pd.read_csv(b)
    assert len(ta) == 4 and (ta["status"] == "ok").all() and (tb["status"] == "ok").all()
    metrics = [c for c in ta.columns if c.startswith("metric:")]
    assert metrics
    pd.testing.assert_frame_equal(ta[["min_count", "seed", *metrics]], tb[["min_count", "seed", *metrics]])
    # interrupt: one run's folder is gone (as if the sweep stopped before it); the sweep resumes
    shutil.rmtree(ta["run"].iloc[2])
    again = precmed("sweep", "adr_bcpnn", "--profile", "smoke", *grid, "--seeds", "0-1",
                    "--runs-dir", str(tmp_path / "local"))
    assert again.returncode == 0, again.stderr
    assert "3 already finished, 1 to run" in again.stdout
    pd.testing.assert_frame_equal(pd.read_csv(a)[metrics], ta[metrics])
