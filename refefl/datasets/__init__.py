"""Benchmark data sets read from where they live (never copied into the repo), with synthetic fallbacks.

The multilabel (Mulan) archives are looked up in, in order: the
``data_dir`` argument, the ``REFEFL_DATA`` environment variable, and ``shared/data`` beside the checkout.
When a file is absent the loaders return a seeded synthetic data set of the same kind (and say so in
``Dataset.source``), so that experiments and tests run anywhere.
"""
from refefl.datasets._locate import Dataset, find_data_dir
from refefl.datasets._multilabel import MULTILABEL_DATASETS, load_multilabel, make_synthetic_multilabel

__all__ = [
    "Dataset",
    "find_data_dir",
    "MULTILABEL_DATASETS",
    "load_multilabel",
    "make_synthetic_multilabel",
]
