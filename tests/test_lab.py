"""Teaching in the notebook itself: the in-notebook profile switch, the first cell that installs the
project outside it (Colab), student copies in nbgrader's format, and a chapter run in JupyterLab's
registered "precmed" kernel from notebooks/, as a student would run it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, precmed

from precmed_utils.errors import BuildError, ParameterError
from precmed_utils.params import (
    RESOLVED_MARKER,
    check_notebook_parameters,
    profile_overrides,
    resolve,
    study_spec,
)
from precmed_utils.studies import implemented_studies
from precmed_utils.tools import teaching

BIN = Path(sys.executable).parent


def _defaults(study):
    return {n: p.default for n, p in study_spec(study).items()}


# --- the profile switch ---------------------------------------------------------------------------

def test_every_chapter_declares_the_profile_switch_first():
    for study in implemented_studies():
        spec = study_spec(study)
        assert list(spec)[0] == "profile" and spec["profile"].default == "default", study
        assert "smoke" in spec["profile"].help, study


def test_profile_set_in_the_notebook_applies_the_profile_file_but_keeps_the_users_changes():
    smoke = profile_overrides("cancer_subtyping", "smoke")
    ns = {**_defaults("cancer_subtyping"), "profile": "smoke", "n_trees": 7}
    params = check_notebook_parameters("cancer_subtyping", ns)
    assert ns["n_folds"] == smoke["n_folds"] != _defaults("cancer_subtyping")["n_folds"]  # the globals change
    assert params["n_repeats"] == smoke["n_repeats"]
    assert params["n_trees"] == 7  # changed by the user: kept
    assert params == resolve("cancer_subtyping", "smoke", {"n_trees": 7})  # the same values as the CLI's


def test_runner_values_are_not_changed_twice():
    ns = {**resolve("cancer_subtyping", "smoke", {"n_folds": 10}), RESOLVED_MARKER: True}
    assert ns["profile"] == "smoke"
    assert check_notebook_parameters("cancer_subtyping", ns)["n_folds"] == 10  # the user's -p wins


def test_unknown_profile_and_profile_as_parameter_are_refused():
    with pytest.raises(ParameterError, match="profile"):
        check_notebook_parameters("cancer_subtyping", {**_defaults("cancer_subtyping"), "profile": "tiny"})
    res = precmed("run", "cancer_subtyping", "-p", "profile=smoke")
    assert res.returncode == 2 and "--profile smoke" in res.stderr


# --- the first cell: Colab and other places outside the project ------------------------------------

def test_every_chapter_opens_with_the_bootstrap_cell():
    for study in implemented_studies():
        nb = json.loads((ROOT / "notebooks" / f"{study}.ipynb").read_text())
        first = next(c for c in nb["cells"] if c["cell_type"] == "code")
        assert "".join(first["source"]) == teaching.BOOTSTRAP_SOURCE, study
        assert {"remove-cell", teaching.BOOTSTRAP_TAG} <= set(first["metadata"]["tags"]), study


def _run_bootstrap(monkeypatch, tmp_path, *, installed, url=None):
    import importlib.util
    import subprocess as sp

    calls = []
    monkeypatch.setattr(sp, "run", lambda cmd, **kw: calls.append(("run", cmd)))
    monkeypatch.setattr(os, "chdir", lambda d: calls.append(("chdir", d)))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (real(name, *a) if installed or name != "precmed_utils" else None))
    if url:
        monkeypatch.setenv("PRECMED_REPOSITORY_URL", url)
    else:
        monkeypatch.delenv("PRECMED_REPOSITORY_URL", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(teaching.BOOTSTRAP_SOURCE, "bootstrap", "exec"), {})
    return calls


def test_bootstrap_does_nothing_inside_the_project(monkeypatch, tmp_path):
    assert _run_bootstrap(monkeypatch, tmp_path, installed=True) == []


def test_bootstrap_outside_the_project_says_what_to_run(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match="pip install -e ."):
        _run_bootstrap(monkeypatch, tmp_path, installed=False)


def test_bootstrap_outside_the_project_clones_and_installs(monkeypatch, tmp_path):
    url = "https://github.com/example/precmed"
    calls = _run_bootstrap(monkeypatch, tmp_path, installed=False, url=url)
    assert calls[0] == ("run", ["git", "clone", "--depth", "1", url, "precmed"])
    assert calls[1][1][:3] == [sys.executable, "-m", "pip"] and calls[1][1][-2:] == ["-e", "precmed"]
    assert calls[2] == ("chdir", "precmed/notebooks")


def test_binder_builds_the_project():
    env = (ROOT / "binder" / "environment.yml").read_text()
    assert "python=3.11" in env
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK) and "pip install" in post.read_text()


# --- worksheets in nbgrader's format --------------------------------------------------------------

def _solution_lines(study):
    nb = json.loads((ROOT / "notebooks" / f"{study}.ipynb").read_text())
    exercises = teaching.exercises_of(nb)
    assert exercises and all(e.solution for e in exercises), study
    # every line of every solution long enough to be telling (not a fence or a short word)
    return [ln.strip() for e in exercises for ln in e.solution.splitlines() if len(ln.strip()) > 25]


@pytest.mark.parametrize("study", ["cancer_subtyping", "deidentification"])
def test_worksheet_is_accepted_by_nbgrader_and_leaves_no_solution(study, tmp_path):
    res = precmed("worksheet", study, "--out", str(tmp_path), "--profile", "smoke")
    assert res.returncode == 0, res.stderr
    source = json.loads((tmp_path / "source" / study / f"{study}.ipynb").read_text())
    answers = [c for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    chapter = json.loads((ROOT / "notebooks" / f"{study}.ipynb").read_text())
    assert len(answers) == len(teaching.exercises_of(chapter))
    assert len({c["metadata"]["nbgrader"]["grade_id"] for c in answers}) == len(answers)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader calls alembic
    gen = subprocess.run([str(BIN / "nbgrader"), "generate_assignment", study], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    release = (tmp_path / "release" / study / f"{study}.ipynb").read_text()
    ours = (tmp_path / "student" / f"{study}.ipynb").read_text()
    for line in _solution_lines(study):
        needle = json.dumps(line)[1:-1]  # as it is written inside the notebook's JSON
        assert needle not in release, f"nbgrader's student copy still holds: {line}"
        assert needle not in ours, f"our student copy still holds: {line}"
    for text in (release, ours):
        nb = json.loads(text)
        stubs = [c for c in nb["cells"] if "".join(c["source"]) == teaching.ANSWER_STUB]
        assert len(stubs) == len(answers)
        params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        assert 'profile: str = "smoke"' in "".join(params["source"])
    # the exercises' questions are still there
    first = teaching.exercises_of(chapter)[0]
    assert json.dumps(first.text.splitlines()[0])[1:-1][:40] in release


def test_worksheet_refuses_what_it_cannot_do(tmp_path, monkeypatch):
    res = precmed("worksheet", "no_such_study", "--out", str(tmp_path))
    assert res.returncode != 0 and "no_such_study" in res.stderr
    out = tmp_path / "course"
    assert precmed("worksheet", "adr_bcpnn", "--out", str(out)).returncode == 0
    student = out / "student" / "adr_bcpnn.ipynb"
    student.write_text(student.read_text() + " ")  # a teacher's edit
    res = precmed("worksheet", "adr_bcpnn", "--out", str(out))
    assert res.returncode != 0 and "will not overwrite" in res.stderr
    assert student.read_text().endswith(" ")  # nothing lost
    assert teaching.worksheet_notebook({"cells": []}, "x") == ({"cells": []}, [])
    monkeypatch.setattr(teaching, "worksheet_notebook", lambda nb, study, profile=None: (nb, []))
    with pytest.raises(BuildError, match="no exercise"):
        teaching.write_worksheet("adr_bcpnn", tmp_path / "other")
    assert not (tmp_path / "other").exists()


# --- a chapter in JupyterLab's kernel --------------------------------------------------------------

@pytest.mark.slow
def test_a_chapter_runs_in_the_registered_kernel_from_notebooks(tmp_path):
    """What `make lab` gives: the kernel "precmed" (registered in .venv by `make lab-install`) runs a
    chapter top to bottom through nbclient (no papermill), switched to smoke size in its own first
    code cell as a student would; everything it writes is ignored by git under notebooks/."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    specs = KernelSpecManager().find_kernel_specs()
    assert "precmed" in specs, "no Jupyter kernel 'precmed': run `make lab-install` (make test does)"
    argv = json.loads((Path(specs["precmed"]) / "kernel.json").read_text())["argv"]
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve(), "the kernel is not this environment"

    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.read(ROOT / "notebooks" / "cancer_subtyping.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace('profile: str = "default"', 'profile: str = "smoke"', 1)
    NotebookClient(nb, kernel_name="precmed", timeout=600,
                   resources={"metadata": {"path": str(folder)}}).execute()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["parameters"]["profile"] == "smoke"
    assert metrics["parameters"]["n_folds"] == profile_overrides("cancer_subtyping", "smoke")["n_folds"]
    written = [p.relative_to(tmp_path).as_posix() for p in folder.rglob("*") if p.is_file()]
    assert written
    if shutil.which("git") and (ROOT / ".git").exists():
        res = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=ROOT, capture_output=True,
                             text=True)
        assert sorted(res.stdout.split()) == sorted(written), "outputs git would not ignore: " + ", ".join(
            sorted(set(written) - set(res.stdout.split())))
