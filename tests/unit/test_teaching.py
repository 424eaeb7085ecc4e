"""The teaching material: exercises read back from a notebook, the instructor appendix, the
run-time tiers table and the launch links (with and without a repository URL)."""

import json
import subprocess

import pytest
import yaml

from precmed_utils.errors import BuildError
from precmed_utils.studies import implemented_studies
from precmed_utils.tools import teaching
from precmed_utils.tools.runner import RunResult, stage_book


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}


TINY = {"cells": [
    md("# A tiny study\n\n## Method\n\n1. Not an exercise: a numbered list of the method.\n"),
    code("x = 1"),
    md("## Discussion\n\nText.\n\n## Exercises\n\nTry these.\n\n"
       "1. Set `n=10`. Predict what happens to\n   the **AUC**.\n\n"
       "```{admonition} Solution\n:class: dropdown\nIt rises: more data.\n\n- a list in the solution\n```\n\n"
       "2. Run it with\n\n   ```bash\n   precmed run tiny -p n=3\n   # a comment, not a heading\n   ```\n\n"
       "   and compare.\n"),
    md("```{admonition} Solution\n:class: dropdown\nIt falls.\n```\n\n"
       "3. A third one with a visible solution.\n\n"
       "```{admonition} Solution\nShown.\n```\n"),
    code("run.save()"),
    md("## After the exercises\n\n4. Not an exercise either.\n"),
]}


def test_exercises_are_read_across_cells_and_stop_at_the_next_section():
    section = teaching.exercises_section(TINY)
    assert section.startswith("Try these.") and "After the exercises" not in section
    ex = teaching.exercises_of(TINY)
    assert [e.number for e in ex] == [1, 2, 3]
    assert ex[0].text == "Set `n=10`. Predict what happens to\nthe **AUC**."
    assert ex[0].solution == "It rises: more data.\n\n- a list in the solution"
    assert ex[0].solution_title == "Solution" and ex[0].hidden
    assert "```bash\nprecmed run tiny -p n=3\n# a comment, not a heading\n```" in ex[1].text
    assert ex[1].text.endswith("and compare.") and ex[1].solution == "It falls." and ex[1].hidden
    assert ex[2].solution == "Shown." and not ex[2].hidden
    assert teaching.exercises_of({"cells": [md("# No exercises\n")]}) == []
    # a list in a cell's source may be a list of lines, as nbformat writes it
    split = {"cells": [{**c, "source": c["source"].splitlines(keepends=True)} if c["cell_type"] == "markdown"
                       else c for c in TINY["cells"]]}
    assert [(e.text, e.solution) for e in teaching.exercises_of(split)] == [(e.text, e.solution) for e in ex]


def test_an_exercise_without_solution_is_reported():
    section = ("## Exercises\n\n1. One.\n2. Two.\n\n"
               "```{admonition} Solution\n:class: dropdown\n1. a\n2. b\n```\n")
    ex = teaching.exercises_of({"cells": [md(section)]})
    assert [(e.number, e.solution) for e in ex] == [(1, None), (2, "1. a\n2. b")]
    assert not ex[0].hidden


def test_instructor_page_shows_the_solutions_with_a_link_back():
    page = teaching.instructor_markdown([("tiny", "A tiny study", teaching.exercises_of(TINY)),
                                         ("empty", "No exercises", [])])
    assert page.startswith("# Instructor appendix: exercises and solutions")
    assert "## A tiny study" in page and "{doc}`studies/tiny`" in page
    assert "**Exercise 1.** Set `n=10`. Predict what happens to\nthe **AUC**." in page
    assert "```{admonition} Solution\n:class: tip\nIt rises: more data." in page
    assert "dropdown" not in page  # shown, not folded
    assert "*This chapter has no exercises yet.*" in page
    # a solution holding a code block gets a longer outer fence
    ex = [teaching.Exercise(1, "Q", "```bash\nls\n```", "Solution", ["dropdown"])]
    assert "````{admonition} Solution\n:class: tip\n```bash\nls\n```\n````" in \
        teaching.instructor_markdown([("x", "X", ex)])


