"""breast_cancer_prognosis data: the survival-table reader, the 5-year label, the registry."""

import gzip

import numpy as np
import pandas as pd
import pytest

from precmed_utils.errors import DataError
from precmed_utils.formats import data

H = data.FIVE_YEARS_DAYS


def survival_table(n_poor=8, n_good=10, n_early=3, seed=0) -> pd.DataFrame:
    """A small valid table: poor = metastasis before 5 years, good = followed beyond 5 years
    (some relapse later), early = censored before 5 years."""
    rng = np.random.default_rng(seed)
    n = n_poor + n_good + n_early
    event = np.r_[np.ones(n_poor), rng.integers(0, 2, n_good), np.zeros(n_early)].astype(int)
    time = np.r_[rng.uniform(100, H - 1, n_poor), rng.uniform(H + 1, 4000, n_good),
                 rng.uniform(50, H - 1, n_early)]
    df = pd.DataFrame({"sample": [f"pt{i}" for i in range(n)], "event": event, "time": time.round(1),
                       "age": rng.integers(30, 60, n), "grade": rng.integers(1, 4, n).astype(float),
                       "gene_a": rng.normal(size=n), "gene_b": rng.normal(size=n)})
    df.loc[2, "grade"] = np.nan  # a missing clinical value is allowed
    return df


def write(tmp_path, df, name="t.csv"):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            df.to_csv(fh, index=False)
    else:
        df.to_csv(path, index=False)
    return path


def test_labels_at_the_horizon():
    t = pd.Series([100.0, H, H + 1, 9000.0, 200.0, H])
    e = pd.Series([1, 1, 1, 0, 0, 0])
    lab = data.prognosis_labels(t, e)
    # event before / at the horizon: poor; event after it or censored after it: good;
    # censored before or at it: unknown (excluded)
    assert lab.iloc[:4].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert lab.iloc[4:].isna().all()
    assert data.prognosis_labels(np.array([400.0]), np.array([True]), horizon_days=365).tolist() == [0.0]


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_reads_a_valid_table(tmp_path, name):
    df = survival_table()
    out = data.read_survival_table(write(tmp_path, df, name))
    assert list(out.columns) == ["event", "time", "age", "grade", "gene_a", "gene_b"]
    assert list(out.index[:2]) == ["pt0", "pt1"] and out["grade"].isna().sum() == 1
    lab = data.prognosis_labels(out["time"], out["event"])
    assert (lab == 1).sum() == 8 and (lab == 0).sum() == 10 and lab.isna().sum() == 3
    data.check_user_file("breast_cancer_prognosis", write(tmp_path, df, "u.csv"))
    loaded, info = data.load(str(tmp_path / "u.csv"), study="breast_cancer_prognosis")
    assert info["kind"] == "restricted" and loaded.shape == (21, 6)


def _bad(df, row, col, value):
    df = df.copy()
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


BASE = survival_table()


@pytest.mark.parametrize("df,expected", [
    (BASE.drop(columns="event"), "line 1: no column named 'event'"),
    (BASE.drop(columns=["gene_a", "gene_b"]), "no gene columns"),
    (_bad(BASE, 3, "event", 2), "line 5, column 'event': expected 0"),
    (_bad(BASE, 4, "time", -5), "line 6, column 'time': must be a positive"),
    (_bad(BASE, 4, "time", ""), "line 6, column 'time': missing value"),
    (_bad(BASE, 0, "gene_b", "high"), "line 2, column 'gene_b': 'high' is not a number"),
    (_bad(BASE, 1, "gene_a", ""), "line 3, column 'gene_a': missing value"),
    (_bad(BASE, 5, "grade", "G2"), "column 'grade': 'G2' is not a number .encode categories"),
    (BASE.assign(time=BASE["time"] / 365.25), "look like years"),
    (survival_table(n_poor=2), "each class needs at least 5"),
    (BASE.assign(sample="same"), "duplicate patient identifiers"),
    (BASE.assign(stage=np.nan), "column 'stage': no values at all"),
    (BASE.iloc[:0], "header only"),
])
def test_malformed_tables_are_explained(tmp_path, df, expected):
    path = write(tmp_path, df)
    with pytest.raises(DataError, match=expected) as err:
        data.read_survival_table(path)
    assert str(path) in str(err.value)
    with pytest.raises(DataError):
        data.check_user_file("breast_cancer_prognosis", path)


