"""The library minds its own business: importing refefl leaves the process environment as it was (the OpenMP
runtime of the kernels still loads with the passive wait policy), and library code raises ValueError, not
SystemExit."""
import json
import os
import subprocess
import sys

import pytest

from refefl import _backend

IMPORT_ALL = (
    "import json, os; before = dict(os.environ); "
    "import refefl, refefl.datasets, refefl.estimators, refefl.experiments, refefl.gda, refefl.partition; "
    "import refefl.experiments.gda, refefl.experiments.imitation, refefl.experiments.multilabel; "
    "print(json.dumps({'before': before, 'after': dict(os.environ), 'ext': refefl.HAVE_EXT}))"
)


def import_in_subprocess(**env_changes):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(env_changes)
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.parametrize("user_setting", [{}, {"OMP_WAIT_POLICY": "ACTIVE"}])
def test_import_leaves_the_environment_unchanged(user_setting):
    report, _ = import_in_subprocess(**user_setting)
    assert report["after"] == report["before"]
    assert report["after"].get("OMP_WAIT_POLICY") == user_setting.get("OMP_WAIT_POLICY")


@pytest.mark.skipif(not _backend.HAVE_EXT, reason="refefl_ext is not built")
def test_the_kernels_openmp_runtime_still_waits_passively():
    """GNU OpenMP prints its settings at load with OMP_DISPLAY_ENV; other runtimes print nothing (skipped)."""
    report, stderr = import_in_subprocess(OMP_DISPLAY_ENV="true")
    if "OMP_WAIT_POLICY = " not in stderr:
        pytest.skip("the OpenMP runtime does not display its settings (not GNU OpenMP, or built without OpenMP)")
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in stderr
    assert "OMP_WAIT_POLICY" not in report["after"]


def test_experiment_helpers_raise_value_error_and_the_command_line_stops_before_training(capsys):
    from fractions import Fraction

    from refefl.experiments import gda as experiment

    args = experiment.build_parser().parse_args(["--restart-mode", "period"])
    with pytest.raises(ValueError, match="1/integer"):
        experiment.make_config(Fraction(2, 7), args)
    with pytest.raises(SystemExit) as stop:  # argparse's usage error, from the command line's main only
        experiment.main(["--restart", "2/7", "--restart-mode", "period"])
    assert stop.value.code == 2 and "1/integer" in capsys.readouterr().err
