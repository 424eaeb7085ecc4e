"""`precmed check-data STUDY PATH`: exit 0 and OK for good data, every problem and exit 1 for
broken data, exit 2 for bad input (unknown study, a study without a user format, no such path)."""

import pytest
from helpers import write_matrix

from precmed_utils.tools.cli import main


def test_good_file_is_ok(tmp_path, capsys):
    path = write_matrix(tmp_path / "expr.csv")
    assert main(["check-data", "cancer_subtyping", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: OK for cancer_subtyping (format: CSV" in out


def test_every_problem_is_listed(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,g1,g2\nA,1,x\nA,,2\nB,1,2\nB,2,2\n")
    assert main(["check-data", "cancer_subtyping", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:line 2, column 'g2': 'x' is not a number" in out
    assert f"{bad}:line 3, column 'g1': missing value" in out
    assert "2 problem(s) in" in out


def test_broken_folder_format(tmp_path, capsys):
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / "n1.txt").write_text("Aspirin was given for pain .\n")
    (folder / "n1.con").write_text('c="aspirin" 1:0 1:0||t="drug"\nnot a concept\n')
    assert main(["check-data", "relation_extraction", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "n1.con:line 1: concept type 'drug'" in out and "n1.con:line 2: malformed concept line" in out


@pytest.mark.parametrize("study,path,expected", [
    ("cancer_subtype", "x.csv", "unknown study 'cancer_subtype'"),
    ("cancer_subtyping", "/no/such/file.csv", "no such file or folder"),
])
def test_bad_input_is_exit_2(study, path, expected, capsys):
    assert main(["check-data", study, path]) == 2
    assert expected in capsys.readouterr().err


def test_study_without_a_user_format_is_exit_2(tmp_path, capsys, monkeypatch):
    from precmed_utils.formats import data

    monkeypatch.delitem(data.USER_FORMATS, "cancer_subtyping")
    path = write_matrix(tmp_path / "expr.csv")
    assert main(["check-data", "cancer_subtyping", str(path)]) == 2
    assert "does not take a data file of yours" in capsys.readouterr().err
