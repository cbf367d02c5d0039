"""``python -m refefl reproduce``: the report, its JSON, bit-identical results for any number of workers (local
processes and a Dask cluster on the loopback address), ``--compare``, and bad input."""
import dataclasses
import json
import re

import pytest

pytest.importorskip("joblib")
pytest.importorskip("tqdm")
pytest.importorskip("markdown")

from refefl.__main__ import main  # noqa: E402
from refefl.reproduce import STAGES, reproduce  # noqa: E402
from refefl.reproduce._report import compare, results_only  # noqa: E402

#: small settings: every stage that trains, a few seconds each
TINY = {
    "gfy_multilabel": {"datasets": ["emotions"], "seeds": 2, "quick": True, "max_epochs": 3},
    "imitation": {"seeds": 2, "episodes": 4, "step_scale": 0.01},
    "partition_multilabel": {"datasets": ["emotions"], "seeds": 2, "quick": True, "max_epochs": 2},
    "partition_ranking": {"datasets": ["iris"], "seeds": 1, "folds": 3, "quick": True, "max_epochs": 2},
    "gda": {"n_data": [100], "seeds": 2, "iters": 30, "n_neurons": 6, "quadrature": 12},
}


def _run(tmp_path, name, stages=("gda", "gfy_multilabel"), **kwargs):
    return reproduce(list(stages), out=tmp_path / name, synthetic=True, settings=TINY, progress=False, **kwargs)


def test_report_files_and_marks(tmp_path):
    report = _run(tmp_path, "one", stages=tuple(TINY))
    out = tmp_path / "one"
    assert list(report["stages"]) == list(TINY)
    for name, stage in report["stages"].items():
        assert stage["status"] == "done", stage.get("error")
        assert stage["comparisons"] and stage["seconds"] >= 0
        for figure in stage["figures"]:
            assert (out / figure).stat().st_size > 0
    text = (out / "REPORT.md").read_text()
    for name in TINY:
        assert f"## {name}" in text
    # the stand-in data are named on every table that used data, and the paper's numbers are not applied to them
    assert text.count("synthetic stand-in; set REFEFL_DATA") >= 3
    gfy = report["stages"]["gfy_multilabel"]["comparisons"]
    assert all(c["paper"] is None and c["met"] is None for c in gfy)
    # GDA's numbers are the paper's setting only at 4000 iterations: no paper number at 30
    assert all(c["paper"] is None for c in report["stages"]["gda"]["comparisons"])
    html = (out / "REPORT.html").read_text()
    assert "<table>" in html and "data:image/png;base64," in html
    assert not re.search(r"<img[^>]+src=\"(?!data:)", html)  # self-contained: every figure inline
    assert json.loads((out / "REPORT.json").read_text())["stages"].keys() == report["stages"].keys()


def test_met_marks_follow_the_direction():
    from refefl.reproduce._stages import Comparison

    assert Comparison("t", "r", "q", 65.0, 64.0).met is True
    assert Comparison("t", "r", "q", 63.0, 64.0).met is False
    assert Comparison("t", "r", "q", 0.01, 0.004, better="lower").met is False
    assert Comparison("t", "r", "q", 0.003, 0.004, better="lower").met is True
    assert Comparison("t", "r", "q", 0.003, None).met is None
    assert Comparison("t", "r", "q", 0.5, 0.7, better=None).met is None
    assert Comparison("t", "r", "q", 0.5, 0.7).difference == pytest.approx(-0.2)


def test_results_do_not_depend_on_the_number_of_workers(tmp_path):
    one = _run(tmp_path, "one", stages=("gda", "imitation", "partition_multilabel"))
    two = _run(tmp_path, "two", stages=("gda", "imitation", "partition_multilabel"), n_jobs=2)
    assert results_only(one) == results_only(two)
    assert two["n_jobs"] == 2 and one["n_jobs"] == 1


def test_dask_cluster_on_loopback_gives_the_same_json(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    local = _run(tmp_path, "local", stages=("gda", "partition_ranking"))
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = _run(tmp_path, "dask", stages=("gda", "partition_ranking"), n_jobs=-1,
                      scheduler=cluster.scheduler_address)
    assert remote["scheduler"].startswith("tcp://127.0.0.1")
    assert all(stage["status"] == "done" for stage in remote["stages"].values())
    assert results_only(local) == results_only(remote)
    saved = [json.loads((tmp_path / name / "REPORT.json").read_text()) for name in ("local", "dask")]
    assert results_only(saved[0]) == results_only(saved[1])


def test_compare_names_what_changed(tmp_path):
    old = _run(tmp_path, "old", stages=("gda",))
    new = json.loads(json.dumps(old))
    row = new["stages"]["gda"]["comparisons"][0]
    row["refefl"] += 1.0
    lines = compare(old, new)
    assert any(line.startswith("changed: gda / " + row["row"]) for line in lines)
    assert lines[-1].startswith("1 number(s)"), lines
    assert compare(old, json.loads(json.dumps(old)))[-1].startswith("0 number(s)")


def test_command_line(tmp_path, capsys, monkeypatch):
    for name, settings in TINY.items():  # the command line's quick protocol, made tiny
        monkeypatch.setitem(STAGES, name, dataclasses.replace(STAGES[name], quick={**STAGES[name].quick, **settings}))
    out = tmp_path / "cli"
    assert main(["reproduce", "--only", "gda", "--synthetic", "--out", str(out)]) == 0
    assert (out / "REPORT.md").is_file()
    assert json.loads((out / "REPORT.json").read_text())["n_jobs"] == -1  # the command line uses every core
    capsys.readouterr()
    assert main(["reproduce", "--only", "gda", "--synthetic", "--out", str(tmp_path / "again"),
                 "--compare", str(out / "REPORT.json")]) == 0
    printed = capsys.readouterr().out
    assert "against" in printed and "0 number(s) of the results differ" in printed
    # a stage that fails is reported, the run exits 1, and the other stages still run
    missing = tmp_path / "empty"
    missing.mkdir()
    assert main(["reproduce", "--only", "gfy_multilabel", "gda", "--data-dir", str(missing), "--out",
                 str(tmp_path / "failed")]) == 1
    report = json.loads((tmp_path / "failed" / "REPORT.json").read_text())
    assert report["stages"]["gfy_multilabel"]["status"] == "failed"
    assert "FileNotFoundError" in report["stages"]["gfy_multilabel"]["error"]
    assert report["stages"]["gda"]["status"] == "done"


@pytest.mark.parametrize("argv, message", [
    (["--only", "nope"], "invalid choice"),
    (["--n-jobs", "0"], "n_jobs must be"),
    (["--data-dir", "/nonexistent/refefl-data"], "no such folder"),
    (["--compare", "/nonexistent/old.json"], "no such file"),
])
def test_command_line_refuses_bad_options(argv, message, capsys):
    try:
        code = main(["reproduce", *argv])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="stages must be names"):
        reproduce(["gda", "nope"], out=tmp_path)
    with pytest.raises(ValueError, match="stages must be names"):
        reproduce([], out=tmp_path)
    with pytest.raises(ValueError, match="two data sources"):
        reproduce(["gda"], out=tmp_path, synthetic=True, data_dir=tmp_path)
    with pytest.raises(ValueError, match="n_jobs"):
        reproduce(["gda"], out=tmp_path, n_jobs=0)
    with pytest.raises(FileNotFoundError, match="data_dir"):
        reproduce(["gda"], out=tmp_path, data_dir=tmp_path / "missing")
