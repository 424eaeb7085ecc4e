"""The ``precmed`` command: list, run, sweep, benchmark, book, deid, predict, clean.

Bad input (unknown study, parameter name, type or value; missing or malformed data file) is
reported in one clear message and exit status 2, before anything runs; a study that fails while
running gives exit status 1.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ..errors import BuildError, ParameterError, PrecmedError
from ..params import PROFILES

EPILOG = """examples:
  precmed list
  precmed run cancer_subtyping --profile smoke
  precmed run cancer_subtyping -p n_repeats=5 -p methods=CERP,RandomForest
  precmed check-data cancer_subtyping /path/to/my_expression.csv
  precmed run cancer_subtyping -p data=/path/to/my_expression.csv
  precmed sweep concept_extraction -p hidden=25,50,100 -p optimizer=adagrad,adam --seeds 0-2
  precmed sweep cancer_subtyping -p n_genes=100,500 --seeds 0-9 --scheduler tcp://10.0.0.5:8786
  precmed book --jobs 2
  precmed benchmark --profiles smoke,default
  precmed deid runs/deidentification/<run>/model notes/ notes_deid/ --mode surrogates
  precmed predict deidentification runs/deidentification/<run>/model notes/ --out spans.json
  precmed predict concept_extraction runs/concept_extraction/<run>/model notes/
  precmed predict temporal_events runs/temporal_events/<run>/model note.txt --out spans.json
  precmed privacy-scan runs/cancer_subtyping/<run>
