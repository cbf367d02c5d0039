"""Every experiment writes where the user runs it (default ``--out-dir``: the current folder), never into the
installed package or a folder of this repository."""
import json
import re
from pathlib import Path

import numpy as np
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


def test_gda_over_seeds_reports_median_and_range_beside_each_seed(tmp_path):
    """``--seeds 2``: the table's median and range are those of the per-seed finals, and each seed's finals are
    those of a single-seed run with that seed (the seeds are independent repetitions of the whole experiment)."""
    tiny = ["--n-data", "40", "--iters", "12", "--n-neurons", "4", "--quadrature", "10", "--log-every", "4",
            "--restart", "0", "1", "--out-dir", ""]
    assert gda.main(tiny[:-1] + [str(tmp_path), "--seeds", "2"]) == 0
    report = json.loads((tmp_path / "gda_seeds.json").read_text())
    assert report["seeds"] == [0, 1] and set(report["finals"]) == {"0", "1"}
    table = (tmp_path / "gda_seeds.md").read_text()
    for seed in (0, 1):
        single = tmp_path / f"seed{seed}.json"
        assert gda.main(tiny + ["--seed", str(seed), "--json", str(single)]) == 0
        for run in json.loads(single.read_text())["runs"]:
            assert report["finals"][run["restart"]][seed]["kl"] == run["final"]["kl"]
    for label, finals in report["finals"].items():
        kl = np.array([final["kl"] for final in finals])
        assert f"| {label} | median [min, max] | " in table
        assert f"{np.median(kl):.4g} [{kl.min():.4g}, {kl.max():.4g}]" in table
        assert kl[0] != kl[1]
