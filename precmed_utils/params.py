"""Parameter specs, profiles and validation. Used by every study notebook and by the runner.

A study's parameters are declared once, in its notebook's cell tagged ``parameters``, one per
line, in the form::

    n_folds: int = 10  # Moon et al. 2007, sec. 3: 10-fold cross-validation

The annotation gives the type, the value the default, the comment the help text. The study's
profile file ``notebooks/profiles/<study>.yml`` holds the ``smoke`` and ``paper`` overrides and
the constraints (ranges, allowed values) that a type alone cannot express::

    constraints:
      n_folds: {min: 2, max: 20}
      data: {choices: [gordon_lung, shipp_lymphoma], or_path: true}
    profiles:
      smoke: {n_folds: 3}
      paper: {n_repeats: 20}

``validate`` checks a full set of values against both and raises one ParameterError that lists
every problem, before any work starts. The CLI and the notebook's setup cell call the same code.
"""

from __future__ import annotations

import ast
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ParameterError
from .studies import check_study, notebook_path, project_root

PROFILES = ("default", "smoke", "paper")
SUPPORTED_TYPES = ("int", "float", "str", "bool", "list[int]", "list[float]", "list[str]")
# Constraints every study shares; a profile file may add to them.
COMMON_CONSTRAINTS = {
    "seed": {"min": 0, "max": 2**32 - 1},
    "device": {"choices": ["auto", "cpu", "cuda"]},
    "profile": {"choices": list(PROFILES)},
}
# In a profile file, `data: {choices: [all, <registry>]}` stands for the study's datasets in the registry
REGISTRY_CHOICES = "<registry>"
# The runner injects this name (with every resolved value) into the notebooks it executes, so that
# a notebook knows its values already include the profile's and does not apply it a second time.
RESOLVED_MARKER = "precmed_resolved"


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    help: str
    constraint: dict = field(default_factory=dict)

    def describe(self) -> str:
        extra = ""
        if "choices" in self.constraint:
            extra = " one of " + ", ".join(map(str, self.constraint["choices"]))
            if self.constraint.get("or_path"):
                extra += ", or a path to your own file or folder"
        elif "min" in self.constraint or "max" in self.constraint:
            lo, hi = self.constraint.get("min", "-inf"), self.constraint.get("max", "inf")
            extra = f" in [{lo}, {hi}]"
        return f"{self.name}: {self.type} = {self.default!r}{extra}  # {self.help}"


def parameters_cell(nb: dict) -> str:
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"expected exactly one cell tagged 'parameters', found {len(cells)}")
    src = cells[0]["source"]
    return "".join(src) if isinstance(src, list) else src


def parse_parameters_cell(source: str) -> list[Param]:
    """Parse ``name: type = literal  # help`` lines (one parameter a line). A long help text may go
    on below its parameter in comment-only lines (``#`` then the text), joined with spaces."""
    tree = ast.parse(source)
    lines = source.splitlines()
    params = []
    for k, node in enumerate(tree.body):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            raise ParameterError(
                f"parameters cell, line {node.lineno}: only annotated assignments "
                "'name: type = value  # help' are allowed"
            )
        type_ = ast.unparse(node.annotation)
        if type_ not in SUPPORTED_TYPES:
            raise ParameterError(
                f"parameters cell, line {node.lineno}: type {type_!r} of {node.target.id!r} is "
                f"not supported; use one of {', '.join(SUPPORTED_TYPES)}"
            )
        default = ast.literal_eval(node.value)
        line = lines[node.lineno - 1]
        help_ = line.split("#", 1)[1].strip() if "#" in line else ""
        end = tree.body[k + 1].lineno - 1 if k + 1 < len(tree.body) else len(lines)
        for more in lines[node.end_lineno:end]:  # the help's continuation lines, up to the next parameter
            if more.strip().startswith("#"):
                help_ = f"{help_} {more.strip()[1:].strip()}".strip()
        params.append(Param(node.target.id, type_, default, help_))
    return params


def _load_profile_file(study: str) -> dict:
    path = project_root() / "notebooks" / "profiles" / f"{study}.yml"
    if not path.exists():
        return {"constraints": {}, "profiles": {}}
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    doc.setdefault("constraints", {})
    doc.setdefault("profiles", {})
    return doc


