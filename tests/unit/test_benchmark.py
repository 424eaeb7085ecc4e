"""The performance page and the chapters' run-time tiers are generated from measured figures."""

from conftest import precmed

from precmed_utils import benchmark

DOC = {"machines": {
    "cpu: 2-core Test CPU, 8 GiB, no GPU": {
        "machine": {"python": "3.11.7"},
        "runs": {"cancer_subtyping/smoke": {"ok": True, "seconds": 12.3, "peak_rss_mib": 410,
                                            "measured": "2026-11-01"},
                 "cancer_subtyping/default": {"ok": True, "seconds": 185.0, "peak_rss_mib": 1500,
                                              "measured": "2026-11-02"},
                 "adr_bcpnn/default": {"ok": False, "seconds": 3.0, "peak_rss_mib": 200,
                                       "measured": "2026-11-02"}}},
    "gpu: 16-core Big CPU, 128 GiB, NVIDIA H200": {
        "machine": {"python": "3.11.7"},
        "runs": {"cancer_subtyping/paper": {"ok": True, "seconds": 4000.0, "peak_rss_mib": 9000,
                                            "measured": "2026-11-03"}}},
}}


def test_performance_page_lists_every_study_and_machine():
    page = benchmark.performance_markdown(DOC)
    assert "**[1]** cpu: 2-core Test CPU" in page and "**[2]** gpu: 16-core Big CPU" in page
    assert "measured 2026-11-01 to 2026-11-02" in page
    assert "| Tree-ensemble (CERP) cancer subtyping | default | 3.1 min, 1,500 MiB | not measured |" in page
    assert "| Tree-ensemble (CERP) cancer subtyping | paper | not measured | 66.7 min, 9,000 MiB |" in page
    assert "| Adverse-drug-reaction signals with BCPNN | default | failed | not measured |" in page
    assert "[1] 3.1 min; [2] 0.0 min" in page  # failed runs are not counted
    assert "No measurements yet" in benchmark.performance_markdown({"machines": {}})


def test_tiers_note_of_a_chapter():
    note = benchmark.tiers_markdown("cancer_subtyping", DOC)
    assert note.startswith("```{admonition} Run-time tiers")
    assert "smoke 12 s, 410 MiB; default 3.1 min, 1,500 MiB" in note
    assert "paper 66.7 min, 9,000 MiB" in note
    assert "CPU only" in note  # cancer_subtyping has no GPU code path
    assert "not measured yet" in benchmark.tiers_markdown("concept_extraction", {"machines": {}})
    assert "a GPU is recommended" in benchmark.tiers_markdown("concept_extraction", DOC)


def test_bad_benchmark_requests_are_refused(tmp_path):
    r = precmed("benchmark", "--profiles", "smoke,fast", "--out", str(tmp_path / "p.json"))
    assert r.returncode == 2 and "--profiles: fast" in r.stderr
    r = precmed("benchmark", "cancer_subtypng", "--out", str(tmp_path / "p.json"))
    assert r.returncode == 2 and "Did you mean 'cancer_subtyping'" in r.stderr
    assert not (tmp_path / "p.json").exists()


def test_the_book_starts_the_longest_runs_first():
    doc = {"machines": {
        "a": {"runs": {"x/default": {"ok": True, "seconds": 10.0}, "y/default": {"ok": True, "seconds": 50.0},
                       "z/default": {"ok": False, "seconds": 999.0}}},
        "b": {"runs": {"x/default": {"ok": True, "seconds": 70.0}}}}}
    assert benchmark.expected_seconds("x", "default", doc) == 70.0  # the slowest machine's figure
    assert benchmark.expected_seconds("z", "default", doc) is None  # a failed run is no estimate
    assert benchmark.longest_first(["x", "y", "z", "w"], "default", doc) == ["z", "w", "x", "y"]
    assert benchmark.longest_first(["x", "y"], "smoke", doc) == ["x", "y"]  # unmeasured: order kept
