import gzip
import shutil

import pytest
from helpers import ROOT, write_matrix

from precmed_utils.errors import DataError
from precmed_utils.formats import data


def test_shipped_datasets_verify_and_load():
    for name in data.for_study("cancer_subtyping"):
        sums = data.verify(data.get(name))
        assert all(len(v) == 64 for v in sums.values())
    (X, y, _), info = data.load("alizadeh_lymphoma")
    assert X.shape == (62, 4026) and set(y) == {"DLBCL", "FL", "CLL"}
    assert info["kind"] == "open" and info["sha256"]


def test_every_data_folder_has_licence_and_source():
    for folder in {p.split("/")[0] for d in data.DATASETS.values() for p in d.files}:
        assert (ROOT / "data" / folder / "LICENSE").exists()
        assert (ROOT / "data" / folder / "SOURCE.md").exists()


def test_corrupt_and_missing_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PRECMED_ROOT", str(tmp_path))
    (tmp_path / "data" / "microarray").mkdir(parents=True)
    ds = data.get("shipp_lymphoma")
    with pytest.raises(DataError, match="is missing"):
        data.verify(ds)
    rel = next(iter(ds.files))
    shutil.copy(ROOT / "data" / rel, tmp_path / "data" / rel)
    with open(tmp_path / "data" / rel, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(DataError, match="corrupt or was changed"):
        data.verify(ds)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset"):
        data.get("nope")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_reads_a_user_matrix(tmp_path, suffix):
    path = write_matrix(tmp_path / f"m{suffix}", n_per_class=(5, 4, 3), n_genes=7)
    X, y, ids = data.read_labelled_matrix(path)
    assert X.shape == (12, 7) and y.nunique() == 3 and list(ids[:2]) == ["p0", "p1"]
    (loaded, _y, _ids), info = data.load(str(path))
    assert info["kind"] == "restricted" and loaded.shape == (12, 7)


def _csv(tmp_path, text, name="bad.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,expected", [
    ("", "empty"),
    ("a,b\n1,2\n", "no column named 'label'"),
    ("label,g1,g1\nx,1,2\ny,3,4\n", "duplicate column"),
    ("label,g1,g2\nx,1,2\nx,oops,2\ny,1,1\ny,2,2\n", "line 3, column 'g1': 'oops' is not a number"),
    ("label,g1,g2\nx,1,2\nx,,2\ny,1,1\ny,2,2\n", "line 3, column 'g1': missing value"),
    ("label,g1\nx,1\nx,2\n", "single class"),
    ("label,g1\nx,1\nx,2\ny,3\n", "fewer than 2 samples"),
    ("label,g1\n", "header only"),
    ("label\nx\ny\n", "no feature columns"),
    ("label,g1\n,1\nx,2\n", "empty label"),
])
def test_malformed_user_files_are_explained(tmp_path, text, expected):
    with pytest.raises(DataError, match=expected):
        data.read_labelled_matrix(_csv(tmp_path, text))


def test_not_a_csv(tmp_path):
    p = tmp_path / "x.csv.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"\xff\xfe\x00binary")
    with pytest.raises(DataError):
        data.read_labelled_matrix(p)
    with pytest.raises(DataError, match="no such file"):
        data.read_labelled_matrix(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a folder"):
        data.read_labelled_matrix(tmp_path)
