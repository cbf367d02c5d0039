"""Result files, all under :data:`RESULTS`: CSV + Markdown per benchmark, a log-log PNG per kernel suite, the
stamp naming machine and versions, and the Markdown tables (the README copies them with ``python -m tools.readme``).
"""
from __future__ import annotations

import csv
import datetime
import os
import platform
from pathlib import Path
from typing import Iterable, Sequence

from refefl.reproduce import cpu_name

#: the one folder of benchmark and experiment results
RESULTS = Path(__file__).resolve().parent / "results"


def stamp(versions: dict[str, str]) -> str:
    """One line naming the machine, the versions and the build of refefl_ext."""
    import refefl

    build = "refefl_ext not built"
    if refefl.HAVE_EXT:
        import refefl_ext

        build = f"refefl_ext OpenMP={refefl_ext.OPENMP} threads={refefl_ext.max_threads()} flags={refefl_ext.BUILD_FLAGS}"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    libs = ", ".join(f"{k} {v}" for k, v in versions.items())
    return f"{when}; CPU: {cpu_name()} ({os.cpu_count()} cores); Python {platform.python_version()}; {libs}; {build}"


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def thread_settings(*names: str) -> str:
    """``NAME=value`` of each environment variable (``unset`` when absent), for the stamp of a timing table."""
    return ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in names)


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table: the header, the separator line, one line per row (cells already formatted)."""
    lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
    lines += [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    return "\n".join(lines)


def markdown_table(rows: list[dict]) -> str:
    header = ("case", "dtype", "implementation", "median", "min–max", "× floor", "× refefl numpy", "peak MiB",
              "max abs diff")
    return table(header, (
        (r["case"], r["dtype"], r["implementation"], fmt_time(r["median_s"]),
         f"{fmt_time(r['min_s'])}–{fmt_time(r['max_s'])}", f"{r['ratio_to_floor']:.3g}",
         f"{r['ratio_to_numpy']:.3g}", "n/a" if r["peak_bytes"] < 0 else f"{r['peak_bytes'] / 2**20:.2f}",
         f"{r['max_abs_diff']:.2g}")
        for r in rows))


def summary_table(rows: list[dict]) -> str:
    """One line per suite and float64 case: refefl ext, refefl NumPy, the fastest peer, and ext over the floor."""
    out = []
    for (suite, case), group in _group(r for r in rows if r["dtype"] == "float64").items():
        times = {r["implementation"]: r for r in group}
        ext, numpy = times.get("refefl ext"), times.get("refefl numpy")
        peers = [r for name, r in times.items() if not name.startswith(("refefl", "numpy softmax", "numpy argsort"))
                 and "(floor)" not in name]
        best = min(peers, key=lambda r: r["median_s"]) if peers else None
        out.append((suite, case, fmt_time(ext["median_s"]) if ext else "—",
                    fmt_time(numpy["median_s"]) if numpy else "—",
                    f"{best['implementation']} {fmt_time(best['median_s'])}" if best else "—",
                    f"{ext['ratio_to_floor']:.2f}" if ext else "—"))
    return table(("suite", "case", "refefl ext", "refefl numpy", "fastest peer", "ext / floor"), out)


def _group(rows) -> dict:
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["suite"], r["case"]), []).append(r)
    return groups


def targets_table(results: list[dict]) -> str:
    return table(("suite", "target", "case", "dtype", "measured", "met"),
                 ((t["suite"], t["target"], t["case"], t["dtype"], f"{t['ratio']:.3g}", "yes" if t["met"] else "**no**")
                  for t in results))


def write_markdown(path: Path, title: str, stamp_line: str, rows: list[dict], targets: list[dict]) -> None:
    text = f"# {title}\n\n{stamp_line}\n\n{markdown_table(rows)}\n"
    if targets:
        text += f"\n## Targets\n\n{targets_table(targets)}\n"
    path.write_text(text)


def plot_scaling(path: Path, title: str, rows: list[dict]) -> None:
    """Log-log time vs size, one line per implementation (the suite's scaling family, float64)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name in dict.fromkeys(r["implementation"] for r in rows):
        pts = sorted((r["size"], r["median_s"]) for r in rows if r["implementation"] == name)
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xlabel("number of elements")
    ax.set_ylabel("median time [s]")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

