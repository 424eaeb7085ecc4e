"""Wall time and peak memory of the EHR cohort simulator and the MIMIC-III reader (prints figures).

    .venv/bin/python benchmarks/ehr_simulator.py --sizes 10000 100000 200000
"""

import argparse
import resource
import time
import tracemalloc

from precmed_utils.formats import ehr
from precmed_utils.formats.data import data_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t = time.perf_counter()
    demo = ehr.read_mimic3(data_dir() / "mimic3_demo")
    print(f"read_mimic3 (demo, {len(demo.events):,} events): {time.perf_counter() - t:.2f} s")
    cal = ehr.calibration_from(data_dir() / "mimic3_demo")
    print(f"{'patients':>10} {'events':>11} {'seconds':>8} {'peak MiB (numpy/pandas)':>24}")
    for n in args.sizes:
        tracemalloc.start()
        t = time.perf_counter()
        cohort = ehr.simulate_cohort(n, args.seed, calibration=cal)
        sec = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"{n:>10,} {len(cohort.events):>11,} {sec:>8.2f} {peak:>24.0f}")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
