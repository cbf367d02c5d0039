"""tools.bench_compare sets two benchmark runs side by side in units of each run's floor, and calls a row slower
only when the runs' [min, max] bands over their floors do not overlap."""
import pytest

from tools import bench_compare

HEADER = "suite,case,size,dtype,implementation,median_s,min_s,max_s\n"


def _run(floor: float, ext: tuple[float, float, float]) -> str:
    low, median, high = ext
    return (HEADER + f"s,c,1,float64,numpy softmax (floor),{floor},{floor},{floor}\n"
            f"s,c,1,float64,refefl ext,{median},{low},{high}\n"
            f"s,c,1,float64,a peer,{median},{low},{high}\n")


def _compare(before: str, after: str, tmp_path) -> list[dict]:
    for name, text in (("before", before), ("after", after)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "s.csv").write_text(text)
    return bench_compare.compare(bench_compare.load(tmp_path / "before"), bench_compare.load(tmp_path / "after"))


@pytest.mark.parametrize("after, verdict", [
    ((4.0, 4.4, 5.0), "slower"),                       # 2.0-2.5 floors against 1.0-1.5: beyond noise
    ((2.5, 2.8, 3.2), "same or slower within noise"),  # 1.25-1.6 floors: the bands overlap
    ((1.5, 1.8, 2.0), "faster"),
])
def test_verdicts_compare_ratios_to_each_runs_floor(tmp_path, after, verdict):
    # before: floor 1 s, ext 1.0-1.5 s (median 1.2); after: a machine twice as slow (floor 2 s)
    [(key, row)] = _compare(_run(1.0, (1.0, 1.2, 1.5)), _run(2.0, after), tmp_path).items()
    assert key == ("s", "c", "float64", "refefl ext")  # peers are not compared
    assert row["before"] == pytest.approx(1.2) and row["after"] == pytest.approx(after[1] / 2)
    assert row["verdict"] == verdict


def test_tables_of_another_kind_are_skipped(tmp_path):
    rows = _compare("what,median_ms\nstep,1.0\n", _run(1.0, (1.0, 1.0, 1.0)), tmp_path)
    assert rows == {}


def test_a_row_is_slower_beyond_noise_only_when_every_pair_says_so():
    slower, same = {"verdict": "slower"}, {"verdict": "same or slower within noise"}
    assert bench_compare.verdict([slower, slower]) == "slower"
    assert bench_compare.verdict([slower, same]) == "not slower"
    assert bench_compare.verdict([slower]) == "slower"


def test_the_readme_folds_the_comparison_under_the_benchmark_table(tmp_path):
    from tools import readme

    (tmp_path / "summary.md").write_text(readme.SUMMARY_HEADING + "the table\n")
    assert readme.benchmark_summary(tmp_path) == "the table\n"
    (tmp_path / "before_after.md").write_text("the comparison\n")
    folded = readme.benchmark_summary(tmp_path)
    assert folded.startswith("the table\n\n<details>") and "\n\nthe comparison\n\n</details>\n" in folded