DOC = {"machines": {"cpu: 2-core Test CPU, 8 GiB, no GPU": {"machine": {}, "runs": {
    "cancer_subtyping/smoke": {"ok": True, "seconds": 12.3, "peak_rss_mib": 410},
    "cancer_subtyping/default": {"ok": True, "seconds": 185.0, "peak_rss_mib": 1500},
    "deep_patient/default": {"ok": False, "seconds": 1.0, "peak_rss_mib": 1}}}}}


def test_tiers_table_comes_from_the_measurements():
    page = teaching.fill_teaching_page(f"# T\n\n{teaching.TIERS_PLACEHOLDER}\n\nEnd.\n", DOC,
                                       ["cancer_subtyping", "deep_patient"])
    assert teaching.TIERS_PLACEHOLDER not in page
    assert "Measured on *cpu: 2-core Test CPU, 8 GiB, no GPU*" in page
    assert ("| {doc}`studies/cancer_subtyping` | 12 s, 410 MiB | 3.1 min, 1,500 MiB | "
            "not measured; CPU only |") in page
    assert "| {doc}`studies/deep_patient` | not measured | failed | not measured; GPU recommended |" in page
    assert "No measurements yet" in teaching.tiers_table({"machines": {}}, ["cancer_subtyping"])
    with pytest.raises(ValueError, match="placeholder"):
        teaching.fill_teaching_page("# no placeholder\n", DOC, [])


def test_the_project_teaching_page_has_the_placeholder_and_no_typed_figures():
    from helpers import ROOT

    text = (ROOT / teaching.TEACHING_PAGE).read_text()
    assert teaching.TIERS_PLACEHOLDER in text
    assert " MiB" not in text, "measured figures come from book/performance.json, not typed in"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert "book/teaching" in files and "book/instructor" in files
    assert not (ROOT / teaching.INSTRUCTOR_PAGE).exists(), "the appendix is generated, not committed"


def test_repository_url_from_the_environment_or_an_https_origin(tmp_path):
    assert teaching.repository_url({"PRECMED_REPOSITORY_URL": "https://github.com/o/precmed.git/"}) == \
        "https://github.com/o/precmed"
    with pytest.raises(BuildError, match="must be an https URL"):
        teaching.repository_url({"PRECMED_REPOSITORY_URL": "git@github.com:o/precmed.git"})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert teaching.repository_url({}, root=tmp_path) is None  # no remote
    git = ["git", "-C", str(tmp_path), "remote"]
    subprocess.run([*git, "add", "origin", "git@github.com:o/p.git"], check=True)
    assert teaching.repository_url({}, root=tmp_path) is None  # Binder cannot open an ssh remote
    subprocess.run([*git, "set-url", "origin", "https://gitlab.com/g/p.git"], check=True)
    assert teaching.repository_url({}, root=tmp_path) == "https://gitlab.com/g/p"
    assert teaching.repository_url({}, root=tmp_path / "not-a-repo") is None


def test_launch_links_open_the_source_notebook():
    links = dict(teaching.launch_links("adr_bcpnn", "https://github.com/o/precmed", "main",
                                       hub="https://hub.example.org/"))
    assert links["Binder"] == "https://mybinder.org/v2/gh/o/precmed/main?labpath=notebooks/adr_bcpnn.ipynb"
    assert links["Colab"] == ("https://colab.research.google.com/github/o/precmed/blob/main/"
                              "notebooks/adr_bcpnn.ipynb")
    assert links["JupyterHub"].startswith("https://hub.example.org/hub/user-redirect/git-pull?repo=https%3A%2F%2F")
    assert "urlpath=lab%2Ftree%2Fprecmed%2Fnotebooks%2Fadr_bcpnn.ipynb" in links["JupyterHub"]
    gl = dict(teaching.launch_links("x", "https://gitlab.com/g/p", "dev"))
    assert gl == {"Binder": "https://mybinder.org/v2/gl/g%2Fp/dev?labpath=notebooks/x.ipynb"}  # no Colab
    other = dict(teaching.launch_links("x", "https://git.example.org/p", "main"))
    assert other["Binder"].startswith("https://mybinder.org/v2/git/https%3A%2F%2Fgit.example.org%2Fp/main")


