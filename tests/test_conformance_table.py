"""The conformance-table generator (benchmarks/conformance.py): rendering, README embedding, import failures, --only.

No peer is needed: the reports are built by hand or come from refefl and scipy (runtime dependencies).
"""
import pytest

from benchmarks import conformance as C
from refefl.testing import CheckReport, PropertyResult

pytest.importorskip("hypothesis")


def _report(verdicts: dict[str, str], **failure) -> CheckReport:
    results = []
    for name, verdict in verdicts.items():
        extra = failure if verdict == "failed" else {}
        results.append(PropertyResult(name, verdict, reason=extra.pop("reason", "ok") if extra else "ok", **extra))
    return CheckReport(kind="sparsemax", target="t", dtype="float64", results=results)


def _outcome(peer, name, kind, report, dtype="float64", error=""):
    return C.Outcome(C.Case(peer, name, kind, make=lambda: None), dtype, report, error=error)


def test_kind_table_marks_every_verdict_and_lists_the_counterexample():
    report = _report({"feasible": "passed", "large_scores": "failed", "batched": "skipped"},
                     reason="output vs refefl differs", counterexample=[1e300], expected=[1.0], got=[float("nan")])
    lines = C.kind_table("sparsemax", [_outcome("p", "f", "sparsemax", report)])
    row = next(line for line in lines if line.startswith("| p `f`"))
    assert row.split(" | ")[2:5] == ["✔", "✘", "·"]
    failure = next(line for line in lines if line.startswith("- ✘"))
    assert "**large_scores**" in failure and "1e+300" in failure and "nan" in failure
    assert "new (not in PEERS.md)" in failure


def test_a_failure_peers_md_lists_is_marked_known():
    report = _report({"neg_inf_scores": "failed"}, reason="the loss is not finite")
    lines = C.kind_table("sparsemax_loss", [_outcome("entmax", "sparsemax_loss", "sparsemax_loss", report)])
    assert any("known bug (PEERS.md: " in line for line in lines)
    assert C.known_bug("entmax", "sparsemax", "neg_inf_scores", "float64") is None  # the map, not the loss


def test_summary_names_the_failed_properties_and_the_unimportable():
    ok = _report({"feasible": "passed"})
    bad = _report({"feasible": "passed", "ties": "failed"}, reason="differs")
    lines = C.summary_table([_outcome("a", "f", "sparsemax", ok), _outcome("a", "f", "sparsemax", bad, "float32"),
                             _outcome("b", "g", "softmax", None, error="not importable: x")])
    assert "| a | `f` | sparsemax | ✔ all | ✘ ties |" in lines
    assert "| b | `g` | softmax | not importable |  |" in lines


def test_a_peer_that_fails_to_import_is_listed_not_raised():
    def make():
        import refefl_no_such_peer  # noqa: F401

    outcome = C.run_case(C.Case("ghost", "f", "sparsemax", make), "float64", examples=1, seed=0)
    assert outcome.report is None and "ModuleNotFoundError" in outcome.error
    text = C.render([outcome], examples=1, seed=0, seconds=0.0)
    assert "not importable" in text and "ghost `f`" in text


def test_readme_block_replacement_is_idempotent_and_local():
    start, end = C.MARKERS
    text = f"# Title\n\nbefore\n\n{start}\nold table\n{end}\n\nafter\n"
    once = C.replace_block(text, ["| new |"])
    assert once == C.replace_block(once, ["| new |"])
    assert "old table" not in once and "| new |" in once
    assert once.startswith("# Title\n\nbefore\n\n") and once.endswith(f"{end}\n\nafter\n")
    with pytest.raises(ValueError, match="markers"):
        C.replace_block("no markers here", ["x"])


def test_only_selects_by_peer_and_name():
    cases = C.all_cases()
    assert {c.peer for c in C.select(cases, "scipy")} == {"scipy"}
    assert [c.name for c in C.select(cases, "scipy special")] == ["special.softmax"]
    assert C.select(cases, None) == cases
    assert C.select(cases, "no such peer") == []


def test_the_reason_of_a_crash_keeps_its_last_error():
    text = ("raised JaxRuntimeError: INTERNAL: Traceback (most recent call last):\n  File x\n"
            "numba.core.errors.TypingError: Failed in nopython mode\nUnknown attribute 'shape'\n\nDuring: typing\n")
    reason = C._reason(text)
    assert reason.startswith("raised JaxRuntimeError") and "Unknown attribute 'shape'" in reason
    assert "File x" not in reason


def test_scipy_softmax_conforms(tmp_path):
    # the real thing on one peer (scipy is a runtime dependency), with few examples to stay fast
    out = tmp_path / "conformance.md"
    assert C.main(["--examples", "5", "--only", "scipy special", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "| scipy | `special.softmax` | softmax | ✔ all | ✔ all |" in text
    assert "**5 Hypothesis examples per property**" in text