def study_spec(study: str) -> dict[str, Param]:
    """The parameters of ``study``: name -> Param (type, default, help, constraint)."""
    check_study(study)
    nb = json.loads(notebook_path(study).read_text(encoding="utf-8"))
    constraints = {**COMMON_CONSTRAINTS, **_load_profile_file(study)["constraints"]}
    if REGISTRY_CHOICES in constraints.get("data", {}).get("choices", []):
        from .formats.data import for_study  # the study's datasets come from the registry, in its order

        c = constraints["data"]
        expand = {REGISTRY_CHOICES: for_study(study, "data")}
        constraints["data"] = {**c, "choices": [x for v in c["choices"] for x in expand.get(v, [v])]}
    spec = {}
    for p in parse_parameters_cell(parameters_cell(nb)):
        spec[p.name] = Param(p.name, p.type, p.default, p.help, constraints.get(p.name, {}))
    return spec


def supports_gpu(study: str) -> bool:
    """Whether the study has a GPU code path (``gpu: true`` in its profile file)."""
    return bool(_load_profile_file(study).get("gpu", False))


def profile_overrides(study: str, profile: str) -> dict:
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if profile == "default":
        return {}
    return dict(_load_profile_file(study)["profiles"].get(profile, {}))


# ---------------------------------------------------------------------------------------------
# Coercion of command-line strings and type checks of Python values


def _parse_scalar(text: str, type_: str) -> Any:
    text = text.strip()
    if type_ == "str":
        return text
    if type_ == "bool":
        low = text.lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise ValueError("expected true or false")
    if type_ == "int":
        return int(text)
    if type_ == "float":
        return float(text)
    raise ValueError(f"unsupported type {type_}")


def coerce(text: str, type_: str) -> Any:
    """Turn a command-line string into a value of ``type_`` (lists: comma-separated or [a, b])."""
    if type_.startswith("list["):
        inner = type_[5:-1]
        body = text.strip()
        if body.startswith("[") and body.endswith("]"):
            body = body[1:-1]
        return [_parse_scalar(t, inner) for t in body.split(",") if t.strip()]
    return _parse_scalar(text, type_)


def _type_ok(value: Any, type_: str) -> bool:
    if type_.startswith("list["):
        return isinstance(value, list) and all(_type_ok(v, type_[5:-1]) for v in value)
    if type_ == "bool":
        return isinstance(value, bool)
    if type_ == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _constraint_problems(p: Param, value: Any) -> list[str]:
    c = p.constraint
    items = value if isinstance(value, list) else [value]
    problems = []
    if isinstance(value, list) and "min_len" in c and len(value) < c["min_len"]:
        problems.append(f"{p.name}: needs at least {c['min_len']} item(s), got {len(value)}")
    for v in items:
        if "choices" in c and v not in c["choices"]:
            if c.get("or_path") and isinstance(v, str) and _looks_like_path(v):
                continue
            allowed = ", ".join(map(str, c["choices"]))
            if c.get("or_path"):
                allowed += ", or a path to an existing file or folder"
                if _looks_like_path(v, must_exist=False):
                    problems.append(f"{p.name}: file {v!r} does not exist (expected {allowed})")
                    continue
            hint = difflib.get_close_matches(str(v), list(map(str, c["choices"])), n=1)
            tip = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"{p.name}: {v!r} is not allowed{tip}; expected {allowed}")
        if isinstance(v, int | float) and not isinstance(v, bool):
            if "min" in c and v < c["min"]:
                problems.append(f"{p.name}: {v!r} is below the minimum {c['min']}")
            if "max" in c and v > c["max"]:
                problems.append(f"{p.name}: {v!r} is above the maximum {c['max']}")
    return problems


def _looks_like_path(value: str, must_exist: bool = True) -> bool:
    if must_exist:
        return Path(value).expanduser().exists()  # a file, or a folder (BRAT, i2b2 XML)
    return "/" in value or "." in Path(value).name


