"""The three ways to build the environment agree: the Makefile's .venv, conda's environment.yml and
Binder's binder/ folder install the same extras of the same project, on a Python the project
supports."""

import re
import tomllib

import yaml
from helpers import ROOT


def _extras(spec: str) -> set[str]:
    m = re.search(r"\.\[([\w,]+)\]", spec)
    return set(m.group(1).split(",")) if m else set()


def test_makefile_conda_and_binder_install_the_same_project():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    make = (ROOT / "Makefile").read_text()
    installed = [_extras(m) for m in re.findall(r"pip install --quiet -e '([^']+)'", make)]
    full = set().union(*installed)
    assert full == extras, f"make installs the extras {sorted(full)}; pyproject.toml has {sorted(extras)}"

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert any(_extras(x) == full for x in pip), f"environment.yml installs {pip}; make: {sorted(full)}"

    lo, hi = re.match(r">=(3\.\d+),<(3\.\d+)", project["requires-python"]).groups()
    binder = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    for deps in (env["dependencies"], binder["dependencies"]):
        python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
        version = python.split("=")[1]
        as_tuple = [tuple(map(int, v.split("."))) for v in (lo, version, hi)]
        assert as_tuple[0] <= as_tuple[1] < as_tuple[2], f"{python} is outside {project['requires-python']}"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and _extras(re.search(r"-e '([^']+)'", post).group(1)) <= full
