"""The multilabel experiment: the command line writes the Markdown table, the PNG and valid JSON with one entry
per model and the required keys; hyperparameters are chosen without looking at the test split; the grids."""
import json

import numpy as np
import pytest

from refefl.datasets import make_synthetic_multilabel
from refefl.estimators import METRICS, EnergyMultilabelClassifier
from refefl.experiments import multilabel
from refefl.experiments._protocol import grid, run_plan


def test_cli_writes_table_figure_and_json(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, report = tmp_path / "out", tmp_path / "results.json"
    status = multilabel.main(["--dataset", "emotions", "--synthetic", "--quick", "--seeds", "2",
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
    rows = [line for line in table.split("\n\n")[2].splitlines()]  # the models' table: the third paragraph
    assert len(rows) == len(results["models"]) + 2  # header, rule, one row per model
    assert all(row.startswith("|") and row.count("|") == 7 for row in rows)
    assert table.count(multilabel.SYNTHETIC_NOTE) >= 2  # in the title and beside the data's name
    assert table in capsys.readouterr().out
    png = (out / "emotions.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) < 300_000


def test_a_named_folder_without_the_file_is_an_error_before_training(tmp_path, capsys):
    """``--data-dir`` naming a folder without the file stops at once, naming the file (no stand-in run)."""
    for folder in (tmp_path, tmp_path / "nonexistent"):
        with pytest.raises(SystemExit) as stop:
            multilabel.main(["--dataset", "yeast", "--data-dir", str(folder), "--out-dir", str(tmp_path / "out")])
        assert stop.value.code == 2
        assert str(folder / "multilabel" / "yeast.npz") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sklearn_reference_rows_are_computed_per_C():
    """The comparison rows come from fitting scikit-learn now: one row per C, each with every metric, and the
    "best C" line quotes both of its figures from one C."""
    pytest.importorskip("sklearn")
    data = make_synthetic_multilabel(n_samples=150, n_features=4, n_labels=3, rng=np.random.default_rng(0))
    rows = multilabel.sklearn_reference(data)
    assert [row["C"] for row in rows] == list(multilabel.BR_C_GRID)
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    for row in rows:
        assert set(row) == {"C", *METRICS} and all(0 <= row[m] <= 1 for m in METRICS)
        reference = make_pipeline(StandardScaler(), OneVsRestClassifier(LogisticRegression(C=row["C"])))
        predictions = reference.fit(data.X_train, data.Y_train).predict(data.X_test)
        for name, metric in METRICS.items():
            assert row[name] == pytest.approx(metric(data.Y_test, predictions))
    best = max(rows, key=lambda row: row["hamming_accuracy"])
    text = "\n".join(multilabel._sklearn_rows(rows))
    assert (f"C = {best['C']} (Hamming {100 * best['hamming_accuracy']:.2f}, "
            f"example F1 {100 * best['example_f1']:.2f} at that C)") in text
    assert not hasattr(multilabel, "SKLEARN_BR")


def test_selection_never_reads_the_test_split():
    """Scrambling the test labels and features changes neither the choice nor the validation scores."""
    data = make_synthetic_multilabel(n_samples=150, n_features=4, n_labels=3, rng=np.random.default_rng(0))
    scrambled = type(data)(data.name, data.X_train, data.Y_train, -data.X_test, 1 - data.Y_test, data.source)
    grid = [{"weight_decay": 1e-3}, {"weight_decay": 1.0}]
    models = {"unary": (EnergyMultilabelClassifier, grid)}
    plans = [multilabel.selection(models, d, 0, {"max_epochs": 3}, lambda *_: None) for d in (data, scrambled)]
    choices = [run_plan(plan, progress=False)["unary"] for plan in plans]
    assert choices[0] == choices[1]
    assert choices[0][0] in grid


def test_grids():
    assert grid({"a": 1}, b=(2, 3), c=({"c": 4, "d": 5},)) == [
        {"a": 1, "b": 2, "c": 4, "d": 5}, {"a": 1, "b": 3, "c": 4, "d": 5}]
    full, quick = multilabel.model_grids(), multilabel.model_grids(quick=True)
    assert full.keys() == quick.keys()
    for name, (cls, configs) in full.items():
        assert len(quick[name][1]) == 1
        for config in configs:  # every configuration is a valid set of hyperparameters
            cls(**{**multilabel.COMMON, **config})