"""


def _cmd_list(args) -> int:
    from ..formats import data as registry
    from ..params import profile_overrides, study_spec
    from ..studies import all_studies, implemented_studies, study_info

    done = set(implemented_studies())
    studies = [args.study] if args.study else all_studies()
    for sid in studies:
        info = study_info(sid)
        mark = "notebook" if sid in done else "not reproduced yet"
        print(f"{sid:<26} {info['survey_ref']:<5} {info['title']}  [{mark}]")
        if sid in done and (args.study or args.verbose):
            print(f"    paper: {info['paper']}")
            print(f"    data:  {', '.join(registry.for_study(sid)) or '(simulated)'}"
                  " or a path to your own file")
            print("    parameters:")
            for p in study_spec(sid).values():
                print(f"      {p.describe()}")
            for prof in ("smoke", "paper"):
                print(f"    profile {prof}: {profile_overrides(sid, prof)}")
    return 0


def _cmd_run(args) -> int:
    from .runner import run_study

    r = run_study(args.study, args.profile, assignments=args.param, runs_dir=args.runs_dir,
                  progress=not args.no_progress)
    if r.ok:
        print(f"done in {r.seconds:.1f}s: {r.path}")
        print(f"  notebook: {Path(r.path) / 'notebook.ipynb'}")
        print(f"  metrics:  {Path(r.path) / 'metrics.json'}")
        return 0
    print(f"FAILED after {r.seconds:.1f}s: {r.error}", file=sys.stderr)
    print(f"  the executed notebook (with the traceback) is in {r.path}", file=sys.stderr)
    return 1


def _cmd_check_data(args) -> int:
    from ..errors import DataError
    from ..formats.checkdata import check_data, errors_of, format_of, total_errors
    from ..studies import check_study

    study = check_study(args.study)
    described = format_of(study)
    path = Path(args.path).expanduser()
    if not path.exists():
        raise DataError(f"{args.path}: no such file or folder")
    problems = check_data(study, path)
    for p in problems:
        print(p)
    errors = errors_of(problems)
    if not errors:
        print(f"{args.path}: OK for {study} (format: {described})")
        return 0
    print(f"{total_errors(problems)} problem(s) in {args.path} for {study}; expected format: {described}")
    return 1


def _cmd_book(args) -> int:
    from ..privacy import is_refusal
    from .runner import build_book

    results, index = build_book(args.profile, args.jobs, args.runs_dir, args.out)
    failed = [s for s, r in results.items() if not r.ok]
    print(f"\nbook built: open {index.resolve()}")
    if failed:
        print(f"{len(failed)} stud{'y' if len(failed) == 1 else 'ies'} failed: "
              f"{', '.join(failed)}", file=sys.stderr)
        for s in failed:
            if is_refusal(results[s]):  # say where the privacy gate found what
                print(results[s].error, file=sys.stderr)
        return 1
    return 0


def _cmd_sweep(args) -> int:
    from .sweep import DaskExecutor, run_sweep

    executor = DaskExecutor(args.scheduler) if args.scheduler else None
    out = run_sweep(args.study, args.param, args.seeds, profile=args.profile, runs_dir=args.runs_dir,
                    executor=executor, jobs=args.jobs, metric=args.metric)
    print(f"\n{out['runs']} runs ({out['reused']} reused from earlier runs): {out['folder']}")
    for key in ("results", "summary", "figure"):
        if key in out:
            print(f"  {key}: {out[key]}")
    if out["failed"]:
        print(f"{len(out['failed'])} run(s) failed:\n  " + "\n  ".join(out["failed"]), file=sys.stderr)
        return 1
    return 0


def _cmd_benchmark(args) -> int:
    from ..params import PROFILES as known
    from ..studies import check_study
    from .benchmark import load, performance_markdown, run_benchmark

    profiles = tuple(p.strip() for p in args.profiles.split(",") if p.strip())
    bad = [p for p in profiles if p not in known]
    if bad or not profiles:
        raise ParameterError(f"--profiles: {', '.join(bad) or 'none given'}; "
                             f"expected some of {', '.join(known)}")
    studies = [check_study(s) for s in args.studies] or None
    out = Path(args.out) if args.out else None
    entry = run_benchmark(studies, profiles, out)
    print()
    print(performance_markdown(load(out)))
    return 0 if all(r["ok"] for r in entry["runs"].values()) else 1


def _cmd_clean(args) -> int:
    from ..studies import project_root

    root = project_root()
    targets = [root / "_build"] + ([root / "runs"] if args.runs else [])
    # folders of runs that were killed before they could clean up (e.g. by SIGKILL)
    targets += sorted((root / "runs").glob("*/.partial-*")) if not args.runs else []
    for t in targets:
        if t.exists():
            shutil.rmtree(t)
            print(f"removed {t}")
    return 0


def _cmd_worksheet(args) -> int:
    from ..studies import check_study, project_root
    from .teaching import WORKSHEET_DIR, write_worksheet

    check_study(args.study)
    out = Path(args.out).expanduser() if args.out else project_root() / WORKSHEET_DIR
    files = write_worksheet(args.study, out, args.profile)
    print(f"nbgrader source: {files['source']}\nstudent copy:    {files['student']}\n"
          "next, with nbgrader (make lab-install): "
          f'cd {out} && PATH="{Path(sys.executable).parent}:$PATH" nbgrader generate_assignment {args.study}')
    return 0


def _cmd_deid(args) -> int:
    from ..studies.deid import deidentify

    summary = deidentify(args.model_dir, args.input, args.output, mode=args.mode, seed=args.seed)
    by_label = ", ".join(f"{k} {v}" for k, v in summary["by_label"].items()) or "none"
    print(f"de-identified {summary['files']} file(s): {summary['spans']} PHI span(s) replaced ({by_label})")
    print(f"  output: {summary['output']} (with .phi.json sidecars)")
    return 0


PREDICTORS = {
    "deidentification": "the de-identifier a deidentification run saves in <run>/model",
    "concept_extraction": "the medication/ADE tagger a concept_extraction run saves in <run>/model",
    "temporal_events": "the EVENT/TIMEX3 tagger a temporal_events run saves in <run>/model",
}


def _cmd_predict(args) -> int:
    import json

    from ..studies import check_study

    check_study(args.study)
    if args.study not in PREDICTORS:
        raise ParameterError(f"predict: study {args.study!r} saves no reusable model; models with a predict "
                             f"interface: {', '.join(f'{k} ({v})' for k, v in PREDICTORS.items())}")
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and out.exists():
        raise ParameterError(f"--out {out}: already exists; refusing to overwrite it")
    from ..studies.deid import read_notes

    texts = read_notes(args.input)
    if args.study == "deidentification":
        from ..studies.deid import DeidModel

        model = DeidModel.load(args.model_dir)
    else:
        from ..text.text_models import TextTagger

        model = TextTagger.load(args.model_dir, args.study)
    doc = {"study": args.study, "model_dir": str(Path(args.model_dir).resolve()),
           "files": [{"file": str(rel), "characters": len(text), "spans": model.predict(text)}
                     for rel, text in texts.items()]}
    body = json.dumps(doc, indent=1)
    if out is None:
        print(body)
    else:
        out.write_text(body + "\n")
        n = sum(len(f["spans"]) for f in doc["files"])
        print(f"{n} span(s) in {len(doc['files'])} file(s): {out}")
    return 0


def _cmd_privacy_scan(args) -> int:
    from ..privacy import scan_notebook

    dirty = 0
    for path in args.notebooks:
        p = Path(path)
        if p.is_dir():
            p = p / "notebook.ipynb"
        if not p.is_file():
            raise ParameterError(f"{path}: no such notebook (give an executed .ipynb or a run folder)")
        rep = scan_notebook(p, report=True)
        exempt = f"; cells exempted by their tag: {rep.exempt_cells}" if rep.exempt_cells else ""
        print(f"{p}: {len(rep.findings)} likely PHI finding(s) ({rep.seconds:.2f}s){exempt}")
        for f in rep.findings:
            print(f"  - {f.describe()}")
        dirty += bool(rep.findings)
    return 1 if dirty else 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="precmed", description="Run the precmed reproductions "
                                 "and build the book.", epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="show the studies, their data and parameters")
    p.add_argument("study", nargs="?", help="show one study's parameters and profiles")
    p.add_argument("-v", "--verbose", action="store_true", help="parameters of every study")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("run", help="run one study into runs/<study>/<profile>-<hash>/")
    p.add_argument("study")
    p.add_argument("--profile", default="default", choices=PROFILES)
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter (repeatable); lists are comma-separated")
    p.add_argument("--runs-dir", default=None, help="root folder of the runs (default: runs/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("check-data", help="check your data file or folder against the format a study "
                       "documents, and list every problem (nothing runs)")
    p.add_argument("study")
    p.add_argument("path", help="your file or folder")
    p.set_defaults(func=_cmd_check_data)

    p = sub.add_parser("sweep", help="run a grid of parameter settings x seeds and gather the metrics")
    p.add_argument("study")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=V1,V2",
                   help="a swept parameter and its values (repeatable; the grid is their product); "
                   "for list parameters separate the settings with ';'")
    p.add_argument("--seeds", default="0", help="seeds, e.g. 0-9 or 0,3,7 (default 0)")
    p.add_argument("--profile", default="default", choices=PROFILES)
    p.add_argument("--jobs", type=_positive_int, default=2, help="parallel runs on this machine (default 2)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask distributed cluster (its scheduler's address) instead")
    p.add_argument("--metric", default=None, help="the metric of the summary figure (default: the first "
                   "metric every run reports)")
    p.add_argument("--runs-dir", default=None)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("benchmark", help="measure wall time and peak memory of each study's runs "
                       "(into book/performance.json, shown on the book's Performance page)")
    p.add_argument("studies", nargs="*", help="studies to measure (default: all)")
    p.add_argument("--profiles", default="smoke,default", help="comma-separated (default smoke,default)")
    p.add_argument("--out", default=None, help="the figures file (default book/performance.json)")
    p.set_defaults(func=_cmd_benchmark)

    p = sub.add_parser("book", help="run every study and build the HTML book")
    p.add_argument("--profile", default="default", choices=PROFILES)
    p.add_argument("--jobs", type=_positive_int, default=2, help="studies run in parallel (default 2)")
    p.add_argument("--runs-dir", default=None)
    p.add_argument("--out", default=None, help="build folder (default: _build/)")
    p.set_defaults(func=_cmd_book)

    p = sub.add_parser("worksheet", help="write a chapter's student copy for a class: its exercises' "
                       "solutions as nbgrader solution cells (source/), and a copy without them (student/)")
    p.add_argument("study")
    p.add_argument("--out", default=None, help="the course folder (default: worksheets/)")
    p.add_argument("--profile", default=None, choices=PROFILES,
                   help="set the copy's profile parameter (smoke: runs in a minute in class)")
    p.set_defaults(func=_cmd_worksheet)

    p = sub.add_parser("deid", help="write a de-identified copy of notes with a model saved by the "
                       "deidentification study")
    p.add_argument("model_dir", help="the model folder a deidentification run saved (<run>/model)")
    p.add_argument("input", help="a UTF-8 text file, or a folder of .txt notes")
    p.add_argument("output", help="the output file or folder (must not exist)")
    p.add_argument("--mode", choices=("tags", "surrogates"), default="tags",
                   help="replace PHI by [**TYPE**] tags (default) or realistic surrogates")
    p.add_argument("--seed", type=int, default=0, help="seed of the surrogates (default 0)")
    p.set_defaults(func=_cmd_deid)

    p = sub.add_parser("predict", help="run a model a study saved on new text: spans as JSON (offsets and "
                       "labels, never the text)")
    p.add_argument("study", help="the study whose model it is: "
                   + "; ".join(f"{k} ({v})" for k, v in PREDICTORS.items()))
    p.add_argument("model_dir", help="the model folder the run saved (<run>/model, with MODEL_CARD.md)")
    p.add_argument("input", help="a UTF-8 text file, or a folder of .txt notes")
    p.add_argument("--out", default=None, help="write the JSON here (must not exist) instead of to stdout")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("privacy-scan", help="scan executed notebooks' outputs for likely PHI (the "
                       "book's privacy gate); exit status 1 when something is found")
    p.add_argument("notebooks", nargs="+", help="executed .ipynb files or run folders")
    p.set_defaults(func=_cmd_privacy_scan)

    p = sub.add_parser("clean", help="remove the built book and leftover partial run folders "
                       "(with --runs, all runs)")
    p.add_argument("--runs", action="store_true", help="also remove runs/")
    p.set_defaults(func=_cmd_clean)
    return ap


def _positive_int(text: str) -> int:
    """--jobs: a whole number of at least 1 (0 or a negative number is refused, not clamped)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BuildError as exc:
        print(f"precmed: error: {exc}", file=sys.stderr)
        return 1
    except PrecmedError as exc:  # bad input: nothing ran
        print(f"precmed: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (runner.Terminated)
        print("precmed: interrupted; earlier runs are untouched", file=sys.stderr)
        return getattr(exc, "exit_code", 130)


if __name__ == "__main__":
    sys.exit(main())
