"""Where the shared data live, and the record every loader returns."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A train/test split: features ``X_*`` of shape (n, d) (float64), targets ``Y_*`` of shape (n, k).

    ``source`` is the file read, or ``"synthetic"`` when the fallback generator was used.
    """

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    source: str

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first existing folder among ``data_dir``, ``$REFEFL_DATA`` and ``shared/data`` beside the checkout.

    Returns None when none exists (the loaders then fall back to synthetic data).
    """
    candidates = [data_dir, os.environ.get("REFEFL_DATA")]
    package_root = Path(__file__).resolve().parents[2]  # the checkout (editable install) or site-packages
    candidates += [package_root.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def split_indices(n: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random train/test split of ``range(n)``."""
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return np.sort(order[n_test:]), np.sort(order[:n_test])
