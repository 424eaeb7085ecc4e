"""The `precmed` command as a new user meets it: every kind of bad input gives a clear error
(exit status 2) before anything runs, and leaves earlier runs untouched."""

import json
import subprocess
import sys

import pytest
from helpers import ROOT, precmed, write_matrix

from precmed_utils.studies import all_studies, implemented_studies


def test_list():
    r = precmed("list", subprocess_run=True)  # the installed script itself
    assert r.returncode == 0
    assert "cancer_subtyping" in r.stdout
    assert r.stdout.count("not reproduced yet") == len(all_studies()) - len(implemented_studies())
    r = precmed("list", "cancer_subtyping")
    assert "n_folds: int = 10 in [2, 50]" in r.stdout and "profile smoke" in r.stdout


@pytest.mark.parametrize("args,expected", [
    (["run", "cancer_subtype"], "unknown study 'cancer_subtype'. Did you mean 'cancer_subtyping'?"),
    (["run", "cancer_subtyping", "-p", "n_fold=3"], "unknown parameter 'n_fold'"),
    (["run", "cancer_subtyping", "-p", "n_folds=three"], "cannot read 'three' as int"),
    (["run", "cancer_subtyping", "-p", "n_folds=2.5"], "cannot read '2.5' as int"),
    (["run", "cancer_subtyping", "-p", "n_folds=1"], "n_folds: 1 is below the minimum 2"),
    (["run", "cancer_subtyping", "-p", "n_repeats=-1"], "below the minimum 1"),
    (["run", "cancer_subtyping", "-p", "methods=CERP,SVN"], "'SVN' is not allowed (did you mean 'SVM'?)"),
    (["run", "cancer_subtyping", "-p", "device=gpu"], "device: 'gpu' is not allowed"),
    (["run", "cancer_subtyping", "-p", "device=cuda"], "has no GPU code path"),
    (["run", "cancer_subtyping", "-p", "seed"], "expected name=value"),
    (["run", "cancer_subtyping", "-p", "data=/no/such/file.csv"], "does not exist"),
    (["run", "cancer_subtyping", "-p", "data=lung"], "'lung' is not allowed"),
    (["run", "cancer_subtyping", "-p", "output_dir=/tmp/x"], "output_dir is set by the runner"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path, args, expected):
    runs = tmp_path / "runs"
    r = precmed(*args, "--runs-dir", str(runs))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert r.stderr.startswith("precmed: error:") and "Traceback" not in r.stderr
    assert not runs.exists(), "nothing may be written for a refused run"


def test_unknown_profile_and_command():
    r = precmed("run", "cancer_subtyping", "--profile", "huge")
    assert r.returncode == 2 and "invalid choice: 'huge'" in r.stderr
    r = precmed("bake")
    assert r.returncode == 2


@pytest.mark.parametrize("content,expected", [
    ("gene1,gene2\n1,2\n3,4\n", "line 1: no column named 'label'"),
    ("label,g1\nA,1\nA,x\nB,2\nB,3\n", "line 3, column 'g1': 'x' is not a number"),
    ("label,g1\nA,1\nA,2\n", "single class"),
    ("", "the file is empty"),
])
def test_malformed_data_file(tmp_path, content, expected):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    r = precmed("run", "cancer_subtyping", "-p", f"data={bad}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2 and expected in r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_user_csv_multiclass_and_a_failed_run_keeps_earlier_results(tmp_path):
    """A CSV the project has never seen (three classes, raw intensities) runs end to end; a later
    run that fails while executing keeps the earlier result and reports the error."""
    csv = write_matrix(tmp_path / "new_cohort.csv.gz", n_per_class=(12, 10, 9), n_genes=40, raw=True)
    runs = tmp_path / "runs"
    r = precmed("run", "cancer_subtyping", "--profile", "smoke", "-p", f"data={csv}",
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "cancer_subtyping").glob("smoke-*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    acc = metrics["metrics"]["user_data/CERP/accuracy"]["mean"]
    assert acc > 0.6, "three well-separated classes: CERP must beat chance (0.39) clearly"
    assert {c["id"]: c["verdict"] for c in metrics["claims"]}["C1"] == "not comparable"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"][0]["kind"] == "restricted"
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "p17" not in nb, "sample identifiers of user data must not be printed"
    before = sorted(p.name for p in run_dir.rglob("*"))
    # more folds than the smallest class has samples: fails inside the notebook
    r = precmed("run", "cancer_subtyping", "--profile", "smoke", "-p", f"data={csv}",
                "-p", "n_folds=20", "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 1 and "FAILED" in r.stderr and "ValueError" in r.stderr
    assert sorted(p.name for p in run_dir.rglob("*")) == before
    assert list((runs / "cancer_subtyping").glob("failed-smoke-*"))


def test_adr_bcpnn_refuses_a_malformed_count_table(tmp_path):
    bad = tmp_path / "counts.csv"
    bad.write_text("event,DrugA,DrugB\nNausea,3,lots\nRash,1,2\n")
    r = precmed("run", "adr_bcpnn", "-p", f"data={bad}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2 and "line 2, column 'DrugB': 'lots' is not a non-negative integer" in r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_adr_bcpnn_runs_on_a_users_report_level_file(tmp_path):
    """A FAERS-like extract the project has never seen: report_id, drug, event, stratum, date."""
    import numpy as np

    rng = np.random.default_rng(0)
    lines = ["report_id,drug,event,stratum,date"]
    drugs, events = [f"drug{i}" for i in range(15)], [f"event{j}" for j in range(25)]
    for rep in range(1500):
        day = f"2024-{1 + rep * 12 // 1500:02d}-15"
        sex = "F" if rep % 3 else "M"
        ds = set(rng.choice(drugs, 1 + rng.poisson(0.8)))
        es = set(rng.choice(events, 1 + rng.poisson(1.0)))
        if "drug3" in ds and rng.random() < 0.5:
            es.add("event7")  # a planted association
        lines += [f"R{rep},{d},{e},{sex},{day}" for d in ds for e in es]
    path = tmp_path / "faers_extract.csv"
    path.write_text("\n".join(lines) + "\n")
    runs = tmp_path / "runs"
    r = precmed("run", "adr_bcpnn", "--profile", "smoke", "-p", f"data={path}", "--runs-dir", str(runs),
                "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "adr_bcpnn").glob("smoke-*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["metrics"]["user_data/bcpnn/n_signals"]["mean"] >= 1
    assert {c["id"]: c["verdict"] for c in metrics["claims"]}["C1"] == "not comparable"
    assert "R17," not in (run_dir / "notebook.ipynb").read_text(), "no report ids in the output"


def test_jobs_must_be_at_least_one(tmp_path):
    for cmd in (["book", "--profile", "smoke"], ["sweep", "adr_bcpnn", "--profile", "smoke"]):
        r = precmed(*cmd, "--jobs", "0", "--runs-dir", str(tmp_path))
        assert r.returncode == 2 and "--jobs" in r.stderr and "at least 1" in r.stderr, r.stderr
    assert not any(tmp_path.iterdir()), "nothing ran"


@pytest.mark.slow
def test_sigterm_stops_the_run_and_leaves_nothing_half_done(tmp_path):
    """SIGTERM during a run: exit 143, the kernel stopped, no partial folder, the interruption
    recorded; the kernel's own start-up warnings never reach the terminal."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    runs = tmp_path / "runs"
    cmd = ["run", "relation_extraction", "--profile", "smoke", "--runs-dir", str(runs), "--no-progress"]
    p = subprocess.Popen([sys.executable, "-m", "precmed_utils.tools.cli", *cmd],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, kernel = time.time() + 120, None
    while time.time() < deadline and kernel is None:
        time.sleep(0.5)
        kernel = next((k for k in psutil.Process(p.pid).children(recursive=True)
                       if "ipykernel" in " ".join(k.cmdline())), None)
    assert kernel is not None, "the notebook's kernel never started"
    time.sleep(3)  # let it execute cells
    assert list(runs.glob("*/.partial-*"))
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    assert "interrupted" in err and "TCP without encryption" not in err and "Traceback" not in err, err
    assert "unknown parameter" not in err, err  # the runner's marker is injected on purpose
    assert not list(runs.glob("*/.partial-*")), "a partial folder was left behind"
    (record,) = runs.glob("relation_extraction/interrupted-*.json")
    assert json.loads(record.read_text())["signal"] == "SIGTERM"
    assert not kernel.is_running() or kernel.status() == psutil.STATUS_ZOMBIE, "the kernel still runs"


def test_list_and_check_data_import_neither_torch_nor_scipy_stats():
    """`precmed list` and `precmed check-data` answer in about a second: the registry and the
    readers import no model code (torch) and no scipy.stats."""
    code = ("import sys\nfrom precmed_utils.tools.cli import main\n"
            "assert main(['list']) == 0\n"
            "assert main(['check-data', 'cancer_subtyping',\n"
            "             'data/microarray/gordon_2002_lung.csv.gz']) == 0\n"
            "heavy = [m for m in ('torch', 'scipy.stats') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