def test_unreadable_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        data.read_survival_table(tmp_path / "empty.csv")
    (tmp_path / "dup.csv").write_text("event,time,gene_a,gene_a\n1,100,0,0\n")
    with pytest.raises(DataError, match="duplicate column"):
        data.read_survival_table(tmp_path / "dup.csv")
    with pytest.raises(DataError, match="no such file"):
        data.read_survival_table(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a folder"):
        data.read_survival_table(tmp_path)


def test_registry_gse7390_ships_in_a_package():
    ds = data.get("gse7390")
    # the expression data ship in the package; the repository ships only the probe-symbol map
    assert list(ds.files) == ["breast_cancer/gse7390_probe_symbols.csv"] and ds.package == "scikit-survival"
    df, info = data.load("gse7390")
    assert df.shape == (198, 2 + 4 + 76)
    assert info["package"]["name"] == "scikit-survival" and info["package"]["version"]
    assert list(info["sha256"]) == list(ds.files)
    assert df["grade"].isna().sum() == 2  # the package's "unkown" grade
    assert set(df["er"]) == {0.0, 1.0} and sum(c.startswith("gene_") for c in df.columns) == 76
    lab = data.prognosis_labels(df["time"], df["event"])  # NOTES.md: 35 / 154 / 9
    assert (lab == 1).sum() == 35 and (lab == 0).sum() == 154 and lab.isna().sum() == 9


def test_registry_vantveer_is_verified_and_in_days():
    df, info = data.load("vantveer2002")
    assert df.shape == (78, 2 + 4705)
    assert len(next(iter(info["sha256"].values()))) == 64
    lab = data.prognosis_labels(df["time"], df["event"])
    assert (lab == 1).sum() == 34 and (lab == 0).sum() == 44 and lab.isna().sum() == 0
    assert df["time"].max() > 4000  # 13.4 years, in days


def test_the_cli_refuses_a_malformed_table_before_running(tmp_path):
    from helpers import precmed

    path = write(tmp_path, _bad(BASE, 0, "gene_b", "high"))
    r = precmed("run", "breast_cancer_prognosis", "-p", f"data={path}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2
    assert "line 2, column 'gene_b'" in r.stderr and "gene_" in r.stderr
    assert not (tmp_path / "runs").exists()


SYMBOLS = data.data_dir() / "breast_cancer" / "gse7390_probe_symbols.csv"


def test_the_symbol_map_covers_exactly_the_datasets_probes_and_is_well_formed():
    from sksurv.datasets import load_breast_cancer

    table = data.read_probe_symbols(SYMBOLS)  # raises on a malformed file
    X, _ = load_breast_cancer()
    probes = [c.removeprefix("X") for c in X.columns if c not in ("age", "er", "grade", "size")]
    assert len(probes) == 76 and sorted(table.index) == sorted(probes)
    # Wang et al. 2005: 60 probe sets for ER-positive and 16 for ER-negative patients
    assert table["wang2005_group"].value_counts().to_dict() == {"ER-positive": 60, "ER-negative": 16}
    named = table[table["status"] != "none"]
    assert (table.loc[table["status"] == "none", "symbol"] == "").all()
    assert named["symbol"].str.fullmatch(r"[A-Za-z0-9-]+").all()
    assert len(named) > len(table) / 2  # most probes have a symbol from the source
    assert table.loc["200726_at", "symbol"] == "PPP1CC" and table.loc["201091_s_at", "status"] == "none"


def test_gene_labels_show_the_symbol_beside_the_probe():
    labels = data.gene_labels("gse7390")
    assert labels["204014_at"] == "DUSP4 (204014_at)"
    assert "201091_s_at" not in labels  # no symbol printed: the chapter shows the id
    assert data.gene_labels("vantveer2002") == {}  # no map: GenBank accessions stay as they are


def test_a_malformed_symbol_map_is_refused(tmp_path):
    good = SYMBOLS.read_text().splitlines()
    header, first = good[0], good[1]
    second = next(line for line in good if ",none," in line)  # a probe without a symbol

    def refused(lines, match):
        path = tmp_path / "m.csv"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(DataError, match=match):
            data.read_probe_symbols(path)

    refused([header, first, first], "is also on line 2")
    refused([header, first.replace(",confirmed,", ",probably,")], "status 'probably'")
    refused([header, first.replace(",confirmed,", ",none,")], "a symbol, and only a symbol, needs a source")
    refused([header.replace("how", "note"), first], "columns")
    refused([header, second.replace(",none,", ",confirmed,")], "a symbol, and only a symbol")
    path = tmp_path / "ok.csv"
    path.write_text("\n".join([header, first, second]) + "\n")
    with pytest.raises(DataError, match="does not match the package's probes"):
        data.load_gse7390(path)