def validate(study: str, values: dict, *, partial: bool = False) -> dict:
    """Check ``values`` against the study's spec; return them with ints promoted to floats.

    ``partial=True`` accepts a subset (overrides); otherwise every parameter must be present.
    Raises ParameterError listing every unknown name, wrong type and out-of-range value.
    """
    spec = study_spec(study)
    problems = []
    out = {}
    for name, value in values.items():
        if name not in spec:
            hint = difflib.get_close_matches(name, list(spec), n=1)
            tip = f" Did you mean {hint[0]!r}?" if hint else ""
            problems.append(
                f"unknown parameter {name!r} for study {study!r}.{tip} "
                f"Known parameters: {', '.join(spec)}"
            )
            continue
        p = spec[name]
        if not _type_ok(value, p.type):
            problems.append(
                f"{name}: expected {p.type}, got {type(value).__name__} {value!r}"
            )
            continue
        if p.type == "float":
            value = float(value)
        elif p.type == "list[float]":
            value = [float(v) for v in value]
        problems += _constraint_problems(p, value)
        out[name] = value
    if out.get("device") == "cuda" and not supports_gpu(study):
        problems.append(f"device: 'cuda' was requested, but {study} has no GPU code path "
                        "(its methods run on the CPU); use auto or cpu")
    if not partial:
        missing = [n for n in spec if n not in values]
        problems += [f"missing parameter {n!r}" for n in missing]
    if problems:
        raise ParameterError(
            f"invalid parameters for {study}:\n  - " + "\n  - ".join(problems)
        )
    return out


def parse_overrides(study: str, assignments: list[str]) -> dict:
    """Parse ``name=value`` strings from the command line into typed, validated overrides."""
    spec = study_spec(study)
    values, problems = {}, []
    for item in assignments:
        if "=" not in item:
            problems.append(f"{item!r}: expected name=value")
            continue
        name, text = item.split("=", 1)
        name = name.strip()
        if name not in spec:
            values[name] = text  # reported as unknown by validate()
            continue
        try:
            values[name] = coerce(text, spec[name].type)
        except ValueError as exc:
            problems.append(f"{name}: cannot read {text!r} as {spec[name].type} ({exc})")
    if problems:
        raise ParameterError(f"invalid parameters for {study}:\n  - " + "\n  - ".join(problems))
    return validate(study, values, partial=True)


def resolve(study: str, profile: str = "default", overrides: dict | None = None) -> dict:
    """Defaults of the notebook, then the profile's overrides, then the user's; validated."""
    spec = study_spec(study)
    if "profile" in (overrides or {}):
        raise ParameterError(f"profile: choose it with --profile {overrides['profile']} (not as "
                             f"-p profile=...); expected one of {', '.join(PROFILES)}")
    values = {n: p.default for n, p in spec.items()}
    values.update(validate(study, profile_overrides(study, profile), partial=True))
    values.update(overrides or {})
    if "profile" in spec:
        values["profile"] = profile
    return validate(study, values)


def profile_of(study: str, params: dict) -> str:
    """Which profile ``params`` are: ``default``, ``smoke`` or ``paper`` when they equal that
    profile's values exactly (seed, device, data choice and output folder aside), else
    ``custom``. Recorded with every verdict so a reader knows what the verdict rests on."""
    free = {"seed", "device", "output_dir", "profile"}
    spec = study_spec(study)
    given = {k: v for k, v in params.items() if k in spec and k not in free}
    for name in PROFILES:
        values = {n: p.default for n, p in spec.items()}
        values.update(profile_overrides(study, name))
        if all(values.get(k) == v for k, v in given.items()):
            return name
    return "custom"


def check_notebook_parameters(study: str, namespace: dict) -> dict:
    """Called by each notebook's setup cell with ``globals()``: validates the injected values.

    A notebook run by hand (JupyterLab, a class) may set its ``profile`` parameter to ``smoke`` or
    ``paper``: every parameter that the profile file sets and that still has the notebook's
    declared default then takes the profile's value, in ``namespace`` itself (the notebook's
    globals), so the cells below see it; a value the user changed is kept. Runs of the command
    line carry ``RESOLVED_MARKER`` (their values already include the profile) and are not changed.

    Returns the validated parameters (a plain dict, recorded in the run manifest).
    """
    spec = study_spec(study)
    chosen = namespace.get("profile", "default")
    if "profile" in spec and chosen != "default" and not namespace.get(RESOLVED_MARKER):
        validate(study, {"profile": chosen}, partial=True)  # an unknown profile stops here
        for name, value in profile_overrides(study, chosen).items():
            if name in spec and name in namespace and namespace[name] == spec[name].default:
                namespace[name] = value
    return validate(study, {n: namespace[n] for n in spec if n in namespace})
