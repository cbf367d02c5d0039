"""``python -m refefl reproduce``: one command that reproduces the three papers, with a report.

Stages, in order (``--only`` picks some): ``gfy_multilabel`` and ``imitation`` (Blondel et al. 2022),
``partition_multilabel`` and ``partition_ranking`` (Sander et al. 2025), ``gda`` (Domingo-Enrich et al. 2022,
d = 3), ``benchmarks`` (the kernels against their NumPy twins and the peers). The default is a quick protocol
(fewer seeds, folds, configurations and repeats; each stage's settings are written in the report) that finishes
in minutes on 2 cores; ``--full`` runs the papers' protocols. Output, in ``--out`` (default ``results/``):
``REPORT.md``, the same as a self-contained ``REPORT.html``, ``REPORT.json`` with every number (``--compare
OLD.json`` prints what changed), the figures and one log per stage.

Data: ``--data-dir``, else ``$REFEFL_DATA``; with neither, the seeded synthetic stand-ins, and every table says
so. The independent units of each stage (data set × seed × fold × configuration) run through joblib on
``--n-jobs`` local processes (default: every core; ``reproduce()`` itself defaults to one), or on a Dask cluster with ``--scheduler ADDRESS`` (the ``[cluster]`` extra); each
unit seeds its own generator, so the results are the same, bit for bit, for any number of workers.
"""
from refefl.reproduce._report import cpu_name
from refefl.reproduce._run import reproduce
from refefl.reproduce._stages import STAGES

__all__ = ["STAGES", "cpu_name", "reproduce"]
