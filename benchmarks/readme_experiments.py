"""Copy the experiments' generated tables into README.md: ``python -m benchmarks.readme_experiments``.

Reads the Markdown written by ``python -m refefl.experiments.multilabel`` (benchmarks/results/multilabel/*.md)
and by ``python -m refefl.experiments.partition`` (benchmarks/results/partition/*.md) and puts the tables
between the README's ``multilabel-table`` and ``partition-table`` markers, so that the README never holds a
hand-typed number.
"""
from pathlib import Path

from benchmarks._report import update_readme

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("yeast", "scene", "emotions", "birds", "cal500")
PARTITION_ORDER = tuple(f"multilabel_{name}" for name in ORDER) + tuple(
    f"ranking_{name}" for name in ("authorship", "glass", "iris", "vehicle", "vowel", "wine"))


def section(folder: str, stems, heading: str, replacement: str) -> str:
    """The generated Markdown files ``benchmarks/results/<folder>/<stem>.md`` that exist, in order, each with its
    ``heading`` turned into a README subheading ``replacement``."""
    parts = []
    for stem in stems:
        path = ROOT / "benchmarks" / "results" / folder / f"{stem}.md"
        if path.is_file():
            parts.append(path.read_text().strip().replace(heading, replacement))
    return "\n\n".join(parts) if parts else "(no experiment output yet)"


if __name__ == "__main__":
    update_readme(ROOT / "README.md", section("multilabel", ORDER, "## Multilabel classification", "#### Multilabel:"),
                  "multilabel-table")
    update_readme(ROOT / "README.md", section("partition", PARTITION_ORDER, "## Partition networks, ", "#### "),
                  "partition-table")
