"""The three ways to build the environment agree: the Makefile's .venv, conda's environment.yml and
Binder's binder/ folder install the same extras of the same project, on a Python the project
supports."""

import re
import tomllib

import yaml
from helpers import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


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


def _locked() -> dict[str, tuple[str, list[str]]]:
    """The lock's pins: normalised name -> (version, hashes)."""
    text = (ROOT / "locks" / "linux-x86_64-cpu-py311.txt").read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9][\w.\-]*)(?:\[[^\]]*\])?==(\S+)", block)
        if m:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            out[canonicalize_name(m.group(1))] = (m.group(2), hashes)
    return out


def test_the_lock_pins_every_dependency_within_pyproject_ranges_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = _locked()
    assert len(locked) > 50
    unhashed = [n for n, (_, hashes) in locked.items() if not hashes]
    assert not unhashed, f"pins without a hash: {unhashed}"
    extras = project["optional-dependencies"].values()
    wanted = project["dependencies"] + [r for extra in extras for r in extra]
    for spec in wanted:
        req = Requirement(spec.split("#")[0].strip())
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} (pyproject.toml) is not in the lock: run `make lock`"
        version = Version(locked[name][0])
        assert req.specifier.contains(version, prereleases=True) or \
            req.specifier.contains(Version(version.public.split("+")[0])), \
            f"the lock pins {req.name} {version}, outside pyproject.toml's {req.specifier}: run `make lock`"
    make = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r $(LOCK)" in make
    assert "LOCK := locks/linux-x86_64-cpu-py311.txt" in make
