"""Benchmark runs side by side: ``python -m tools.bench_compare --pair BEFORE AFTER [--pair ...] [--out FILE]``.

Reads the kernel suites' CSV files (``<suite>.csv``, as ``python -m benchmarks`` writes them) of each pair of
runs: the later one in a folder, the earlier one in a folder or as committed under ``benchmarks/results`` at a
git revision (folders are searched recursively, so that one ``--out-dir`` per suite works). It writes a Markdown
table of every refefl implementation (``refefl ext`` and ``refefl numpy``, both dtypes): its time as a multiple of
the suite's floor (the NumPy softmax or argsort of the same array, timed in the same run) before and after, and
the change in each pair. Ratios to the floor, not seconds, are compared, so that runs at different moments or on
machines of different speed can be set side by side.

In one pair, a row is slower when even its fastest call of the new run, over the floor's median, is slower than
its slowest call of the old run over that run's floor median: the runs' [min, max] bands, in units of their
floors, do not overlap. On a shared machine one pair of runs minutes apart differs by more than that band, both
ways; a row is *slower beyond noise* when every pair that measured it finds it slower. ``--fail`` exits 1 when a
row is.
"""
from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: the columns of a kernel suite's CSV that this comparison reads
COLUMNS = {"suite", "case", "dtype", "implementation", "median_s", "min_s", "max_s"}


def read_rows(text: str) -> list[dict] | None:
    """The rows of a kernel suite's CSV text, or None when it is another kind of table (a model benchmark)."""
    reader = csv.DictReader(io.StringIO(text))
    if not COLUMNS <= set(reader.fieldnames or ()):
        return None
    return list(reader)


def bands(rows: list[dict]) -> dict[tuple, tuple[float, float, float]]:
    """Per (suite, case, dtype, implementation) of refefl's: (min, median, max) seconds over the floor's median."""
    floors = {(r["suite"], r["case"], r["dtype"]): float(r["median_s"]) for r in rows
              if r["implementation"].endswith("(floor)")}
    return {(r["suite"], r["case"], r["dtype"], r["implementation"]):
            tuple(float(r[key]) / floors[r["suite"], r["case"], r["dtype"]] for key in ("min_s", "median_s", "max_s"))
            for r in rows if r["implementation"].startswith("refefl") and (r["suite"], r["case"], r["dtype"]) in floors}


def load(source: str | Path) -> dict[tuple, tuple[float, float, float]]:
    """:func:`bands` of every kernel suite CSV of ``source``: a folder (recursively), or a git revision (the CSVs
    committed under ``benchmarks/results`` there)."""
    if Path(source).is_dir():
        texts = [path.read_text(encoding="utf-8") for path in sorted(Path(source).rglob("*.csv"))]
    else:
        texts = [_git("show", f"{source}:{name}") for name in
                 _git("ls-tree", "--name-only", str(source), f"{RESULTS.relative_to(ROOT).as_posix()}/").split()
                 if name.endswith(".csv")]
    found = {}
    for rows in filter(None, map(read_rows, texts)):
        found.update(bands(rows))
    return found


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def compare(before: dict, after: dict) -> dict[tuple, dict]:
    """Per row present in both runs: its ratio to the floor before and after, their quotient, the verdict."""
    rows = {}
    for key in sorted(before.keys() & after.keys()):
        (_, old, old_high), (new_low, new, _) = before[key], after[key]
        verdict = "slower" if new_low > old_high else ("faster" if new < old else "same or slower within noise")
        rows[key] = {"before": old, "after": new, "change": new / old, "verdict": verdict}
    return rows


def verdict(measured: list[dict]) -> str:
    """"slower" when every pair that measured the row found it slower beyond noise (a slowdown that one
    back-to-back pair shows and another does not is noise); else "not slower"."""
    return "slower" if all(row["verdict"] == "slower" for row in measured) else "not slower"


def verdicts(pairs: list[dict[tuple, dict]]) -> dict[tuple, str]:
    """:func:`verdict` of every row measured by at least one pair."""
    return {key: verdict([pair[key] for pair in pairs if key in pair]) for key in sorted(set().union(*pairs))}


def markdown(pairs: list[dict[tuple, dict]], labels: list[str]) -> str:
    found = verdicts(pairs)
    keys = list(found)
    slower = [key for key in keys if found[key] == "slower"]
    changes = sorted(pair[key]["change"] for pair in pairs for key in pair)
    lines = [f"Each refefl implementation's time over its suite's floor (the NumPy softmax or argsort of the same "
             f"array, timed in the same run), after / before, in {len(pairs)} pair(s) of runs: "
             + "; ".join(f"pair {i + 1}: {label}" for i, label in enumerate(labels)) + ". "
             f"Median after / before over all {len(changes)} measurements: {changes[len(changes) // 2]:.2f}. A row is "
             "slower beyond noise when, in every pair that measured it, its fastest new call over the floor is slower "
             f"than its slowest old call: **{len(slower)} of {len(keys)}** rows"
             + (": " + "; ".join(" ".join(key) for key in slower) if slower else "") + ".", "",
             "| suite | case | dtype | implementation | before / floor | after / floor | "
             + " | ".join(f"after / before (pair {i + 1})" for i in range(len(pairs))) + " | verdict |",
             "|---|---|---|---|---|---|" + "---|" * len(pairs) + "---|"]
    for key in keys:
        first = next(pair[key] for pair in pairs if key in pair)
        cells = [f"{pair[key]['change']:.2f}" + (" (slower)" if pair[key]["verdict"] == "slower" else "")
                 if key in pair else "—" for pair in pairs]
        lines.append(f"| {' | '.join(key)} | {first['before']:.3g} | {first['after']:.3g} | {' | '.join(cells)} | "
                     f"{found[key]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", nargs=2, action="append", required=True, metavar=("BEFORE", "AFTER"),
                        help="an earlier run (a folder or a git revision) and a later run (a folder); repeatable")
    parser.add_argument("--label", action="append", default=None,
                        help="how the table describes each pair, in order (default: the two paths)")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table here (default: print it)")
    parser.add_argument("--fail", action="store_true", help="exit 1 when a row is slower beyond noise")
    args = parser.parse_args(argv)
    if args.label is not None and len(args.label) != len(args.pair):
        parser.error(f"give one --label per --pair ({len(args.pair)}), got {len(args.label)}")
    pairs = []
    for before, after in args.pair:
        if not Path(after).is_dir():
            parser.error(f"--pair {before} {after}: {after} is not a folder")
        try:
            rows = compare(load(before), load(after))
        except ValueError as error:
            parser.error(f"--pair {before} {after}: {error}")
        if not rows:
            parser.error(f"--pair {before} {after}: no kernel suite row of {after} is in {before}")
        pairs.append(rows)
    text = markdown(pairs, args.label or [f"{before} → {after}" for before, after in args.pair])
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 1 if args.fail and "slower" in verdicts(pairs).values() else 0


if __name__ == "__main__":
    sys.exit(main())
