"""The Quick-start demo runs, checks what it prints, and writes its figure."""
import pytest

import refefl
from refefl.experiments import demo
from refefl.regularizers import REGULARIZERS, regularizer


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_demo_properties_hold(name):
    omega = regularizer(name, **demo.PARAMS.get(name, {}))
    checks = demo._check_properties(omega, refefl.FenchelYoungLoss(omega))
    assert checks["loss(θ, y)"] > 0
    assert checks["loss(θ, ŷ)"] <= 1e-12
    assert abs(checks["FY gap at ŷ"]) <= 1e-12
    assert checks["|grad·v − finite diff|"] <= 1e-6


def test_demo_runs_and_saves_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo.png"
    assert demo.run_demo(str(out)) == 0
    assert out.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert all(name in printed for name in REGULARIZERS)


def test_demo_leaves_the_print_options_as_they_were(tmp_path, capsys):
    import numpy as np

    from refefl.experiments.demo import run_demo

    before = np.get_printoptions()
    run_demo(str(tmp_path / "demo.png"))
    assert np.get_printoptions() == before  # the doctests that run after it print with the default precision
