"""The multilabel experiment: the command line writes the Markdown table, the PNG and valid JSON with one entry
per model and the required keys; hyperparameters are chosen without looking at the test split; the grids."""
import json

import numpy as np
import pytest

from refefl.datasets import make_synthetic_multilabel
from refefl.estimators import METRICS, EnergyMultilabelClassifier
from refefl.experiments import multilabel


def test_cli_writes_table_figure_and_json(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, report = tmp_path / "out", tmp_path / "results.json"
    # an existing folder without the Mulan files: the loader falls back to the synthetic data set
    status = multilabel.main(["--dataset", "emotions", "--data-dir", str(tmp_path), "--quick", "--seeds", "2",
                              "--max-epochs", "2", "--out-dir", str(out), "--json", str(report)])
    assert status == 0
    results = json.loads(report.read_text())
    assert results["source"] == "synthetic" and results["seeds"] == [0, 1]
    assert set(results["models"]) == set(multilabel.model_grids())
    for entry in results["models"].values():
        for metric in METRICS:
            assert set(entry[metric]) >= {"mean", "std"}
            assert 0 <= entry[metric]["mean"] <= 1 and entry[metric]["std"] >= 0
            values = [seed[metric] for seed in entry["per_seed"]]
            assert entry[metric]["mean"] == pytest.approx(np.mean(values))
        assert isinstance(entry["hyperparameters"], dict) and entry["hyperparameters"]
    table = (out / "emotions.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) == len(results["models"]) + 2  # header, rule, one row per model
    assert all(row.count("|") == 7 for row in rows)
    assert table in capsys.readouterr().out
    png = (out / "emotions.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) < 300_000


def test_selection_never_reads_the_test_split():
    """Scrambling the test labels and features changes neither the choice nor the validation scores."""
    data = make_synthetic_multilabel(n_samples=150, n_features=4, n_labels=3, rng=np.random.default_rng(0))
    scrambled = type(data)(data.name, data.X_train, data.Y_train, -data.X_test, 1 - data.Y_test, data.source)
    grid = [{"weight_decay": 1e-3}, {"weight_decay": 1.0}]
    choices = [multilabel.select(EnergyMultilabelClassifier, grid, d, 0, {"max_epochs": 3}, lambda *_: None)
               for d in (data, scrambled)]
    assert choices[0] == choices[1]
    assert choices[0][0] in grid


def test_grids():
    assert multilabel._grid({"a": 1}, b=(2, 3), c=({"c": 4, "d": 5},)) == [
        {"a": 1, "b": 2, "c": 4, "d": 5}, {"a": 1, "b": 3, "c": 4, "d": 5}]
    full, quick = multilabel.model_grids(), multilabel.model_grids(quick=True)
    assert full.keys() == quick.keys()
    for name, (cls, grid) in full.items():
        assert len(quick[name][1]) == 1
        for config in grid:  # every configuration is a valid set of hyperparameters
            cls(**{**multilabel.COMMON, **config})
