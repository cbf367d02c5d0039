"""Run the stages in order, time them, and write the report (see :mod:`refefl.reproduce`)."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
from functools import partial
from pathlib import Path

from refefl.experiments._protocol import check_n_jobs
from refefl.reproduce import _report
from refefl.reproduce._stages import STAGES, Context


def reproduce(stages: list[str] | None = None, *, full: bool = False, out: str | os.PathLike = "results",
              data_dir: str | os.PathLike | None = None, synthetic: bool | None = None, n_jobs: int = 1,
              scheduler: str | None = None, command: str = "refefl.reproduce.reproduce()",
              settings: dict[str, dict] | None = None, progress: bool = True) -> dict:
    """Run ``stages`` (default: all of :data:`STAGES`, in their order) and write ``REPORT.md``, ``REPORT.html``
    and ``REPORT.json`` into ``out``; return the report.

    Parameters
    ----------
    stages : list of str, optional
        Names from :data:`refefl.reproduce.STAGES`.
    full : bool, default False
        The papers' protocols instead of the quick one.
    out : path, default "results"
        Output folder (created).
    data_dir : path, optional
        The data root (``multilabel/``, ``label_ranking/``); default ``$REFEFL_DATA``.
    synthetic : bool, optional
        Use the seeded synthetic stand-in data; default: when neither ``data_dir`` nor ``$REFEFL_DATA`` is set
        (and then every table says so). ``synthetic=True`` with ``data_dir`` is refused.
    n_jobs : int, default 1
        Workers for the independent units inside each stage (joblib); results do not depend on it.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler: the units run on that cluster through joblib's Dask
        backend (``n_jobs`` then counts cluster workers; -1: all of them).
    settings : dict, optional
        Per stage, settings that replace the protocol's (small runs in tests).

    Returns
    -------
    dict
        The report: ``stages`` → name → status, seconds, settings, data, comparisons (refefl vs paper),
        figures, tables, results; plus the environment and the command.
    """
    check_n_jobs(n_jobs)
    names = list(STAGES) if stages is None else list(stages)
    unknown = [name for name in names if name not in STAGES]
    if unknown or not names:
        raise ValueError(f"stages must be names among {list(STAGES)}, got {stages!r}")
    if synthetic and data_dir is not None:
        raise ValueError("synthetic=True and data_dir name two data sources; give one")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"data_dir: no such folder {data_dir} (it should hold multilabel/ and label_ranking/)")
    if synthetic is None:
        synthetic = data_dir is None and not os.environ.get("REFEFL_DATA")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    report = {"command": command, "protocol": "full" if full else "quick", "started": _report.now(),
              "n_jobs": n_jobs, "scheduler": scheduler, "environment": _report.environment(), "stages": {}}
    tic = time.perf_counter()
    with _backend(scheduler):
        for name in _progress(names, progress):
            stage, start = STAGES[name], time.perf_counter()
            stage_settings = {**stage.settings(full), **(settings or {}).get(name, {})}
            log_path = out / "logs" / f"{name}.log"
            log_path.write_text("")
            context = Context(out, None if data_dir is None else str(data_dir), synthetic, n_jobs,
                              partial(_append_line, str(log_path)))
            try:
                with log_path.open("a") as stream, contextlib.redirect_stdout(stream):
                    output = stage.run(stage_settings, context)
                error = None
            except Exception as exc:  # a stage that fails is reported, and the others still run
                output, error = None, f"{type(exc).__name__}: {exc}"
                with log_path.open("a") as stream:
                    traceback.print_exc(file=stream)
            report["stages"][name] = _report.stage_record(name, output, time.perf_counter() - start,
                                                          stage_settings, synthetic, error)
    report["seconds"] = round(time.perf_counter() - tic, 1)
    return _report.write(report, out)


def _append_line(path: str, line: str) -> None:
    """A stage's log: one line appended per call (picklable, so that workers log too)."""
    with open(path, "a") as stream:
        stream.write(line + "\n")


def _progress(names: list[str], enabled: bool):
    from tqdm.auto import tqdm

    bar = tqdm(names, desc="reproduce", unit="stage", disable=not enabled)
    for name in bar:
        bar.set_postfix_str(name)
        yield name


@contextlib.contextmanager
def _backend(scheduler: str | None):
    """joblib's Dask backend on the cluster at ``scheduler``, or nothing (local processes)."""
    if scheduler is None:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError as error:
        raise ImportError("--scheduler needs dask.distributed: pip install 'refefl[cluster]'") from error
    import joblib

    with Client(scheduler), joblib.parallel_config(backend="dask"):
        yield


def add_parser(subparsers) -> None:
    """The ``reproduce`` subcommand of ``python -m refefl``."""
    parser = subparsers.add_parser("reproduce", help="run the three papers' experiments and the kernel "
                                   "benchmarks; write results/REPORT.md, .html and .json",
                                   description=_package_doc(),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the papers' protocols (hours) instead of the quick one")
    parser.add_argument("--only", nargs="+", choices=list(STAGES), metavar="STAGE",
                        help=f"run these stages only, among {', '.join(STAGES)}")
    parser.add_argument("--out", default="results", help="output folder (default: %(default)s)")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--data-dir", default=None, help="the data root (default: $REFEFL_DATA)")
    data.add_argument("--synthetic", action="store_true", default=None,
                      help="the seeded synthetic stand-in data (default when no data folder is configured)")
    parser.add_argument("--n-jobs", type=int, default=-1,
                        help="workers for the independent units (default: -1, every local core, or every "
                             "worker of the --scheduler cluster; 1: in this process)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the units on this dask.distributed scheduler (e.g. tcp://10.0.0.5:8786)")
    parser.add_argument("--compare", default=None, metavar="OLD.json", help="print what changed against OLD.json")


def _package_doc() -> str:
    import refefl.reproduce

    return refefl.reproduce.__doc__


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the subcommand; 0 when every stage ran, 1 otherwise."""
    old = None
    if args.compare:
        path = Path(args.compare)
        if not path.is_file():
            print(f"python -m refefl reproduce: --compare: no such file {path}", file=sys.stderr)
            return 2
        old = json.loads(path.read_text(encoding="utf-8"))
    n_jobs = args.n_jobs
    try:
        check_n_jobs(n_jobs)
        if args.data_dir is not None and not Path(args.data_dir).is_dir():
            raise FileNotFoundError(f"--data-dir: no such folder {args.data_dir}")
    except (ValueError, FileNotFoundError) as error:
        print(f"python -m refefl reproduce: {error}", file=sys.stderr)
        return 2
    report = reproduce(args.only, full=args.full, out=args.out, data_dir=args.data_dir, synthetic=args.synthetic,
                       n_jobs=n_jobs, scheduler=args.scheduler, command="python -m refefl " + " ".join(argv))
    for name, stage in report["stages"].items():
        marks = [c["met"] for c in stage.get("comparisons", []) if c["met"] is not None]
        detail = stage.get("error") or (f"{sum(marks)}/{len(marks)} paper numbers met" if marks else "")
        print(f"{name:22s} {stage['status']:7s} {stage['seconds']:7.0f} s  {detail}")
    print(f"report: {Path(args.out) / 'REPORT.md'} (and .html, .json), {report['seconds']:.0f} s in all")
    if old is not None:
        print("\n".join(["", f"against {args.compare}:", *_report.compare(old, report)]))
    return 0 if all(stage["status"] == "done" for stage in report["stages"].values()) else 1