def _stage(tmp_path, monkeypatch, env):
    for k in ("PRECMED_REPOSITORY_URL", "PRECMED_REPOSITORY_BRANCH", "PRECMED_JUPYTERHUB_URL"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(teaching, "repository_url",
                        lambda env=None, root=None: (env or {}).get("PRECMED_REPOSITORY_URL") or None)
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    nb = {"cells": [md("# Study"), code("x = 1")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (run_dir / "notebook.ipynb").write_text(json.dumps(nb))
    (run_dir / "metrics.json").write_text(json.dumps({"headline": {}, "claims": []}))
    results = {"cancer_subtyping": RunResult("cancer_subtyping", "smoke", True, str(run_dir), 1.0)}
    return stage_book(results, "smoke", tmp_path / "stage")


def test_staging_without_a_repository_adds_no_launch_links(tmp_path, monkeypatch):
    stage = _stage(tmp_path, monkeypatch, {})
    appendix = (stage / teaching.INSTRUCTOR_PAGE).read_text()
    for sid in implemented_studies():
        assert f"{{doc}}`studies/{sid}`" in appendix
    page = (stage / teaching.TEACHING_PAGE).read_text()
    assert teaching.TIERS_PLACEHOLDER not in page and "| {doc}`studies/cancer_subtyping` |" in page
    cfg = yaml.safe_load((stage / "_config.yml").read_text())
    assert "repository" not in cfg and not cfg["html"]["use_repository_button"]
    nb = json.loads((stage / "book" / "studies" / "cancer_subtyping.ipynb").read_text())
    assert not any("precmed-launch" in c["metadata"].get("tags", []) for c in nb["cells"])
    assert "mybinder" not in json.dumps(nb)


def test_staging_with_a_repository_links_each_chapter_to_its_source_notebook(tmp_path, monkeypatch):
    stage = _stage(tmp_path, monkeypatch, {"PRECMED_REPOSITORY_URL": "https://github.com/o/precmed",
                                           "PRECMED_REPOSITORY_BRANCH": "teach"})
    cfg = yaml.safe_load((stage / "_config.yml").read_text())
    assert cfg["repository"] == {"url": "https://github.com/o/precmed", "branch": "teach", "path_to_book": ""}
    assert cfg["html"]["use_repository_button"] is True
    # the theme's own buttons would open book/studies/<study>.ipynb, not a file of the repository
    assert cfg["launch_buttons"].get("binderhub_url", "") == ""
    nb = json.loads((stage / "book" / "studies" / "cancer_subtyping.ipynb").read_text())
    notes = [c for c in nb["cells"] if "precmed-launch" in c["metadata"].get("tags", [])]
    assert len(notes) == 1 and nb["cells"].index(notes[0]) == 1
    src = notes[0]["source"]
    assert ('<a href="https://mybinder.org/v2/gh/o/precmed/teach?labpath=notebooks/cancer_subtyping.ipynb">'
            in src)
    assert "https://colab.research.google.com/github/o/precmed/blob/teach/notebooks/cancer_subtyping.ipynb" \
        in src
    assert ">JupyterHub</a>" not in src and "Colab needs the project installed first" in src
    hub = teaching.run_note("x", "https://github.com/o/p", teaching.launch_links("x", "https://github.com/o/p",
                                                                                 hub="https://hub.example.org"))
    assert "&amp;branch=main&amp;urlpath=" in hub  # HTML-escaped once, in inline HTML
