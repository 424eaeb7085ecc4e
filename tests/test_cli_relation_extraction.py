"""`precmed run relation_extraction` with bad input: refused before anything runs (exit status 2), with
a message naming the file and line (bad parameters: test_cli_bad_parameters.py); a user's i2b2 2010
folder runs end to end."""

import json

import pytest
from helpers import precmed


def _note(folder, con, rel_text, txt="zorbitol gave flumox rash .\n"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "n1.txt").write_text(txt)
    (folder / "n1.con").write_text(con)
    (folder / "n1.rel").write_text(rel_text)
    return folder


CON = 'c="zorbitol" 1:0 1:0||t="treatment"\nc="flumox rash" 1:2 1:3||t="problem"\n'


@pytest.mark.parametrize("con,rel_text,expected", [
    ('c="zorbitol" 1:0 1:0||x="treatment"\n', "", "n1.con, line 1: malformed concept line"),
    ('c="zorbitol" 1:0 1:0||t="medication"\n', "", "n1.con, line 1: concept type 'medication'"),
    ('c="zorbitol" 3:0 3:0||t="treatment"\n', "", "n1.con, line 1: line 3 does not exist"),
    (CON, 'c="zorbitol" 1:0 1:0||r="TrCP"||c="gave" 1:1 1:1\n', "n1.rel, line 1: no concept at 1:1 1:1"),
    (CON, 'c="zorbitol" 1:0 1:0 r="TrCP"\n', "n1.rel, line 1: malformed relation line"),
])
def test_malformed_i2b2_is_reported_with_file_and_line(tmp_path, con, rel_text, expected):
    folder = _note(tmp_path / "corpus", con, rel_text)
    r = precmed("run", "relation_extraction", "-p", f"data={folder}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert "flumox" not in r.stderr
    assert not (tmp_path / "runs").exists()


def test_folder_without_con_files(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "n1.txt").write_text("x\n")
    r = precmed("run", "relation_extraction", "-p", f"data={folder}", "--runs-dir", str(tmp_path / "runs"))
    assert r.returncode == 2 and "no .con concept files" in r.stderr


@pytest.mark.slow
def test_user_i2b2_corpus_runs_end_to_end(tmp_path):
    """Twelve notes without split folders (cross-validated by note); only aggregates are shown."""
    drugs = ["zorbitol", "quindex", "malvorin"]
    for n in range(12):
        txt, con, rels = [], [], []
        for k in range(8):
            ln, d = k + 1, drugs[(n + k) % 3]
            if k % 2:
                txt.append(f"{d} was given for flumox pain .")
                con += [f'c="{d}" {ln}:0 {ln}:0||t="treatment"',
                        f'c="flumox pain" {ln}:4 {ln}:5||t="problem"']
                rels.append(f'c="{d}" {ln}:0 {ln}:0||r="TrAP"||c="flumox pain" {ln}:4 {ln}:5')
            else:
                txt.append(f"{d} caused a flumox rash and later gorbal fever .")
                con += [f'c="{d}" {ln}:0 {ln}:0||t="treatment"',
                        f'c="flumox rash" {ln}:3 {ln}:4||t="problem"',
                        f'c="gorbal fever" {ln}:7 {ln}:8||t="problem"']
                rels.append(f'c="{d}" {ln}:0 {ln}:0||r="TrCP"||c="flumox rash" {ln}:3 {ln}:4')
        folder = tmp_path / "i2b2"
        for sub, text in (("txt", txt), ("concept", con), ("rel", rels)):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            ext = {"txt": "txt", "concept": "con", "rel": "rel"}[sub]
            (folder / sub / f"note{n}.{ext}").write_text("\n".join(text) + "\n")
    runs = tmp_path / "runs"
    r = precmed("run", "relation_extraction", "--profile", "smoke", "-p", f"data={folder}",
                "--runs-dir", str(runs), "--no-progress")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (runs / "relation_extraction").glob("smoke-*")
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert metrics["user_data/CRF-raw/micro_f1"]["mean"] > 0.9, "a regular corpus: the CRF must learn it"
    assert "user_data/CRF-AE/micro_f1" in metrics
    nb = (run_dir / "notebook.ipynb").read_text()
    assert "flumox" not in nb and "zorbitol" not in nb, "no text of a user's corpus may appear"
