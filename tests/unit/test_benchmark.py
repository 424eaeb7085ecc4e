"""The performance page and the chapters' run-time tiers are generated from measured figures."""

from helpers import precmed

from precmed_utils.studies import study_info
from precmed_utils.tools import benchmark

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
    cerp, adr = study_info("cancer_subtyping")["title"], study_info("adr_bcpnn")["title"]
    assert f"| {cerp} | default | 3.1 min, 1,500 MiB | not measured |" in page
    assert f"| {cerp} | paper | not measured | 66.7 min, 9,000 MiB |" in page
    assert f"| {adr} | default | failed | not measured |" in page
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


def test_resource_meter_counts_a_child_process_cpu_and_memory():
    import subprocess
    import sys

    code = ("import time\nx = bytearray(200 * 2**20)\nt = time.process_time()\n"
            "while time.process_time() - t < 1.2: pass")
    with benchmark.ResourceMeter(interval=0.1) as m:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert m.cpu_seconds >= 1.0  # the child's CPU time, waited for
    assert m.peak_rss_mib >= 150  # the child's 200 MiB, sampled while it ran


def test_build_times_page_reads_each_runs_record(tmp_path):
    import json

    from precmed_utils.tools.runner import RunResult, build_times_markdown

    (tmp_path / "run.json").write_text(json.dumps({"cpu_seconds": 90.0, "peak_rss_mib": 1234,
                                                   "machine": {"id": "cpu: 2-core test machine"}}))
    results = {"deep_patient": RunResult("deep_patient", "default", True, str(tmp_path), 120.0),
               "adr_bcpnn": RunResult("adr_bcpnn", "default", False, "", 6.0, "boom")}
    page = build_times_markdown(results, build_seconds=150.0)
    assert "cpu: 2-core test machine" in page
    assert "| default | ok | 2.0 | 1.5 | 1,234 |" in page
    assert "| default | failed | 0.1 | — | — |" in page
    assert "2.1 min" in page and "2.5 min" in page


def test_class_times_table_takes_this_build_and_the_newest_earlier_run(tmp_path):
    import json

    from precmed_utils.tools.runner import RunResult, class_times_markdown

    study = tmp_path / "adr_bcpnn"

    def record(key, seconds, finished, machine="cpu: 2-core test machine", error=None):
        (study / key).mkdir(parents=True)
        (study / key / "run.json").write_text(json.dumps({"seconds": seconds, "finished": finished,
                                                          "error": error, "machine": {"id": machine}}))
    record("default-aaa", 240.0, "2026-12-03T01:00:00")
    record("smoke-old", 60.0, "2026-11-01T00:00:00", machine="cpu: another machine")
    record("smoke-new", 30.0, "2026-12-02T00:00:00")
    record("smoke-bad", 6.0, "2026-12-04T00:00:00", error="boom")  # a failed run is never quoted
    results = {"adr_bcpnn": RunResult("adr_bcpnn", "default", True, str(study / "default-aaa"), 240.0),
               "cancer_subtyping": RunResult("cancer_subtyping", "default", False, str(tmp_path / "x" / "f"),
                                             1.0)}
    page = class_times_markdown(results)
    assert "| 0.5 (run of 2026-12-02, machine A) | 4.0 (this build, machine A) |" in page
    assert "| — | — |" in page  # the failed study: nothing measured
    assert "Machine A: cpu: 2-core test machine." in page and "another machine" not in page
