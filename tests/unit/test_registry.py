"""The data registry is one declarative file (precmed_utils/formats/datasets.yml): reading it imports no
reader, every reference in it resolves, and the package's module-level imports form no circle."""

import ast
import subprocess
import sys
from pathlib import Path

import yaml

from precmed_utils.formats import data
from precmed_utils.studies import all_studies

PACKAGE = Path(data.__file__).parents[1]  # precmed_utils/
READERS = ("formats.corpora", "studies.deid", "studies.deid_model", "studies.drug_response", "formats.ehr",
           "studies.relations", "studies.temporal", "text.tagger")


def test_reading_the_registry_imports_no_reader_and_no_torch():
    code = ("import sys\nimport precmed_utils.formats.data as d\n"
            "assert len(d.DATASETS) > 15 and len(d.USER_FORMATS) == 11\n"
            f"loaded = [m for m in {READERS!r} if 'precmed_utils.' + m in sys.modules]\n"
            "loaded += [m for m in ('torch', 'scipy.stats') if m in sys.modules]\n"
            "assert not loaded, loaded\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]


def test_every_reference_of_the_registry_resolves():
    doc = yaml.safe_load(data.REGISTRY_FILE.read_text())
    known = set(all_studies())
    for name, e in doc["datasets"].items():
        assert e["kind"] in ("open", "simulated", "restricted"), name
        assert set(e["studies"]) <= known, name
        assert callable(data.DATASETS[name].load_function()), name
        assert e.get("files") or e.get("package") or e["kind"] == "simulated" or name == "mimic3_demo", name
    for study in doc["user_formats"]:
        assert study in known
        reader, text = data.USER_FORMATS[study]
        assert callable(reader) and isinstance(text, str) and len(text) > 100, study


def test_a_bad_reference_is_refused_with_its_name():
    import pytest

    with pytest.raises(ValueError, match="os:system"):
        data.resolve("os:system")


def _module_name(path: Path) -> str:
    """``precmed_utils/formats/data.py`` -> ``precmed_utils.formats.data`` (a package's
    ``__init__.py`` is the package)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_imports(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports at module level (not inside functions), as dotted names;
    importing a module also imports the packages above it."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    out = set()
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
        elif (node.module or "").startswith("precmed_utils"):
            target = node.module
        else:
            continue
        names = [f"{target}.{a.name}" for a in node.names]
        out |= {n for n in names if n in known} or {target}
        parts = target.split(".")
        out |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
    return out - {here, "precmed_utils"}


def test_the_package_has_no_import_circle():
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {_module_name(p) for p in paths}
    modules = {_module_name(p): _module_imports(p, known) for p in paths}
    del modules["precmed_utils"]
    assert "precmed_utils.formats.data" in modules and "precmed_utils.text" in modules
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("import circle: " + " -> ".join([*path, m]))
        if state.get(m) == 2 or m not in modules:
            return
        state[m] = 1
        for n in sorted(modules[m]):
            visit(n, [*path, m])
        state[m] = 2

    for m in sorted(modules):
        visit(m, [])


def test_data_choices_come_from_the_registry():
    from precmed_utils.params import REGISTRY_CHOICES, _load_profile_file, study_spec

    for study in all_studies():
        written = _load_profile_file(study)["constraints"]["data"]["choices"]
        assert REGISTRY_CHOICES in written, f"{study}: its profile file lists datasets by hand"
        choices = study_spec(study)["data"].constraint["choices"]
        assert [c for c in choices if c in data.DATASETS] == data.for_study(study, "data")
    # a reference set or a pretraining corpus is used beside the data, never as the data
    assert "ohdsi_reference_sets" not in study_spec("adr_bcpnn")["data"].constraint["choices"]
    assert "e3c_layer3" not in study_spec("temporal_events")["data"].constraint["choices"]
