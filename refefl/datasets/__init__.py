"""Benchmark data sets (multilabel, label ranking) read from where they live (never copied into the repo), and synthetic stand-ins.

The archives are read from the ``data_dir`` argument (the data root or the kind's own folder), else from the
folder named by the ``REFEFL_DATA`` environment variable; nothing else is searched. A missing file raises
``FileNotFoundError`` saying where it was looked for. The seeded synthetic stand-in of each kind is returned
only when asked (``synthetic=True``), and says so in ``Dataset.source``.
"""
from refefl.datasets._label_ranking import LABEL_RANKING_DATASETS, RankingDataset, load_label_ranking
from refefl.datasets._label_ranking import make_synthetic_label_ranking
from refefl.datasets._locate import DATA_ENV, Dataset, find_data_dir, locate
from refefl.datasets._multilabel import MULTILABEL_DATASETS, load_multilabel, make_synthetic_multilabel

__all__ = [
    "DATA_ENV",
    "Dataset",
    "find_data_dir",
    "locate",
    "MULTILABEL_DATASETS",
    "load_multilabel",
    "make_synthetic_multilabel",
    "LABEL_RANKING_DATASETS",
    "RankingDataset",
    "load_label_ranking",
    "make_synthetic_label_ranking",
]
