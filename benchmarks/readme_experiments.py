"""Copy the experiments' generated tables into README.md: ``python -m benchmarks.readme_experiments``.

Reads the Markdown written by ``python -m refefl.experiments.multilabel`` (benchmarks/results/multilabel/*.md)
and puts its tables between the README's ``multilabel-table`` markers, so that the README never holds a
hand-typed number.
"""
from pathlib import Path

from benchmarks._report import update_readme

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("yeast", "scene", "emotions", "birds", "cal500")


def multilabel_section() -> str:
    parts = []
    for name in ORDER:
        path = ROOT / "benchmarks" / "results" / "multilabel" / f"{name}.md"
        if path.is_file():
            parts.append(path.read_text().strip().replace("## Multilabel classification", "#### Multilabel:"))
    return "\n\n".join(parts) if parts else "(no experiment output yet)"


if __name__ == "__main__":
    update_readme(ROOT / "README.md", multilabel_section(), "multilabel-table")
