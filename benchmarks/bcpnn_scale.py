"""Benchmark (not a test): report-level BCPNN on a simulated database of configurable size.

Prints reports per second and peak memory for counting every drug-event pair and computing the
BCPNN information component for all of them, then compares values and speed with an independent
implementation from PyPI (vigipy's BCPNN) on the same pair-count table.

    .venv/bin/python benchmarks/bcpnn_scale.py --reports 2000000 --drugs 5000 --events 20000
    .venv/bin/python benchmarks/bcpnn_scale.py --reports 20000000 --drugs 5000 --events 20000  # FAERS-sized
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
import pandas as pd

from precmed_utils.studies import signals as sg


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def timed(label, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    dt = time.perf_counter() - t0
    print(f"  {label:<38} {dt:8.2f} s   peak RSS {peak_mb():8.0f} MB")
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--drugs", type=int, default=3000)
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--drugs-per-report", type=float, default=2.5)
    ap.add_argument("--events-per-report", type=float, default=3.0)
    ap.add_argument("--compare-reports", type=int, default=50_000,
                    help="size of the database used for the comparison with vigipy (0 skips it)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"database: {a.reports:,} reports, {a.drugs:,} drugs, {a.events:,} events, "
          f"{a.drugs_per_report} drugs and {a.events_per_report} events per report on average")
    (reports, _, _), t_gen = timed("simulate", sg.simulate_reports, a.reports, a.drugs, a.events,
                                   drugs_per_report=a.drugs_per_report,
                                   events_per_report=a.events_per_report, seed=a.seed)
    counts, t_count = timed("count all pairs (sparse products)", sg.count_pairs, reports)
    ic, t_ic = timed("BCPNN IC for every pair", sg.bcpnn_1998, counts.n11, counts.n1_, counts.n_1, counts.N)
    total = t_count + t_ic
    print(f"  pairs with n11 >= 1: {len(counts.n11):,}; BCPNN signals: {(ic['ic_lower'] > 0).sum():,}")
    print(f"RESULT reports/s (count + IC): {a.reports / total:,.0f}; peak RSS {peak_mb():,.0f} MB")

    if a.compare_reports <= 0:
        return
    try:
        import vigipy
    except ImportError:
        print("vigipy is not installed: comparison skipped")
        return
    print(f"\ncomparison with vigipy {vigipy.__version__ if hasattr(vigipy, '__version__') else ''} "
          f"on a {a.compare_reports:,}-report database (count-table form: N = total pair count)")
    small, _, _ = sg.simulate_reports(a.compare_reports, min(a.drugs, 300), min(a.events, 500),
                                      drugs_per_report=a.drugs_per_report,
                                      events_per_report=a.events_per_report, seed=a.seed + 1)
    c = sg.count_pairs(small)
    long = pd.DataFrame({"name": c.drug_names[c.drug], "AE": c.event_names[c.event], "count": c.n11})
    table = long.pivot(index="AE", columns="name", values="count").fillna(0)
    t0 = time.perf_counter()
    ours = sg.counts_from_table(table)
    keep = ours.n11 > 0
    res = sg.bcpnn_1998(ours.n11[keep], ours.n1_[keep], ours.n_1[keep], ours.N)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = vigipy.bcpnn(vigipy.convert(long), min_events=1, decision_metric="rank",
                          decision_thres=1e12, ranking_statistic="quantile").all_signals
    t_vigi = time.perf_counter() - t0
    ours_df = pd.DataFrame({"Product": ours.drug_names[ours.drug[keep]],
                            "Adverse Event": ours.event_names[ours.event[keep]], "ours": res["ic_lower"]})
    col = next(k for k in theirs.columns if "quantile" in k.lower() or "lower" in k.lower())
    merged = ours_df.merge(theirs[["Product", "Adverse Event", col]], on=["Product", "Adverse Event"])
    diff = np.abs(merged["ours"] - merged[col].astype(float))
    print(f"  pairs compared: {len(merged):,} of {len(ours_df):,}; largest |difference| of the IC "
          f"lower bound: {diff.max():.2e}")
    print(f"  time: precmed {t_ours:.3f} s, vigipy {t_vigi:.3f} s (ratio {t_vigi / t_ours:.1f}x)")


if __name__ == "__main__":
    main()
