"""The partition-network experiment: both tasks write their table, figures and JSON (paper model names, metrics
in percent under the required keys), selection never sees the test rows, bad options and missing data stop early."""
import json

import numpy as np
import pytest

from refefl.experiments import partition
from refefl.experiments._protocol import gather, jsonable, run_plan


def _run(tmp_path, *args):
    out, report = tmp_path / "out", tmp_path / "results.json"
    status = partition.main([*args, "--synthetic", "--quick", "--max-epochs", "2", "--out-dir", str(out),
                             "--json", str(report)])
    assert status == 0
    return out, json.loads(report.read_text())


def test_multilabel_cli_writes_table_figures_and_json(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, results = _run(tmp_path, "--task", "multilabel", "--dataset", "scene", "--seeds", "2", "--sweep-samples")
    assert results["source"] == "synthetic" and results["seeds"] == [0, 1]
    assert set(results["models"]) == set(partition.multilabel_models())
    assert {"min-min logistic", "min-min sparsemax", "exact MLE", "GFY", "NCE", "MCMC", "min-max"} <= set(
        results["models"])
    for entry in results["models"].values():
        stat = entry["example_f1"]
        assert 0 <= stat["mean"] <= 100 and stat["std"] >= 0
        assert stat["mean"] == pytest.approx(100 * np.mean(entry["per_seed"]))
    gap = results["models"]["min-min logistic"]["tau_gap"]
    assert gap["median_abs_nats"] == pytest.approx(np.median(np.abs(np.subtract(gap["tau"], gap["exact"]))))
    assert results["unary_tau_gap"]["hyperparameters"]["energy"] == "unary"
    assert [row["m"] for row in results["sample_sweep"]] == [*partition.SAMPLE_SWEEP, None]
    table = (out / "multilabel_scene.md").read_text()
    assert table.count(partition.SYNTHETIC_NOTE) >= 2 and table in capsys.readouterr().out
    for name in ("multilabel_scene_tau.png", "multilabel_scene_samples.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")


def test_ranking_cli_cross_validates(tmp_path):
    pytest.importorskip("matplotlib")
    _, results = _run(tmp_path, "--task", "ranking", "--dataset", "wine", "--seeds", "1", "--folds", "3")
    assert set(results["models"]) == set(partition.ranking_models())
    assert {"min-min logistic", "min-min sparsemax", "exact MLE", "NCE", "MCMC", "min-max"} <= set(results["models"])
    for entry in results["models"].values():
        assert len(entry["per_fold"]) == 3  # folds × seeds
        assert -100 <= entry["kendall_tau"]["mean"] <= 100
        assert entry["kendall_tau"]["mean"] == pytest.approx(100 * np.mean(entry["per_fold"]))


@pytest.mark.parametrize("models", [partition.multilabel_models, partition.ranking_models])
def test_full_grids_search_the_adam_step_and_baselines_share_the_min_min_grid(models):
    grids = models()
    for name, (_, configs) in grids.items():
        assert {config["learning_rate"] for config in configs} == {1e-2, 1e-3}, name
    strip = lambda configs: [{k: v for k, v in c.items() if k not in ("objective", "divergence")} for c in configs]
    for name in partition.BASELINES:
        assert {c["objective"] for c in grids[name][1]} == {partition.BASELINES[name]}
        assert strip(grids[name][1]) == strip(grids["min-min logistic"][1])


def _select(configs, data, n_jobs=1):
    cls = partition.multilabel_models()["min-min logistic"][0]
    plan = partition.selection(cls, configs, data.X_train, data.Y_train, 0, {"max_epochs": 2}, "t", lambda *_: None)
    return run_plan(plan, n_jobs=n_jobs, progress=False)


def test_selection_is_deterministic_and_picks_from_the_grid():
    """``selection`` takes the training rows only (no test rows in its signature), and the same seed chooses the
    same configuration of the grid, in one process or two."""
    from refefl.datasets import make_synthetic_multilabel
    data = make_synthetic_multilabel(200, 4, 3, rng=np.random.default_rng(0))
    configs = partition.multilabel_models()["min-min logistic"][1][:3]
    (chosen, candidates, seconds), again = _select(configs, data), _select(configs, data, n_jobs=2)
    assert chosen in configs and again[:2] == (chosen, candidates) and seconds > 0
    assert [c["config"] for c in candidates] == [jsonable(c) for c in configs]
    assert all(0 <= c["validation"] <= 1 for c in candidates)


def test_a_grid_of_one_configuration_is_kept_without_a_fit():
    from refefl.datasets import make_synthetic_multilabel
    data = make_synthetic_multilabel(50, 4, 3, rng=np.random.default_rng(0))
    config = partition.multilabel_models()["min-min logistic"][1][0]
    assert _select([config], data) == (config, [{"config": jsonable(config), "validation": None}], 0.0)


@pytest.mark.parametrize("args, message", [
    (["--task", "ranking", "--dataset", "yeast"], "not a ranking data set"),
    (["--task", "multilabel", "--dataset", "iris"], "not a multilabel data set"),
    (["--task", "ranking", "--sweep-samples"], "--sweep-samples is for --task multilabel"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--n-jobs", "0"], "--n-jobs must be a positive number of processes or -1"),
])
def test_bad_options_are_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        partition.main([*args, "--synthetic"])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_a_named_folder_without_the_file_is_an_error_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        partition.main(["--task", "ranking", "--dataset", "glass", "--data-dir", str(tmp_path),
                        "--out-dir", str(tmp_path / "out")])
    assert stop.value.code == 2
    assert str(tmp_path / "label_ranking" / "glass.npz") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_diverged_fits_are_counted_apart():
    """A fit whose training diverged is not averaged in, and the table says how many of them there were."""
    stat = partition._summary([0.5, None, 0.7])
    assert stat == {"mean": pytest.approx(60.0), "std": pytest.approx(10.0), "diverged": 1}
    results = {"task": "ranking", "dataset": "iris", "source": "synthetic", "seeds": [0], "n": 10, "n_features": 2,
               "n_labels": 3, "folds": 3, "quick": True, "common": {},
               "models": {"min-min logistic": {"kendall_tau": stat, "per_fold": [0.5, None, 0.7],
                                               "hyperparameters": {}, "tau_gap": None}}}
    assert "60.00 ± 10.00 (diverged in 1 of 3 fits)" in partition.markdown(results, "cmd")


def test_the_tau_figure_falls_back_to_the_unary_model(tmp_path):
    """When the chosen min-min logistic energy has no exact log-partition (pairwise, 2^174 states on CAL500), the
    τ figure shows the unary min-min logistic model's τ(x); with neither, there is no figure."""
    pytest.importorskip("matplotlib")
    gap = {"median_abs_nats": 0.5, "tau": [0.0, 1.0, 2.0], "exact": [0.5, 1.5, 2.5], "hyperparameters": {}}
    results = {"dataset": "cal500", "models": {"min-min logistic": {"tau_gap": None}}, "unary_tau_gap": gap}
    assert partition.plot_tau(results, tmp_path / "unary.png")
    assert (tmp_path / "unary.png").stat().st_size > 0
    assert not partition.plot_tau({**results, "unary_tau_gap": None}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def _without_timings(results: dict) -> dict:
    return {**results, "models": {name: {k: v for k, v in entry.items() if k != "seconds"}
                                  for name, entry in results["models"].items()}}


@pytest.mark.parametrize("task", ["multilabel", "ranking"])
def test_results_do_not_depend_on_the_number_of_processes(task):
    """The units (selection candidates, then seeds or seed × fold fits) seed their own generators: the JSON of a
    run in two worker processes is the JSON of the sequential run, every float equal."""
    if task == "multilabel":
        run = lambda n_jobs: partition.run_multilabel("emotions", synthetic=True, quick=True, seeds=2, max_epochs=2,
                                                      n_jobs=n_jobs, log=lambda *_: None)
    else:
        run = lambda n_jobs: partition.run_ranking("iris", synthetic=True, quick=True, seeds=2, folds=3,
                                                   max_epochs=2, n_jobs=n_jobs, log=lambda *_: None)
    sequential, parallel = run(1), run(2)
    assert json.dumps(_without_timings(parallel)) == json.dumps(_without_timings(sequential))
    scores = [entry.get("per_seed", entry.get("per_fold")) for entry in sequential["models"].values()]
    assert all(len(s) == (2 if task == "multilabel" else 6) for s in scores)


def test_data_sets_run_side_by_side_give_the_results_they_give_alone():
    """The reproduce stage gathers the data sets' plans (one call per phase for all of them): every data set's
    results are those of its own run, every float equal."""
    options = dict(synthetic=True, quick=False, seeds=1, max_epochs=1, log=lambda *_: None)
    alone = [partition.run_multilabel(name, **options) for name in ("emotions", "scene")]
    side_by_side = run_plan(gather([partition.multilabel_plan(name, **options) for name in ("emotions", "scene")]),
                            n_jobs=2, progress=False)
    assert [json.dumps(_without_timings(r)) for r in side_by_side] == [json.dumps(_without_timings(r)) for r in alone]
