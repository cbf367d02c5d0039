"""Every experiment writes where the user runs it (default ``--out-dir``: the current folder), never into the
installed package or a folder of this repository."""
import re
from pathlib import Path

import pytest

import refefl
from refefl.experiments import gda, imitation, multilabel

PACKAGE = Path(refefl.__file__).resolve().parent

RUNS = {
    "multilabel": (multilabel.main, ["--dataset", "emotions", "--synthetic", "--quick", "--seeds", "1",
                                     "--max-epochs", "1"], ["emotions.md", "emotions.png"]),
    "gda": (gda.main, ["--n-data", "50", "--iters", "10", "--n-neurons", "4", "--quadrature", "10",
                       "--snapshots", "0", "10"], ["gda_curves.png"]),
    "imitation": (imitation.main, ["--seeds", "1", "--episodes", "2", "--policies", "mse"],
                  ["imitation.md", "imitation.json", "imitation.png"]),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_outputs_go_to_the_current_folder_by_default(name, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    main, argv, files = RUNS[name]
    package_before = {path: path.stat().st_mtime_ns for path in PACKAGE.rglob("*") if path.is_file()}
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 0
    for file in files:
        assert (tmp_path / file).is_file(), f"{file} not written to the current folder"
    package_after = {path: path.stat().st_mtime_ns for path in PACKAGE.rglob("*") if path.is_file()}
    written = {path for path in package_after if package_before.get(path) != package_after[path]}
    assert not {path for path in written if "__pycache__" not in path.parts}


ROOT = Path(__file__).resolve().parents[1]
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|home|Users|root|mnt|opt)/")


def test_committed_results_name_no_machine_paths():
    """The README and the committed results name data by data set (``multilabel/yeast.npz``), never by a
    folder of the machine that produced them."""
    files = [ROOT / "README.md", *(ROOT / "benchmarks" / "results").rglob("*.md"),
             *(ROOT / "benchmarks" / "results").rglob("*.json"), *(ROOT / "benchmarks" / "results").rglob("*.csv")]
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in files if path.is_file()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if MACHINE_PATH.search(line)]
    assert not offenders, offenders
