"""Wall time and peak memory of the MEDS reader on a synthetic MEDS extract (prints figures; a
benchmark, not a test).

    .venv/bin/python benchmarks/ehr_readers.py --rows 10000000 [--folder /tmp/meds_bench]

The extract (written by a child process, so its memory is not counted) has ``--rows`` event rows
in shards of one million, about 100 rows per subject over five years: ICD-10-CM and ICD-9-CM
diagnoses, MEDICATION// drug names (kept by the reader) and LAB// rows with a numeric value
(dropped), plus GENDER and MEDS_BIRTH per subject. The reading process's peak resident memory
(``ru_maxrss``) is printed with the memory of the imports alone, for comparison.
"""

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARD = 1_000_000


def generate(folder: Path, rows: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    icd10 = np.array([f"ICD10CM//{c}{n:02d}.{m}" for c in "EIJKNF" for n in range(100) for m in range(3)])
    icd9 = np.array([f"ICD9CM//{n:03d}.{m}" for n in range(240, 720) for m in range(4)])
    drugs = np.array([f"MEDICATION//drug {k}" for k in range(2000)])
    labs = np.array([f"LAB//{k}//mg/dL" for k in range(500)])
    schema = pa.schema([("subject_id", pa.int64()), ("time", pa.timestamp("us")), ("code", pa.string()),
                        ("numeric_value", pa.float32())])
    (folder / "data").mkdir(parents=True, exist_ok=True)
    start = np.datetime64("2010-01-01T00:00:00", "us")
    five_years = np.int64(5 * 365 * 86400 * 1_000_000)
    subject0 = 0
    for k, lo in enumerate(range(0, rows, SHARD)):
        n = min(SHARD, rows - lo)
        n_subj = max(1, n // 100)
        subj = np.sort(rng.integers(0, n_subj, n - 2 * n_subj)) + subject0
        kind = rng.choice(4, len(subj), p=[0.25, 0.1, 0.35, 0.3])
        code = np.where(kind == 0, rng.choice(icd10, len(subj)), np.where(
            kind == 1, rng.choice(icd9, len(subj)), np.where(kind == 2, rng.choice(drugs, len(subj)),
                                                              rng.choice(labs, len(subj)))))
        t = start + rng.integers(0, five_years, len(subj)).astype("timedelta64[us]")
        value = np.where(kind == 3, rng.normal(1, 0.3, len(subj)), np.nan).astype(np.float32)
        ids = np.arange(subject0, subject0 + n_subj)
        days = rng.integers(20 * 365, 90 * 365, n_subj).astype("timedelta64[D]")
        birth = start - days.astype("timedelta64[us]")
        sex = np.where(rng.random(n_subj) < 0.5, "GENDER//F", "GENDER//M")
        all_subj = np.r_[ids, ids, subj]
        order = np.lexsort((np.r_[np.full(n_subj, start - five_years), birth, t].astype(np.int64), all_subj))
        table = pa.table({"subject_id": all_subj[order],
                          "time": np.r_[np.full(n_subj, np.datetime64("NaT"), "datetime64[us]"), birth,
                                        t][order],
                          "code": np.r_[sex, np.full(n_subj, "MEDS_BIRTH"), code][order],
                          "numeric_value": np.r_[np.full(2 * n_subj, np.nan, np.float32), value][order]},
                         schema=schema)
        pq.write_table(table, folder / "data" / f"shard_{k:03d}.parquet")
        subject0 += n_subj


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="event rows of the extract")
    ap.add_argument("--folder", type=Path,
                    help="where the extract goes (default: a temporary folder, removed)")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        generate(args.folder, args.rows)
        return
    folder = args.folder or Path(tempfile.mkdtemp(prefix="meds_bench_"))
    try:
        if not (folder / "data").is_dir():
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--folder", str(folder),
                            "--generate-only"], check=True)
            print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f} s: {folder}")
        from precmed_utils.formats import ehr_formats

        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        e = ehr_formats.read_ehr(folder)
        sec = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in (folder / "data").glob("*.parquet")) / 2**20
        print(f"read_ehr (MEDS, {args.rows:,} rows, {size:.0f} MiB of Parquet): {sec:.1f} s; "
              f"{e.n_patients:,} patients, {len(e.events):,} events, {e.n_codes:,} codes")
        print(f"peak RSS {peak:.0f} MiB (after the imports: {base:.0f} MiB)")
        for note in e.notes:
            print("note:", note)
    finally:
        if args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
