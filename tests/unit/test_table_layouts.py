"""Every table format accepts what the field's tools write: R's write.csv (quoted, an empty first
header cell above the row names), R's read.csv round trip ("X" above the row names), pandas'
to_csv with and without its index, Excel's CSV export (a byte-order mark, CRLF line ends), quoted
headers, and gzip recognised by content rather than by the file's name. `check-data` accepts each
and the reader returns the same data as from the plain layout."""

import gzip

import numpy as np
import pandas as pd
import pytest
from helpers import precmed

from precmed_utils.formats import data
from precmed_utils.studies import drug_response

rng = np.random.default_rng(0)


def _matrix():
    df = pd.DataFrame(rng.normal(size=(12, 4)).round(4), columns=[f"g{i}" for i in range(4)])
    df.insert(0, "label", ["a"] * 6 + ["b"] * 6)
    df.index = [f"s{i}" for i in range(12)]
    return df


def _survival():
    df = pd.DataFrame({"event": [1, 0] * 10, "time": rng.integers(100, 4000, 20),
                       "age": rng.integers(30, 80, 20), "gene_A": rng.normal(size=20).round(4),
                       "gene_B": rng.normal(size=20).round(4)})
    df.index = [f"p{i}" for i in range(20)]
    return df


def _counts():
    return pd.DataFrame(rng.integers(0, 50, size=(5, 4)), columns=["drugA", "drugB", "drugC", "Other"],
                        index=["ev1", "ev2", "ev3", "ev4", "Other AE"])


def _reports():
    return pd.DataFrame([{"report_id": i, "drug": f"d{i % 3}", "event": f"e{i % 4}"} for i in range(40)])


def layouts(df: pd.DataFrame, row_names: bool) -> dict[str, bytes]:
    plain = df.to_csv(index=row_names)
    out = {"plain": plain.encode(),
           "Excel (BOM, CRLF)": ("\ufeff" + plain.replace("\n", "\r\n")).encode(),
           "quoted headers": df.to_csv(index=row_names, quoting=2).encode(),
           "gzip named .csv": gzip.compress(plain.encode())}
    if row_names:
        out["R write.csv"] = df.to_csv(quoting=1).encode()  # everything quoted, "" above the row names
        out["R read.csv round trip"] = df.rename_axis("X").to_csv().encode()
        out["pandas, index named"] = df.rename_axis("sample").to_csv().encode()
    else:
        out["pandas, with its index"] = df.to_csv().encode()
    return out


CASES = {
    "cancer_subtyping": (_matrix, True, lambda p: data.read_labelled_matrix(p)),
    "breast_cancer_prognosis": (_survival, True, lambda p: data.read_survival_table(p)),
    "adr_bcpnn (count table)": (_counts, True, lambda p: data.read_pharmacovigilance(p)),
    "adr_bcpnn (report table)": (_reports, False, lambda p: data.read_pharmacovigilance(p)),
}


def _same(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, pd.DataFrame | pd.Series):
        pd.testing.assert_frame_equal(a.to_frame() if isinstance(a, pd.Series) else a,
                                      b.to_frame() if isinstance(b, pd.Series) else b, check_dtype=False)
    elif hasattr(a, "__dict__"):
        _same(tuple(vars(a).values()), tuple(vars(b).values()))
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("case", list(CASES))
def test_every_layout_is_accepted_and_read_alike(case, tmp_path):
    make, row_names, read = CASES[case]
    study = case.split()[0]
    files = {}
    for name, raw in layouts(make(), row_names).items():
        path = tmp_path / (name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "") + ".csv")
        path.write_bytes(raw)
        res = precmed("check-data", study, str(path))
        assert res.returncode == 0, f"{case}, {name}: {res.stdout}{res.stderr}"
        files[name] = path
    reference = read(files["plain"])
    for path in files.values():
        _same(reference, read(path))


def test_row_names_keep_the_sample_ids():
    assert data.is_row_names("", ["1", "2"]) and data.is_row_names("Unnamed: 0", ["a"])
    assert data.is_row_names("X", ["s1", "s2"])
    assert not data.is_row_names("X", ["0.5", "1.2"])  # a feature named X


def test_matrix_row_names_become_the_sample_ids(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(layouts(_matrix(), True)["R write.csv"])
    X, y, ids = data.read_labelled_matrix(path)
    assert list(X.index[:2]) == ["s0", "s1"] and list(ids[:2]) == ["s0", "s1"]


def test_drug_screen_files_from_excel_and_gzip(tmp_path):
    genes = pd.DataFrame(rng.normal(size=(12, 3)).round(3), columns=["A", "B", "C"],
                         index=[f"c{i}" for i in range(12)]).rename_axis("cell_line")
    resp = pd.DataFrame({"cell_line": genes.index, "drug": "d1", "response": rng.normal(size=12).round(3)})
    (tmp_path / "expression.csv").write_bytes(("\ufeff" + genes.to_csv().replace("\n", "\r\n")).encode())
    (tmp_path / "response.csv").write_bytes(gzip.compress(resp.to_csv().encode()))  # pandas index too
    expr = drug_response.read_user_expression(tmp_path / "expression.csv")
    assert list(expr.columns) == ["A", "B", "C"] and expr.index[0] == "c0"
    r = drug_response.read_user_response(tmp_path / "response.csv")
    assert len(r) == 12
