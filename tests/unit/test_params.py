import pytest

from precmed_utils.errors import ParameterError
from precmed_utils.params import (
    coerce,
    parse_overrides,
    parse_parameters_cell,
    profile_overrides,
    resolve,
    study_spec,
    validate,
)

CELL = '''seed: int = 0  # any seed
rate: float = 0.5  # a rate
name: str = "a"  # a name
flag: bool = False  # a flag
sizes: list[int] = [1, 2]  # sizes
'''


def test_parse_parameters_cell_reads_types_defaults_and_help():
    ps = parse_parameters_cell(CELL)
    assert [(p.name, p.type, p.default) for p in ps] == [
        ("seed", "int", 0), ("rate", "float", 0.5), ("name", "str", "a"), ("flag", "bool", False),
        ("sizes", "list[int]", [1, 2])]
    assert ps[1].help == "a rate"


def test_parse_parameters_cell_joins_help_continued_on_comment_lines():
    ps = parse_parameters_cell('a: int = 1  # the first part\n#   and the rest\n# of it\n'
                               'b: str = "x"  # b\n# more on b\n')
    assert [p.help for p in ps] == ["the first part and the rest of it", "b more on b"]
    ps = parse_parameters_cell('a: int = 1\n# help only below\nb: int = 2  # b\n')
    assert [p.help for p in ps] == ["help only below", "b"]


@pytest.mark.parametrize("src", ["x = 1  # untyped", "x: dict = {}  # unsupported", "import os"])
def test_parse_parameters_cell_rejects_other_statements(src):
    with pytest.raises(ParameterError):
        parse_parameters_cell(src)


@pytest.mark.parametrize("text,type_,value", [
    ("3", "int", 3), ("0.25", "float", 0.25), ("yes", "bool", True), ("False", "bool", False),
    ("a,b", "list[str]", ["a", "b"]), ("[2, 4]", "list[int]", [2, 4]), (" x ", "str", "x")])
def test_coerce(text, type_, value):
    assert coerce(text, type_) == value


@pytest.mark.parametrize("text,type_", [
    ("3.5", "int"), ("maybe", "bool"), ("x", "float"), ("1,a", "list[int]")])
def test_coerce_rejects(text, type_):
    with pytest.raises(ValueError):
        coerce(text, type_)


def test_spec_of_the_cerp_notebook():
    spec = study_spec("cancer_subtyping")
    for name in ("seed", "device", "data", "output_dir"):
        assert name in spec
    assert spec["n_folds"].type == "int" and spec["n_folds"].default == 10
    assert spec["device"].constraint["choices"] == ["auto", "cpu", "cuda"]


def test_validate_collects_every_problem():
    with pytest.raises(ParameterError) as err:
        validate("cancer_subtyping", {"n_fold": 3, "n_repeats": "two", "n_folds": 1,
                                      "methods": ["CERP", "Forest"], "device": "gpu"}, partial=True)
    msg = str(err.value)
    assert "unknown parameter 'n_fold'" in msg and "Did you mean 'n_folds'" in msg
    assert "n_repeats: expected int, got str" in msg
    assert "n_folds: 1 is below the minimum 2" in msg
    assert "'Forest' is not allowed" in msg
    assert "device: 'gpu' is not allowed" in msg


def test_validate_types_are_strict():
    with pytest.raises(ParameterError, match="expected int, got bool"):
        validate("cancer_subtyping", {"n_folds": True}, partial=True)
    # ints are accepted (and promoted) where a float is declared
    assert validate("cancer_subtyping", {"floor": 10}, partial=True) == {"floor": 10.0}


def test_data_accepts_names_and_existing_files_only(matrix_csv):
    assert validate("cancer_subtyping", {"data": str(matrix_csv)}, partial=True)
    with pytest.raises(ParameterError, match="does not exist"):
        validate("cancer_subtyping", {"data": "/no/such/file.csv"}, partial=True)
    with pytest.raises(ParameterError, match="did you mean 'gordon_lung'"):
        validate("cancer_subtyping", {"data": "gordon_lungs"}, partial=True)


def test_profiles_and_resolution():
    smoke = profile_overrides("cancer_subtyping", "smoke")
    assert smoke["n_repeats"] == 1
    params = resolve("cancer_subtyping", "smoke", {"seed": 3})
    assert params["seed"] == 3 and params["n_folds"] == smoke["n_folds"]
    assert resolve("cancer_subtyping")["n_folds"] == 10
    with pytest.raises(ParameterError, match="unknown profile"):
        profile_overrides("cancer_subtyping", "huge")


def test_parse_overrides():
    assert parse_overrides("cancer_subtyping", ["n_repeats=4", "methods=CERP,CART"]) == {
        "n_repeats": 4, "methods": ["CERP", "CART"]}
    with pytest.raises(ParameterError, match="cannot read 'x' as int"):
        parse_overrides("cancer_subtyping", ["n_repeats=x"])
    with pytest.raises(ParameterError, match="expected name=value"):
        parse_overrides("cancer_subtyping", ["n_repeats"])
